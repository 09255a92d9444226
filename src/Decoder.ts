/**
 * The HTTP/1.x request decoder: a pure, chunk-level state machine. `feed(chunk)` returns what the chunk completed —
 * request heads, body pieces, the end of a body, or one error — and never looks at a byte twice for long heads.
 *
 * The outcomes follow CPython 3.11's `handle_one_request` / `parse_request` / `http.client.parse_headers`, error
 * messages included; where we are stricter (control characters and separators other than SP/HTAB in the request
 * line, header syntax, body framing, chunk-size and trailer lines, `Host`) the error is a 400 and the README lists the
 * difference.
 *
 * @since 0.1.0
 */
import * as Chunk from "effect/Chunk"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { type HeaderField, Headers } from "./Headers.js"
import { HttpError } from "./HttpError.js"
import {
  type BodyFraming,
  HTTP_0_9,
  type HttpVersion,
  RequestBodyError,
  type RequestHead,
  RequestHeadText,
  RequestLine,
  RequestLineText,
  TOKEN,
  versionAtLeast
} from "./Request.js"
import { asksUpgrade } from "./internal/connectionOptions.js"
import { isValidAbsoluteAuthority, isValidHost } from "./internal/hostCheck.js"
import { trimOws } from "./internal/ows.js"
import { compilePatternStruct } from "./internal/patternStruct.js"
import { isKnownValidBlock, rememberValidBlock } from "./internal/validHeads.js"
import { pyRepr, pySplit } from "./internal/pythonText.js"

/**
 * Limits applied while decoding. The defaults are Python's (`_MAXLINE`, `_MAXHEADERS`, `readline(65537)`).
 *
 * @since 0.1.0
 * @category options
 */
export interface DecoderLimits {
  /** Longest request line, line ending included; longer → 414. */
  readonly maxRequestLine: number
  /** Longest header line, line ending included; longer → 431 "Line too long". */
  readonly maxHeaderLine: number
  /** Header lines counted as Python counts them (the blank line too); more → 431 "Too many headers". */
  readonly maxHeaders: number
  /** Largest request body accepted; larger → 413. `Infinity` (the default) as in Python. */
  readonly maxBodyBytes: number
  /** Largest head (request line and header lines); larger → 431. Default 128 KiB: one maximal request line plus 64 KiB (Python bounds only lines and their count). */
  readonly maxHeaderBytes: number
}

/**
 * Python's limits.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultLimits: DecoderLimits = {
  maxRequestLine: 65536,
  maxHeaderLine: 65536,
  maxHeaders: 100,
  maxBodyBytes: Infinity,
  maxHeaderBytes: 128 * 1024
}

/**
 * A request the decoder refused. `headless` marks Python's HTTP/0.9 answer: the error page without a status line or
 * headers (it happens when the version was not yet known or was refused).
 *
 * @since 0.1.0
 * @category models
 */
export interface RequestError {
  readonly error: HttpError
  readonly requestLine: string
  readonly method: string | undefined
  readonly version: HttpVersion | undefined
  readonly headless: boolean
}

/**
 * What one `feed` can produce, in wire order.
 *
 * @since 0.1.0
 * @category models
 */
export type DecoderEvent =
  | { readonly _tag: "Head"; readonly head: RequestHead }
  | { readonly _tag: "Body"; readonly chunk: Uint8Array }
  | { readonly _tag: "BodyEnd" }
  | { readonly _tag: "Error"; readonly error: RequestError }
  /** The body in progress cannot be read whole; the request's body stream fails with it, then the input stops. */
  | { readonly _tag: "BodyError"; readonly error: RequestBodyError }
  /** An empty request line or end of input between requests: Python closes without a word. */
  | { readonly _tag: "Close" }

const LF = 10
const CR = 13
const BODY_END: DecoderEvent = { _tag: "BodyEnd" }
const CLOSE: DecoderEvent = { _tag: "Close" }

const bodyFailure = (reason: RequestBodyError["reason"], message: string): DecoderEvent => ({
  _tag: "BodyError",
  error: new RequestBodyError({ reason, message })
})

