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
 * (default: the status' short message; escaped in the status line as `Response`'s `reason`); `explain` the page's
 * explanation (default: the long message). `headers` are sent before the error page's own (e.g. `WWW-Authenticate`
 * on 401, `Content-Range` on 416); one outside RFC 9110's grammar turns the answer into a 500, as for a `Response`.
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
