/**
 * The opt-in options beside Python's wire behaviour (issue #8): extra response headers (Python 3.15's `-H`),
 * `Cache-Control`, CORS. Each is validated once, when the handler is built, so a request never meets a bad value.
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type { HeaderField } from "../Headers.js"
import { HttpError } from "../HttpError.js"
import * as Response from "../Response.js"
import { fieldValueProblem, TOKEN } from "./headEncoder.js"
import { makeVerifier } from "./openVerified.js"
import { trimOws } from "./ows.js"
import { belowRoot } from "./rootPath.js"

// The grammar is the head encoder's; re-exported for the option checks that use it.
export { fieldValueProblem, TOKEN } from "./headEncoder.js"

/**
 * Fields an extra header may not set: they frame the message or the connection (`Content-Length`,
 * `Transfer-Encoding`, `Connection`, `Content-Range`), say which variant the body is (`Content-Encoding`: a gzip body
 * labelled `identity` is unreadable), or are the validators the server computes and answers conditional requests
 * with (`ETag`, `Last-Modified`: a fixed `ETag` would be sent while `If-None-Match` compared another). The handler
 * and the engine own them. `Vary` is merged rather than replaced (see {@link mergeVary}), and `Content-Type` replaces
 * the default except on a multi-range `206`, whose `multipart/byteranges; boundary=…` delimits the body.
 */
const RESERVED = new Set([
  "content-length",
  "transfer-encoding",
  "connection",
  "content-range",
  "content-encoding",
  "etag",
  "last-modified"
])

/** Why `[name, value]` cannot be an extra response header, or `undefined`. */
export const extraHeaderProblem = (name: string, value: string): string | undefined => {
  if (name === "") return "empty header name"
  if (!TOKEN.test(name)) return `invalid header name '${printable(name)}'`
  if (RESERVED.has(name.toLowerCase())) return `header '${name}' is set by the server and cannot be overridden`
  const problem = fieldValueProblem(value)
  return problem === undefined ? undefined : `value of header '${name}' ${problem}`
}

/**
 * A `-H` argument, `Name: value`, split at the first colon as Python 3.15 does; whitespace around the value (and
 * the name) is dropped. Returns the field or the reason it is refused.
 */
export const parseHeaderLine = (line: string): HeaderField | string => {
  const colon = line.indexOf(":")
  if (colon < 0) return `'${printable(line)}' is not of the form 'Name: value'`
  const name = line.slice(0, colon).trim()
  const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, "")
  const problem = extraHeaderProblem(name, value)
  return problem === undefined ? [name, value] : problem
}

/**
 * A value shown in a one-line message: control characters escaped so the message stays one line, and a lone
 * surrogate (a byte of a command-line argument that is not UTF-8, kept as `sys.argv` keeps it) as `\udce9`, what
 * Python's stderr (`errors='backslashreplace'`) prints for it; Node would print U+FFFD.
 */