const decodeRequestHead = Schema.decodeUnknownEither(RequestHeadText)
const isValidRequestLine = Schema.is(RequestLine)
// The same rules as three regex tests, compiled from the Schema (see patternStruct.ts): the per-request check.
const isRequestLineValid = compilePatternStruct(RequestLine) ?? isValidRequestLine
const isRequestLineText = Schema.is(RequestLineText)

/** The common request line: visible ASCII words separated by single spaces. Anything else takes the slow checks. */
const PLAIN_LINE = /^[\x21-\x7e]+(?: [\x21-\x7e]+)*$/
/**
 * RFC 9112 §7.1.1: `chunk-size [ chunk-ext ]`, each extension `BWS ";" BWS token [ BWS "=" BWS ( token /
 * quoted-string ) ]`, then CRLF (or a bare LF, as the head accepts). No other whitespace, NUL or bare CR.
 */
const CHUNK_SIZE_LINE =
  /^([0-9A-Fa-f]{1,15})(?:[ \t]*;[ \t]*[!#$%&'*+\-.^_`|~0-9A-Za-z]+(?:[ \t]*=[ \t]*(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+|"(?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x20-\x7e\x80-\xff])*"))?)*\r?$/
/** A trailer line: the header-line grammar of `Request.HeaderBlockText`. */
const TRAILER_LINE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[\t\x20-\x7e\x80-\xff]*\r?$/
/** The longest chunk-size line, extensions and line ending included. */
const MAX_CHUNK_SIZE_LINE = 4096

/** A byte buffer that grows by doubling, so a head trickled byte by byte costs linear, not quadratic, copying. */
class Accumulator {
  buf: Buffer = Buffer.allocUnsafe(0)
  len = 0
  append(chunk: Uint8Array): void {
    if (this.len + chunk.length > this.buf.length) {
      const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + chunk.length, 1024))
      this.buf.copy(next, 0, 0, this.len)
      this.buf = next
    }
    this.buf.set(chunk, this.len)
    this.len += chunk.length
  }
  /** Keeps bytes from `from` on, moved to the front. */
  keepFrom(from: number): void {
    if (from >= this.len) this.len = 0
    else if (from > 0) {
      this.buf.copy(this.buf, 0, from, this.len)
      this.len -= from
    }
  }
}

type State = "head" | "length" | "chunk-size" | "chunk-data" | "chunk-crlf" | "trailers" | "done"

/** An absolute-form target (`scheme://…`) whose scheme is neither http nor https: refused. */
const OTHER_SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//

/**
 * The line's text between `start` and the `\n` at `nl`, without its line ending (LF or CRLF). Python strips every
 * trailing CR; we keep a second one, so a bare CR stays in the line and is refused.
 */
const lineText = (data: Buffer, start: number, nl: number): string => {
  let end = nl
  if (end > start && data[end - 1] === LF) end--
  if (end > start && data[end - 1] === CR) end--
  return data.toString("latin1", start, end)
}

/** What the request line said, kept while the header lines arrive. */
interface LineInfo {
  readonly requestLine: string
  readonly method: string
  readonly target: string
  /** `target` with the leading `//` collapsed, or an absolute-form target's path. */
  readonly path: string
  readonly version: HttpVersion
}

/**
 * The decoder for one connection. Not shared: it holds the bytes of an incomplete head or body piece.
 *
 * @since 0.1.0
 * @category models
 */
export class Decoder {
  private state: State = "head"
  private readonly acc = new Accumulator()
  private readonly limits: DecoderLimits
  // Progress through an incomplete head, relative to its first byte.
  private linePos = 0
  private line: LineInfo | undefined = undefined
  private blockStart = 0
  private lastValidBlock: string | undefined = undefined
  private lineCount = 0
  // Body progress.
  private remaining = 0
  private bodyTotal = 0
  private trailerBytes = 0
  private trailerLines = 0
  // RFC 9112 §6.1: after an HTTP/1.0 message with Transfer-Encoding the framing is in doubt; nothing after it is read.
  private closeAfterBody = false
  // After a protocol-switch request (`Upgrade` + `Connection: upgrade`, no body), the bytes that follow may be the
  // new protocol's (a WebSocket client's first frame in the upgrade's segment): kept unparsed until `release`.
  private held = false
  private endedWhileHeld = false

  constructor(limits: Partial<DecoderLimits> = {}) {
    this.limits = { ...defaultLimits, ...limits }
  }

