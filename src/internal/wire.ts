/**
 * Response heads and error pages as bytes: Python's `send_response_only`, `send_header`, `end_headers` and
 * `send_error`'s page, shared by the connection driver and the test kit.
 */
import type { HeaderField } from "../Headers.js"
import type { HttpError } from "../HttpError.js"
import { responses } from "../Status.js"
import { fieldValueProblem, isFieldName, isFieldValue, isStatusCode, reasonPhrase } from "./headEncoder.js"
import { markShared } from "./sharedBytes.js"

let dateSecond = -1
let dateText = ""

/** The `Date` header (IMF-fixdate, Python's `date_time_string`), formatted once a second. */
export const httpDate = (now: number = Date.now()): string => {
  const second = Math.floor(now / 1000)
  if (second !== dateSecond) {
    dateText = new Date(second * 1000).toUTCString()
    dateSecond = second
  }
  return dateText
}

/** What a head needs from the server's configuration (both checked by `headConfigProblem` when the server starts). */
export interface HeadConfig {
  readonly protocolVersion: string
  readonly versionString: string
}

/** Why a server's own head text cannot be sent, or `undefined`: checked once, so no request meets a bad value. */
export const headConfigProblem = (
  config: HeadConfig & { readonly errorContentType: string }
): string | undefined => {
  if (!/^HTTP\/1\.[01]$/.test(config.protocolVersion)) return `protocolVersion ${JSON.stringify(config.protocolVersion)}`
  const server = fieldValueProblem(config.versionString)
  if (server !== undefined) return `the Server header (serverVersion, sysVersion) ${server}`
  const type = fieldValueProblem(config.errorContentType)
  return type === undefined ? undefined : `errorContentType ${type}`
}

/**
 * The head as a latin-1 string: the one place its bytes are made, every part through the encoder
 * (`headEncoder.ts`). The reason phrase (default: the status' short message) is escaped into grammar; a status
 * that is not three digits or a field outside the grammar makes it `undefined`, and the caller answers 500 with
 * nothing of this response sent. Fields are checked as they are appended: one regex test per name and value.
 */
export const buildHead = (
  config: HeadConfig,
  status: number,
  reason: string | undefined,
  headers: ReadonlyArray<HeaderField>,
  standardHeaders: boolean,
  endHeaders: boolean
): string | undefined => {
  if (!isStatusCode(status)) return undefined
  const fields = fieldsOf(headers)
  if (fields === undefined) return undefined
  // The standard phrases are in grammar: only a given one is checked.
  const phrase = reason === undefined ? responses.get(status)?.[0] ?? "" : reasonPhrase(reason)
  let head = config.protocolVersion + " " + status + " " + phrase + "\r\n"
  // A handler's `Server` or `Date` (e.g. `-H 'Server: x'`) replaces the server's own: both are single fields.
  if (standardHeaders && !fields.hasServer) head += "Server: " + config.versionString + "\r\n"
  if (standardHeaders && !fields.hasDate) head += "Date: " + httpDate() + "\r\n"
  head += fields.text
  return endHeaders ? head + "\r\n" : head
}

/** A header list checked and encoded: its lines, and whether it has its own `Server` and `Date`. */
interface EncodedFields {
  readonly text: string
  readonly hasServer: boolean
  readonly hasDate: boolean
}

/** Checks and encodes a header list, one regex test per name and value; `undefined`: outside the grammar. */
const encodeFields = (headers: ReadonlyArray<HeaderField>): EncodedFields | undefined => {
  let text = ""
  let hasServer = false
  let hasDate = false
  for (let i = 0; i < headers.length; i++) {
    const field = headers[i]!
    const name = field[0]
    if (!isFieldName(name) || !isFieldValue(field[1])) return undefined
    if (name.length === 6 && !hasServer && name.toLowerCase() === "server") hasServer = true
    else if (name.length === 4 && !hasDate && name.toLowerCase() === "date") hasDate = true
    text += name + ": " + field[1] + "\r\n"
  }
  return { text, hasServer, hasDate }
}

/**
 * Header lists that cannot change (`sealFields`: a cached file's answer, sent again and again), checked and encoded
 * once. Weak: an entry goes with its list.
 */
const sealed = new WeakMap<ReadonlyArray<HeaderField>, EncodedFields>()

