/**
 * A byte-exact TCP client for socket tests: it sends exactly what the test
 * wrote (no HTTP client normalising requests) and hands back exactly what the
 * server sent.
 */
import * as net from "node:net"
import { Data, Duration, Effect, Option } from "effect"
import { parseResponses, type ParsedResponse } from "./responseParser.js"

export { httpRequest, type RequestHeaders } from "./httpRequest.js"
export { type Header, type ParsedResponse, type ParseOptions, type ParseResult, parseResponses } from "./responseParser.js"

/** The connection could not be made or failed in a way that is not the server closing it. */
export class RawClientError extends Data.TaggedError("RawClientError")<{
  readonly message: string
  readonly cause?: unknown
}> {}

/** What {@link sendRaw} observed on one connection. */
export interface RawExchange {
  /** Every byte received, in order. */
  readonly bytes: Buffer
  /** The server sent FIN or RST before we stopped reading. */
  readonly closedByServer: boolean
  /** `timeoutMs` elapsed before the `until` condition held. */
  readonly timedOut: boolean
  /**
   * Complete responses in `bytes`. Close-delimited ones count as complete
   * only when the server closed.
   */
  readonly responses: Array<ParsedResponse>
  /** Received bytes after the last complete response (e.g. a truncated body). */
  readonly rest: Buffer
}

/** Options for {@link sendRaw}. */
export interface SendRawOptions {
  /** Default `127.0.0.1`. */
  readonly host?: string
  readonly port: number
  /** Written in order; strings are latin1 so every byte is under the test's control. */
  readonly chunks: ReadonlyArray<Uint8Array | string>
  /** Pause between chunks so each one reaches the server as its own read. */
  readonly delayBetweenChunksMs?: number
  /** `end()` our write side after the last chunk (the server sees EOF). Default `false`. */
  readonly halfClose?: boolean
  /** Overall budget for connect, send and receive. Default 5000. */
  readonly timeoutMs?: number
  /**
   * When to stop reading: `"close"` (default) waits for the server's FIN/RST;
   * `{ responses: n }` stops as soon as n responses are complete, counting
   * interim 1xx responses too (the server closing first also stops it).
   */
  readonly until?: "close" | { readonly responses: number }
  /** Passed to {@link parseResponses}: which requests were HEAD. */
  readonly headRequests?: ReadonlyArray<boolean>
}

/** Mutable receive state shared by the socket listeners and the waiting fiber. */
interface Inbox {
  readonly chunks: Array<Buffer>
  closedByServer: boolean
  error: Error | undefined
  /** Set just before we destroy the socket, so our own close is not blamed on the server. */
  stopped: boolean
  /** Called on every socket event so a waiter can re-check its condition. */
  notify: () => void
}

/** Errors that mean "the peer is gone", which tests observe rather than fail on. */
const isPeerClosed = (error: Error): boolean => {
  const code = (error as NodeJS.ErrnoException).code
  return code === "ECONNRESET" || code === "EPIPE" || code === "ERR_STREAM_WRITE_AFTER_END" ||
    code === "ERR_STREAM_DESTROYED"
}

const stop = (inbox: Inbox, socket: net.Socket): void => {
  inbox.stopped = true
  socket.destroy()
}

/**
 * Opens the socket in the current scope. Listeners are attached before the
 * connection exists, so no byte and no 'error' event (which would crash the
 * process if unhandled) can slip between connect and reading.
 */
const connect = (host: string, port: number, inbox: Inbox) =>
  Effect.acquireRelease(
    Effect.async<net.Socket, RawClientError>((resume) => {
      const socket = net.connect({ host, port })
      let connected = false
      socket.on("data", (data: Buffer) => {
        if (inbox.stopped) return
        inbox.chunks.push(data)
        inbox.notify()
      })
      socket.on("end", () => {
        if (inbox.stopped) return
        inbox.closedByServer = true
        inbox.notify()
      })
      socket.on("close", () => {
        // Before we stop, a 'close' without 'end' or an error still means the
        // server is gone.
        if (inbox.stopped) return
        inbox.closedByServer = true
        inbox.notify()
      })
      socket.on("error", (error: Error) => {
        if (inbox.stopped) return
        if (!connected) {
          resume(Effect.fail(new RawClientError({ message: `connect to ${host}:${port} failed: ${error.message}`, cause: error })))
          return
        }
        if (isPeerClosed(error)) inbox.closedByServer = true
        else inbox.error = error
        inbox.notify()
      })
      socket.once("connect", () => {
        connected = true
        resume(Effect.succeed(socket))
      })
      // Interrupted (e.g. by the timeout) while connecting.
      return Effect.sync(() => stop(inbox, socket))
    }),
    (socket) => Effect.sync(() => stop(inbox, socket))
  )

