/**
 * The CGI environment (RFC 3875 meta-variables) as Python's `run_cgi` builds it, plus the opt-in RFC 3875 extras.
 */
import type { Request } from "../Request.js"
import { pySplit } from "./pythonText.js"
import type { ScriptLocation } from "./cgiPath.js"

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

/**
 * `binascii.a2b_base64` in its default (non-strict) mode: characters outside the alphabet are skipped, enough `=`
 * ends the data, a dangling group is an error (`undefined`).
 */
export const pyBase64Decode = (s: string): Uint8Array | undefined => {
  const out: Array<number> = []
  let quadPos = 0
  let leftChar = 0
  let pads = 0
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!
    if (c === "=") {
      if (quadPos >= 2 && quadPos + ++pads >= 4) return Uint8Array.from(out)
      continue
    }
    const v = B64.indexOf(c)
    if (v < 0) continue
    pads = 0
    switch (quadPos) {
      case 0:
        quadPos = 1
        leftChar = v
        break
      case 1:
        quadPos = 2
        out.push(((leftChar << 2) | (v >> 4)) & 0xff)
        leftChar = v & 0x0f
        break
      case 2:
        quadPos = 3
        out.push(((leftChar << 4) | (v >> 2)) & 0xff)
        leftChar = v & 0x03
        break
      case 3:
        quadPos = 0
        out.push(((leftChar << 6) | v) & 0xff)
        leftChar = 0
        break
    }
  }
  return quadPos === 0 ? Uint8Array.from(out) : undefined
}

/**
 * `AUTH_TYPE` and `REMOTE_USER` from `Authorization` exactly as `run_cgi` derives them: two words give the scheme;
 * for Basic, an ASCII `user:password` with exactly one colon gives the user. The password is never passed on.
 */
export const authVariables = (authorization: string | undefined): Record<string, string> => {
  if (authorization === undefined || authorization === "") return {}
  const words = pySplit(authorization)
  if (words.length !== 2) return {}
  const [scheme, credentials] = words as [string, string]
  const out: Record<string, string> = { AUTH_TYPE: scheme }
  if (scheme.toLowerCase() !== "basic") return out
  if (!/^[\x00-\x7f]*$/.test(credentials)) return out
  const decoded = pyBase64Decode(credentials)
  if (decoded === undefined || decoded.some((b) => b > 0x7f)) return out
  const parts = Buffer.from(decoded).toString("latin1").split(":")
  if (parts.length === 2) out.REMOTE_USER = parts[0]!
  return out
}

/**
 * Meta-variables never taken from the server's own environment: Python copies `os.environ` first, so a server
 * started with, say, `REMOTE_USER` set would hand that to every script whose request has no credentials.
 */
const RESERVED = new Set([
  "AUTH_TYPE",
  "CONTENT_LENGTH",
  "CONTENT_TYPE",
  "GATEWAY_INTERFACE",
  "PATH_INFO",
  "PATH_TRANSLATED",
  "QUERY_STRING",
  "REMOTE_ADDR",
  "REMOTE_HOST",
  "REMOTE_IDENT",
  "REMOTE_USER",
  "REQUEST_METHOD",
  "SCRIPT_NAME",
  "SERVER_NAME",
  "SERVER_PORT",
  "SERVER_PROTOCOL",
  "SERVER_SOFTWARE"
])

/**
 * Request headers never exported as `HTTP_*` in RFC 3875 mode: `Proxy` would become `HTTP_PROXY`, which HTTP
 * client libraries read as their proxy setting (httpoxy, CVE-2016-5385); credentials and the body's own fields
 * are already in `AUTH_TYPE`/`REMOTE_USER`/`CONTENT_*` (RFC 3875 §4.1.18 lets the server leave them out).
 */
const NOT_EXPORTED = new Set(["proxy", "authorization", "proxy-authorization", "content-type", "content-length"])

/** What the server contributes that the request does not say. */
export interface ServerFacts {
  readonly serverSoftware: string
  readonly serverName: string
  readonly serverProtocol: string
  /** The document root, as `translate_path` uses it for `PATH_TRANSLATED`. */
  readonly directory: string
  /** `translate_path` bound to the document root. */
  readonly translate: (urlPath: string) => string
  readonly unquote: (s: string) => string
}

/** How the environment starts before the CGI variables are added. */
export type BaseEnvironment = Readonly<Record<string, string | undefined>>

