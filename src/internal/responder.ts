/**
 * A handler's result as a response: the response's framing and keep-alive decision, its head through the one
 * encoder, its body by kind; a failure as Python's error page. A base class of the connection core (no allocation
 * per connection).
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import { requestMessage } from "../AccessLog.js"
import { HttpError } from "../HttpError.js"
import { HTTP_0_9, type Request, type RequestHead, versionAtLeast } from "../Request.js"
import type { Response } from "../Response.js"
import { isBodiless } from "../Status.js"
import type { BodySink } from "./bodySink.js"
import type { ConnectionOptions } from "./connectionOptions.js"
import { responseFraming } from "./framing.js"
import { headProblem } from "./headEncoder.js"
import { bodyOnly, connectionField } from "./persistence.js"
import { ReadFlow } from "./readFlow.js"
import { ClientGone, framingRefused, headRefused } from "./responseWriter.js"
import { buildHead } from "./wire.js"

/** The request being answered. */
export interface InFlight {
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

export /**
 * 403, as Vite and webpack-dev-server answer: a refusal browsers neither retry nor cache. (421 Misdirected Request
 * would invite a retry on another connection, which cannot help.) The Host is not echoed.
 */
const HOST_REFUSED = new HttpError({
  status: 403,
  message: "Host not allowed",
  explain: "This server listens on a loopback address and answers only requests for localhost, a loopback address " +
    "or a name allowed with --allowed-host (DNS rebinding defence)."
})

export abstract class Responder extends ReadFlow {
  /** Shutting down: the response in progress is the last. */
  protected closing = false

  /** The request being answered. */
  protected current: InFlight | undefined = undefined

  /** Ends our side after what is queued has been written. */
  protected abstract finish(afterEnd?: () => void): void

  /** Whether the connection may stay open after this request, as its version and `Connection` field ask. */
  protected wantsKeepAlive(head: RequestHead, connection: ConnectionOptions): boolean {
    const engine = this.engine
    const version = head.version
    // Python's parse_request: close unless both sides speak 1.1, then the Connection header decides.
    let keepAlive = version !== HTTP_0_9 && engine.protocol11 && versionAtLeast(version, 1, 1)
    // RFC 9112 §9.6: a `close` anywhere in the list closes (Python compares the whole value).
    if (connection.close) keepAlive = false
    else if (connection.keepAlive && engine.protocol11) keepAlive = true
    // RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 leaves the framing in doubt; close after the response (the decoder
    // reads nothing after the body either).
    if (head.framing === "chunked" && !versionAtLeast(version, 1, 1)) keepAlive = false
    return keepAlive
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
   * Answers a handler's failure: its `HttpError` as Python's error page, a defect as 500. Returns an Effect only
   * when nothing can be written (interruption, or a response already under way).
   */
  protected failed(inFlight: InFlight, cause: Cause.Cause<HttpError>): Effect.Effect<void, ClientGone> | undefined {
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
  protected respond(inFlight: InFlight, response: Response): Effect.Effect<void, ClientGone> | undefined {
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
      this.noDelay()
      if (head !== "") this.transport.write(head, "latin1")
      return Effect.zipRight(this.writeFile(body), Effect.sync(() => this.closeNow(inFlight)))
    }
    if (body._tag === "Stream" && sendBody) {
      this.noDelay()
      if (head !== "") this.transport.write(head, "latin1")
      return Effect.zipRight(this.writeStream(() => {
        inFlight.keepAlive = false
      }, body.stream, framing), Effect.sync(() => this.closeNow(inFlight)))
    }
    this.writeHeadAndBytes(
      head,
      sendBody && body._tag === "Bytes" ? body.bytes : undefined,
      this.endsWith(inFlight)
    )
    this.closeNow(inFlight)
    return undefined
  }

  /**
   * A response that ends the connection sends its FIN right behind its last byte, in the same tick, before the
   * request's scope closes (a descriptor, a child process): a client deciding whether to reuse the connection
   * (wget) must already see it closed.
   */
  protected closeNow(inFlight: InFlight): void {
    if (this.endsWith(inFlight)) this.finish()
  }

  /** Whether the connection ends with this response: not kept alive, or the server is stopping. */
  private endsWith(inFlight: InFlight): boolean {
    return !inFlight.keepAlive || this.closing
  }
}

/** Whether an error's own header fields include `Connection: close`. */
const asksToClose = (headers: HttpError["headers"]): boolean =>
  headers !== undefined &&
  headers.some(([name, value]) => name.toLowerCase() === "connection" && value.toLowerCase() === "close")

