/**
 * The connection core: decoded requests → handlers → responses, with keep-alive, 100-continue, pipelining bounds,
 * timeouts and request scopes. It is driver-independent: it reads `data`/`end`/`close` events from a `Transport`
 * and writes to it (`responseWriter.ts`). Two drivers feed it:
 *
 * - the socket driver (`Server.make`): the `net.Socket` is the transport, so the hot path stays driven synchronously
 *   from the socket's `data` callback with one Effect fiber per request (never per chunk): a `Stream` step per network
 *   chunk costs ~25 µs on this machine kind, several times the rest of a small request (see the project's platform
 *   notes). It writes to the socket directly because `Socket.toChannel`/`socket.writer` cannot half-close, hang on
 *   writes after the read side ends, and never pause reads.
 * - the Stream driver (`streamDriver.ts`, `Server.serveStream`): bytes from a `Stream`, responses as a `Stream`.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import { requestMessage } from "../AccessLog.js"
import { type DecoderEvent, Decoder, type RequestError } from "../Decoder.js"
import { HttpError } from "../HttpError.js"
import {
  emptyBody,
  HTTP_0_9,
  type Request,
  RequestBodyError,
  type RequestHead,
  versionAtLeast
} from "../Request.js"
import type { Response } from "../Response.js"
import { isBodiless } from "../Status.js"
import { BodySink } from "./bodySink.js"
import { BodyRateDeadline } from "./bodyRate.js"
import { responseFraming } from "./framing.js"
import { headProblem } from "./headEncoder.js"
import { connectionWish } from "./connectionOptions.js"
import { requestAuthority } from "./hostCheck.js"
import { IncomingRequest } from "./incomingRequest.js"
import { bodyOnly, connectionField } from "./persistence.js"
import { pyRepr } from "./pythonText.js"
import { ClientGone, framingRefused, headRefused, ResponseWriter } from "./responseWriter.js"
import type { Engine, Transport } from "./transport.js"
import { buildHead } from "./wire.js"

export type { Engine, Transport } from "./transport.js"
export { detachSocket, readBody, readWholeBody, respondNow } from "./incomingRequest.js"


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

/** How often a paused connection reads one turn to notice a client's reset. */
const PROBE_MS = 250
/** A paused connection stops probing once its handler leaves this much body unread. */
const PROBE_LIMIT = 1024 * 1024
/** After we close our side, wait this long for the peer's FIN before destroying the socket. */
const LINGER_MS = 2000

type QueueItem =
  | { readonly _tag: "Request"; readonly head: RequestHead; readonly body: BodySink | undefined }
  | { readonly _tag: "Error"; readonly error: RequestError }
  | { readonly _tag: "Close" }

interface InFlight {
  readonly request: Request
  readonly body: BodySink | undefined
  fiber: Fiber.RuntimeFiber<void, never> | undefined
  keepAlive: boolean
  /** The request's `Connection` field. */
  readonly connection: string | undefined
  responseStarted: boolean
  /** `Expect: 100-continue` went to a hook and no `100 Continue` has been sent: the client may hold its body back. */
  awaitingContinue: boolean
  /** The handler wrote its response itself (`respondNow`) or took the socket (`detach`): its result is not written. */
  responded: boolean
}


/**
 * A live connection. Create it with the transport already connected; it reads, answers and closes by itself and
 * calls `onClosed` once when the socket is gone.
 */
export class Connection extends ResponseWriter {
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
  /** The peer and local endpoints, read once: `net.Socket`'s getters make a system call each time. */
  readonly remoteAddress: string
  readonly remotePort: number
  readonly localAddress: string
  readonly localPort: number
  readonly secure: boolean

  constructor(
    engine: Engine,
    transport: Transport,
    private readonly onClosed: (connection: Connection) => void
  ) {
    super(engine, transport)
    this.decoder = new Decoder(engine.limits)
    this.remoteAddress = this.address
    this.remotePort = transport.remotePort ?? 0
    this.localAddress = transport.localAddress ?? ""
    this.localPort = transport.localPort ?? 0
    this.secure = engine.secure
    transport.on("data", this.onData)
    transport.on("end", this.onEnd)
    transport.on("close", this.onClose)
    transport.on("error", this.onError)
    transport.on("timeout", this.onTimeout)
    if (engine.idleTimeoutMs > 0) this.setTimer(engine.idleTimeoutMs)
    // A new connection holds a slot under the connection cap: its first head is due within the header timeout from
    // the accept (nginx's client_header_timeout), not the idle timeout meant for kept-alive connections.
    if (engine.headerTimeoutMs > 0) this.headTimer = setTimeout(this.onHeadTimeout, engine.headerTimeoutMs)
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
    const full = this.queue.length > QUEUE_HIGH_WATER ||
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
      if ((this.bodyTarget?.buffered ?? 0) > PROBE_LIMIT) return
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
    const connection = head.headers.get("connection")
    const wish = connection === undefined ? undefined : connectionWish(head.headers.getAll("connection"))
    if (wish === "close") keepAlive = false
    else if (wish === "keep-alive" && engine.protocol11) keepAlive = true
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
  detach(request: Request): Transport | undefined {
    const inFlight = this.current
    if (
      this.transport.detachable === false ||
      inFlight === undefined || inFlight.request !== request || inFlight.responseStarted || inFlight.responded ||
      this.finished || this.queue.length > 0 || !this.decoder.isIdle || inFlight.body !== undefined
    ) return undefined
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
    return transport
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
      return Effect.zipRight(this.writeStream(() => {
        inFlight.keepAlive = false
      }, body.stream, framing), Effect.sync(() => this.closeNow(inFlight)))
    }
    this.writeHeadAndBytes(head, sendBody && body._tag === "Bytes" ? body.bytes : undefined)
    this.closeNow(inFlight)
    return undefined
  }

  /**
   * A response that ends the connection sends its FIN right behind its last byte, in the same tick, before the
   * request's scope closes (a descriptor, a child process): a client deciding whether to reuse the connection
   * (wget) must already see it closed.
   */
  private closeNow(inFlight: InFlight): void {
    if (!inFlight.keepAlive || this.closing) this.finish()
  }

  private readonly destroyTransport = (): void => this.transport.destroy()

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


/** Whether an error's own header fields include `Connection: close`. */
const asksToClose = (headers: HttpError["headers"]): boolean =>
  headers !== undefined &&
  headers.some(([name, value]) => name.toLowerCase() === "connection" && value.toLowerCase() === "close")

