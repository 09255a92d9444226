/**
 * Writing responses to a connection's transport: heads with small bodies coalesced, file bodies from pooled
 * buffers, stream bodies held to their framing, Python's error pages; every write honours the transport's
 * backpressure and the write timeout. The connection core extends it (a base class, not a helper object: no
 * allocation per connection on the hot path).
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { formatLine, requestMessage } from "../AccessLog.js"
import { HttpError } from "../HttpError.js"
import type { HttpVersion } from "../Request.js"
import type { FileBody } from "../Response.js"
import * as Fs from "node:fs"
import type { ConnectionOptions } from "./connectionOptions.js"
import { chunked, errorFramingProblem, type Framing, StreamLimit } from "./framing.js"
import { headProblem, invalidField, isStatusCode } from "./headEncoder.js"
import { bodyOnly, connectionField } from "./persistence.js"
import type { Engine, Transport } from "./transport.js"
import { buildHead, errorHasBody, errorPageBytes, errorTexts } from "./wire.js"

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

/** Why a connection's bytes stopped: the peer, a timeout, the server's shutdown. */
export class ClientGone {
  readonly _tag = "ClientGone"
}

/** The answer to a response whose framing fields do not describe its body. */
export const framingRefused = new HttpError({
  status: 500,
  explain: "The handler produced a response whose framing does not match its body"
})

/** A stream body's bytes went past its `Content-Length` (a value, to stop the stream). */
const bodyOverrun = { _tag: "BodyOverrun" } as const

/** The answer to a response (or error) whose head would be outside HTTP's grammar. */
export const headRefused = new HttpError({ status: 500, explain: "The handler produced a response head outside HTTP's grammar" })

/** A writable's `on`/`off` for `drain` and `close` (a socket, a transport, standard output). */
export interface Drainable {
  on(event: "drain" | "close", listener: () => void): unknown
  off(event: "drain" | "close", listener: () => void): unknown
}

/** Waits for `drain`; fails with `ClientGone` if the stream closes first. */
export const drained = (target: Drainable): Effect.Effect<void, ClientGone> =>
  Effect.async<void, ClientGone>((resume) => {
    const onDrain = () => {
      cleanup()
      resume(Effect.void)
    }
    const onClose = () => {
      cleanup()
      resume(Effect.fail(new ClientGone()))
    }
    const cleanup = () => {
      target.off("drain", onDrain)
      target.off("close", onClose)
    }
    target.on("drain", onDrain)
    target.on("close", onClose)
    return Effect.sync(cleanup)
  })

/** The write side of a connection. */
export class ResponseWriter {
  protected readonly address: string
  /** Nagle's algorithm is off on this connection (`noDelay`). */
  private nagleOff = false

  constructor(protected readonly engine: Engine, protected readonly transport: Transport) {
    this.address = transport.remoteAddress ?? ""
  }

  /**
   * Turns Nagle's algorithm off before a write that another may follow: a small segment behind unacknowledged data
   * would wait for the client's delayed ACK (40 ms on Linux, up to 200 ms elsewhere). A connection whose only write
   * is one whole response, its FIN right behind (the default mode: HTTP/1.0, every connection closed), never needs
   * it, and skips a `setsockopt` per connection.
   */
  protected noDelay(): void {
    if (this.nagleOff) return
    this.nagleOff = true
    this.transport.setNoDelay?.(true)
  }

  protected log(message: string): void {
    const log = this.engine.log
    if (log.enabled !== false) log.write(formatLine(this.address, message))
  }

  /**
   * Writes a `Stream` body as its framing says: chunked by the engine, or held to its `Content-Length` — bytes past
   * the length are never written (the connection closes after the declared ones), and a body that ends short
   * closes the connection, as a file that shrank does.
   */
  protected writeStream(
    onOverrun: () => void,
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
          onOverrun()
          return Effect.void
        }
        this.log(`response body failed: ${String(error)}`)
        return Effect.fail(new ClientGone())
      })
    )
  }

  /** `last`: the connection ends right after this write (nothing else is written on it). */
  protected writeHeadAndBytes(head: string, bytes: Uint8Array | undefined, last: boolean): void {
    const transport = this.transport
    if (!last) this.noDelay()
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
  protected writeFile(body: FileBody): Effect.Effect<void, ClientGone> {
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
  protected writeChunk(chunk: Uint8Array): Effect.Effect<void, ClientGone> {
    if (this.transport.destroyed) return Effect.fail(new ClientGone())
    if (this.transport.write(chunk)) return Effect.void
    const wait = drained(this.transport)
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
  protected sendError(
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
    this.writeHeadAndBytes(head, method === "HEAD" ? undefined : body, !keepAlive)
  }
}