export const printable = (value: string): string =>
  value.replace(
    // eslint-disable-next-line no-control-regex
    /[\x00-\x1f\x7f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g,
    (c) =>
      c === "\r"
        ? "\\r"
        : c === "\n"
        ? "\\n"
        : c.charCodeAt(0) >= 0xd800
        ? `\\u${c.charCodeAt(0).toString(16)}`
        : `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`
  )

/** The resolved extras of one handler. */
export interface Extras {
  /** Sent on 200 and 206 (files and listings), as Python 3.15's `extra_response_headers`. */
  readonly headers: ReadonlyArray<HeaderField>
  /** `Cache-Control` on 200, 206 and 304. */
  readonly cacheControl: string | undefined
  readonly cors: boolean
}

/** Whether any option changes responses (when none does, the handler's result is passed through untouched). */
export const isActive = (extras: Extras): boolean =>
  extras.headers.length > 0 || extras.cacheControl !== undefined || extras.cors

const ALLOW_ORIGIN: HeaderField = ["Access-Control-Allow-Origin", "*"]

/**
 * The handler's fields without those an extra field names (case-insensitively): `-H 'Content-Type: text/html'`
 * replaces the default `Content-type` rather than sending a second one, which a client may read either way.
 */
export const withoutReplaced = (
  fields: ReadonlyArray<HeaderField>,
  replaced: ReadonlySet<string>
): ReadonlyArray<HeaderField> =>
  replaced.size === 0 ? fields : fields.filter(([name]) => !replaced.has(name.toLowerCase()))

/**
 * `fields` with the extra `Vary` values merged into the handler's own `Vary` (one field, the handler's members first,
 * each member once whatever its case): the handler's members say which request fields chose the body (a
 * precompressed or compressed variant, a JSON listing), so they are never dropped.
 */
export const mergeVary = (fields: ReadonlyArray<HeaderField>, extra: ReadonlyArray<string>): ReadonlyArray<HeaderField> => {
  const isVary = ([name]: HeaderField) => name.toLowerCase() === "vary"
  const members: Array<string> = []
  const seen = new Set<string>()
  for (const value of [...fields.filter(isVary).map(([, value]) => value), ...extra]) {
    for (const member of value.split(",").map((m) => m.trim()).filter((m) => m !== "")) {
      if (!seen.has(member.toLowerCase())) {
        seen.add(member.toLowerCase())
        members.push(member)
      }
    }
  }
  if (members.length === 0) return fields
  // `*` alone says it all (RFC 9110 §12.5.5).
  const value = seen.has("*") ? "*" : members.join(", ")
  return [...fields.filter((field) => !isVary(field)), ["Vary", value]]
}

const MULTIPART = /^multipart\/byteranges\b/i

/** The headers of a successful response, after the handler's own. */
const decorate = (extras: Extras) => {
  const vary = extras.headers.filter(([name]) => name.toLowerCase() === "vary").map(([, value]) => value)
  const others = extras.headers.filter(([name]) => name.toLowerCase() !== "vary")
  const replaced = new Set(others.map(([name]) => name.toLowerCase()))
  // A multi-range 206 keeps its own `Content-Type`: the boundary it names is how the body is read.
  const keepType = new Set([...replaced].filter((name) => name !== "content-type"))
  const othersKeepingType = others.filter(([name]) => name.toLowerCase() !== "content-type")
  return (response: Response.Response): Response.Response => {
    const multipart = response.status === 206 &&
      response.headers.some(([name, value]) => name.toLowerCase() === "content-type" && MULTIPART.test(value))
    return decorateWith(
      extras,
      multipart ? keepType : replaced,
      multipart ? othersKeepingType : others,
      vary,
      response
    )
  }
}

const decorateWith = (
  extras: Extras,
  replaced: ReadonlySet<string>,
  headers: ReadonlyArray<HeaderField>,
  vary: ReadonlyArray<string>,
  response: Response.Response
): Response.Response => {
  const status = response.status
  const added: Array<HeaderField> = []
  let own = response.headers
  if (status === 200 || status === 206) {
    own = withoutReplaced(own, replaced)
    added.push(...headers)
  }
  // A 304 carries the Vary its 200 would (RFC 9110 §15.4.5).
  if (vary.length > 0 && (status === 200 || status === 206 || status === 304)) own = mergeVary(own, vary)
  if (extras.cacheControl !== undefined && (status === 200 || status === 206 || status === 304)) {
    added.push(["Cache-Control", extras.cacheControl])
  }
  if (extras.cors) added.push(ALLOW_ORIGIN)
  return added.length === 0 && own === response.headers ? response : { ...response, headers: [...own, ...added] }
}

/** Errors get the CORS header only (so a cross-origin script can read a 404), never the extra headers. */
const decorateError = (extras: Extras) => (error: HttpError): HttpError =>
  extras.cors
    ? new HttpError({
      status: error.status,
      // Only an own `message` is the caller's (an Error always has an inherited one).
      ...(Object.hasOwn(error, "message") ? { message: error.message } : {}),
      explain: error.explain,
      headers: [...(error.headers ?? []), ALLOW_ORIGIN]
    })
    : error

/**
 * Applies the extras to a handler's result. A synchronous answer (an `Exit`, e.g. from the response cache) stays an
 * `Exit`, so the engine still answers it without a fiber.
 */
export const apply = (extras: Extras) => {
  if (!isActive(extras)) return <R>(result: Effect.Effect<Response.Response, HttpError, R>) => result
  const onSuccess = decorate(extras)
  const onFailure = decorateError(extras)
  return <R>(result: Effect.Effect<Response.Response, HttpError, R>): Effect.Effect<Response.Response, HttpError, R> =>
    Exit.isExit(result)
      ? Exit.mapBoth(result as Exit.Exit<Response.Response, HttpError>, { onFailure, onSuccess })
      : Effect.mapBoth(result, { onFailure, onSuccess })
}

/** Longest time a browser may reuse a preflight answer: a day (browsers cap it lower anyway). */
export const PREFLIGHT_MAX_AGE = "86400"

/**
 * The CORS answer to `OPTIONS`: 204 with the methods this server knows, the request's
 * `Access-Control-Request-Headers` echoed when every element is a token (otherwise not echoed, so the browser
 * refuses the actual request), and a max age.
 */
export const preflight = (
  header: (name: string) => string | undefined,
  methods = "GET, HEAD, OPTIONS"
): Effect.Effect<Response.Response> => {
  const headers: Array<HeaderField> = [
    ALLOW_ORIGIN,
    ["Access-Control-Allow-Methods", methods],
    ["Allow", methods]
  ]
  const requested = header("access-control-request-headers")
  if (requested !== undefined) {
    const names = requested.split(",").map(trimOws).filter((name) => name !== "")
    if (names.length > 0 && names.every((name) => TOKEN.test(name))) {
      headers.push(["Access-Control-Allow-Headers", names.join(", ")])
    }
  }
  headers.push(["Access-Control-Max-Age", PREFLIGHT_MAX_AGE])
  headers.push(["Vary", "Access-Control-Request-Headers"])
  return Effect.succeed(Response.make(204, Response.emptyBody, { headers }))
}

/**
 * `confine` for `noFollowSymlinks`: whether `path`, its links resolved now (`realpath`), is the root or below it.
 * A path that cannot be resolved (missing, dangling link, `ENOTDIR`, no permission) is refused: it would answer 404
 * anyway. A pre-check only: what is then opened must be verified too (`openVerified`).
 */
export const makeConfine = (root: string): (path: string) => boolean =>
  makeVerifier(root, { confine: true, hideDotfiles: false })!.allowsPath

/** Whether a translated path has a component (below the root) starting with `.`. */
export const hasDotComponent = (root: string, path: string): boolean =>
  belowRoot(root, path).split("/").some((component) => component.startsWith("."))

/** Whether a relative name (an index page: `.env`, `sub/.secret.html`) has a component starting with `.`. */
export const hasDotName = (name: string): boolean => name.split("/").some((component) => component.startsWith("."))
