/**
 * One connection: bytes in → decoder → requests → handlers → responses → bytes out.
 *
 * This is the hot path, so it is driven synchronously from the socket's `data` callback and runs one Effect fiber per
 * request (never per chunk): a `Stream` step per network chunk costs ~25 µs on this machine kind, several times the
 * rest of a small request (see the project's platform notes). It writes to the Node socket directly because
 * `Socket.toChannel`/`socket.writer` cannot half-close, hang on writes after the read side ends, and never pause
 * reads.
 */
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { AccessLogService } from "../AccessLog.js"
import { formatLine, requestMessage } from "../AccessLog.js"
import { type DecoderEvent, type DecoderLimits, Decoder, type RequestError } from "../Decoder.js"
import type { HandlerMap } from "../Handler.js"
import { HttpError } from "../HttpError.js"
import {
  emptyBody,
  HTTP_0_9,
  type HttpVersion,
  type Request,
  RequestBodyError,
  type RequestHead,
  splitPath,
  versionAtLeast
} from "../Request.js"
import type { FileBody, Response } from "../Response.js"
import { isBodiless } from "../Status.js"
import * as Fs from "node:fs"
import { BodyRateDeadline } from "./bodyRate.js"
import { chunked, errorFramingProblem, type Framing, responseFraming, StreamLimit } from "./framing.js"
import { headProblem, invalidField, isStatusCode } from "./headEncoder.js"
import { type ConnectionOptions, connectionOptions } from "./connectionOptions.js"
import { type HostPolicy, requestAuthority } from "./hostCheck.js"
import type { IdleConnections } from "./idleConnections.js"
import { bodyOnly, connectionField } from "./persistence.js"
import { pyRepr } from "./pythonText.js"
import {
  buildHead,
  errorHasBody,
  errorPageBytes,
  errorTexts
} from "./wire.js"

/** The parts of a `net.Socket` a connection uses; a test transport implements the same. */
export interface Transport {
  write(data: Uint8Array | string, encoding?: BufferEncoding): boolean
  write(data: Uint8Array, callback: (error?: Error | null) => void): boolean
  cork(): void
  uncork(): void
  end(callback?: () => void): void
  destroy(): void
  pause(): unknown
  resume(): unknown
  setTimeout(ms: number): unknown
  on(event: "data", listener: (chunk: Buffer) => void): unknown
  on(event: "end" | "close" | "drain" | "timeout", listener: () => void): unknown
  on(event: "error", listener: (error: Error) => void): unknown
  off(event: "drain" | "close" | "end" | "timeout", listener: () => void): unknown
  off(event: "data", listener: (chunk: Buffer) => void): unknown
  readonly destroyed: boolean
  /** Bytes accepted by `write` and not yet handed to the kernel (a socket's; a test transport may leave it out). */
  readonly writableLength?: number
  readonly remoteAddress?: string | undefined
  readonly remotePort?: number | undefined
  readonly localAddress?: string | undefined
  readonly localPort?: number | undefined
}

/** Everything a connection needs, resolved once per server. */
export interface Engine {
  readonly protocolVersion: string
  /** `protocol_version >= "HTTP/1.1"`: keep-alive and 100-continue are possible. */
  readonly protocol11: boolean
  /** `Server` header: `server_version + " " + sys_version`. */
  readonly versionString: string
  readonly errorMessageFormat: string
  readonly errorContentType: string
  readonly limits: Partial<DecoderLimits>
  /** Close a connection idle (between requests, or mid-head) this long; 0 disables. */
  readonly idleTimeoutMs: number
  /** Drop a client that does not read a response for this long; 0 disables. */
  readonly writeTimeoutMs: number
  /** Close a connection whose head is incomplete this long after its first byte; 0 disables. */
  readonly headerTimeoutMs: number
  /** Close a connection whose request body is silent this long (reading not paused by us); 0 disables. */
  readonly bodyTimeoutMs: number
  /** Bytes a second a request body must average, after `bodyTimeoutMs` of grace; 0 disables. */
  readonly bodyMinRate: number
  /** An unread request body up to this size is read and dropped to keep the connection; larger closes it. */
  readonly maxDrainBytes: number
  readonly keepAliveOnError: boolean
  readonly handlers: HandlerMap
  readonly log: AccessLogService
  readonly runFork: <A, E>(effect: Effect.Effect<A, E>) => Fiber.RuntimeFiber<A, E>
  readonly secure: boolean
  /** The DNS-rebinding rule (`hostCheck.hostPolicy`), set once the listener knows its address; none: no check. */
  hostPolicy: HostPolicy | undefined
  /** Keep-alive connections between requests, for the server to close under its connection cap; none: not tracked. */
  idle: IdleConnections | undefined
  /**
   * Every connection's local address and port when the listener is bound to one address (set by the server once it
   * listens); none: each connection asks its socket (`getsockname`, a system call per connection).
   */
  localEndpoint?: { readonly address: string; readonly port: number } | undefined
}

/**
 * 403, as Vite and webpack-dev-server answer: a refusal browsers neither retry nor cache. (421 Misdirected Request
 * would invite a retry on another connection, which cannot help.) The Host is not echoed.
 */
const HOST_REFUSED = new HttpError({
  status: 403,
  message: "Host not allowed",
  explain: "This server listens on a loopback address and answers only requests for localhost, a loopback address " +
    "or a name allowed with --allowed-host (DNS rebinding defence)."
})

const CONTINUE_LINE = (protocolVersion: string) => protocolVersion + " 100 Continue\r\n\r\n"
/** Buffered request-body bytes above which reading from the socket pauses. */
const BODY_HIGH_WATER = 64 * 1024
/** Pipelined requests decoded ahead of the one being answered, above which reading pauses. */
const QUEUE_HIGH_WATER = 32
/** A head and body up to this size are copied into one buffer: one write, one TCP segment when small. */
const COALESCE_LIMIT = 16 * 1024
/** Read buffers for file bodies, reused across responses: a download allocates almost nothing. */
const FILE_CHUNK = 256 * 1024
const POOL_MAX = 64
const bufferPool: Array<Buffer> = []
const takeBuffer = (): Buffer => bufferPool.pop() ?? Buffer.allocUnsafeSlow(FILE_CHUNK)
const releaseBuffer = (buffer: Buffer): void => {
  if (bufferPool.length < POOL_MAX) bufferPool.push(buffer)
}

