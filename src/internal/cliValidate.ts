/**
 * The command line's validation: the options as parsed, checked and turned into a `CliConfig`.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as NodeFs from "node:fs"
import type { CliConfig, RawOptions } from "../Cli.js"
import type { HeaderField } from "../Headers.js"
import { type Credentials, credentialsProblem } from "./basicAuth.js"
import { anyFileErrorReason, isLoopback, isValidPort, parseBind, usage } from "./cliMessages.js"
import { DEFAULT_MAX_BYTES, DEFAULT_MIN_BYTES } from "./compress.js"
import { fieldValueProblem, hasDotName, parseHeaderLine, printable } from "./extras.js"
import { isValidHost } from "./hostCheck.js"
import { osArgument } from "./osArgs.js"
import { fsPath, statInfo } from "./osPath.js"
import { fallbackNameProblem } from "./spa.js"

export const MAX_CGI_PROCESSES = 4096
// Text, parsed in `validate`: @effect/cli's own integer errors would name the port.
export const MAX_WORKERS = 256

export const validate = (raw: RawOptions, cwd: string, resolve: (from: string, to: string) => string) =>
  Effect.gen(function*() {
    if (!isValidPort(raw.port)) {
      return yield* Effect.fail(usage(`argument port: invalid port '${raw.port}' (an integer from 0 to 65535)`))
    }
    const bind = Option.isSome(raw.bind) ? Option.some(yield* parseBind(raw.bind.value)) : Option.none()
    if (Option.isNone(raw.tlsCert) && Option.isSome(raw.tlsKey)) {
      return yield* Effect.fail(usage("--tls-key requires --tls-cert to be set"))
    }
    if (Option.isNone(raw.tlsCert) && Option.isSome(raw.tlsPasswordFile)) {
      return yield* Effect.fail(usage("--tls-password-file requires --tls-cert to be set"))
    }
    for (const name of raw.allowedHost ?? []) {
      if (name !== "*" && (name === "" || !isValidHost(name))) {
        return yield* Effect.fail(usage(`argument --allowed-host: invalid host name '${printable(name)}'`))
      }
    }
    // Names of files: the bytes they were given, as Python's `sys.argv` keeps them (see osArgs.ts).
    const indexPages = raw.indexPage.map((name) => osArgument(name, { long: "--index-page" }))
    const spa = Option.map(raw.spa, (file) => osArgument(file, { long: "--spa" }))
    for (const name of indexPages) {
      // A name is joined to the directory: a slash or ".." would reach outside it.
      if (name === "" || name === "." || name === ".." || /[/\0]/.test(name)) {
        return yield* Effect.fail(usage(`argument --index-page: invalid file name '${printable(name)}'`))
      }
      // Served as the index, a hidden name would bypass the very option that hides it.
      if (raw.noDotfiles && hasDotName(name)) {
        return yield* Effect.fail(usage(`argument --index-page: '${printable(name)}' starts with '.', which --no-dotfiles hides`))
      }
    }
    const headers: Array<HeaderField> = []
    for (const line of raw.header) {
      const parsed = parseHeaderLine(line)
      if (typeof parsed === "string") return yield* Effect.fail(usage(`argument -H/--header: ${parsed}`))
      headers.push(parsed)
    }
    const workers = raw.workers ?? 1
    if (!Number.isInteger(workers) || workers < 1 || workers > MAX_WORKERS) {
      return yield* Effect.fail(usage(`argument --workers: invalid count '${workers}' (an integer from 1 to ${MAX_WORKERS})`))
    }
    const maxConnections = raw.maxConnections ?? Option.none()
    const stdioProblem = raw.stdio === true ? stdioConflict(raw, workers, maxConnections) : undefined
    if (stdioProblem !== undefined) return yield* Effect.fail(usage(`argument --stdio: not allowed with argument ${stdioProblem}`))
    if (Option.isSome(maxConnections) && !(Number.isInteger(maxConnections.value) && maxConnections.value >= 1)) {
      return yield* Effect.fail(usage(`argument --max-connections: invalid count '${maxConnections.value}' (an integer of at least 1)`))
    }
    if (Option.isSome(raw.cacheControl)) {
      const value = raw.cacheControl.value
      const problem = value.trim() === "" ? "is empty" : fieldValueProblem(value)
      if (problem !== undefined) return yield* Effect.fail(usage(`argument --cache-control: the value ${problem}`))
    }
    if (Option.isSome(spa)) {
      const problem = fallbackNameProblem(spa.value)
      if (problem !== undefined) {
        return yield* Effect.fail(usage(`argument --spa: '${printable(spa.value)}' ${problem}`))
      }
    }
    const credentials: Array<Credentials> = []
    for (const value of raw.basicAuth) {
      const colon = value.indexOf(":")
      // The value is a password: never echoed in the message.
      if (colon < 0) return yield* Effect.fail(usage("argument --basic-auth: expected USER:PASSWORD"))
      const entry = { user: value.slice(0, colon), password: value.slice(colon + 1) }
      const problem = credentialsProblem(entry)
      if (problem !== undefined) return yield* Effect.fail(usage(`argument --basic-auth: ${problem}`))
      credentials.push(entry)
    }
    if (
      credentials.length > 0 && Option.isNone(raw.tlsCert) && !raw.basicAuthInsecure &&
      !Option.exists(bind, isLoopback)
    ) {
      return yield* Effect.fail(usage(
        "--basic-auth over plain HTTP on a non-loopback address sends passwords in clear: " +
          "use --tls-cert, --bind 127.0.0.1, or --basic-auth-insecure"
      ))
    }
    if (Option.isSome(raw.uploadMaxBytes) && !raw.upload) {
      return yield* Effect.fail(usage("--upload-max-bytes requires --upload to be set"))
    }
    if (Option.isSome(raw.uploadMaxBytes) && !(raw.uploadMaxBytes.value >= 0)) {
      return yield* Effect.fail(usage(`argument --upload-max-bytes: invalid size '${raw.uploadMaxBytes.value}'`))
    }
    const compressMin = raw.compressMinBytes ?? Option.none()
    if (Option.isSome(compressMin) && raw.compress !== true) {
      return yield* Effect.fail(usage("--compress-min-bytes requires --compress to be set"))
    }
    if (Option.isSome(compressMin) && !(compressMin.value >= 0)) {
      return yield* Effect.fail(usage(`argument --compress-min-bytes: invalid size '${compressMin.value}'`))
    }
    const compressMax = raw.compressMaxBytes ?? Option.none()
    if (Option.isSome(compressMax) && raw.compress !== true) {
      return yield* Effect.fail(usage("--compress-max-bytes requires --compress to be set"))
    }
    if (Option.isSome(compressMax) && !(compressMax.value >= 0)) {
      return yield* Effect.fail(usage(`argument --compress-max-bytes: invalid size '${compressMax.value}'`))
    }
    // An uploaded file under /cgi-bin would be run as a script.
    if (raw.upload && raw.cgi) return yield* Effect.fail(usage("--upload cannot be combined with --cgi"))
    const cgiLimits = yield* validCgiLimits(raw)
    const config: CliConfig = {
      port: raw.port,
      bind,
      allowedHosts: raw.allowedHost ?? [],
      directory: resolve(
        cwd,
        Option.getOrElse(Option.map(raw.directory, (dir) => osArgument(dir, { long: "--directory", short: "-d" })), () => ".")
      ),
      cgi: raw.cgi,
      ...cgiLimits,
      protocol: raw.protocol,
      tls: Option.map(raw.tlsCert, (certFile) => ({
        certFile: osArgument(certFile, { long: "--tls-cert" }),
        keyFile: Option.map(raw.tlsKey, (file) => osArgument(file, { long: "--tls-key" })),
        passwordFile: Option.map(raw.tlsPasswordFile, (file) => osArgument(file, { long: "--tls-password-file" }))
      })),
      indexPages: indexPages.length > 0 ? Option.some(indexPages) : Option.none(),
      headers,
      colorScheme: raw.colorScheme,
      cors: raw.cors,
      cacheControl: raw.cacheControl,
      noDotfiles: raw.noDotfiles,
      noFollowSymlinks: raw.noFollowSymlinks,
      jsonListing: raw.jsonListing,
      spa,
      basicAuth: credentials,
      workers,
      ...(Option.isSome(maxConnections) ? { maxConnections: maxConnections.value } : {}),
      precompressed: raw.precompressed,
      upload: raw.upload ? Option.some(Option.getOrElse(raw.uploadMaxBytes, () => 100 * 1024 * 1024)) : Option.none(),
      compress: raw.compress === true
        ? Option.some({
          minBytes: Option.getOrElse(compressMin, () => DEFAULT_MIN_BYTES),
          maxBytes: Option.getOrElse(compressMax, () => DEFAULT_MAX_BYTES)
        })
        : Option.none(),
      richListing: raw.richListing === true,
      archives: raw.archives === true,
      keepAliveOnError: raw.keepAliveOnError === true,
      ...(raw.stdio === true ? { stdio: true } : {})
    }
    return config
  })

/** The listener's options, which mean nothing on standard input and output. */
const stdioConflict = (raw: RawOptions, workers: number, maxConnections: Option.Option<number>): string | undefined =>
  workers > 1
    ? "--workers"
    : Option.isSome(maxConnections)
    ? "--max-connections"
    : Option.isSome(raw.tlsCert)
    ? "--tls-cert"
    : Option.isSome(raw.bind)
    ? "-b/--bind"
    : raw.portGiven === true
    ? "port"
    : undefined

