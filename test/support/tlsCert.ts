/**
 * Self-signed certificates for TLS tests, made with the `openssl` command when this machine has it.
 */
import { execFileSync } from "node:child_process"
import * as Fs from "node:fs"
import * as NodePath from "node:path"

export const hasOpenssl = (() => {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" })
    return true
  } catch {
    return false
  }
})()

/** A certificate for localhost and its key (encrypted with `password` when given), as PEM bytes; `dir` is scratch. */
export const makeCertificate = (dir: string, password?: string): { readonly cert: Buffer; readonly key: Buffer } => {
  const req = ["req", "-x509", "-newkey", "rsa:2048", "-days", "1", "-subj", "/CN=localhost"]
  const cert = NodePath.join(dir, "cert.tmp")
  const key = NodePath.join(dir, "key.tmp")
  const secret = password === undefined ? ["-nodes"] : ["-passout", `pass:${password}`]
  execFileSync("openssl", [...req, ...secret, "-keyout", key, "-out", cert], { stdio: "ignore" })
  const pem = { cert: Fs.readFileSync(cert), key: Fs.readFileSync(key) }
  Fs.rmSync(cert)
  Fs.rmSync(key)
  return pem
}