/**
 * Builds the script's environment.
 *
 * - `base` is the server's environment when inheriting (Python's `os.environ.copy()`), or just `PATH` otherwise.
 * - Python's variables follow `run_cgi` line by line; the six it defaults to `""` are set to `""` whenever the
 *   request has no value (Python's `setdefault` would keep an inherited value instead).
 * - `rfc3875` adds every other request header as `HTTP_*` (RFC 3875 §4.1.18), except the ones in `NOT_EXPORTED`
 *   and names with `_` (they would collide with `-` after the mapping, the header-smuggling trick that nginx and
 *   Apache also refuse); the server's own `HTTP_*` variables are then dropped so that namespace means "request".
 */
export const buildEnvironment = (
  base: BaseEnvironment,
  request: Request,
  location: ScriptLocation,
  server: ServerFacts,
  rfc3875: boolean
): Record<string, string> => {
  const env: Record<string, string> = {}
  for (const [key, value] of Object.entries(base)) {
    if (value === undefined || RESERVED.has(key)) continue
    if (rfc3875 && key.startsWith("HTTP_")) continue
    env[key] = value
  }
  const headers = request.headers
  env.SERVER_SOFTWARE = server.serverSoftware
  env.SERVER_NAME = server.serverName
  env.GATEWAY_INTERFACE = "CGI/1.1"
  env.SERVER_PROTOCOL = server.serverProtocol
  env.SERVER_PORT = String(request.localPort)
  env.REQUEST_METHOD = request.method
  const pathInfo = server.unquote(location.pathInfo)
  env.PATH_INFO = pathInfo
  env.PATH_TRANSLATED = server.translate(pathInfo)
  env.SCRIPT_NAME = location.scriptName
  env.QUERY_STRING = location.query
  env.REMOTE_ADDR = request.remoteAddress
  Object.assign(env, authVariables(headers.get("authorization")))
  // email.message.Message.get_content_type() of a message without the field is "text/plain".
  env.CONTENT_TYPE = headers.get("content-type") ?? "text/plain"
  const length = headers.get("content-length")
  if (length !== undefined && length !== "") env.CONTENT_LENGTH = length
  const referer = headers.get("referer")
  if (referer !== undefined && referer !== "") env.HTTP_REFERER = referer
  env.HTTP_ACCEPT = headers.getAll("accept").join(",")
  const userAgent = headers.get("user-agent")
  if (userAgent !== undefined && userAgent !== "") env.HTTP_USER_AGENT = userAgent
  const cookie = headers.getAll("cookie").filter((c) => c !== "").join(", ")
  if (cookie !== "") env.HTTP_COOKIE = cookie
  for (const key of ["QUERY_STRING", "REMOTE_HOST", "CONTENT_LENGTH", "HTTP_USER_AGENT", "HTTP_COOKIE", "HTTP_REFERER"]) {
    if (env[key] === undefined) env[key] = ""
  }
  if (rfc3875) {
    const extra = new Map<string, Array<string>>()
    for (const [name, value] of headers) {
      const lower = name.toLowerCase()
      if (NOT_EXPORTED.has(lower) || name.includes("_")) continue
      const key = "HTTP_" + name.toUpperCase().replace(/-/g, "_")
      if (PYTHON_HTTP.has(key)) continue
      const values = extra.get(key)
      if (values === undefined) extra.set(key, [value])
      else values.push(value)
    }
    for (const [key, values] of extra) env[key] = values.join(", ")
  }
  return env
}

/** The `HTTP_*` variables Python sets itself, with its own joining rules; RFC 3875 mode keeps them as they are. */
const PYTHON_HTTP = new Set(["HTTP_ACCEPT", "HTTP_USER_AGENT", "HTTP_COOKIE", "HTTP_REFERER"])

/**
 * The script's arguments: Python's ISINDEX convention passes the query (with `+` as space, not unquoted) as one
 * argument when it has no `=`, even when empty. An argument starting with `-` is dropped, so a URL cannot hand a
 * script (or the interpreter running it) an option: the class of PHP-CGI's CVE-2012-1823 (`?-s` dumped the source).
 */
export const scriptArguments = (query: string): ReadonlyArray<string> => {
  const decoded = query.replace(/\+/g, " ")
  if (decoded.includes("=") || decoded.startsWith("-")) return []
  return [decoded]
}
