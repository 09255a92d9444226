/**
 * How a response's body is delimited on the wire (RFC 9112 §6), decided once, where the engine writes a response.
 * The framing fields a handler sets (`Content-Length`, `Transfer-Encoding`) are checked against the body they
 * describe before anything is sent, so a handler's mistake never lets its body's tail be read as another response
 * on a kept connection. The rules (each a 500 with nothing sent, and a log line, as for a field outside the grammar):
 *
 * - a 1xx status is interim, never a final response (`100 Continue` is the engine's own; a `101` belongs to whatever
 *   took the socket over for the upgrade);
 * - at most one `Content-Length`, decimal digits only;
 * - at most one `Transfer-Encoding`, and only `chunked`, which the engine then does itself (the handler's body is
 *   plain bytes): on a `Stream` body, to an HTTP/1.1 client, never with `Content-Length`;
 * - when a body is sent, a `Content-Length` must equal the byte length of an `Empty`, `Bytes` or `File` body. A
 *   `Stream` body's length is only known as it is written: `streamLimit` is the engine's check there.
 *
 * When no body is sent (HEAD, 204, 304) the fields describe what a GET would get and only their syntax is checked.
 */
import * as Chunk from "effect/Chunk"
import * as Stream from "effect/Stream"
import type { HeaderField } from "../Headers.js"
import type { Body } from "../Response.js"

/** A response's framing, as its fields declare it. */
export interface Framing {
  /** The declared `Content-Length`, or -1 when there is none. */
  readonly length: number
  /** `Transfer-Encoding: chunked`: the engine chunks the body. */
  readonly chunked: boolean
  /** What the handler's `Connection` field asks: `true` keep-alive, `false` close, `undefined` nothing. */
  readonly keepAlive: boolean | undefined
}

/** What a framing check needs to know besides the fields. */
export interface FramingContext {
  /** Whether a body follows the head (not HEAD, not 1xx/204/304, and the head is ended by the engine). */
  readonly bodySent: boolean
  /** Whether the engine may chunk: the server and the client both speak HTTP/1.1. */
  readonly canChunk: boolean
}

const DIGITS = /^[0-9]{1,15}$/

/** The byte length of a body known before it is written, or -1 for a `Stream`. */
const knownLength = (body: Body): number =>
  body._tag === "Empty" ? 0 : body._tag === "Bytes" ? body.bytes.length : body._tag === "File" ? body.length : -1

/**
 * The framing of a response, or why it cannot be sent (for the error log). One pass over the fields, comparing
 * lower-cased names only when the length matches: this runs for every response.
 */
export const responseFraming = (
  status: number,
  headers: ReadonlyArray<HeaderField>,
  body: Body,
  context: FramingContext
): Framing | string => {
  if (status >= 100 && status <= 199) return `status ${status} is interim (1xx), never a final response`
  let length = -1
  let chunked = false
  let keepAlive: boolean | undefined
  for (let i = 0; i < headers.length; i++) {
    const name = headers[i]![0]
    if (name.length === 10 && name.toLowerCase() === "connection") {
      const value = headers[i]![1].toLowerCase()
      if (value === "close") keepAlive = false
      else if (value === "keep-alive") keepAlive = true
    } else if (name.length === 14 && name.toLowerCase() === "content-length") {
      if (length >= 0) return "two Content-Length fields"
      const value = headers[i]![1]
      if (!DIGITS.test(value)) return "Content-Length is not a decimal number"
      length = Number(value)
    } else if (name.length === 17 && name.toLowerCase() === "transfer-encoding") {
      if (chunked) return "two Transfer-Encoding fields"
      if (headers[i]![1].toLowerCase() !== "chunked") return "Transfer-Encoding other than chunked"
      chunked = true
    }
  }
  if (chunked && length >= 0) return "both Transfer-Encoding and Content-Length"
  if (context.bodySent) {
    if (chunked) {
      if (body._tag !== "Stream") return "Transfer-Encoding: chunked on a body of known length"
      if (!context.canChunk) return "Transfer-Encoding: chunked to an HTTP/1.0 client"
    } else if (length >= 0) {
      const actual = knownLength(body)
      if (actual >= 0 && actual !== length) return `Content-Length ${length} but a body of ${actual} bytes`
    }
  }
  return { length, chunked, keepAlive }
}

/**
 * Why an error's answer cannot be sent, or `undefined`: the engine frames the error page itself, so an error's own
 * fields may not carry `Content-Length` or `Transfer-Encoding`, and a 1xx status is no final answer.
 */
export const errorFramingProblem = (
  status: number,
  headers: ReadonlyArray<HeaderField> | undefined
): string | undefined => {
  if (status >= 100 && status <= 199) return `status ${status} is interim (1xx), never a final response`
  if (headers === undefined) return undefined
  for (let i = 0; i < headers.length; i++) {
    const name = headers[i]![0].toLowerCase()
    if (name === "content-length" || name === "transfer-encoding") return `${headers[i]![0]} on an error page`
  }
  return undefined
}

/** A stream body's bytes against its `Content-Length`: what to write of each chunk, and what went wrong. */
export class StreamLimit {
  private remaining: number
  /** Whether the body had more bytes than declared (the rest was not written). */
  overrun = false
  constructor(readonly length: number) {
    this.remaining = length
  }
  /** The part of `chunk` within the length; `overrun` says when some was cut off. */
  take(chunk: Uint8Array): Uint8Array {
    if (chunk.length <= this.remaining) {
      this.remaining -= chunk.length
      return chunk
    }
    const piece = chunk.subarray(0, this.remaining)
    this.remaining = 0
    this.overrun = true
    return piece
  }
  /** How many declared bytes were never written. */
  get missing(): number {
    return this.remaining
  }
}

const CRLF = Buffer.from("\r\n", "latin1")
const LAST_CHUNK = Buffer.from("0\r\n\r\n", "latin1")

/** One network write per chunk of the stream: size line, data and CRLF copied together (none when empty). */
const frameChunks = (chunk: Chunk.Chunk<Uint8Array>): Chunk.Chunk<Uint8Array> => {
  const parts = Chunk.toReadonlyArray(chunk)
  let size = 0
  for (let i = 0; i < parts.length; i++) size += parts[i]!.length
  if (size === 0) return Chunk.empty()
  const line = size.toString(16) + "\r\n"
  const out = Buffer.allocUnsafe(line.length + size + 2)
  out.write(line, 0, "latin1")
  let offset = line.length
  for (let i = 0; i < parts.length; i++) {
    out.set(parts[i]!, offset)
    offset += parts[i]!.length
  }
  out.set(CRLF, offset)
  return Chunk.of(out)
}

/** A body stream in HTTP/1.1 chunked framing (RFC 9112 §7.1), ending with the last chunk and no trailers. */
export const chunked = <E>(stream: Stream.Stream<Uint8Array, E>): Stream.Stream<Uint8Array, E> =>
  Stream.concat(Stream.mapChunks(stream, frameChunks), Stream.succeed(LAST_CHUNK))