/** How often a paused connection reads one turn to notice a client's reset. */
const PROBE_MS = 250
/** A paused connection stops probing once its handler leaves this much body unread. */
const PROBE_LIMIT = 1024 * 1024
/** After we close our side, wait this long for the peer's FIN before destroying the socket. */
const LINGER_MS = 2000

/** A request body on its way from the socket to a handler. */
class BodySink {
  private chunks: Array<Uint8Array> = []
  buffered = 0
  received = 0
  ended = false
  discarding = false
  failure: RequestBodyError | undefined = undefined
  waiter: ((effect: Effect.Effect<Chunk.Chunk<Uint8Array>, Option.Option<RequestBodyError>>) => void) | undefined

  constructor(readonly expected: number, private readonly onConsumed: () => void) {}

  push(chunk: Uint8Array): void {
    this.received += chunk.length
    if (this.discarding) return
    this.chunks.push(chunk)
    this.buffered += chunk.length
    this.wake()
  }
  end(): void {
    this.ended = true
    this.wake()
  }
  fail(error: RequestBodyError): void {
    this.failure = error
    this.wake()
  }
  /** The handler is done: what is still to come is thrown away. */
  discard(): void {
    this.discarding = true
    this.chunks = []
    this.buffered = 0
  }
  private wake(): void {
    const waiter = this.waiter
    if (waiter !== undefined) {
      const next = this.take()
      if (next !== undefined) {
        this.waiter = undefined
        waiter(next)
      }
    }
  }
  take(): Effect.Effect<Chunk.Chunk<Uint8Array>, Option.Option<RequestBodyError>> | undefined {
    if (this.chunks.length > 0) {
      const chunk = Chunk.unsafeFromArray(this.chunks)
      this.chunks = []
      this.buffered = 0
      this.onConsumed()
      return Effect.succeed(chunk)
    }
    if (this.failure !== undefined) return Effect.fail(Option.some(this.failure))
    if (this.ended) return Effect.fail(Option.none())
    return undefined
  }
  /**
   * The whole body in one buffer, without a `Stream` step per chunk; fails past `limit` bytes. Reads what the
   * stream has not taken yet.
   */
  readAll(limit: number, tooLarge: () => RequestBodyError): Effect.Effect<Uint8Array, RequestBodyError> {
    const parts: Array<Uint8Array> = []
    let size = 0
    const loop: Effect.Effect<Uint8Array, RequestBodyError> = Effect.suspend(() => {
      const next = this.take()
      if (next === undefined) {
        return Effect.async<Uint8Array, RequestBodyError>((resume) => {
          this.waiter = (effect) => {
            this.waiter = undefined
            resume(Effect.matchEffect(effect, {
              onFailure: (end) => end._tag === "Some" ? Effect.fail(end.value) : Effect.succeed(joined()),
              onSuccess: (chunk) => collectChunk(chunk)
            }))
          }
          return Effect.sync(() => {
            this.waiter = undefined
          })
        })
      }
      return Effect.matchEffect(next, {
        onFailure: (end) => end._tag === "Some" ? Effect.fail(end.value) : Effect.succeed(joined()),
        onSuccess: (chunk) => collectChunk(chunk)
      })
    })
    const joined = () => parts.length === 1 ? parts[0]! : Buffer.concat(parts)
    const collectChunk = (chunk: Chunk.Chunk<Uint8Array>): Effect.Effect<Uint8Array, RequestBodyError> => {
      for (const piece of chunk) {
        size += piece.length
        parts.push(piece)
      }
      return size > limit ? Effect.fail(tooLarge()) : loop
    }
    return loop
  }

  readonly stream: Stream.Stream<Uint8Array, RequestBodyError> = Stream.repeatEffectChunkOption(
    Effect.async<Chunk.Chunk<Uint8Array>, Option.Option<RequestBodyError>>((resume) => {
      const next = this.take()
      if (next !== undefined) return resume(next)
      this.waiter = resume
      return Effect.sync(() => {
        this.waiter = undefined
      })
    })
  )
}

/** The request a handler sees: a class so every request has the same shape (object spreads were measurably slow). */
class IncomingRequest implements Request {
  readonly method: string
  readonly target: string
  readonly path: string
  readonly pathname: string
  readonly query: string
  readonly version: HttpVersion
  readonly requestLine: string
  readonly headers: RequestHead["headers"]
  readonly framing: RequestHead["framing"]
  readonly contentLength: number
  readonly remoteAddress: string
  readonly remotePort: number
  readonly localAddress: string
  readonly localPort: number
  readonly secure: boolean
  constructor(
    head: RequestHead,
    readonly connection: Connection,
    readonly body: Stream.Stream<Uint8Array, RequestBodyError>,
    readonly sink: BodySink | undefined
  ) {
    this.method = head.method
    this.target = head.target
    this.path = head.path
    const { pathname, query } = splitPath(head.path)
    this.pathname = pathname
    this.query = query
    this.version = head.version
    this.requestLine = head.requestLine
    this.headers = head.headers
    this.framing = head.framing
    this.contentLength = head.contentLength
    this.remoteAddress = connection.remoteAddress
    this.remotePort = connection.remotePort
    this.localAddress = connection.localAddress
    this.localPort = connection.localPort
    this.secure = connection.secure
  }
}

type QueueItem =
  | { readonly _tag: "Request"; readonly head: RequestHead; readonly body: BodySink | undefined }
  | { readonly _tag: "Error"; readonly error: RequestError }
  | { readonly _tag: "Close" }