const fieldsOf = (headers: ReadonlyArray<HeaderField>): EncodedFields | undefined => {
  if (!Object.isFrozen(headers)) return encodeFields(headers)
  const known = sealed.get(headers)
  if (known !== undefined) return known
  // A frozen list of fields that are not frozen themselves could still change: encoded each time.
  for (let i = 0; i < headers.length; i++) if (!Object.isFrozen(headers[i])) return encodeFields(headers)
  const encoded = encodeFields(headers)
  if (encoded !== undefined) sealed.set(headers, encoded)
  return encoded
}

/**
 * Freezes a header list and each of its fields, so that `buildHead` checks and encodes it once, however many
 * responses carry it. For lists kept and sent many times (the file cache's answers).
 */
export const sealFields = <A extends ReadonlyArray<HeaderField>>(headers: A): A => {
  for (const field of headers) Object.freeze(field)
  return Object.freeze(headers)
}

/** Python's `DEFAULT_ERROR_MESSAGE`. */
export const DEFAULT_ERROR_MESSAGE = `<!DOCTYPE HTML>
<html lang="en">
    <head>
        <meta charset="utf-8">
        <title>Error response</title>
    </head>
    <body>
        <h1>Error response</h1>
        <p>Error code: %(code)d</p>
        <p>Message: %(message)s.</p>
        <p>Error code explanation: %(code)s - %(explain)s.</p>
    </body>
</html>
`

/** Python's `DEFAULT_ERROR_CONTENT_TYPE`. */
export const DEFAULT_ERROR_CONTENT_TYPE = "text/html;charset=utf-8"

/** `html.escape(s, quote=False)`. */
export const escapeHtmlText = (s: string): string =>
  /[&<>]/.test(s) ? s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;") : s

/** Fills a Python `%`-style error template: `%(code)d`, `%(code)s`, `%(message)s`, `%(explain)s`, `%%`. */
export const fillErrorTemplate = (template: string, code: number, message: string, explain: string): string =>
  template.replace(/%\((code|message|explain)\)[sd]|%%/g, (match, key: string | undefined) => {
    if (match === "%%") return "%"
    return key === "code" ? String(code) : key === "message" ? escapeHtmlText(message) : escapeHtmlText(explain)
  })

/** Error pages kept as bytes: at most this many, each from a message and explanation at most this long. */
const ERROR_PAGES_MAX = 64
const ERROR_TEXT_MAX = 256
const errorPages = new Map<string, Buffer>()
let errorPagesTemplate: string | undefined

/**
 * `fillErrorTemplate` as UTF-8 bytes, the same few pages (a 404's, a 403's) reused: filling and encoding the page
 * cost ~3 µs of every error answer on the default path, where each 404 is its own connection. The bytes are shared
 * (`markShared`): never written to, and copied before a Stream consumer gets them.
 */
export const errorPageBytes = (template: string, code: number, message: string, explain: string): Buffer => {
  if (message.length + explain.length > ERROR_TEXT_MAX) {
    return Buffer.from(fillErrorTemplate(template, code, message, explain), "utf8")
  }
  if (template !== errorPagesTemplate) {
    errorPages.clear()
    errorPagesTemplate = template
  }
  const key = code + "\n" + message + "\n" + explain
  let page = errorPages.get(key)
  if (page === undefined) {
    page = markShared(Buffer.from(fillErrorTemplate(template, code, message, explain), "utf8"))
    if (errorPages.size >= ERROR_PAGES_MAX) errorPages.delete(errorPages.keys().next().value!)
    errorPages.set(key, page)
  }
  return page
}

/**
 * `send_error`'s message and explanation: the error's own, else the status' short and long messages, or `???`.
 * An `Error`'s `message` is `""` when not given, so only a message the caller set counts.
 */
export const errorTexts = (error: HttpError): { readonly message: string; readonly explain: string } => {
  const known = responses.get(error.status)
  const message = Object.hasOwn(error, "message") ? error.message : undefined
  return { message: message ?? known?.[0] ?? "???", explain: error.explain ?? known?.[1] ?? "???" }
}

/** Whether `send_error` sends a page for this status (not for 1xx, 204, 205, 304). */
export const errorHasBody = (status: number): boolean =>
  status >= 200 && status !== 204 && status !== 205 && status !== 304
