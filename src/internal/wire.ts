/**
 * Response heads and error pages as bytes: Python's `send_response_only`, `send_header`, `end_headers` and
 * `send_error`'s page, shared by the connection driver and the test kit.
 */
import type { HeaderField } from "../Headers.js"
import type { HttpError } from "../HttpError.js"
import { responses } from "../Status.js"

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

/** CR or LF in a field would split the response: such a response is refused (Python would send it). */
export const UNSAFE_FIELD = /[\r\n]/

/** Whether any header name or value could break the head's framing. */
export const hasUnsafeField = (headers: ReadonlyArray<HeaderField>): boolean => {
  for (let i = 0; i < headers.length; i++) {
    const field = headers[i]!
    if (UNSAFE_FIELD.test(field[1]) || UNSAFE_FIELD.test(field[0])) return true
  }
  return false
}

/** What a head needs from the server's configuration. */
export interface HeadConfig {
  readonly protocolVersion: string
  readonly versionString: string
}

/** The head as a latin-1 string. `reason` must already be free of CR/LF. */
export const buildHead = (
  config: HeadConfig,
  status: number,
  reason: string,
  headers: ReadonlyArray<HeaderField>,
  standardHeaders: boolean,
  endHeaders: boolean
): string => {
  let head = config.protocolVersion + " " + status + " " + reason + "\r\n"
  if (standardHeaders) head += "Server: " + config.versionString + "\r\nDate: " + httpDate() + "\r\n"
  for (let i = 0; i < headers.length; i++) {
    const field = headers[i]!
    head += field[0] + ": " + field[1] + "\r\n"
  }
  return endHeaders ? head + "\r\n" : head
}

/** The reason phrase for a status, made safe for the status line. */
export const reasonFor = (status: number, reason: string | undefined): string => {
  const text = reason ?? responses.get(status)?.[0] ?? ""
  return UNSAFE_FIELD.test(text) ? text.replace(/[\r\n]+/g, " ") : text
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