interface InFlight {
  readonly request: Request
  readonly body: BodySink | undefined
  fiber: Fiber.RuntimeFiber<void, never> | undefined
  keepAlive: boolean
  /** The request's `Connection` options. */
  readonly connection: ConnectionOptions
  responseStarted: boolean
  /** `Expect: 100-continue` went to a hook and no `100 Continue` has been sent: the client may hold its body back. */
  awaitingContinue: boolean
  /** The handler wrote its response itself (`respondNow`) or took the socket (`detach`): its result is not written. */
  responded: boolean
}

/** Why a connection's bytes stopped: the peer, a timeout, the server's shutdown. */
class ClientGone {
  readonly _tag = "ClientGone"
}

/**
 * A live connection. Create it with the transport already connected; it reads, answers and closes by itself and
 * calls `onClosed` once when the socket is gone.
 */
export class Connection {
  private readonly decoder: Decoder
  private readonly queue: Array<QueueItem> = []
  private current: InFlight | undefined = undefined
  private bodyTarget: BodySink | undefined = undefined
  private readEnded = false
  private closing = false
  private finished = false
  private paused = false
  private probe: ReturnType<typeof setInterval> | undefined = undefined
  private probing = false
  private headTimer: ReturnType<typeof setTimeout> | undefined = undefined
  private timerMs = 0
  /** The socket was handed over (a WebSocket upgrade): nothing more is read or written here. */
  private upgraded = false
  /** `next` is running further up the stack. */
  private advancing = false
  private bodyRate: BodyRateDeadline | undefined = undefined
  private readonly address: string
  /** The peer and local endpoints, read once: `net.Socket`'s getters make a system call each time. */
  readonly remoteAddress: string
  readonly remotePort: number
  readonly localAddress: string
  readonly localPort: number
  readonly secure: boolean

  constructor(
    private readonly engine: Engine,
    private readonly transport: Transport,
    private readonly onClosed: (connection: Connection) => void
  ) {
    this.decoder = new Decoder(engine.limits)
    this.address = transport.remoteAddress ?? ""
    this.remoteAddress = this.address
    this.remotePort = transport.remotePort ?? 0
    const local = engine.localEndpoint
    this.localAddress = local !== undefined ? local.address : transport.localAddress ?? ""
    this.localPort = local !== undefined ? local.port : transport.localPort ?? 0
    this.secure = engine.secure
    transport.on("data", this.onData)
    transport.on("end", this.onEnd)
    transport.on("close", this.onClose)
    transport.on("error", this.onError)
    transport.on("timeout", this.onTimeout)
    // A new connection holds a slot under the connection cap: its first head is due within the header timeout from
    // the accept (nginx's client_header_timeout), not the idle timeout meant for kept-alive connections. A header
    // timeout no longer than the idle timeout bounds the wait for the first head by itself: the socket's inactivity
    // timer is armed when one is needed (a body, between requests, the linger), not for every accepted connection.
    if (engine.headerTimeoutMs > 0) this.headTimer = setTimeout(this.onHeadTimeout, engine.headerTimeoutMs)
    if (engine.idleTimeoutMs > 0 && !(engine.headerTimeoutMs > 0 && engine.headerTimeoutMs <= engine.idleTimeoutMs)) {
      this.setTimer(engine.idleTimeoutMs)
    }
  }

  /** Whether no request is being answered (a shutdown may close it at once). */
  get isIdle(): boolean {
    return this.current === undefined && this.queue.length === 0
  }

  /**
   * Closes a keep-alive connection idle between requests (the server's cap is reached and newcomers wait); whether
   * it did. Not when a request is in flight or queued, a next head is partly read, or a response is still being
   * written.
   */
  readonly reclaim = (): boolean => {
    if (
      this.finished || this.current !== undefined || this.queue.length > 0 || !this.decoder.isIdle ||
      (this.transport.writableLength ?? 0) > 0
    ) return false
    this.finished = true
    this.transport.destroy()
    return true
  }

  /** Graceful stop: finish the response in progress, answer nothing more, then close. */
  shutdown(): void {
    this.closing = true
    // An idle connection goes once its FIN is out: a client that keeps it open (a browser's pool) would otherwise
    // hold the server's exit for the whole linger. One with a response in flight keeps the linger (its last bytes
    // must reach a slow reader), bounded by the server's grace.
    if (this.current === undefined) this.finish(this.destroyTransport)
  }

