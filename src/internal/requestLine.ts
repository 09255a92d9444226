/**
 * Python's `parse_request` for the first line of a request: its words, version, method and target, checked as
 * the decoder's module comment describes.
 */
import * as Schema from "effect/Schema"
import type { DecoderEvent } from "../Decoder.js"
import { HttpError } from "../HttpError.js"
import { HTTP_0_9, type HttpVersion, RequestLineText } from "../Request.js"
import { isValidAbsoluteAuthority } from "./hostCheck.js"
import { pyRepr, pySplit } from "./pythonText.js"

export const LF = 10
export const CR = 13
export const CLOSE: DecoderEvent = { _tag: "Close" }

const isRequestLineText = Schema.is(RequestLineText)

/** The common request line: visible ASCII words separated by single spaces. Anything else takes the slow checks. */
const PLAIN_LINE = /^[\x21-\x7e]+(?: [\x21-\x7e]+)*$/

/** An absolute-form target (`scheme://…`) whose scheme is neither http nor https: refused. */
const OTHER_SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//

/**
 * The line's text between `start` and the `\n` at `nl`, without its line ending (LF or CRLF). Python strips every
 * trailing CR; we keep a second one, so a bare CR stays in the line and is refused.
 */
export const lineText = (data: Buffer, start: number, nl: number): string => {
  let end = nl
  if (end > start && data[end - 1] === LF) end--
  if (end > start && data[end - 1] === CR) end--
  return data.toString("latin1", start, end)
}

/** What the request line said, kept while the header lines arrive. */
export interface LineInfo {
  readonly requestLine: string
  readonly method: string
  readonly target: string
  /** `target` with the leading `//` collapsed, or an absolute-form target's path. */
  readonly path: string
  readonly version: HttpVersion
}

/** The two versions nearly every request names, shared (versions are immutable): no match, parse or object each. */
const HTTP_1_1: HttpVersion = Object.freeze({ major: 1, minor: 1, text: "HTTP/1.1" })
const HTTP_1_0: HttpVersion = Object.freeze({ major: 1, minor: 0, text: "HTTP/1.0" })

const SLASH = 0x2f

/** Emits the refusal of a request line; `version` undefined: the line had no version word. */
const refuse = (
  out: Array<DecoderEvent>,
  requestLine: string,
  version: HttpVersion | undefined,
  status: number,
  message: string,
  method?: string
): undefined => {
  out.push({
    _tag: "Error",
    error: { error: new HttpError({ status, message }), requestLine, method, version, headless: version === undefined }
  })
  return undefined
}

/**
 * Python's `parse_request` for the first line. `undefined`: an error or a quiet close was emitted, and the decoder
 * stops.
 */
export const parseRequestLine = (requestLine: string, out: Array<DecoderEvent>): LineInfo | undefined => {
  const plain = PLAIN_LINE.test(requestLine)
  const words = plain ? requestLine.split(" ") : pySplit(requestLine)
  if (words.length === 0) {
    out.push(CLOSE)
    return undefined
  }
  let version: HttpVersion | undefined
  if (words.length >= 3) {
    const text = words[words.length - 1]!
    if (text === "HTTP/1.1") version = HTTP_1_1
    else if (text === "HTTP/1.0") version = HTTP_1_0
    else {
      const match = /^HTTP\/([0-9]{1,10})\.([0-9]{1,10})$/.exec(text)
      if (match === null) return refuse(out, requestLine, undefined, 400, `Bad request version (${pyRepr(text)})`)
      const major = parseInt(match[1]!, 10)
      const minor = parseInt(match[2]!, 10)
      if (major >= 2) return refuse(out, requestLine, undefined, 505, `Invalid HTTP version (${text.slice(5)})`)
      version = { major, minor, text }
    }
  }
  if (words.length < 2 || words.length > 3) {
    return refuse(out, requestLine, version, 400, `Bad request syntax (${pyRepr(requestLine)})`)
  }
  // Python's split() also separates words at VT, FF, CR, 0x1C–0x1F, NEL and NBSP; only SP and HTAB may (RFC 9112
  // §3), and no other control byte may appear anywhere in the line.
  if (!plain && !isRequestLineText(requestLine)) {
    return refuse(out, requestLine, version, 400, `Bad request syntax (${pyRepr(requestLine)})`)
  }
  const method = words[0]!
  let target = words[1]!
  if (words.length === 2 && method !== "GET") {
    return refuse(out, requestLine, version, 400, `Bad HTTP/0.9 request type (${pyRepr(method)})`)
  }
  // RFC 9112 §3.2.4: the asterisk form is for OPTIONS alone (Python would serve, and an upload write, a file "*").
  if (target === "*" && method !== "OPTIONS") {
    return refuse(out, requestLine, version, 400, `Bad request target (${pyRepr(target)})`)
  }
  let path = target
  // The origin form (`/…`, nearly every request) can be neither of the forms below.
  const absolute = target.charCodeAt(0) === SLASH ? null : /^https?:\/\/[^/?#]*/i.exec(target)
  if (absolute !== null) {
    // RFC 9112 §3.2.2: a server must accept the absolute form; handlers see its path (Python passes it whole).
    if (!isValidAbsoluteAuthority(absolute[0].slice(absolute[0].indexOf("//") + 2))) {
      return refuse(out, requestLine, version, 400, `Bad request target (${pyRepr(target)})`, method)
    }
    const rest = target.slice(absolute[0].length)
    path = rest.startsWith("/") ? rest : "/" + rest
  } else if (OTHER_SCHEME.test(target)) {
    // Any other scheme is no request for this server: Python would serve it as a path, and a directory's 301 would
    // send the client to `ftp://evil.example/…`.
    return refuse(
      out,
      requestLine,
      version,
      400,
      `Unsupported URI scheme (${pyRepr(target.slice(0, target.indexOf(":")))})`,
      method
    )
  }
  if (path.startsWith("//")) path = "/" + path.replace(/^\/+/, "")
  if (absolute === null) target = path
  return { requestLine, method, target, path, version: version ?? HTTP_0_9 }
}
