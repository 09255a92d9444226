/**
 * `--tls-cert`, `--tls-key` and `--tls-password-file`: the files read and checked with Node's TLS before serving.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Tls from "node:tls"
import type { TlsFiles } from "../Cli.js"
import { anyFileErrorReason, startup, usage } from "./cliMessages.js"
import { printable } from "./extras.js"
import { readFileOf } from "./osPath.js"

export const tlsErrorMessage = (error: unknown, files: TlsFiles): string => {
  const text = error instanceof Error ? error.message : String(error)
  const code = typeof error === "object" && error !== null && "code" in error ? String(error.code) : ""
  // The names as Python would print them (a name that is not UTF-8 holds lone surrogates).
  const key = printable(Option.getOrElse(files.keyFile, () => files.certFile))
  const cert = printable(files.certFile)
  if (/bad decrypt|bad password|interrupted or cancelled/i.test(text)) {
    return Option.isSome(files.passwordFile)
      ? `cannot decrypt TLS key '${key}': wrong password`
      : `cannot decrypt TLS key '${key}': it is encrypted, give its password with --tls-password-file`
  }
  if (/key values mismatch/i.test(text)) return `TLS key '${key}' does not match certificate '${cert}'`
  if (code === "ERR_OSSL_PEM_NO_START_LINE" || /no start line|PEM_read_bio|ASN1|DECODER/i.test(text)) {
    return `cannot load TLS certificate '${cert}' and key '${key}': not valid PEM (${text})`
  }
  return `cannot set up TLS with certificate '${cert}' and key '${key}': ${text}`
}

export const loadTls = (files: TlsFiles) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const read = (option: string, path: string) =>
      Effect.mapError(
        readFileOf(fs, path),
        (error) => usage(`cannot read ${option} '${printable(path)}': ${anyFileErrorReason(error)}`)
      )
    const cert = yield* read("--tls-cert", files.certFile)
    const key = Option.isSome(files.keyFile) ? yield* read("--tls-key", files.keyFile.value) : cert
    const passphrase = Option.isSome(files.passwordFile)
      ? Option.some(
        // Python: open(..., encoding="utf-8").read().strip()
        new TextDecoder().decode(yield* read("--tls-password-file", files.passwordFile.value)).trim()
      )
      : Option.none()
    const options: Tls.SecureContextOptions = {
      cert: Buffer.from(cert),
      key: Buffer.from(key),
      ...(Option.isSome(passphrase) ? { passphrase: passphrase.value } : {})
    }
    yield* Effect.try({
      // An encrypted key with no passphrase must fail here, not ask on the terminal: pass an empty one.
      try: () => Tls.createSecureContext({ passphrase: "", ...options }),
      catch: (error) => startup(tlsErrorMessage(error, files))
    })
    return options
  })
