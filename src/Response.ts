/**
 * Responses as values: what Python's `send_response`, `send_header`, `end_headers` and `wfile.write` build up
 * imperatively, a handler returns in one piece. Errors are not responses: fail with an `HttpError` (`send_error`).
 *
 * @since 0.1.0
 */
import { dual } from "effect/Function"
import * as Stream from "effect/Stream"
import type { HeaderField } from "./Headers.js"

/**
 * The body of a response.
 *
 * - `Empty`: nothing after the head.
 * - `Bytes`: a buffer, written together with the head in one system call when small.
 * - `Stream`: chunks written as they come, with backpressure; a failure mid-body closes the connection.
 *
 * @since 0.1.0
 * @category models
 */
export type Body =
  | { readonly _tag: "Empty" }
  | { readonly _tag: "Bytes"; readonly bytes: Uint8Array }
  | { readonly _tag: "Stream"; readonly stream: Stream.Stream<Uint8Array, unknown> }
  | FileBody

/**
 * `length` bytes of an open file from `start`, written by the engine itself: reads into a few reused buffers,
 * writes with backpressure, no `Stream` step per chunk (a 10 MiB download otherwise allocates 10 MiB of fresh
 * buffers). The descriptor belongs to the request's scope, which closes it after the write (and after any read in
 * flight). `stream` is the same bytes for consumers that are not the engine (e.g. `@effect/platform` apps). If the
 * file turns out shorter, the connection is closed early.
 *
 * @since 0.1.0
 * @category models
 */
export interface FileBody {
  readonly _tag: "File"
  readonly fd: number
  readonly start: number
  readonly length: number
  readonly stream: Stream.Stream<Uint8Array, unknown>
}

/**
 * A response to write.
 *
 * @since 0.1.0
 * @category models
 */
export interface Response {
  /** Three digits (100–999); any other number is answered with a 500 instead. */
  readonly status: number
  /**
   * The reason phrase; default: the status' short message from `responses`. Characters outside RFC 9110's grammar
   * (controls but HTAB, DEL, anything above U+00FF) are sent escaped as Python's `repr` shows them (`\n`, `\x7f`,
   * `\u010d`), so the status line stays one line.
   */
  readonly reason: string | undefined
  /**
   * Header fields in the order they are sent, after `Server` and `Date`. A name that is not a `token` or a value
   * outside `field-value` (a control character, SP/HTAB at either end, anything above U+00FF: the head is latin-1,
   * where U+010A would be LF) is not sent: the answer is a 500, with nothing of this response.
   */
  readonly headers: ReadonlyArray<HeaderField>
  readonly body: Body
  /** `send_response` (true: `Server` and `Date` first, and an access-log line) or `send_response_only` (false). */
  readonly standardHeaders: boolean
  /**
   * `end_headers`: whether the engine ends the head with a blank line. `false` leaves the head open so the body can
   * write more header lines itself, as a CGI script does after Python's `200 Script output follows`.
   */
  readonly endHeaders: boolean
}

/**
 * The empty body.
 *
 * @since 0.1.0
 * @category constants
 */
export const emptyBody: Body = { _tag: "Empty" }

/**
 * Options shared by the constructors.
 *
 * @since 0.1.0
 * @category options
 */
export interface Options {
  readonly reason?: string | undefined
  readonly headers?: ReadonlyArray<HeaderField> | undefined
  readonly standardHeaders?: boolean | undefined
  readonly endHeaders?: boolean | undefined
}

/**
 * A response with any status and body. Nothing is added: `Content-Length` and `Content-Type` are the caller's, as in
 * Python (a response without a length is framed by closing the connection).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (status: number, body: Body = emptyBody, options: Options = {}): Response => ({
  status,
  reason: options.reason,
  headers: options.headers ?? [],
  body,
  standardHeaders: options.standardHeaders ?? true,
  endHeaders: options.endHeaders ?? true
})

/**
 * A byte body with `Content-Type` (when given) and `Content-Length`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const bytes = (
  body: Uint8Array,
  options: Options & { readonly status?: number; readonly contentType?: string } = {}
): Response =>
  make(options.status ?? 200, { _tag: "Bytes", bytes: body }, {
    ...options,
    headers: [
      ...(options.contentType === undefined ? [] : [["Content-Type", options.contentType] as const]),
      ["Content-Length", String(body.length)],
      ...(options.headers ?? [])
    ]
  })

/**
 * A UTF-8 text body (`text/plain; charset=utf-8` unless another type is given).
 *
 * @since 0.1.0
 * @category constructors
 */
export const text = (
  body: string,
  options: Options & { readonly status?: number; readonly contentType?: string } = {}
): Response => bytes(Buffer.from(body, "utf8"), { contentType: "text/plain; charset=utf-8", ...options })

/**
 * A UTF-8 HTML body (`text/html; charset=utf-8`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const html = (body: string, options: Options & { readonly status?: number } = {}): Response =>
  text(body, { contentType: "text/html; charset=utf-8", ...options })

/**
 * A streamed body. With `contentLength` the response can keep the connection alive; without it the connection
 * closes after the body (HTTP/1.0 framing).
 *
 * @since 0.1.0
 * @category constructors
 */
export const stream = (
  body: Stream.Stream<Uint8Array, unknown>,
  options: Options & { readonly status?: number; readonly contentType?: string; readonly contentLength?: number } =
    {}
): Response =>
  make(options.status ?? 200, { _tag: "Stream", stream: body }, {
    ...options,
    headers: [
      ...(options.contentType === undefined ? [] : [["Content-Type", options.contentType] as const]),
      ...(options.contentLength === undefined ? [] : [["Content-Length", String(options.contentLength)] as const]),
      ...(options.headers ?? [])
    ]
  })

/**
 * Appends a header field (Python's `send_header`): duplicates are kept.
 *
 * @since 0.1.0
 * @category combinators
 */
export const appendHeader: {
  (name: string, value: string): (self: Response) => Response
  (self: Response, name: string, value: string): Response
} = dual(3, (self: Response, name: string, value: string): Response => ({
  ...self,
  headers: [...self.headers, [name, value]]
}))

/**
 * Sets a header field, replacing every field of that name (compared case-insensitively).
 *
 * @since 0.1.0
 * @category combinators
 */
export const setHeader: {
  (name: string, value: string): (self: Response) => Response
  (self: Response, name: string, value: string): Response
} = dual(3, (self: Response, name: string, value: string): Response => {
  const key = name.toLowerCase()
  return { ...self, headers: [...self.headers.filter(([n]) => n.toLowerCase() !== key), [name, value]] }
})

/**
 * The first value of a header field of the response, compared case-insensitively.
 *
 * @since 0.1.0
 * @category getters
 */
export const getHeader: {
  (name: string): (self: Response) => string | undefined
  (self: Response, name: string): string | undefined
} = dual(2, (self: Response, name: string): string | undefined => {
  const key = name.toLowerCase()
  return self.headers.find(([n]) => n.toLowerCase() === key)?.[1]
})