  /** Whether the decoder has stopped (after an error or a quiet close): further input is ignored. */
  get isDone(): boolean {
    return this.state === "done"
  }

  /** Whether it is between requests with nothing buffered: where an idle connection may be closed safely. */
  get isIdle(): boolean {
    return this.state === "head" && this.acc.len === 0 && !this.held
  }

  /** Whether part of a request head has arrived but not its end: the window a head deadline measures. */
  get isReadingHead(): boolean {
    return this.state === "head" && !this.held && (this.acc.len > 0 || this.line !== undefined)
  }

  /** Whether bytes after a protocol-switch request are kept unparsed (see `release`, `takeHeld`). */
  get isHeld(): boolean {
    return this.held
  }

  /** How many bytes are kept unparsed after a protocol-switch request. */
  get heldBytes(): number {
    return this.held ? this.acc.len : 0
  }

  /**
   * The protocol switch happened: the bytes received after its request (node:http's `head` of an `upgrade` event).
   * The decoder stops.
   */
  takeHeld(): Buffer {
    const rest = Buffer.from(this.acc.buf.subarray(0, this.held ? this.acc.len : 0))
    this.held = false
    this.state = "done"
    this.acc.len = 0
    return rest
  }

  /** The protocol switch was answered without switching: what followed the request is parsed as HTTP after all. */
  release(): Array<DecoderEvent> {
    const out: Array<DecoderEvent> = []
    if (!this.held) return out
    this.held = false
    if (this.acc.len > 0) {
      const offset = this.run(this.acc.buf.subarray(0, this.acc.len), 0, true, out)
      if (this.isDone) this.acc.len = 0
      else this.acc.keepFrom(offset)
    }
    if (this.endedWhileHeld) out.push(...this.end())
    return out
  }

