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
import * as Stream from "effect/Stream"
import type { HttpError } from "./HttpError.js"
import { type BodyFraming, HTTP_0_9, type HttpVersion, RequestBodyError, type RequestHead, versionAtLeast } from "./Request.js"
import { Accumulator } from "./internal/accumulator.js"
import { chunkSize, MAX_CHUNK_SIZE_LINE, trailerProblem } from "./internal/chunked.js"
import { asksUpgrade } from "./internal/connectionOptions.js"
import {
  blockAtEof,
  bodyLength,
  decodeRequestHead,
  headerLimitError,
  headEvent,
  headFields,
  headRefusal,
  isRequestLineValid,
  requestLineTooLong
} from "./internal/headFraming.js"
import { CLOSE, CR, LF, type LineInfo, lineText, parseRequestLine } from "./internal/requestLine.js"
import { isKnownValidBlock, rememberValidBlock } from "./internal/validHeads.js"

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

const BODY_END: DecoderEvent = { _tag: "BodyEnd" }

const bodyFailure = (reason: RequestBodyError["reason"], message: string): DecoderEvent => ({
  _tag: "BodyError",
  error: new RequestBodyError({ reason, message })
})

type State = "head" | "length" | "chunk-size" | "chunk-data" | "chunk-crlf" | "trailers" | "done"

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
          const size = chunkSize(data, offset, nl)
          if (size < 0) {
            this.failBody(out, "Framing", "bad chunk size line")
            return data.length
          }
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
          } else {
            const problem = trailerProblem(data, start, nl, this.trailerBytes, ++this.trailerLines, this.limits)
            if (problem !== undefined) {
              this.failBody(out, "Framing", problem)
              return data.length
            }
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
        this.fail(out, requestLineTooLong())
        return data.length
      }
      if (nl < 0) return -1
      const line = parseRequestLine(lineText(data, pos, nl), out)
      if (line === undefined) {
        this.state = "done"
        return data.length
      }
      this.line = line
      pos = nl + 1
      this.linePos = pos - start
      this.blockStart = this.linePos
    }
    const line = this.line
    for (;;) {
      const nl = data.indexOf(LF, pos)
      if ((nl < 0 ? data.length : nl + 1) - start > limits.maxHeaderBytes) {
        this.fail(out, headerLimitError(line, "Request header too large", `got more than ${limits.maxHeaderBytes} bytes of request head`))
        return data.length
      }
      if (nl < 0 ? data.length - pos > limits.maxHeaderLine : nl + 1 - pos > limits.maxHeaderLine) {
        this.fail(out, headerLimitError(line, "Line too long", `got more than ${limits.maxHeaderLine} bytes when reading header line`))
        return data.length
      }
      if (nl < 0) {
        this.linePos = pos - start
        return -1
      }
      this.lineCount++
      if (this.lineCount > limits.maxHeaders) {
        this.fail(out, headerLimitError(line, "Too many headers", `got more than ${limits.maxHeaders} headers`))
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
      const line = parseRequestLine(lineText(data, this.linePos, data.length), out)
      if (line === undefined) {
        this.state = "done"
        return
      }
      this.line = line
    } else {
      // Python's count goes on at the end of input: the partial last line, if any, then the empty read that ends the
      // head are each one more line (`_read_headers` counts every line it reads, the terminator included).
      const lines = this.lineCount + (data.length > this.linePos ? 1 : 0) + 1
      if (lines > this.limits.maxHeaders) {
        this.fail(out, headerLimitError(this.line, "Too many headers", `got more than ${this.limits.maxHeaders} headers`))
        return
      }
      // The last line may lack its line ending; a blank line in what is left ends the head, as in Python.
      block = blockAtEof(data.toString("latin1", this.blockStart, data.length))
    }
    this.state = "head"
    if (this.completeHead(this.line, block, out) && this.state !== "head") {
      out.push(bodyFailure("ClientClosed", "the connection closed before the request body was complete"))
    }
    this.state = "done"
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
      this.fail(out, headRefusal(line, block))
      return false
    }
    this.lastValidBlock = block
    const headers = headFields(block)
    let framing: BodyFraming = "none"
    let contentLength = 0
    if (line.version !== HTTP_0_9) {
      const length = bodyLength(line, headers, cached, this.limits.maxBodyBytes)
      if (typeof length !== "number") {
        this.fail(out, length)
        return false
      }
      if (length < 0) framing = "chunked"
      else if (length > 0) {
        framing = "length"
        contentLength = length
      }
    }
    // Whole now (Schema and Host): valid for any connection. Not an HTTP/0.9 block: its Host was never checked.
    if (!cached && line.version !== HTTP_0_9) rememberValidBlock(block)
    out.push(headEvent(line, headers, framing, contentLength))
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

  private fail(out: Array<DecoderEvent>, error: RequestError): void {
    out.push({ _tag: "Error", error })
    this.state = "done"
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