/** `--cgi-max-processes` and `--cgi-timeout`, checked: only with `--cgi`, in range. */
const validCgiLimits = (raw: RawOptions) =>
  Effect.gen(function*() {
    const limits: { cgiMaxProcesses?: number; cgiTimeout?: number } = {}
    const maxProcesses = raw.cgiMaxProcesses ?? Option.none()
    const timeout = raw.cgiTimeout ?? Option.none()
    if (Option.isSome(maxProcesses)) {
      if (!raw.cgi) return yield* Effect.fail(usage("--cgi-max-processes requires --cgi to be set"))
      const text = maxProcesses.value
      const n = /^[0-9]+$/.test(text) ? Number(text) : NaN
      if (!(n >= 1 && n <= MAX_CGI_PROCESSES)) {
        return yield* Effect.fail(usage(
          `argument --cgi-max-processes: invalid count '${printable(text)}' (an integer from 1 to ${MAX_CGI_PROCESSES})`
        ))
      }
      limits.cgiMaxProcesses = n
    }
    if (Option.isSome(timeout)) {
      if (!raw.cgi) return yield* Effect.fail(usage("--cgi-timeout requires --cgi to be set"))
      const text = timeout.value
      const seconds = /^[0-9]+(\.[0-9]+)?$/.test(text) ? Number(text) : NaN
      // Beyond a day a timer would not fire (setTimeout's 2^31 ms); no timeout at all is not offered.
      if (!(seconds > 0 && seconds <= 86_400)) {
        return yield* Effect.fail(usage(
          `argument --cgi-timeout: invalid duration '${printable(text)}' (seconds, more than 0 and at most 86400)`
        ))
      }
      limits.cgiTimeout = seconds
    }
    return limits
  })

/** `fs.access(directory, R_OK)` of a Python path (its bytes when it is not UTF-8, see `osPath`). */
const accessOf = (fs: FileSystem.FileSystem, directory: string): Effect.Effect<void, unknown> => {
  const os = fsPath(directory)
  return typeof os === "string"
    ? fs.access(os, { readable: true })
    : Effect.tryPromise({ try: () => NodeFs.promises.access(os ?? "\0", NodeFs.constants.R_OK), catch: (error) => error })
}

export const checkDirectory = (directory: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const info = yield* Effect.mapError(
      statInfo(fs, directory),
      (error) => usage(`argument -d/--directory: cannot use '${printable(directory)}': ${anyFileErrorReason(error)}`)
    )
    if (info.type !== "Directory") {
      return yield* Effect.fail(usage(`argument -d/--directory: '${printable(directory)}' is not a directory`))
    }
    // A root the server cannot list or read from would answer every request with an error.
    yield* Effect.mapError(
      accessOf(fs, directory),
      (error) => usage(`argument -d/--directory: cannot use '${printable(directory)}': ${anyFileErrorReason(error)}`)
    )
  })
