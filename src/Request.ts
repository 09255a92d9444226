/**
 * A decoded HTTP/1.x request: the typed value every handler receives.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import type { Headers } from "./Headers.js"

/**
 * RFC 9110 `token`: what a method and a header name are made of.
 *
 * @since 0.1.0
 * @category constants
 */
export const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

/**
 * A request method: any token, so `SPAM` is as valid as `GET` (dispatch decides what is supported).
 *
 * @since 0.1.0
 * @category schemas
 */
export const Method = Schema.String.pipe(Schema.pattern(TOKEN))

/**
 * A request target: visible ASCII and obs-text, no control characters, no spaces, no NEL or NBSP.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Target = Schema.String.pipe(Schema.pattern(/^[\x21-\x7e\x80-\x84\x86-\x9f\xa1-\xff]+$/))

/**
 * A whole request line without its line ending: words of visible ASCII and obs-text separated by SP or HTAB (RFC
 * 9112 §3). No other control byte, and neither NEL (0x85) nor NBSP (0xA0), which Python's `split()` treats as
 * separators; a raw UTF-8 target containing those bytes is refused with them (percent-encode it).
 *
 * @since 0.1.0
 * @category schemas
 */
export const RequestLineText = Schema.String.pipe(Schema.pattern(/^[\t\x20-\x7e\x80-\x84\x86-\x9f\xa1-\xff]*$/))

/**
 * `HTTP/major.minor` as Python accepts it: one dot, digits only, at most ten digits a component.
 *
 * @since 0.1.0
 * @category schemas
 */
export const VersionText = Schema.String.pipe(Schema.pattern(/^HTTP\/[0-9]{1,10}\.[0-9]{1,10}$/))

/**
 * A header field name (a token: no spaces, so whitespace before the colon is refused).
 *
 * @since 0.1.0
 * @category schemas
 */
export const HeaderName = Schema.String.pipe(Schema.pattern(TOKEN))

/**
 * A header field value after trimming: visible characters, spaces, tabs and obs-text, no CR, LF or NUL.
 *
 * @since 0.1.0
 * @category schemas
 */
export const HeaderValue = Schema.String.pipe(Schema.pattern(/^[\t\x20-\x7e\x80-\xff]*$/))

/**
 * The request line's three words as received (HTTP/0.9's two-word form is checked before this).
 *
 * @since 0.1.0
 * @category schemas
 */
export const RequestLine = Schema.Struct({ method: Method, target: Target, version: VersionText })

/**
 * The header block as received: lines of `name:value` (a token, a colon, a value of visible characters, spaces,
 * tabs and obs-text), each ended by LF or CRLF. Refuses obs-fold, lines without a colon, whitespace before the colon
 * and control characters. One pattern over the whole block: a per-field schema of arrays and tuples cost several
 * microseconds a request.
 *
 * @since 0.1.0
 * @category schemas
 */
export const HeaderBlockText = Schema.String.pipe(
  Schema.pattern(/^(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[\t\x20-\x7e\x80-\xff]*\r?\n)*$/)
)

/**
 * A complete request head, validated in one compiled decode: the request line's parts and the header block.
 *
 * @since 0.1.0
 * @category schemas
 */
export const RequestHeadText = Schema.Struct({
  method: Method,
  target: Target,
  version: VersionText,
  fields: HeaderBlockText
})

/**
 * A protocol version as two integers, compared numerically (RFC 2145: `HTTP/2.4` < `HTTP/2.13`).
 *
 * @since 0.1.0
 * @category models
 */
export interface HttpVersion {
  readonly major: number
  readonly minor: number
  /** As it appeared on the request line, or `"HTTP/0.9"` for the two-word form. */
  readonly text: string
}

/**
 * The version of a two-word (`GET /path`) request. Frozen: every such request shares it.
 *
 * @since 0.1.0
 * @category constants
 */
export const HTTP_0_9: HttpVersion = Object.freeze({ major: 0, minor: 9, text: "HTTP/0.9" })

/**
 * Whether `version` is at least `major.minor`.
 *
 * @since 0.1.0
 * @category utils
 */
export const versionAtLeast = (version: HttpVersion, major: number, minor: number): boolean =>
  version.major > major || (version.major === major && version.minor >= minor)

/**
 * The request body could not be read whole: the client went away or broke the framing mid-body.
 *
 * @since 0.1.0
 * @category errors
 */
export class RequestBodyError extends Data.TaggedError("RequestBodyError")<{
  readonly reason: "ClientClosed" | "Framing" | "TooLarge"
  readonly message: string
}> {}

/**
 * How the body is framed on the wire.
 *
 * @since 0.1.0
 * @category models
 */
export type BodyFraming = "none" | "length" | "chunked"

/**
 * What the decoder knows of a request once its head is complete.
 *
 * @since 0.1.0
 * @category models
 */
export interface RequestHead {
  /** Any token: `GET`, `POST`, `SPAM`… Case-sensitive, as in Python. */
  readonly method: string
  /** The request-target exactly as received. */
  readonly target: string
  /** Python's `self.path`: the target with a leading `//` collapsed to `/` (gh-87389, open redirects). */
  readonly path: string
  readonly version: HttpVersion
  /** The request line without its line ending: what the access log quotes. */
  readonly requestLine: string
  readonly headers: Headers
  readonly framing: BodyFraming
  /** Declared `Content-Length` (0 when absent or chunked). */
  readonly contentLength: number
}

/**
 * A request as a handler sees it: the head, the peer, and the body as a stream bounded by its framing.
 *
 * @since 0.1.0
 * @category models
 */
export interface Request extends RequestHead {
  /** `path` up to the first `?` or `#`, still percent-encoded. */
  readonly pathname: string
  /** What follows `?` up to `#`, without the `?`; `""` when there is none. */
  readonly query: string
  readonly remoteAddress: string
  readonly remotePort: number
  readonly localAddress: string
  readonly localPort: number
  /** Whether the connection is TLS. */
  readonly secure: boolean
  /**
   * The body: exactly `Content-Length` bytes (or the decoded chunks), empty when there is none. Reading it is
   * optional; what a handler leaves unread is drained or the connection closed, so framing never slips.
   */
  readonly body: Stream.Stream<Uint8Array, RequestBodyError>
}

/**
 * Splits a path into the part before `?`/`#` and the query string.
 *
 * @since 0.1.0
 * @category utils
 */
export const splitPath = (path: string): { readonly pathname: string; readonly query: string } => {
  const q = path.indexOf("?")
  const h = path.indexOf("#")
  if (q < 0 && h < 0) return { pathname: path, query: "" }
  if (q < 0 || (h >= 0 && h < q)) return { pathname: path.slice(0, h), query: "" }
  return { pathname: path.slice(0, q), query: h > q ? path.slice(q + 1, h) : path.slice(q + 1) }
}

/**
 * The body stream of a request that has none, shared to avoid an allocation per request.
 *
 * @since 0.1.0
 * @category constants
 */
export const emptyBody: Stream.Stream<Uint8Array, RequestBodyError> = Stream.empty
