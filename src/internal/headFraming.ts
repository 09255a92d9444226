/**
 * The decoder's completion of a request head: the Schema checks, the header block split into fields, the body's
 * framing (`Transfer-Encoding`, `Content-Length`) and `Host` decided, and the error each refusal answers with.
 */
import * as Schema from "effect/Schema"
import type { DecoderEvent, RequestError } from "../Decoder.js"
import { type HeaderField, Headers } from "../Headers.js"
import { HttpError } from "../HttpError.js"
import { type BodyFraming, HTTP_0_9, RequestHeadText, RequestLine, TOKEN, versionAtLeast } from "../Request.js"
import { isValidHost } from "./hostCheck.js"
import { trimOws } from "./ows.js"
import { compilePatternStruct } from "./patternStruct.js"
import { pyRepr } from "./pythonText.js"
import { CR, type LineInfo } from "./requestLine.js"

export const decodeRequestHead = Schema.decodeUnknownEither(RequestHeadText)
const isValidRequestLine = Schema.is(RequestLine)
// The same rules as three regex tests, compiled from the Schema (see patternStruct.ts): the per-request check.
export const isRequestLineValid = compilePatternStruct(RequestLine) ?? isValidRequestLine

/** A validated header block (lines ending in LF or CRLF, each with a colon) as fields. */
export const headFields = (block: string): Headers => {
  const fields: Array<HeaderField> = []
  let pos = 0
  while (pos < block.length) {
    const nl = block.indexOf("\n", pos)
    const colon = block.indexOf(":", pos)
    const end = block.charCodeAt(nl - 1) === CR ? nl - 1 : nl
    fields.push([block.slice(pos, colon), trimOws(block.slice(colon + 1, end))])
    pos = nl + 1
  }
  return new Headers(fields)
}

/** The event announcing a complete, valid head. */
export const headEvent = (
  line: LineInfo,
  headers: Headers,
  framing: BodyFraming,
  contentLength: number
): DecoderEvent => ({
  _tag: "Head",
  head: {
    method: line.method,
    target: line.target,
    path: line.path,
    version: line.version,
    requestLine: line.requestLine,
    headers,
    framing,
    contentLength
  }
})

/** The last lines of a head cut off by the end of input, up to a blank line, the last one completed. */
export const blockAtEof = (rest: string): string => {
  let block = rest
  const blank = /(^|\n)\r?(\n|$)/.exec(block)
  if (blank !== null) block = block.slice(0, blank.index + blank[1]!.length)
  if (block !== "" && !block.endsWith("\n")) block += "\n"
  return block
}

/**
 * The body's framing of an HTTP/1.x head, and its `Host` checked (`cached`: the block was validated before, its
 * `Host` with it). -1: chunked; otherwise the `Content-Length` (0: no body); or the error to answer with.
 */
export const bodyLength = (
  line: LineInfo,
  headers: Headers,
  cached: boolean,
  maxBodyBytes: number
): RequestError | number => {
  let framing: BodyFraming = "none"
  let contentLength = 0
  const te = headers.getAll("transfer-encoding")
  const cl = headers.getAll("content-length")
  if (te.length > 0) {
    if (cl.length > 0) {
      return headerSyntaxError(line, "Bad request", "Content-Length with Transfer-Encoding")
    }
    const codings = te.join(",").split(",").map((c) => trimOws(c).toLowerCase()).filter((c) => c !== "")
    // A coding must be a token (parameters aside): `\xa0chunked` is a syntax error, not an unknown coding.
    if (codings.some((c) => !TOKEN.test(trimOws(c.split(";", 1)[0]!)))) {
      return headerSyntaxError(line, "Bad Transfer-Encoding", te.join(", "))
    }
    if (codings.length !== 1 || codings[0] !== "chunked") {
      return withStatus(line, 501, "Unsupported Transfer-Encoding", te.join(", "))
    }
    framing = "chunked"
  } else if (cl.length > 0) {
    const values = cl.join(",").split(",").map(trimOws)
    const n = values[0]!
    if (!/^[0-9]{1,16}$/.test(n) || values.some((v) => v !== n)) {
      return headerSyntaxError(line, "Bad Content-Length", cl.join(", "))
    }
    contentLength = parseInt(n, 10)
    if (contentLength > maxBodyBytes) {
      return { ...tooLarge(), requestLine: line.requestLine, method: line.method, version: line.version }
    }
    if (contentLength > 0) framing = "length"
  }
  // RFC 9112 §3.2: exactly one valid Host in HTTP/1.1, at most one in HTTP/1.0. A cached block had its Host
  // checked when it was first seen (a bad one ended the connection); its presence depends on the version too.
  const hosts = headers.getAll("host")
  if (hosts.length > 1 || (hosts.length === 1 && !cached && !isValidHost(hosts[0]!))) {
    return headerSyntaxError(line, "Bad Host header", hosts.join(", "))
  }
  if (hosts.length === 0 && versionAtLeast(line.version, 1, 1)) {
    return headerSyntaxError(line, "Missing Host header", "HTTP/1.1 requests must carry a Host header")
  }
  return framing === "chunked" ? -1 : contentLength
}

/** Why a head failed validation, in the words of the part that failed (the slow path: errors only). */
export const headRefusal = (line: LineInfo, block: string): RequestError => {
  if (!isValidRequestLine({ method: line.method, target: line.target, version: line.version.text })) {
    return { ...withStatus(line, 400, `Bad request syntax (${pyRepr(line.requestLine)})`, ""), error: new HttpError({ status: 400, message: `Bad request syntax (${pyRepr(line.requestLine)})` }) }
  }
  for (const text of block.split("\n")) {
    const fieldLine = text.replace(/\r$/, "")
    if (fieldLine === "") continue
    const colon = fieldLine.indexOf(":")
    const first = fieldLine.charCodeAt(0)
    // obs-fold (a line starting with SP/HT) and lines without a colon are refused, as RFC 9112 allows.
    if (colon <= 0 || first === 32 || first === 9) return headerSyntaxError(line, "Bad header line", pyRepr(fieldLine))
  }
  return headerSyntaxError(line, "Bad header", "invalid header name or value")
}

export const headerLimitError = (line: LineInfo, message: string, explain: string): RequestError => {
  return {
    error: new HttpError({ status: 431, message, explain }),
    requestLine: line.requestLine,
    method: line.method,
    version: line.version === HTTP_0_9 ? undefined : line.version,
    headless: line.version === HTTP_0_9
  }
}

const headerSyntaxError = (line: LineInfo, message: string, explain: string): RequestError => {
  return withStatus(line, 400, message, explain)
}

const withStatus = (line: LineInfo, status: number, message: string, explain: string): RequestError => {
  return {
    error: new HttpError({ status, message, explain }),
    requestLine: line.requestLine,
    method: line.method,
    version: line.version === HTTP_0_9 ? undefined : line.version,
    headless: line.version === HTTP_0_9
  }
}

const tooLarge = (): RequestError => {
  return {
    error: new HttpError({ status: 413 }),
    requestLine: "",
    method: undefined,
    version: undefined,
    headless: false
  }
}

export const requestLineTooLong = (): RequestError => {
  return {
    error: new HttpError({ status: 414 }),
    requestLine: "",
    method: "",
    version: undefined,
    headless: false
  }
}