  /** Decodes what `chunk` completes. */
  feed(chunk: Uint8Array): Array<DecoderEvent> {
    const out: Array<DecoderEvent> = []
    if (this.state === "done" || chunk.length === 0) return out
    let data: Buffer
    let fromAcc: boolean
    if (this.acc.len > 0) {
      this.acc.append(chunk)
      data = this.acc.buf.subarray(0, this.acc.len)
      fromAcc = true
    } else {
      data = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length)
      fromAcc = false
    }
    const offset = this.run(data, 0, fromAcc, out)
    if (this.isDone) this.acc.len = 0
    else if (fromAcc) this.acc.keepFrom(offset)
    else if (offset < data.length) this.acc.append(data.subarray(offset))
    return out
  }

  /**
   * The input ended. A head in progress is completed as Python completes it (a request line without line ending is
   * still served); a body in progress is reported as cut short.
   */
  end(): Array<DecoderEvent> {
    const out: Array<DecoderEvent> = []
    if (this.held) {
      this.endedWhileHeld = true
      return out
    }
    const state = this.state
    this.state = "done"
    if (state === "head") {
      if (this.acc.len === 0 && this.line === undefined) out.push(CLOSE)
      else this.finishAtEof(out)
    } else if (state !== "done") {
      out.push(bodyFailure("ClientClosed", "the connection closed before the request body was complete"))
    }
    this.acc.len = 0
    return out
  }

  private run(data: Buffer, offset: number, fromAcc: boolean, out: Array<DecoderEvent>): number {
    while (offset < data.length) {
      switch (this.state) {
        case "head": {
          if (this.held) return offset
          const next = this.parseHead(data, offset, out)
          if (next < 0) return offset
          offset = next
          break
        }
        case "length": {
          offset = this.takeBody(data, offset, fromAcc, out)
          if (this.remaining === 0) {
            out.push(BODY_END)
            this.state = "head"
          }
          break
        }
        case "chunk-size": {
          const nl = data.indexOf(LF, offset)
          // The cap holds whether the line trickles in or arrives whole in one read.
          if ((nl < 0 ? data.length : nl + 1) - offset > MAX_CHUNK_SIZE_LINE) {
            this.failBody(out, "Framing", "chunk size line too long")
            return data.length
          }
          if (nl < 0) return offset
          const match = CHUNK_SIZE_LINE.exec(data.toString("latin1", offset, nl))
          if (match === null) {
            this.failBody(out, "Framing", "bad chunk size line")
            return data.length
          }
          const size = parseInt(match[1]!, 16)
          offset = nl + 1
          this.bodyTotal += size
          if (this.bodyTotal > this.limits.maxBodyBytes) {
            this.failBody(out, "TooLarge", "the chunked request body exceeds the size limit")
            return data.length
          }
          if (size === 0) {
            this.state = "trailers"
            this.trailerBytes = 0
            this.trailerLines = 0
          } else {
            this.remaining = size
            this.state = "chunk-data"
          }
          break
        }
        case "chunk-data": {
          offset = this.takeBody(data, offset, fromAcc, out)
          if (this.remaining === 0) this.state = "chunk-crlf"
          break
        }
        case "chunk-crlf": {
          if (data[offset] === CR) {
            if (offset + 1 >= data.length) return offset
            offset++
          }
          if (data[offset] !== LF) {
            this.failBody(out, "Framing", "missing CRLF after chunk data")
            return data.length
          }
          offset++
          this.state = "chunk-size"
          break
        }
        case "trailers": {
          // Trailers are read and dropped, but framed like header lines: the same grammar, the same bounds (the
          // section within one header line's size, no more lines than a head's).
          const nl = data.indexOf(LF, offset)
          if (nl < 0) {
            if (this.trailerBytes + data.length - offset > this.limits.maxHeaderLine) {
              this.failBody(out, "Framing", "trailer section too long")
              return data.length
            }
            return offset
          }
          const blank = nl === offset || (nl === offset + 1 && data[offset] === CR)
          this.trailerBytes += nl + 1 - offset
          const start = offset
          offset = nl + 1
          if (blank) {
            out.push(BODY_END)
            this.state = this.closeAfterBody ? "done" : "head"
            if (this.closeAfterBody) out.push(CLOSE)
          } else if (this.trailerBytes > this.limits.maxHeaderLine) {
            this.failBody(out, "Framing", "trailer section too long")
            return data.length
          } else if (++this.trailerLines > this.limits.maxHeaders) {
            this.failBody(out, "Framing", "too many trailer lines")
            return data.length
          } else if (!TRAILER_LINE.test(data.toString("latin1", start, nl))) {
            this.failBody(out, "Framing", "bad trailer line")
            return data.length
          }
          break
        }
        case "done":
          return data.length
      }
    }
    return offset
  }

  /** Emits up to `remaining` body bytes from `offset`; returns the offset after them. */
  private takeBody(data: Buffer, offset: number, fromAcc: boolean, out: Array<DecoderEvent>): number {
    const n = Math.min(this.remaining, data.length - offset)
    const piece = data.subarray(offset, offset + n)
    // The accumulator's memory is reused, so what leaves it must be copied.
    out.push({ _tag: "Body", chunk: fromAcc ? Buffer.from(piece) : piece })
    this.remaining -= n
    return offset + n
  }

  /** Parses (the rest of) a head starting at `start`. Returns the offset after it, or -1 when more input is needed. */
  private parseHead(data: Buffer, start: number, out: Array<DecoderEvent>): number {
    const limits = this.limits
    let pos = start + this.linePos
    if (this.line === undefined) {
      const nl = data.indexOf(LF, pos)
      if (nl < 0 ? data.length - pos > limits.maxRequestLine : nl + 1 - pos > limits.maxRequestLine) {
        this.fail(out, {
          error: new HttpError({ status: 414 }),
          requestLine: "",
          method: "",
          version: undefined,
          headless: false
        })
        return data.length
      }
      if (nl < 0) return -1
      const line = this.parseRequestLine(lineText(data, pos, nl), out)
      if (line === undefined) return data.length
      this.line = line
      pos = nl + 1
      this.linePos = pos - start
      this.blockStart = this.linePos
    }
    const line = this.line
    for (;;) {
      const nl = data.indexOf(LF, pos)
      if ((nl < 0 ? data.length : nl + 1) - start > limits.maxHeaderBytes) {
        this.fail(out, this.headerLimitError(line, "Request header too large", `got more than ${limits.maxHeaderBytes} bytes of request head`))
        return data.length
      }
      if (nl < 0 ? data.length - pos > limits.maxHeaderLine : nl + 1 - pos > limits.maxHeaderLine) {
        this.fail(out, this.headerLimitError(line, "Line too long", `got more than ${limits.maxHeaderLine} bytes when reading header line`))
        return data.length
      }
      if (nl < 0) {
        this.linePos = pos - start
        return -1
      }
      this.lineCount++
      if (this.lineCount > limits.maxHeaders) {
        this.fail(out, this.headerLimitError(line, "Too many headers", `got more than ${limits.maxHeaders} headers`))
        return data.length
      }
      if (nl === pos || (nl === pos + 1 && data[pos] === CR)) {
        const block = data.toString("latin1", start + this.blockStart, pos)
        pos = nl + 1
        return this.completeHead(line, block, out) ? pos : data.length
      }
      pos = nl + 1
    }
  }

  /** A head cut off by the end of input: Python serves what it has (`readline` returns the partial line). */
  private finishAtEof(out: Array<DecoderEvent>): void {
    const data = this.acc.buf.subarray(0, this.acc.len)
    let block = ""
    if (this.line === undefined) {
      const line = this.parseRequestLine(lineText(data, this.linePos, data.length), out)
      if (line === undefined) return
      this.line = line
    } else {
      // The last line may lack its line ending; a blank line in what is left ends the head, as in Python.
      block = data.toString("latin1", this.blockStart, data.length)
      const blank = /(^|\n)\r?(\n|$)/.exec(block)
      if (blank !== null) block = block.slice(0, blank.index + blank[1]!.length)
      if (block !== "" && !block.endsWith("\n")) block += "\n"
    }
    this.state = "head"
    if (this.completeHead(this.line, block, out) && this.state !== "head") {
      out.push(bodyFailure("ClientClosed", "the connection closed before the request body was complete"))
    }
    this.state = "done"
  }

  /** Python's `parse_request` for the first line. `undefined`: an error or a quiet close was emitted. */
  private parseRequestLine(requestLine: string, out: Array<DecoderEvent>): LineInfo | undefined {
    const plain = PLAIN_LINE.test(requestLine)
    const words = plain ? requestLine.split(" ") : pySplit(requestLine)
    if (words.length === 0) {
      out.push(CLOSE)
      this.state = "done"
      return undefined
    }
    let version: HttpVersion = HTTP_0_9
    let headless = true
    const refuse = (status: number, message: string, method?: string): undefined => {
      this.fail(out, {
        error: new HttpError({ status, message }),
        requestLine,
        method,
        version: headless ? undefined : version,
        headless
      })
      return undefined
    }
    if (words.length >= 3) {
      const text = words[words.length - 1]!
      const match = /^HTTP\/([0-9]{1,10})\.([0-9]{1,10})$/.exec(text)
      if (match === null) return refuse(400, `Bad request version (${pyRepr(text)})`)
      const major = parseInt(match[1]!, 10)
      const minor = parseInt(match[2]!, 10)
      if (major >= 2) return refuse(505, `Invalid HTTP version (${text.slice(5)})`)
      version = { major, minor, text }
      headless = false
    }
    if (words.length < 2 || words.length > 3) return refuse(400, `Bad request syntax (${pyRepr(requestLine)})`)
    // Python's split() also separates words at VT, FF, CR, 0x1C–0x1F, NEL and NBSP; only SP and HTAB may (RFC 9112
    // §3), and no other control byte may appear anywhere in the line.
    if (!plain && !isRequestLineText(requestLine)) return refuse(400, `Bad request syntax (${pyRepr(requestLine)})`)
    const method = words[0]!
    let target = words[1]!
    if (words.length === 2 && method !== "GET") return refuse(400, `Bad HTTP/0.9 request type (${pyRepr(method)})`)
    // RFC 9112 §3.2.4: the asterisk form is for OPTIONS alone (Python would serve, and an upload write, a file "*").
    if (target === "*" && method !== "OPTIONS") return refuse(400, `Bad request target (${pyRepr(target)})`)
    // RFC 9112 §3.2.2: a server must accept the absolute form; handlers see its path (Python passes it whole).
    const absolute = /^https?:\/\/[^/?#]*/i.exec(target)
    // Any other scheme is no request for this server: Python would serve it as a path, and a directory's 301 would
    // send the client to `ftp://evil.example/…`.
    if (absolute === null && OTHER_SCHEME.test(target)) {
      return refuse(400, `Unsupported URI scheme (${pyRepr(target.slice(0, target.indexOf(":")))})`, method)
    }
    let path = target
    if (absolute !== null) {
      if (!isValidAbsoluteAuthority(absolute[0].slice(absolute[0].indexOf("//") + 2))) {
        return refuse(400, `Bad request target (${pyRepr(target)})`, method)
      }
      const rest = target.slice(absolute[0].length)
      path = rest.startsWith("/") ? rest : "/" + rest
    }
    if (path.startsWith("//")) path = "/" + path.replace(/^\/+/, "")
    if (absolute === null) target = path
    return { requestLine, method, target, path, version }
  }

  /**
   * Validates the head against the Schema (one compiled decode of the request line's parts and the raw header
   * block), splits the block into fields, decides the body's framing, and emits the head (or an error).
   */
  private completeHead(line: LineInfo, block: string, out: Array<DecoderEvent>): boolean {
    this.line = undefined
    this.linePos = 0
    this.lineCount = 0
    // A client sends the same header block again and again: validate each distinct block once per connection, or
    // once per process for a block seen on another connection (`validHeads`); the request line always.
    const cached = block === this.lastValidBlock || isKnownValidBlock(block)
    const valid = cached
      ? isRequestLineValid({ method: line.method, target: line.target, version: line.version.text })
      : Either.isRight(decodeRequestHead({ method: line.method, target: line.target, version: line.version.text, fields: block }))
    if (!valid) {
      this.fail(out, this.headRefusal(line, block))
      return false
    }
    this.lastValidBlock = block
    const fields: Array<HeaderField> = []
    let pos = 0
    while (pos < block.length) {
      const nl = block.indexOf("\n", pos)
      const colon = block.indexOf(":", pos)
      const end = block.charCodeAt(nl - 1) === CR ? nl - 1 : nl
      fields.push([block.slice(pos, colon), trimOws(block.slice(colon + 1, end))])
      pos = nl + 1
    }
    const headers = new Headers(fields)
    let framing: BodyFraming = "none"
    let contentLength = 0
    if (line.version !== HTTP_0_9) {
      const te = headers.getAll("transfer-encoding")
      const cl = headers.getAll("content-length")
      if (te.length > 0) {
        if (cl.length > 0) {
          this.fail(out, this.headerSyntaxError(line, "Bad request", "Content-Length with Transfer-Encoding"))
          return false
        }
        const codings = te.join(",").split(",").map((c) => trimOws(c).toLowerCase()).filter((c) => c !== "")
        // A coding must be a token (parameters aside): `\xa0chunked` is a syntax error, not an unknown coding.
        if (codings.some((c) => !TOKEN.test(trimOws(c.split(";", 1)[0]!)))) {
          this.fail(out, this.headerSyntaxError(line, "Bad Transfer-Encoding", te.join(", ")))
          return false
        }
        if (codings.length !== 1 || codings[0] !== "chunked") {
          this.fail(out, this.withStatus(line, 501, "Unsupported Transfer-Encoding", te.join(", ")))
          return false
        }
        framing = "chunked"
      } else if (cl.length > 0) {
        const values = cl.join(",").split(",").map(trimOws)
        const n = values[0]!
        if (!/^[0-9]{1,16}$/.test(n) || values.some((v) => v !== n)) {
          this.fail(out, this.headerSyntaxError(line, "Bad Content-Length", cl.join(", ")))
          return false
        }
        contentLength = parseInt(n, 10)
        if (contentLength > this.limits.maxBodyBytes) {
          this.fail(out, { ...this.tooLarge(), requestLine: line.requestLine, method: line.method, version: line.version })
          return false
        }
        if (contentLength > 0) framing = "length"
      }
      // RFC 9112 §3.2: exactly one valid Host in HTTP/1.1, at most one in HTTP/1.0. A cached block had its Host
      // checked when it was first seen (a bad one ended the connection); its presence depends on the version too.
      const hosts = headers.getAll("host")
      if (hosts.length > 1 || (hosts.length === 1 && !cached && !isValidHost(hosts[0]!))) {
        this.fail(out, this.headerSyntaxError(line, "Bad Host header", hosts.join(", ")))
        return false
      }
      if (hosts.length === 0 && versionAtLeast(line.version, 1, 1)) {
        this.fail(out, this.headerSyntaxError(line, "Missing Host header", "HTTP/1.1 requests must carry a Host header"))
        return false
      }
    }
    // Whole now (Schema and Host): valid for any connection. Not an HTTP/0.9 block: its Host was never checked.
    if (!cached && line.version !== HTTP_0_9) rememberValidBlock(block)
    out.push({
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
    if (framing === "length") {
      this.state = "length"
      this.remaining = contentLength
    } else if (framing === "chunked") {
      this.state = "chunk-size"
      this.bodyTotal = 0
      this.closeAfterBody = !versionAtLeast(line.version, 1, 1)
    } else if (asksUpgrade(headers)) this.held = true
    return true
  }

  private failBody(out: Array<DecoderEvent>, reason: RequestBodyError["reason"], message: string): void {
    out.push(bodyFailure(reason, message))
    this.state = "done"
  }

  /** Why a head failed validation, in the words of the part that failed (the slow path: errors only). */
  private headRefusal(line: LineInfo, block: string): RequestError {
    if (!isValidRequestLine({ method: line.method, target: line.target, version: line.version.text })) {
      return { ...this.withStatus(line, 400, `Bad request syntax (${pyRepr(line.requestLine)})`, ""), error: new HttpError({ status: 400, message: `Bad request syntax (${pyRepr(line.requestLine)})` }) }
    }
    for (const text of block.split("\n")) {
      const fieldLine = text.replace(/\r$/, "")
      if (fieldLine === "") continue
      const colon = fieldLine.indexOf(":")
      const first = fieldLine.charCodeAt(0)
      // obs-fold (a line starting with SP/HT) and lines without a colon are refused, as RFC 9112 allows.
      if (colon <= 0 || first === 32 || first === 9) return this.headerSyntaxError(line, "Bad header line", pyRepr(fieldLine))
    }
    return this.headerSyntaxError(line, "Bad header", "invalid header name or value")
  }

  private fail(out: Array<DecoderEvent>, error: RequestError): void {
    out.push({ _tag: "Error", error })
    this.state = "done"
  }

  private headerLimitError(line: LineInfo, message: string, explain: string): RequestError {
    return {
      error: new HttpError({ status: 431, message, explain }),
      requestLine: line.requestLine,
      method: line.method,
      version: line.version === HTTP_0_9 ? undefined : line.version,
      headless: line.version === HTTP_0_9
    }
  }

  private headerSyntaxError(line: LineInfo, message: string, explain: string): RequestError {
    return this.withStatus(line, 400, message, explain)
  }

  private withStatus(line: LineInfo, status: number, message: string, explain: string): RequestError {
    return {
      error: new HttpError({ status, message, explain }),
      requestLine: line.requestLine,
      method: line.method,
      version: line.version === HTTP_0_9 ? undefined : line.version,
      headless: line.version === HTTP_0_9
    }
  }

  private tooLarge(): RequestError {
    return {
      error: new HttpError({ status: 413 }),
      requestLine: "",
      method: undefined,
      version: undefined,
      headless: false
    }
  }

}

/**
 * Decodes a stream of byte chunks into decoder events: the model pipeline, used by the test kit and by anyone
 * composing connections as streams. The server's hot path drives the same `Decoder` from the socket callback.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeStream = <E, R>(
  bytes: Stream.Stream<Uint8Array, E, R>,
  limits: Partial<DecoderLimits> = {}
): Stream.Stream<DecoderEvent, E, R> =>
  Stream.suspend(() => {
    const decoder = new Decoder(limits)
    return bytes.pipe(
      Stream.mapChunks((chunks) => {
        const out: Array<DecoderEvent> = []
        for (const chunk of chunks) for (const ev of decoder.feed(chunk)) out.push(ev)
        return Chunk.unsafeFromArray(out)
      }),
      Stream.concat(Stream.suspend(() => Stream.fromIterable(decoder.end()))),
      Stream.takeUntil((ev) => ev._tag === "Error" || ev._tag === "BodyError" || ev._tag === "Close")
    )
  })
