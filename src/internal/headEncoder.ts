/**
 * The grammar of a response head (RFC 9110 §5.1, §5.5, §15; RFC 9112 §4), checked where the head's bytes are made.
 * The head is written as latin-1, which keeps only the low byte of each UTF-16 unit: U+010D would become CR and
 * U+010A LF, so anything outside the grammar, not just CR and LF, could split a response. Three rules:
 *
 * - a reason phrase is escaped, never refused: what falls outside `HTAB / SP / VCHAR / obs-text` is shown the way
 *   Python's `repr` shows it (`\n`, `\r`, `\xNN`, `\uNNNN`, `\UNNNNNNNN`), so request text quoted in an error
 *   message stays readable and on one line;
 * - a header name outside `token` or a value outside `field-value` is refused: the caller answers 500 instead;
 * - a `Location` made from a request path is %-encoded, so it is always in grammar.
 */
import type { HeaderField } from "../Headers.js"

/** RFC 9110 `token` (field names, methods). */
export const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

// Every character a reason phrase or field value may hold: HTAB, SP, VCHAR, obs-text.
const FIELD_CHARS = /^[\t\x20-\x7e\x80-\xff]*$/

// The names this server sends itself, known to be tokens: a set lookup answers for them, since a regex call per
// name was a measurable share of building a cached file's head (~25 ns a name against ~5 for the lookup).
export const KNOWN_NAMES: ReadonlySet<string> = new Set([
  "Content-type",
  "Content-Type",
  "Content-Length",
  "Last-Modified",
  "ETag",
  "Accept-Ranges",
  "Location",
  "Connection",
  "Content-Encoding",
  "Content-Range",
  "Vary",
  "Cache-Control",
  "Access-Control-Allow-Origin"
])

/** Whether `name` is a field name (`token`). */
export const isFieldName = (name: string): boolean => KNOWN_NAMES.has(name) || TOKEN.test(name)

/**
 * Whether `value` is a `field-value`: VCHAR and obs-text with SP and HTAB inside, never first or last (they would be
 * read as the optional whitespace around the value). The empty value is one.
 */
export const isFieldValue = (value: string): boolean => {
  if (!FIELD_CHARS.test(value)) return false
  const last = value.length - 1
  if (last < 0) return true
  const first = value.charCodeAt(0)
  const end = value.charCodeAt(last)
  return first !== 0x20 && first !== 0x09 && end !== 0x20 && end !== 0x09
}

/**
 * Why a field value cannot be sent, or `undefined`: CR, LF and NUL would split or truncate the head, other control
 * characters (but HTAB) are invalid, a character beyond latin-1 would be cut to its low byte, and whitespace at
 * either end is not part of a value.
 */
export const fieldValueProblem = (value: string): string | undefined => {
  if (isFieldValue(value)) return undefined
  if (/[\r\n]/.test(value)) return "contains CR or LF"
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x08\x0a-\x1f\x7f]/.test(value)) return "contains a control character"
  if (/[^\x00-\xff]/.test(value)) return "contains a character beyond latin-1"
  return "starts or ends with whitespace"
}

/** The first field whose name or value is outside the grammar, or `undefined` when every one can be sent. */
export const invalidField = (headers: ReadonlyArray<HeaderField>): HeaderField | undefined => {
  for (let i = 0; i < headers.length; i++) {
    const field = headers[i]!
    if (!isFieldName(field[0]) || !isFieldValue(field[1])) return field
  }
  return undefined
}

/** Whether `status` can be a status line's `status-code` (three digits). */
export const isStatusCode = (status: number): boolean => Number.isInteger(status) && status >= 100 && status <= 999

const hex = (code: number, width: number): string => code.toString(16).padStart(width, "0")

/**
 * A reason phrase in grammar: returned as is when it is one (the common case, one regex test), else each character
 * outside the grammar replaced by the escape Python's `repr` writes for it (non-latin-1 characters as
 * `backslashreplace` writes them): `\n`, `\r`, `\xNN` for other controls and DEL, `\uNNNN` and `\UNNNNNNNN` above
 * U+00FF (a lone surrogate as `\uNNNN`).
 */
export const reasonPhrase = (text: string): string => {
  if (FIELD_CHARS.test(text)) return text
  let out = ""
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code === 0x09 || (code >= 0x20 && code !== 0x7f && code <= 0xff)) out += text[i]
    else if (code === 0x0a) out += "\\n"
    else if (code === 0x0d) out += "\\r"
    else if (code <= 0xff) out += "\\x" + hex(code, 2)
    else {
      const point = text.codePointAt(i)!
      if (point > 0xffff) {
        out += "\\U" + hex(point, 8)
        i++
      } else out += "\\u" + hex(point, 4)
    }
  }
  return out
}

// What a Location may not hold as is: controls, SP, DEL and everything non-ASCII (outside the field grammar, or cut
// to its low byte), and `\` (an open redirect). `"<>^`{|}` are in grammar and stay as Python sends them; so does `%`
// (the path is already %-encoded as the client spelled it).
// eslint-disable-next-line no-control-regex
const NOT_URI = /[\x00-\x20\\\x7f-\uffff]/

/**
 * A `Location` made from a request path, in grammar: each character of `NOT_URI` becomes its UTF-8 bytes,
 * `%XX` each. That names the same resource here: a path is read as characters (the request line as latin-1, one per
 * byte) whose `%XX` escapes `unquote` decodes as UTF-8, so a raw byte 0xE9 (`é`) and `%C3%A9` are the same path.
 * A `\` becomes `%5C` (browsers read `/\evil.example/` as `//evil.example/`).
 */
export const encodeLocation = (url: string): string => {
  if (!NOT_URI.test(url)) return url
  let out = ""
  for (let i = 0; i < url.length; i++) {
    const ch = url[i]!
    if (!NOT_URI.test(ch)) {
      out += ch
      continue
    }
    const point = url.codePointAt(i)!
    if (point > 0xffff) i++
    // A lone surrogate has no UTF-8 form: Buffer writes U+FFFD's bytes for it.
    for (const byte of Buffer.from(String.fromCodePoint(point), "utf8")) out += "%" + hex(byte, 2).toUpperCase()
  }
  return out
}

/** What puts a head outside the grammar, for the error log: the status, or the first bad field. */
export const headProblem = (status: number, headers: ReadonlyArray<HeaderField>): string => {
  if (!isStatusCode(status)) return `status ${reasonPhrase(String(status))} is not three digits`
  const field = invalidField(headers)
  if (field === undefined) return "none"
  if (!TOKEN.test(field[0])) return `header name '${reasonPhrase(field[0])}' is not a token`
  return `value of header ${field[0]} ${fieldValueProblem(field[1])}`
}