  /** Forced stop: interrupt the request in progress (its scope closes) and destroy the socket. */
  abort(): Effect.Effect<void> {
    const fiber = this.current?.fiber
    this.closing = true
    return Effect.zipRight(
      fiber === undefined ? Effect.void : Fiber.interrupt(fiber),
      Effect.sync(() => this.transport.destroy())
    )
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.finished) return
    if (this.probing) {
      // One chunk per probe is enough to let a reset through.
      this.probing = false
      this.transport.pause()
    }
    this.handle(this.decoder.feed(chunk))
    // A head in one segment (every ordinary client) never arms the deadline.
    if (this.decoder.isReadingHead) {
      if (this.headTimer === undefined && this.engine.headerTimeoutMs > 0 && !this.finished) {
        this.headTimer = setTimeout(this.onHeadTimeout, this.engine.headerTimeoutMs)
      }
    } else if (this.headTimer !== undefined) this.clearHeadTimer()
  }

  /**
   * The socket's inactivity timeout, set only when it changes: Node refreshes it on every read and write, and each
   * `setTimeout` allocates a timer (three per connection showed in the profile of the default path).
   */
  private setTimer(ms: number): void {
    if (ms === this.timerMs) return
    this.timerMs = ms
    this.transport.setTimeout(ms)
  }

  private clearHeadTimer(): void {
    clearTimeout(this.headTimer)
    this.headTimer = undefined
  }

  private readonly onHeadTimeout = (): void => {
    this.headTimer = undefined
    if (this.finished) return
    this.log("Request timed out: TimeoutError('timed out')")
    this.transport.destroy()
  }

  private readonly onEnd = (): void => {
    this.readEnded = true
    // After our own end(), Node destroys the socket once both directions are done.
    if (this.finished) return
    this.handle(this.decoder.end())
    if (this.current === undefined) this.next()
  }

  private readonly onClose = (): void => {
    this.stopProbe()
    this.finished = true
    this.readEnded = true
    if (this.headTimer !== undefined) this.clearHeadTimer()
    this.stopBodyRate()
    this.engine.idle?.leave(this)
    this.bodyTarget?.fail(new RequestBodyError({ reason: "ClientClosed", message: "the client closed the connection" }))
    const fiber = this.current?.fiber
    if (fiber !== undefined) {
      // The handler may be busy with something else (a child process, a file): stop it so its scope closes.
      Effect.runFork(Fiber.interrupt(fiber))
    }
    this.onClosed(this)
  }

  private readonly onError = (_error: Error): void => {
    // ECONNRESET and friends are followed by "close", which cleans up; a TLS socket's own errors (a refused
    // renegotiation, ERR_TLS_SESSION_ATTACK) are only reported and leave it open: destroy it either way.
    this.transport.destroy()
  }

  private stopBodyRate(): void {
    this.bodyRate?.stop()
    this.bodyRate = undefined
  }

  private readonly onTimeout = (): void => {
    if (!this.finished) this.log("Request timed out: TimeoutError('timed out')")
    this.transport.destroy()
  }

  private handle(events: ReadonlyArray<DecoderEvent>): void {
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!
      switch (event._tag) {
        case "Head": {
          const head = event.head
          let body: BodySink | undefined
          if (head.framing !== "none") {
            body = new BodySink(head.contentLength, this.updateFlow)
            this.bodyTarget = body
          }
          this.queue.push({ _tag: "Request", head, body })
          break
        }
        case "Body":
          this.bodyTarget?.push(event.chunk)
          break
        case "BodyEnd":
          this.bodyTarget?.end()
          this.bodyTarget = undefined
          this.stopBodyRate()
          if (this.current !== undefined && this.engine.bodyTimeoutMs > 0) this.setTimer(0)
          break
        case "BodyError":
          this.bodyTarget?.fail(event.error)
          this.bodyTarget = undefined
          this.stopBodyRate()
          this.readEnded = true
          // Input that ends inside a body is no half-close: the request can never be whole. The handler learns it
          // from the body stream (and may answer, e.g. 400); one that stays silent is dropped after LINGER_MS, so its
          // scope closes (a CGI script ignoring stdin is killed) instead of running on.
          if (event.error.reason === "ClientClosed") this.setTimer(LINGER_MS)
          else if (this.current !== undefined && this.engine.bodyTimeoutMs > 0) this.setTimer(0)
          break
        case "Error":
          this.queue.push({ _tag: "Error", error: event.error })
          break
        case "Close":
          this.queue.push({ _tag: "Close" })
          break
      }
    }
    if (this.current === undefined) this.next()
    this.updateFlow()
  }

  /** Pauses reading while too much is buffered ahead of the handler; resumes when it has caught up. */
  private readonly updateFlow = (): void => {
    if (this.finished) return
    const body = this.bodyTarget
    const full = this.queue.length > QUEUE_HIGH_WATER || this.decoder.heldBytes > BODY_HIGH_WATER ||
      (body !== undefined && !body.discarding && body.buffered > BODY_HIGH_WATER)
    const receiving = this.current !== undefined && body !== undefined && this.engine.bodyTimeoutMs > 0
    if (full && !this.paused) {
      this.paused = true
      this.transport.pause()
      this.startProbe()
      // Our own backpressure is not the client's silence.
      if (receiving) this.setTimer(0)
      this.bodyRate?.pause()
    } else if (!full && this.paused) {
      this.paused = false
      this.stopProbe()
      this.transport.resume()
      if (receiving) this.setTimer(this.engine.bodyTimeoutMs)
      this.bodyRate?.resume()
    }
  }

  /**
   * A paused socket reads nothing, so a client's reset would go unnoticed while a handler ignores the body (a CGI
   * script that never reads stdin would run to its timeout). Reading for one turn now and then lets the reset
   * through (after the bytes the kernel had already queued); each probe reads at most one chunk.
   */
  private startProbe(): void {
    if (this.probe !== undefined) return
    this.probe = setInterval(() => {
      if (!this.paused || this.finished) return this.stopProbe()
      // Bounded: past PROBE_LIMIT buffered bytes the probe stops reading, and only the timeouts remain.
      if ((this.bodyTarget?.buffered ?? 0) + this.decoder.heldBytes > PROBE_LIMIT) return
      this.probing = true
      this.transport.resume()
      setImmediate(() => {
        this.probing = false
        if (this.paused && !this.finished) this.transport.pause()
      })
    }, PROBE_MS)
  }

  private stopProbe(): void {
    if (this.probe !== undefined) clearInterval(this.probe)
    this.probe = undefined
  }

  /** Starts on the next queued item, or waits for one, or closes when nothing more can come. */
  private next(): void {
    // A request answered synchronously calls back here through `done`: the loop below picks up the next one, so a
    // burst of pipelined requests is served iteratively, never one stack frame deeper per request.
    if (this.advancing) return
    this.advancing = true
    try {
      this.advance()
    } finally {
      this.advancing = false
    }
  }

  private advance(): void {
    while (this.current === undefined && !this.finished) {
      if (this.closing) return this.finish()
      const item = this.queue.shift()
      if (item === undefined) {
        if (this.readEnded) this.finish()
        else if (this.engine.idleTimeoutMs > 0) this.setTimer(this.engine.idleTimeoutMs)
        return
      }
      switch (item._tag) {
        case "Close":
          return this.finish()
        case "Error": {
          const e = item.error
          this.sendError(e.error, e.requestLine, e.method, e.headless ? HTTP_0_9 : e.version, undefined)
          return this.finish()
        }
        case "Request":
          this.start(item.head, item.body)
      }
    }
  }

  private start(head: RequestHead, body: BodySink | undefined): void {
    const engine = this.engine
    const transport = this.transport
    engine.idle?.leave(this)
    const request = new IncomingRequest(head, this, body === undefined ? emptyBody : body.stream, body)
    const version = head.version
    // Python's parse_request: close unless both sides speak 1.1, then the Connection header decides.
    let keepAlive = version !== HTTP_0_9 && engine.protocol11 && versionAtLeast(version, 1, 1)
    // RFC 9112 §9.6: a `close` anywhere in the list closes (Python compares the whole value).
    const connection = connectionOptions(head.headers.getAll("connection"))
    if (connection.close) keepAlive = false
    else if (connection.keepAlive && engine.protocol11) keepAlive = true
    // RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 leaves the framing in doubt; close after the response (the decoder
    // reads nothing after the body either).
    if (head.framing === "chunked" && !versionAtLeast(version, 1, 1)) keepAlive = false
    const inFlight: InFlight = {
      request,
      body,
      fiber: undefined,
      keepAlive,
      connection,
      responseStarted: false,
      awaitingContinue: false,
      responded: false
    }
    this.current = inFlight
    // While its body arrives, a request is bounded by the body timeout; otherwise by nothing (the handler's time).
    // An answer written at once leaves the idle timer armed (the write refreshes it); a fiber's clears it below.
    const receiving = body !== undefined && !body.ended && engine.bodyTimeoutMs > 0
    if (receiving) this.setTimer(engine.bodyTimeoutMs)
    // The silence timeout restarts on every byte; a body trickling in is bounded by its average rate.
    if (receiving && engine.bodyMinRate > 0) {
      this.stopBodyRate()
      const from = body.received
      this.bodyRate = new BodyRateDeadline(engine.bodyTimeoutMs, engine.bodyMinRate, () => body.received - from, this.onTimeout)
    }

    // The one place every request passes before any handler (static, CGI, upload, listings, OPTIONS…) or 100 Continue.
    const hostRefused = engine.hostPolicy !== undefined &&
      !engine.hostPolicy(requestAuthority(head.target, head.headers.get("host")))
    const expect = head.headers.get("expect")
    const expects100 = expect !== undefined && expect.toLowerCase() === "100-continue"
    // Refused without 100 Continue, the client may hold its body back: the connection closes after the 403.
    if (hostRefused && expects100) inFlight.awaitingContinue = true
    const wantsContinue = !hostRefused && expects100 && engine.protocol11 && versionAtLeast(version, 1, 1)
    const hook = wantsContinue ? engine.handlers.expectContinue : undefined
    if (wantsContinue && hook === undefined) transport.write(CONTINUE_LINE(engine.protocolVersion), "latin1")

    const handler = engine.handlers.byMethod.get(head.method)
    let program: Effect.Effect<Response, HttpError, Scope.Scope> = hostRefused
      ? Exit.fail(HOST_REFUSED)
      : handler === undefined
      ? Exit.fail(new HttpError({ status: 501, message: `Unsupported method (${pyRepr(head.method)})` }))
      : handler(request)
    let task: Effect.Effect<void, ClientGone, Scope.Scope> | undefined
    if (hook !== undefined) {
      inFlight.awaitingContinue = true
      const sendContinue = Effect.sync(() => {
        inFlight.awaitingContinue = false
        transport.write(CONTINUE_LINE(engine.protocolVersion), "latin1")
      })
      program = Effect.zipRight(Effect.zipRight(hook(request), sendContinue), program)
    } else if (Exit.isExit(program)) {
      // Answered synchronously: write it now, no fiber (the hot path for cached and fixed responses). Only a
      // streamed body still needs one.
      const exit = program as Exit.Exit<Response, HttpError>
      const streaming = Exit.isSuccess(exit) ? this.respond(inFlight, exit.value) : this.failed(inFlight, exit.cause)
      if (streaming === undefined) return this.done(inFlight)
      task = streaming
    }
    // The response is written inside the request's scope: a streamed body's resources (a file handle, a child
    // process) outlive the handler's return but not the write.
    task ??= Effect.matchCauseEffect(program, {
      onSuccess: (response) => inFlight.responded ? Effect.void : this.respond(inFlight, response) ?? Effect.void,
      onFailure: (cause) => this.failed(inFlight, cause) ?? Effect.void
    })
    if (!receiving) this.setTimer(0)
    // A handler map that promises not to use the request's scope runs without one (see `HandlerMap.scoped`).
    const run = engine.handlers.scoped === false
      ? task as Effect.Effect<void, ClientGone>
      : Effect.scoped(task)
    const fiber = engine.runFork(Effect.catchAll(run, () => Effect.interrupt))
    inFlight.fiber = fiber
    fiber.addObserver((exit) => this.onRequestExit(inFlight, exit))
  }

  /**
   * Writes `response` for `request` now, from inside its handler, whose own result is then not written: an
   * `@effect/platform` app writes its response before its scope closes. A body write that fails closes the
   * connection (the framing is lost).
   */
  respondNow(request: Request, response: Response): Effect.Effect<void, ClientGone> {
    const inFlight = this.current
    if (inFlight === undefined || inFlight.request !== request || inFlight.responded) return Effect.void
    inFlight.responded = true
    if (this.transport.destroyed) return Effect.fail(new ClientGone())
    const writing = this.respond(inFlight, response)
    return writing === undefined ? Effect.void : Effect.tapError(writing, () => Effect.sync(() => this.transport.destroy()))
  }

  /**
   * Hands the socket over for a protocol switch (a WebSocket upgrade): no more reading, timeouts or responses here;
   * the handler's fiber is still interrupted when the socket closes. `undefined` when bytes after the request are
   * already buffered or a response has begun.
   */
  detach(request: Request): { readonly socket: Transport; readonly head: Buffer } | undefined {
    const inFlight = this.current
    if (
      inFlight === undefined || inFlight.request !== request || inFlight.responseStarted || inFlight.responded ||
      this.finished || this.queue.length > 0 || !(this.decoder.isIdle || this.decoder.isHeld) ||
      inFlight.body !== undefined
    ) return undefined
    // What the client sent after the request (its first frames) belongs to the new protocol.
    const head = this.decoder.takeHeld()
    inFlight.responded = true
    inFlight.keepAlive = false
    this.upgraded = true
    const transport = this.transport
    transport.off("data", this.onData)
    transport.off("end", this.onEnd)
    transport.off("timeout", this.onTimeout)
    this.stopProbe()
    if (this.headTimer !== undefined) this.clearHeadTimer()
    if (this.paused) {
      this.paused = false
      transport.resume()
    }
    this.setTimer(0)
    return { socket: transport, head }
  }

  private onRequestExit(inFlight: InFlight, exit: Exit.Exit<void, never>): void {
    if (this.current !== inFlight) return
    if (Exit.isFailure(exit)) {
      // Interrupted (client gone, shutdown) or a write that could not finish: the framing is lost.
      this.current = undefined
      this.transport.destroy()
      return
    }
    this.done(inFlight)
  }

  /** The response has been written: decide between the next request and closing. */
  private done(inFlight: InFlight): void {
    this.current = undefined
    if (this.upgraded) return
    let keepAlive = inFlight.keepAlive
    const body = inFlight.body
    if (body !== undefined && !body.ended) {
      // Python would read the unread body as the next request; we skip it when small, else close.
      // A chunked body (expected 0) has no known end: close rather than read an unbounded amount.
      const unknownLength = body.expected === 0
      if (body.failure !== undefined || unknownLength || body.expected - body.received > this.engine.maxDrainBytes) {
        keepAlive = false
      }
    }
    body?.discard()
    if (!keepAlive || this.closing) return this.finish()
    // A protocol switch answered without switching: what followed its request is HTTP after all.
    if (this.decoder.isHeld) this.handle(this.decoder.release())
    this.updateFlow()
    this.next()
    // Between requests now (unless the next one was already queued): reclaimable under the connection cap.
    if (this.current === undefined && !this.finished) this.engine.idle?.enter(this)
  }

  /**
   * Answers a handler's failure: its `HttpError` as Python's error page, a defect as 500. Returns an Effect only
   * when nothing can be written (interruption, or a response already under way).
   */
  private failed(inFlight: InFlight, cause: Cause.Cause<HttpError>): Effect.Effect<void, ClientGone> | undefined {
    if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause as Cause.Cause<never>)
    if (inFlight.responseStarted) {
      this.log(`response aborted: ${Cause.pretty(cause).split("\n")[0]}`)
      return Effect.fail(new ClientGone())
    }
    const failure = Cause.failureOption(cause)
    let error: HttpError
    if (Option.isSome(failure)) error = failure.value
    else {
      this.log(`handler failed: ${Cause.pretty(cause).split("\n")[0]}`)
      error = new HttpError({ status: 500 })
    }
    const request = inFlight.request
    const body = inFlight.body
    if (
      !this.engine.keepAliveOnError || asksToClose(error.headers) || bodyOnly(request.version) ||
      // Refused before 100 Continue, the client may or may not send the body it held back: waiting for it could
      // read its next request as body bytes. (Only a failure can leave 100 Continue unsent, so this is the one place.)
      (inFlight.awaitingContinue && body !== undefined && !body.ended)
    ) inFlight.keepAlive = false
    this.sendError(error, request.requestLine, request.method, request.version, inFlight.connection, inFlight.keepAlive)
    this.closeNow(inFlight)
    return undefined
  }

  /**
   * Writes a response: head and, for `Empty`/`Bytes` bodies, the body at once (returns `undefined`); a `Stream` body
   * is returned as the Effect that writes it.
   */
  private respond(inFlight: InFlight, response: Response): Effect.Effect<void, ClientGone> | undefined {
    const request = inFlight.request
    const headers = response.headers
    const status = response.status
    const noBody = request.method === "HEAD" || isBodiless(status)
    const body = response.body
    const framing = responseFraming(status, headers, body, {
      bodySent: !noBody && response.endHeaders,
      canChunk: this.engine.protocol11 && versionAtLeast(request.version, 1, 1)
    })
    if (typeof framing === "string") {
      this.log(`response refused: ${framing}`)
      return this.failed(inFlight, Cause.fail(framingRefused))
    }
    let keepAlive = framing.keepAlive ?? inFlight.keepAlive
    // Without a length the body is framed by closing, whatever keep-alive said (Python would leave the client
    // waiting).
    if (!noBody && ((framing.length < 0 && !framing.chunked) || !response.endHeaders)) keepAlive = false
    // A body-only answer has no framing: only the close can end it (Python would keep it open on request).
    const headless = bodyOnly(request.version)
    if (headless) keepAlive = false
    let fields = headers
    if (response.endHeaders && !headers.some(([name]) => name.length === 10 && name.toLowerCase() === "connection")) {
      const field = connectionField(
        request.version,
        inFlight.connection,
        keepAlive && !this.closing,
        this.engine.protocol11
      )
      if (field !== undefined) fields = [...headers, field]
    }
    const head = headless
      ? ""
      : buildHead(this.engine, status, response.reason, fields, response.standardHeaders, response.endHeaders)
    if (head === undefined) {
      this.log(`response refused: ${headProblem(status, headers)}`)
      return this.failed(
        inFlight,
        Cause.fail(headRefused)
      )
    }
    inFlight.keepAlive = keepAlive
    inFlight.responseStarted = true
    if (response.standardHeaders) this.log(requestMessage(request.requestLine, status))
    const sendBody = !(noBody && response.endHeaders)
    if (body._tag === "File" && sendBody) {
      if (head !== "") this.transport.write(head, "latin1")
      return Effect.zipRight(this.writeFile(body), Effect.sync(() => this.closeNow(inFlight)))
    }
    if (body._tag === "Stream" && sendBody) {
      if (head !== "") this.transport.write(head, "latin1")
      return Effect.zipRight(this.writeStream(inFlight, body.stream, framing), Effect.sync(() => this.closeNow(inFlight)))
    }
    this.writeHeadAndBytes(head, sendBody && body._tag === "Bytes" ? body.bytes : undefined)
    this.closeNow(inFlight)
    return undefined
  }

  /**
   * Writes a `Stream` body as its framing says: chunked by the engine, or held to its `Content-Length` — bytes past
   * the length are never written (the connection closes after the declared ones), and a body that ends short
   * closes the connection, as a file that shrank does.
   */
  private writeStream(
    inFlight: InFlight,
    stream: Stream.Stream<Uint8Array, unknown>,
    framing: Framing
  ): Effect.Effect<void, ClientGone> {
    const limit = framing.length >= 0 ? new StreamLimit(framing.length) : undefined
    const write = limit === undefined
      ? (chunk: Uint8Array) => this.writeChunk(chunk)
      : (chunk: Uint8Array) => {
        const piece = limit.take(chunk)
        const written = piece.length === 0 ? Effect.void : this.writeChunk(piece)
        return limit.overrun ? Effect.zipRight(written, Effect.fail(bodyOverrun)) : written
      }
    return Stream.runForEach(framing.chunked ? chunked(stream) : stream, write).pipe(
      Effect.flatMap(() => {
        if (limit === undefined || limit.missing === 0) return Effect.void
        this.log(`response body failed: ${limit.missing} bytes shorter than its Content-Length ${limit.length}`)
        return Effect.fail(new ClientGone())
      }),
      Effect.catchAll((error) => {
        if (error instanceof ClientGone) return Effect.fail(error)
        if (error === bodyOverrun) {
          // What was declared has been sent whole: close after it rather than cut the connection under it.
          this.log(`response body longer than its Content-Length ${limit!.length}: the rest was not sent`)
          inFlight.keepAlive = false
          return Effect.void
        }
        this.log(`response body failed: ${String(error)}`)
        return Effect.fail(new ClientGone())
      })
    )
  }

  /**
   * A response that ends the connection sends its FIN right behind its last byte, in the same tick, before the
   * request's scope closes (a descriptor, a child process): a client deciding whether to reuse the connection
   * (wget) must already see it closed.
   */
  private closeNow(inFlight: InFlight): void {
    if (!inFlight.keepAlive || this.closing) this.finish()
  }

  private writeHeadAndBytes(head: string, bytes: Uint8Array | undefined): void {
    const transport = this.transport
    if (bytes === undefined || bytes.length === 0) {
      if (head !== "") transport.write(head, "latin1")
      return
    }
    if (head === "") {
      transport.write(bytes)
      return
    }
    if (head.length + bytes.length <= COALESCE_LIMIT) {
      const buffer = Buffer.allocUnsafe(head.length + bytes.length)
      buffer.write(head, 0, "latin1")
      buffer.set(bytes, head.length)
      transport.write(buffer)
    } else {
      transport.cork()
      transport.write(head, "latin1")
      transport.write(bytes)
      transport.uncork()
    }
  }

  /**
   * Writes a file body: `fs.read` into pooled buffers, each returned to the pool by its write's callback, the next
   * read issued when the socket can take more. One Effect per response, not per chunk. On interruption it waits for
   * a read in flight, so the request's scope never closes the descriptor under it.
   */
  private writeFile(body: FileBody): Effect.Effect<void, ClientGone> {
    const transport = this.transport
    const writeTimeout = this.engine.writeTimeoutMs
    return Effect.async<void, ClientGone>((resume) => {
      let position = body.start
      let remaining = body.length
      let reading = false
      let stopped = false
      let onStopped: (() => void) | undefined
      let timer: ReturnType<typeof setTimeout> | undefined
      const cleanup = () => {
        transport.off("drain", pump)
        transport.off("close", onClose)
        if (timer !== undefined) clearTimeout(timer)
        timer = undefined
      }
      const end = (outcome: Effect.Effect<void, ClientGone>) => {
        if (stopped) return
        stopped = true
        cleanup()
        resume(outcome)
      }
      const onClose = () => end(Effect.fail(new ClientGone()))
      function pump(): void {
        transport.off("drain", pump)
        if (timer !== undefined) clearTimeout(timer)
        timer = undefined
        if (stopped) return
        if (remaining === 0) return end(Effect.void)
        const buffer = takeBuffer()
        reading = true
        Fs.read(body.fd, buffer, 0, Math.min(buffer.length, remaining), position, (error, n) => {
          reading = false
          if (stopped) {
            releaseBuffer(buffer)
            onStopped?.()
            return
          }
          if (error !== null || n === 0) {
            releaseBuffer(buffer)
            // The file shrank or failed under us: the announced length cannot be met, so the connection must close.
            logFailure(`response body failed: ${error === null ? "file shorter than announced" : error.message}`)
            return end(Effect.fail(new ClientGone()))
          }
          position += n
          remaining -= n
          const ok = transport.write(n === buffer.length ? buffer : buffer.subarray(0, n), () => releaseBuffer(buffer))
          if (remaining === 0) return end(Effect.void)
          if (ok) return pump()
          if (writeTimeout > 0) {
            timer = setTimeout(() => {
              logFailure("Request timed out: TimeoutError('timed out')")
              end(Effect.fail(new ClientGone()))
            }, writeTimeout)
          }
          transport.on("drain", pump)
        })
      }
      const logFailure = (message: string) => this.log(message)
      transport.on("close", onClose)
      if (transport.destroyed) onClose()
      else pump()
      return Effect.async<void>((done) => {
        stopped = true
        cleanup()
        if (!reading) return done(Effect.void)
        onStopped = () => done(Effect.void)
      })
    })
  }

  /** Writes one chunk; when the socket's buffer is full, waits for it to drain (or for the client to vanish). */
  private writeChunk(chunk: Uint8Array): Effect.Effect<void, ClientGone> {
    if (this.transport.destroyed) return Effect.fail(new ClientGone())
    if (this.transport.write(chunk)) return Effect.void
    const wait = Effect.async<void, ClientGone>((resume) => {
      const transport = this.transport
      const onDrain = () => {
        cleanup()
        resume(Effect.void)
      }
      const onClose = () => {
        cleanup()
        resume(Effect.fail(new ClientGone()))
      }
      const cleanup = () => {
        transport.off("drain", onDrain)
        transport.off("close", onClose)
      }
      transport.on("drain", onDrain)
      transport.on("close", onClose)
      return Effect.sync(cleanup)
    })
    const timeout = this.engine.writeTimeoutMs
    return timeout > 0
      ? Effect.timeoutFail(wait, {
        duration: timeout,
        onTimeout: () => {
          this.log("Request timed out: TimeoutError('timed out')")
          return new ClientGone()
        }
      })
      : wait
  }

  /**
   * Python's `send_error`: log, status line, `Connection: close` (unless `keepAlive`, the opt-in
   * `keepAliveOnError`), the error page (not for HEAD).
   */
  private sendError(
    error: HttpError,
    requestLine: string,
    method: string | undefined,
    version: HttpVersion | undefined,
    connection: ConnectionOptions | undefined,
    keepAlive = false
  ): void {
    const engine = this.engine
    // Nothing of an error whose head would be outside the grammar is sent: a 500 instead, as for a Response.
    const refused = !isStatusCode(error.status) || (error.headers !== undefined && invalidField(error.headers) !== undefined)
    const framing = refused ? undefined : errorFramingProblem(error.status, error.headers)
    if (refused) this.log(`response refused: ${headProblem(error.status, error.headers ?? [])}`)
    else if (framing !== undefined) this.log(`response refused: ${framing}`)
    const sent = refused ? headRefused : framing !== undefined ? framingRefused : error
    const status = sent.status
    const { explain, message } = errorTexts(sent)
    this.log(`code ${status}, message ${message}`)
    this.log(requestMessage(requestLine, status))
    const headers: Array<readonly [string, string]> = [...(sent.headers ?? [])]
    if (!keepAlive) headers.push(["Connection", "close"])
    else if (version !== undefined) {
      const field = connectionField(version, connection, true, engine.protocol11)
      if (field !== undefined) headers.push(field)
    }
    let body: Buffer | undefined
    if (errorHasBody(status)) {
      body = errorPageBytes(engine.errorMessageFormat, status, message, explain)
      headers.push(["Content-Type", engine.errorContentType], ["Content-Length", String(body.length)])
    }
    // Checked above: only the reason phrase (escaped, never refused) can be outside the grammar here.
    const head = bodyOnly(version) ? "" : buildHead(engine, status, message, headers, true, true) ?? ""
    this.writeHeadAndBytes(head, method === "HEAD" ? undefined : body)
  }

  private readonly destroyTransport = (): void => this.transport.destroy()

  private log(message: string): void {
    const log = this.engine.log
    if (log.enabled !== false) log.write(formatLine(this.address, message))
  }

  /** Ends our side after what is queued has been written; the socket is destroyed when the peer closes too. */
  private finish(afterEnd?: () => void): void {
    if (this.finished) return
    this.finished = true
    this.stopBodyRate()
    const transport = this.transport
    if (this.paused) transport.resume()
    const linger = () => {
      if (!this.readEnded) this.setTimer(LINGER_MS)
    }
    if ((transport.writableLength ?? 0) > 0) {
      // The end of a response is still queued (a client that stopped reading a big in-memory page): it gets the
      // write timeout to drain, as any write does; the short linger starts once it is all with the kernel.
      this.setTimer(this.engine.writeTimeoutMs)
      transport.end(() => {
        afterEnd?.()
        linger()
      })
    } else {
      if (afterEnd !== undefined) transport.end(afterEnd)
      else transport.end()
      linger()
    }
  }
}

