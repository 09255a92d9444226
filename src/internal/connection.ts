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
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import type * as Scope from "effect/Scope"
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
import { BodySink } from "./bodySink.js"
import { BodyRateDeadline } from "./bodyRate.js"
import { connectionOptions } from "./connectionOptions.js"
import { requestAuthority } from "./hostCheck.js"
import { IncomingRequest } from "./incomingRequest.js"
import { pyRepr } from "./pythonText.js"
import { HOST_REFUSED, type InFlight, Responder } from "./responder.js"
import { ClientGone } from "./responseWriter.js"
import type { Engine, Transport } from "./transport.js"

export type { Engine, Transport } from "./transport.js"
export { detachSocket, readBody, readWholeBody, respondNow } from "./incomingRequest.js"

const CONTINUE_LINE = (protocolVersion: string) => protocolVersion + " 100 Continue\r\n\r\n"
/** Buffered request-body bytes above which reading from the socket pauses. */
const BODY_HIGH_WATER = 64 * 1024
/** Pipelined requests decoded ahead of the one being answered, above which reading pauses. */
const QUEUE_HIGH_WATER = 32
/**
 * Response bytes the transport holds unsent above which no further pipelined request is answered and reading
 * pauses until it drains: answers written at once (bytes, error pages) would otherwise pile up in memory for a client
 * that pipelines and never reads (node:http stops parsing the same way). Not below the Stream driver's
 * `OUTPUT_HIGH_WATER`, so a transport this full has refused a write and will emit `drain`.
 */
const WRITE_HIGH_WATER = 64 * 1024

/** After we close our side, wait this long for the peer's FIN before destroying the socket. */
const LINGER_MS = 2000

type QueueItem =
  | { readonly _tag: "Request"; readonly head: RequestHead; readonly body: BodySink | undefined }
  | { readonly _tag: "Error"; readonly error: RequestError }
  | { readonly _tag: "Close" }

/**
 * A live connection. Create it with the transport already connected; it reads, answers and closes by itself and
 * calls `onClosed` once when the socket is gone.
 */
export class Connection extends Responder {
  protected readonly decoder: Decoder
  private readonly queue: Array<QueueItem> = []
  private readEnded = false
  /** The socket was handed over (a WebSocket upgrade): nothing more is read or written here. */
  private upgraded = false
  /** `next` is running further up the stack. */
  private advancing = false
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

  /**
   * Forced stop: interrupt the request in progress (its scope closes) and destroy the socket. An unfinished body fails
   * first: a handler waiting on it uninterruptibly (the platform request's body, read once for all its readers) is
   * released instead of holding the stop until the body timeout.
   */
  abort(): Effect.Effect<void> {
    const fiber = this.current?.fiber
    const body = this.current?.body
    this.closing = true
    if (body !== undefined && !body.ended) {
      body.fail(new RequestBodyError({ reason: "ClientClosed", message: "the server is stopping" }))
    }
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
    this.headDeadline()
  }

  /** Arms the head deadline while a head is incomplete, clears it otherwise. */
  private headDeadline(): void {
    // A head in one segment (every ordinary client) never arms the deadline.
    if (this.decoder.isReadingHead) this.armHeadTimer()
    else if (this.headTimer !== undefined) this.clearHeadTimer()
  }

  /** The unsent responses have drained: answer the next queued requests and read again. */
  private readonly onDrain = (): void => {
    this.transport.off("drain", this.onDrain)
    this.writeStalled = false
    if (this.finished) return
    this.updateFlow()
    if (this.current === undefined) this.next()
  }

  protected readonly onHeadTimeout = (): void => {
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

  protected get pipelineFull(): boolean {
    return this.queue.length > QUEUE_HIGH_WATER
  }

  /** Pauses reading while too much is buffered ahead of the handler; resumes when it has caught up. */
  private readonly updateFlow = (): void => {
    if (this.finished) return
    const body = this.bodyTarget
    const full = this.writeStalled || this.pipelineFull || this.decoder.heldBytes > BODY_HIGH_WATER ||
      (body !== undefined && !body.discarding && body.buffered > BODY_HIGH_WATER)
    this.flow(full, this.current !== undefined && body !== undefined && this.engine.bodyTimeoutMs > 0)
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
      if (this.writeStalled) return
      if (this.queue.length > 0 && (this.transport.writableLength ?? 0) > WRITE_HIGH_WATER) {
        // The client is not taking its answers: wait for them to drain (bounded by the write timeout).
        this.writeStalled = true
        this.transport.on("drain", this.onDrain)
        this.setTimer(this.engine.writeTimeoutMs)
        return this.updateFlow()
      }
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
    const connection = connectionOptions(head.headers.getAll("connection"))
    const keepAlive = this.wantsKeepAlive(head, connection)
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
    if (wantsContinue && hook === undefined) {
      this.noDelay()
      transport.write(CONTINUE_LINE(engine.protocolVersion), "latin1")
    }

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
        this.noDelay()
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
   * Hands the socket over for a protocol switch (a WebSocket upgrade): no more reading, timeouts or responses here;
   * the handler's fiber is still interrupted when the socket closes. `undefined` unless the request asked for the
   * switch (the decoder holds what followed it: `asksUpgrade`), or when a response has begun.
   */
  detach(request: Request): { readonly socket: Transport; readonly head: Buffer } | undefined {
    const inFlight = this.current
    if (
      this.transport.detachable === false ||
      inFlight === undefined || inFlight.request !== request || inFlight.responseStarted || inFlight.responded ||
      this.finished || this.queue.length > 0 || !this.decoder.isHeld ||
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
    // The new protocol writes as it pleases.
    this.noDelay()
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
    if (this.decoder.isHeld) {
      this.handle(this.decoder.release())
      // Held bytes may hold the start of the next head: its deadline, which no read may arm later (a silent client).
      this.headDeadline()
    }
    this.updateFlow()
    this.next()
    // Between requests now (unless the next one was already queued): reclaimable under the connection cap.
    if (this.current === undefined && !this.finished) this.engine.idle?.enter(this)
  }

  private readonly destroyTransport = (): void => this.transport.destroy()

  /** Ends our side after what is queued has been written; the socket is destroyed when the peer closes too. */
  protected finish(afterEnd?: () => void): void {
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
