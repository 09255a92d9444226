/**
 * Testing handlers without sockets: feed raw request bytes to the same connection logic the server runs (through
 * its Stream driver, `Server.serveStream`), with the services you provide (a test `FileSystem`, a collected `AccessLog`…), and get the raw and parsed response back.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type { AccessLog } from "./AccessLog.js"
import type { Handlers } from "./Handler.js"
import type { HeaderField } from "./Headers.js"
import { serveStream } from "./internal/streamDriver.js"
import type { ServerOptions } from "./Server.js"
import { isBodiless } from "./Status.js"

/**
 * One response as read back from the wire. `status` is `undefined` for Python's HTTP/0.9-style answers (a body
 * without a status line).
 *
 * @since 0.1.0
 * @category models
 */
export interface ParsedResponse {
  readonly statusLine: string | undefined
  readonly status: number | undefined
  readonly reason: string | undefined
  readonly headers: ReadonlyArray<HeaderField>
  readonly header: (name: string) => string | undefined
  readonly body: Buffer
}

/**
 * What a connection wrote until it finished.
 *
 * @since 0.1.0
 * @category models
 */
export interface Exchange {
  readonly raw: Buffer
  readonly responses: ReadonlyArray<ParsedResponse>
  /**
   * The connection ended its side (or was destroyed) by itself: always `true`, since an exchange whose connection
   * does not finish within `timeoutMs` fails with `ExchangeTimeout` instead.
   */
  readonly closed: true
}

/**
 * The connection neither ended nor closed within `timeoutMs`: a handler that never answers, or a keep-alive
 * connection still waiting for input (`endInput: false`). Carries what was written until then, so a test that
 * expects the connection to stay open can check it (`Effect.flip`).
 *
 * @since 0.1.0
 * @category errors
 */
export class ExchangeTimeout extends Data.TaggedError("ExchangeTimeout")<{
  readonly timeoutMs: number
  readonly raw: Buffer
  readonly responses: ReadonlyArray<ParsedResponse>
}> {
  override get message(): string {
    return `the connection did not finish within ${this.timeoutMs} ms (${this.responses.length} response(s) written)`
  }
}

/**
 * Options of `exchange`: the server's options, plus how the input arrives.
 *
 * @since 0.1.0
 * @category options
 */
export interface ExchangeOptions extends ServerOptions {
  /** The client's address as the handler and the log see it. Default `127.0.0.1`. */
  readonly remoteAddress?: string
  /** Whether the client ends its side after the input (default true), so the connection finishes by itself. */
  readonly endInput?: boolean
  /** Methods of the requests in order, so bodies of HEAD responses are parsed as absent. Default: read from input. */
  readonly headRequests?: ReadonlyArray<boolean>
  /** Give up waiting for the connection to close after this many milliseconds. Default 5000. */
  readonly timeoutMs?: number
}

const toBuffer = (input: string | Uint8Array): Buffer =>
  typeof input === "string" ? Buffer.from(input, "latin1") : Buffer.from(input)

/**
 * Runs the connection logic on `input` (one buffer, or chunks delivered one by one) and collects what it wrote,
 * once the connection has finished; fails with `ExchangeTimeout` when it does not finish within `timeoutMs`.
 *
 * @example
 * ```ts
 * import { Effect, Layer, Stream } from "effect"
 * import * as AccessLog from "effect-httpd/AccessLog"
 * import * as Handler from "effect-httpd/Handler"
 * import { HttpError } from "effect-httpd/HttpError"
 * import * as Response from "effect-httpd/Response"
 * import * as TestKit from "effect-httpd/TestKit"
 *
 * const count = Handler.layer({
 *   POST: (request) =>
 *     Stream.runFold(request.body, 0, (n, chunk) => n + chunk.length).pipe(
 *       Effect.map((n) => Response.text(`got ${n} bytes\n`)),
 *       Effect.mapError((error) => new HttpError({ status: 400, message: error.message }))
 *     )
 * })
 *
 * export const test = TestKit.exchange(
 *   TestKit.request("POST", "/", { headers: { Connection: "close" }, body: "hello" }), // adds Content-Length
 *   { protocolVersion: "HTTP/1.1", timeoutMs: 1000 }
 * ).pipe(
 *   Effect.map(({ responses }) => responses.map((r) => r.status)), // [200]
 *   Effect.provide(Layer.merge(count, AccessLog.layerSilent))
 * )
 * ```
 *
 * @since 0.1.0
 * @category testing
 */
export const exchange = (
  input: string | Uint8Array | ReadonlyArray<string | Uint8Array>,
  options: ExchangeOptions = {}
): Effect.Effect<Exchange, ExchangeTimeout, Handlers | AccessLog> =>
  Effect.gen(function*() {
    const chunks = (typeof input === "string" || input instanceof Uint8Array ? [input] : input).map(toBuffer)
    const timeoutMs = options.timeoutMs ?? 5000
    const written: Array<Uint8Array> = []
    const source = (options.endInput ?? true)
      ? Stream.fromIterable(chunks)
      : Stream.concat(Stream.fromIterable(chunks), Stream.never)
    const output = serveStream(source, {
      idleTimeout: 0,
      // No DNS-rebinding rule unless asked for: tests name any host.
      allowedHosts: ["*"],
      remotePort: 40000,
      localAddress: "127.0.0.1",
      localPort: 8000,
      ...options,
      remoteAddress: options.remoteAddress ?? "127.0.0.1"
    })
    // Done when the connection has ended its side (or closed): nothing more will be written. A timeout interrupts
    // the output, which, as at a server's forced stop, interrupts the request still running (its scope closes), so
    // nothing the handler acquired outlives the test.
    const closed = yield* Stream.runForEach(output, (chunk) => Effect.sync(() => written.push(chunk))).pipe(
      Effect.as(true),
      Effect.timeoutTo({ duration: timeoutMs, onSuccess: (done) => done, onTimeout: () => false })
    )
    const raw = Buffer.concat(written)
    const heads = options.headRequests ?? headFlags(Buffer.concat(chunks).toString("latin1"))
    const responses = parseResponses(raw, heads)
    if (!closed) return yield* new ExchangeTimeout({ timeoutMs, raw, responses })
    return { raw, responses, closed }
  })