/** The answer to a response whose framing fields do not describe its body. */
const framingRefused = new HttpError({
  status: 500,
  explain: "The handler produced a response whose framing does not match its body"
})

/** A stream body's bytes went past its `Content-Length` (a value, to stop the stream). */
const bodyOverrun = { _tag: "BodyOverrun" } as const

/** The answer to a response (or error) whose head would be outside HTTP's grammar. */
const headRefused = new HttpError({ status: 500, explain: "The handler produced a response head outside HTTP's grammar" })

/** Whether an error's own header fields include `Connection: close`. */
const asksToClose = (headers: HttpError["headers"]): boolean =>
  headers !== undefined &&
  headers.some(([name, value]) => name.toLowerCase() === "connection" && value.toLowerCase() === "close")

/** Reads a request body whole (for handlers that want it in memory; bounded by the decoder's body limit). */
export const readBody = (request: Request): Effect.Effect<Uint8Array, RequestBodyError> =>
  Effect.map(Stream.runCollect(request.body), (chunks) => Buffer.concat(Chunk.toReadonlyArray(chunks)))

/**
 * `Connection.respondNow` for a request of this engine; `undefined` for any other request value.
 */
export const respondNow = (request: Request, response: Response): Effect.Effect<void, unknown> | undefined =>
  request instanceof IncomingRequest ? request.connection.respondNow(request, response) : undefined

/**
 * `Connection.detach` for a request of this engine; `undefined` for any other request value.
 */
export const detachSocket = (request: Request): { readonly socket: Transport; readonly head: Buffer } | undefined =>
  request instanceof IncomingRequest ? request.connection.detach(request) : undefined

/**
 * The whole body of a request of this engine in one buffer (`BodySink.readAll`); `undefined` for any other request
 * value. An empty body is an empty buffer.
 */
export const readWholeBody = (
  request: Request,
  limit: number,
  tooLarge: () => RequestBodyError
): Effect.Effect<Uint8Array, RequestBodyError> | undefined => {
  if (!(request instanceof IncomingRequest)) return undefined
  return request.sink === undefined ? Effect.succeed(EMPTY_BYTES) : request.sink.readAll(limit, tooLarge)
}

const EMPTY_BYTES = new Uint8Array(0)
