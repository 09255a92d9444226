/**
 * RFC 3875 §6 script output: the header block a script prints before its body, read off the front of stdout, and
 * a body held to the `Content-Length` the script announced.
 */
import * as Chunk from "effect/Chunk"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type { HeaderField } from "../Headers.js"
import { isFieldName, isFieldValue } from "./headEncoder.js"
import { trimOws } from "./ows.js"

/** The largest header block a script may print. */
export const MAX_HEADER_BYTES = 64 * 1024

/** What a script said about its response. */
export interface CgiHead {
  /** From `Status:`; `undefined` when absent. */
  readonly status: { readonly code: number; readonly reason: string | undefined } | undefined
  readonly location: string | undefined
  /** From `Content-Length:`, when the script gave a valid one. */
  readonly contentLength: number | undefined
  /** Fields to send, in order: everything but `Status`, hop-by-hop fields and what the server sends itself. */
  readonly headers: ReadonlyArray<HeaderField>
}

/** Why the output is not a CGI response. */
export type HeadProblem = "NoOutput" | "TooLarge" | "Malformed"

/** Framing and connection management are the server's; `Server` and `Date` it sends itself. */
const DROPPED = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
  "server",
  "date"
])

/** Index just past the blank line ending the head (LF LF or CRLF CRLF, mixed allowed), or -1. */
export const findHeadEnd = (bytes: Uint8Array): number => {
  // An empty head: the output starts with the blank line.
  if (bytes[0] === 10) return 1
  if (bytes[0] === 13 && bytes[1] === 10) return 2
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] !== 10) continue
    if (bytes[i + 1] === 10) return i + 2
    if (bytes[i + 1] === 13 && bytes[i + 2] === 10) return i + 3
  }
  return -1
}

/** Parses the header lines (the blank line excluded). */
export const parseHead = (text: string): CgiHead | undefined => {
  let status: CgiHead["status"]
  let location: string | undefined
  let contentLength: number | undefined
  const headers: Array<HeaderField> = []
  const lines = text.split("\n").map((line) => line.replace(/\r$/, ""))
  while (lines.length > 0 && lines[lines.length - 1] === "") lines.pop()
  for (const line of lines) {
    const colon = line.indexOf(":")
    if (colon <= 0) return undefined
    const name = line.slice(0, colon)
    // SP and HTAB only: JavaScript's trim would also take VT, FF and NBSP off `Content-Length: \v4`.
    const value = trimOws(line.slice(colon + 1))
    if (!isFieldName(name) || !isFieldValue(value)) return undefined
    const lower = name.toLowerCase()
    if (lower === "status") {
      const m = /^([1-9][0-9]{2})(?:[ \t]+(.*))?$/.exec(value)
      if (m === null) return undefined
      const code = Number(m[1])
      if (code < 200 || code > 599) return undefined
      status = { code, reason: m[2] === undefined || m[2] === "" ? undefined : m[2] }
      continue
    }
    if (DROPPED.has(lower)) continue
    if (lower === "location") location = value
    if (lower === "content-length") {
      if (!/^[0-9]{1,15}$/.test(value) || contentLength !== undefined) return undefined
      contentLength = Number(value)
    }
    headers.push([name, value])
  }
  return { status, location, contentLength, headers }
}

/** The head and the body bytes already read past it. */
export interface ReadHead {
  readonly head: CgiHead
  readonly leftover: Uint8Array
  /** Whether stdout already ended. */
  readonly ended: boolean
}

/**
 * Pulls chunks until the blank line. A script that ends without one is accepted when what it printed parses as
 * header lines (a bodiless response such as a bare `Location:`).
 */
export const readHead = <E>(
  pull: Effect.Effect<Chunk.Chunk<Uint8Array>, Option.Option<E>>
): Effect.Effect<ReadHead, HeadProblem | E> =>
  Effect.gen(function*() {
    let buffer = Buffer.alloc(0)
    while (true) {
      const next = yield* Effect.either(pull)
      if (next._tag === "Left") {
        if (Option.isSome(next.left)) return yield* Effect.fail(next.left.value)
        if (buffer.length === 0) return yield* Effect.fail("NoOutput" as const)
        const head = parseHead(buffer.toString("latin1"))
        if (head === undefined) return yield* Effect.fail("Malformed" as const)
        return { head, leftover: new Uint8Array(0), ended: true }
      }
      buffer = Buffer.concat([buffer, ...Chunk.toReadonlyArray(next.right)])
      const end = findHeadEnd(buffer)
      if (end >= 0) {
        if (end > MAX_HEADER_BYTES) return yield* Effect.fail("TooLarge" as const)
        const head = parseHead(buffer.subarray(0, end).toString("latin1"))
        if (head === undefined) return yield* Effect.fail("Malformed" as const)
        return { head, leftover: buffer.subarray(end), ended: false }
      }
      if (buffer.length > MAX_HEADER_BYTES) return yield* Effect.fail("TooLarge" as const)
    }
  })

/** A script's body ended before the `Content-Length` it announced. */
class CgiShortBody extends Data.TaggedError("CgiShortBody")<{ readonly message: string }> {
  override toString(): string {
    return this.message
  }
}

/**
 * The first `limit` bytes of a stream, failing when it ends before that. What comes after is read and dropped, not
 * left in the pipe: a script blocked on a full pipe would never exit.
 */
export const exactly = (body: Stream.Stream<Uint8Array, unknown>, limit: number): Stream.Stream<Uint8Array, unknown> =>
  Stream.suspend(() => {
    let remaining = limit
    return body.pipe(
      Stream.map((chunk) => {
        const piece = chunk.length > remaining ? chunk.subarray(0, remaining) : chunk
        remaining -= piece.length
        return piece
      }),
      Stream.filter((piece) => piece.length > 0),
      Stream.concat(Stream.suspend(() =>
        remaining > 0
          ? Stream.fail(new CgiShortBody({ message: `CGI script output ended ${remaining} bytes short` }))
          : Stream.empty
      ))
    )
  })
