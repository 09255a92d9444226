/**
 * The one error type a handler fails with to answer with an error page: Python's `send_error(code, message,
 * explain)` as a value.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import type { HeaderField } from "./Headers.js"

/**
 * A failure that maps to an HTTP error response. `message` becomes the reason phrase and the page's "Message"
 * (default: the status' short message); `explain` the page's explanation (default: the long message). `headers`
 * are sent before the error page's own (e.g. `WWW-Authenticate` on 401, `Content-Range` on 416).
 *
 * @since 0.1.0
 * @category errors
 */
export class HttpError extends Data.TaggedError("HttpError")<{
  readonly status: number
  readonly message?: string | undefined
  readonly explain?: string | undefined
  readonly headers?: ReadonlyArray<HeaderField> | undefined
}> {}

/**
 * Shorthand for `new HttpError({ status, message, explain })`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (status: number, message?: string, explain?: string): HttpError =>
  new HttpError({ status, message, explain })

/**
 * `404 Not Found` with Python's static-file message by default.
 *
 * @since 0.1.0
 * @category constructors
 */
export const notFound = (message = "File not found"): HttpError => new HttpError({ status: 404, message })