/** Which requests in a raw input are HEAD requests, in order (a rough scan of request lines). */
const headFlags = (input: string): Array<boolean> =>
  input.split(/\r?\n/).filter((line) => /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+ \S+( HTTP\/\d+\.\d+)?$/.test(line)).map((
    line
  ) => line.startsWith("HEAD "))

/**
 * Builds the bytes of a request. With a `body`, a `Content-Length` header is added unless `headers` already frame
 * the body (`Content-Length` or `Transfer-Encoding`, which you then encode yourself). An HTTP/1.1 request without a
 * `Host` field gets `Host: localhost` (the server answers 400 to HTTP/1.1 without one, RFC 9112 §3.2).
 *
 * @since 0.1.0
 * @category testing
 */
export const request = (
  method: string,
  path: string,
  options: {
    readonly version?: string
    readonly headers?: ReadonlyArray<HeaderField> | Record<string, string>
    readonly body?: string | Uint8Array
  } = {}
): Buffer => {
  const headers = Array.isArray(options.headers) ? options.headers : Object.entries(options.headers ?? {})
  const body = options.body === undefined ? Buffer.alloc(0) : toBuffer(options.body)
  const version = options.version ?? "HTTP/1.1"
  let head = `${method} ${path} ${version}\r\n`
  // HTTP/1.1 requires Host (RFC 9112 §3.2; the server answers 400 without it): added unless given.
  if (version === "HTTP/1.1" && !headers.some(([name]) => name.toLowerCase() === "host")) head += "Host: localhost\r\n"
  for (const [name, value] of headers) head += `${name}: ${value}\r\n`
  const framed = headers.some(([name]) => /^(content-length|transfer-encoding)$/i.test(name))
  if (options.body !== undefined && !framed) head += `Content-Length: ${body.length}\r\n`
  return Buffer.concat([Buffer.from(head + "\r\n", "latin1"), body])
}

const makeHeaderLookup = (headers: ReadonlyArray<HeaderField>) => (name: string): string | undefined => {
  const key = name.toLowerCase()
  return headers.find(([n]) => n.toLowerCase() === key)?.[1]
}

/**
 * Parses HTTP/1.x responses from raw bytes: `Content-Length`, chunked and close-delimited bodies, no body for HEAD
 * (per `headRequests`, in order), 1xx, 204 and 304. Bytes that do not start with `HTTP/` are one status-less
 * response (Python's HTTP/0.9-style error pages).
 *
 * @since 0.1.0
 * @category testing
 */
export const parseResponses = (raw: Buffer, headRequests: ReadonlyArray<boolean> = []): Array<ParsedResponse> => {
  const out: Array<ParsedResponse> = []
  let pos = 0
  let finalIndex = 0
  while (pos < raw.length) {
    if (raw.toString("latin1", pos, pos + 5) !== "HTTP/") {
      out.push({ statusLine: undefined, status: undefined, reason: undefined, headers: [], header: () => undefined, body: raw.subarray(pos) })
      break
    }
    const end = raw.indexOf("\r\n\r\n", pos, "latin1")
    if (end < 0) break
    const lines = raw.toString("latin1", pos, end).split("\r\n")
    const statusLine = lines[0]!
    const match = /^HTTP\/\d+\.\d+ (\d{3})(?: (.*))?$/.exec(statusLine)
    const status = match === null ? undefined : Number(match[1])
    const headers: Array<HeaderField> = lines.slice(1).map((line) => {
      const colon = line.indexOf(":")
      return [line.slice(0, colon), line.slice(colon + 1).trim()] as const
    })
    const header = makeHeaderLookup(headers)
    pos = end + 4
    let body: Buffer
    const interim = status !== undefined && status < 200
    const isHead = !interim && (headRequests[finalIndex] ?? false)
    if (interim || isHead || (status !== undefined && isBodiless(status))) body = Buffer.alloc(0)
    else if (header("transfer-encoding")?.toLowerCase() === "chunked") {
      const parts: Array<Buffer> = []
      for (;;) {
        const nl = raw.indexOf("\r\n", pos, "latin1")
        if (nl < 0) break
        const size = parseInt(raw.toString("latin1", pos, nl), 16)
        pos = nl + 2
        if (!(size > 0)) {
          const trailerEnd = raw.indexOf("\r\n", pos, "latin1")
          pos = trailerEnd < 0 ? raw.length : trailerEnd + 2
          break
        }
        parts.push(raw.subarray(pos, pos + size))
        pos += size + 2
      }
      body = Buffer.concat(parts)
    } else if (header("content-length") !== undefined) {
      const length = Number(header("content-length"))
      body = raw.subarray(pos, pos + length)
      pos += length
    } else {
      body = raw.subarray(pos)
      pos = raw.length
    }
    if (!interim) finalIndex++
    out.push({ statusLine, status, reason: match?.[2], headers, header, body })
  }
  return out
}