/** Writes one chunk and waits until Node handed it to the kernel; `false` if the server is gone. */
const write = (socket: net.Socket, inbox: Inbox, chunk: Uint8Array | string) =>
  Effect.async<boolean, RawClientError>((resume) => {
    if (inbox.closedByServer || socket.destroyed || !socket.writable) {
      resume(Effect.succeed(false))
      return
    }
    const data = typeof chunk === "string" ? Buffer.from(chunk, "latin1") : chunk
    socket.write(data, (error) => {
      if (error === undefined || error === null) resume(Effect.succeed(true))
      else if (isPeerClosed(error)) resume(Effect.succeed(false))
      else resume(Effect.fail(new RawClientError({ message: `write failed: ${error.message}`, cause: error })))
    })
  })

const send = (socket: net.Socket, inbox: Inbox, options: SendRawOptions) =>
  Effect.gen(function*() {
    for (const [index, chunk] of options.chunks.entries()) {
      if (index > 0 && options.delayBetweenChunksMs !== undefined && options.delayBetweenChunksMs > 0) {
        yield* Effect.sleep(Duration.millis(options.delayBetweenChunksMs))
      }
      // The server may legitimately close mid-request (e.g. an early error
      // reply); the test then wants to see what it sent, not a write error.
      if (!(yield* write(socket, inbox, chunk))) return
    }
    if (options.halfClose === true && !socket.destroyed) socket.end()
  })

/** Resolves when the server closed or the `until` condition holds; fails on a real socket error. */
const awaitDone = (inbox: Inbox, options: SendRawOptions) =>
  Effect.async<void, RawClientError>((resume) => {
    const until = options.until ?? "close"
    const check = () => {
      if (inbox.error !== undefined) {
        resume(Effect.fail(new RawClientError({ message: `socket error: ${inbox.error.message}`, cause: inbox.error })))
        return true
      }
      if (inbox.closedByServer) {
        resume(Effect.void)
        return true
      }
      if (until !== "close") {
        const parseOptions = { complete: false, ...(options.headRequests === undefined ? {} : { headRequests: options.headRequests }) }
        const { responses } = parseResponses(Buffer.concat(inbox.chunks), parseOptions)
        if (responses.length >= until.responses) {
          resume(Effect.void)
          return true
        }
      }
      return false
    }
    if (check()) return
    inbox.notify = () => {
      if (check()) inbox.notify = () => {}
    }
    return Effect.sync(() => {
      inbox.notify = () => {}
    })
  })

/**
 * Connects, writes `chunks` byte for byte, and collects the reply until the
 * `until` condition, the server closing, or the timeout. A timeout is an
 * observation (`timedOut: true`), not an error; only a failed connect or an
 * unexpected socket error fails. The socket is destroyed in every case,
 * interruption included.
 */
export const sendRaw = (options: SendRawOptions): Effect.Effect<RawExchange, RawClientError> =>
  Effect.suspend(() => {
    const inbox: Inbox = { chunks: [], closedByServer: false, error: undefined, stopped: false, notify: () => {} }
    let connected = false
    const exchange = Effect.gen(function*() {
      const socket = yield* connect(options.host ?? "127.0.0.1", options.port, inbox)
      connected = true
      yield* send(socket, inbox, options)
      yield* awaitDone(inbox, options)
    })
    return Effect.scoped(exchange.pipe(Effect.timeoutOption(Duration.millis(options.timeoutMs ?? 5000)))).pipe(
      Effect.flatMap((outcome) => {
        if (!connected) {
          return Effect.fail(new RawClientError({ message: `connect to port ${options.port} timed out` }))
        }
        const bytes = Buffer.concat(inbox.chunks)
        const { responses, rest } = parseResponses(bytes, {
          // Only a close tells us that a close-delimited body is whole.
          complete: inbox.closedByServer,
          ...(options.headRequests === undefined ? {} : { headRequests: options.headRequests })
        })
        return Effect.succeed({
          bytes,
          closedByServer: inbox.closedByServer,
          timedOut: Option.isNone(outcome),
          responses,
          rest
        })
      })
    )
  })
