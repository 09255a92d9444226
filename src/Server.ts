/**
 * The server: a scoped listener that hands each connection to the engine. Python's `HTTPServer` (one connection at
 * a time) and `ThreadingHTTPServer` (concurrent connections) are two values of `mode`.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Net from "node:net"
import * as Tls from "node:tls"
import type { AccessLog } from "./AccessLog.js"
import type { DecoderLimits } from "./Decoder.js"
import type { Handlers } from "./Handler.js"
import { Connection, type Transport } from "./internal/connection.js"
import { ENGINE_VERSION, makeEngine, millis } from "./internal/engine.js"

/**
 * This package's version, sent in `Server` as Python sends `server_version`.
 *
 * @since 0.1.0
 * @category constants
 */
export const VERSION = ENGINE_VERSION

/**
 * How connections are served: `"threading"` serves them concurrently (Python's `ThreadingHTTPServer`, the
 * command line's choice), `"single"` one at a time while the next waits (Python's `HTTPServer`).
 *
 * @since 0.1.0
 * @category options
 */
export type Mode = "threading" | "single"

/**
 * Server settings. Every field is optional; the defaults are Python's where Python has one.
 *
 * @since 0.1.0
 * @category options
 */
export interface ServerOptions {
  /** Address to bind; `"::"` is dual-stack (IPv4 clients appear as `::ffff:a.b.c.d`). Default `"127.0.0.1"`. */
  readonly host?: string
  /** Port; `0` picks a free one (read it from `Server.address`). Default 8000. */
  readonly port?: number
  /** With `host: "::"`, refuse IPv4 clients. */
  readonly ipv6Only?: boolean
  /** Python's `protocol_version`: `"HTTP/1.1"` enables keep-alive and `100 Continue`. Default `"HTTP/1.0"`. */
  readonly protocolVersion?: "HTTP/1.0" | "HTTP/1.1"
  /**
   * Python's `server_version`. Default `effect-httpd/0.1.0`. With `sysVersion`, the `Server` field's value: outside
   * RFC 9110's `field-value` grammar (control characters, anything above U+00FF), the server does not start.
   */
  readonly serverVersion?: string
  /** Python's `sys_version`. Default `Node.js/<version>`. */
  readonly sysVersion?: string
  /** Default `"threading"`. */
  readonly mode?: Mode
  /** Connections served at once; more wait, unread, until one closes. Default: 1 in `"single"` mode, else none. */
  readonly maxConnections?: number
  /** On shutdown, how long requests in flight may take before they are interrupted. Default 5 seconds. */
  readonly shutdownTimeout?: Duration.DurationInput
  /** Close a connection with no request in progress after this long (also a slow head). Default 120 seconds. */
  readonly idleTimeout?: Duration.DurationInput
  /** Close a connection whose request head has not been completed this long after its first byte. Default 30 seconds. */
  readonly headerTimeout?: Duration.DurationInput
  /** Close a connection whose request body sends nothing for this long. Default: `idleTimeout`. */
  readonly bodyTimeout?: Duration.DurationInput
  /** Drop a client that reads none of a response for this long. Default 60 seconds. */
  readonly writeTimeout?: Duration.DurationInput
  /** Largest unread request body skipped to keep a connection alive. Default 64 KiB. */
  readonly maxDrainBytes?: number
  /**
   * Keep a keep-alive connection open after an error a handler returns (a 404, a 403, a 501 for an unknown
   * method…), as node:http, nginx and most servers do. Default `false`: Python's `send_error` adds
   * `Connection: close` to every error. Errors the decoder finds (400, 413, 414, 431) close either way, since the
   * request's framing cannot be trusted; an unread body is drained or closes the connection as after any response.
   */
  readonly keepAliveOnError?: boolean
  /** Request-line, header and body limits; Python's by default. */
  readonly limits?: Partial<DecoderLimits>
  /** Python's `error_message_format` (`%(code)d`, `%(message)s`, `%(explain)s`). */
  readonly errorMessageFormat?: string
  /** Python's `error_content_type` (a `field-value`, checked when the server starts, as `serverVersion`). */
  readonly errorContentType?: string
  /** Serve HTTPS with these Node `tls` options (certificate, key, passphrase…). */
  readonly tls?: Tls.TlsOptions
}

/**
 * Where the server listens.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServerAddress {
  readonly hostname: string
  readonly port: number
  readonly family: "IPv4" | "IPv6"
}

/**
 * A running server.
 *
 * @since 0.1.0
 * @category models
 */
export interface Server {
  readonly address: ServerAddress
  readonly secure: boolean
  /** Connections being served now (waiting ones excluded). */
  readonly activeConnections: () => number
}

/**
 * The running server as a service (what `layer` provides).
 *
 * @since 0.1.0
 * @category tags
 */
export class HttpServer extends Context.Tag("effect-httpd/Server")<HttpServer, Server>() {}

/**
 * The server could not listen.
 *
 * @since 0.1.0
 * @category errors
 */
export class ServeError extends Data.TaggedError("ServeError")<{
  readonly reason: "AddressInUse" | "PermissionDenied" | "AddressNotAvailable" | "InvalidTls" | "Unknown"
  readonly message: string
  readonly cause: unknown
}> {}

const listenError = (error: NodeJS.ErrnoException, host: string, port: number): ServeError => {
  const where = `${host.includes(":") ? `[${host}]` : host}:${port}`
  switch (error.code) {
    case "EADDRINUSE":
      return new ServeError({ reason: "AddressInUse", message: `address already in use: ${where}`, cause: error })
    case "EACCES":
      return new ServeError({ reason: "PermissionDenied", message: `permission denied: ${where}`, cause: error })
    case "EADDRNOTAVAIL":
    case "EAFNOSUPPORT":
    case "ENOTFOUND":
      return new ServeError({ reason: "AddressNotAvailable", message: `cannot assign address: ${where}`, cause: error })
    default:
      return new ServeError({ reason: "Unknown", message: `cannot listen on ${where}: ${error.message}`, cause: error })
  }
}


/**
 * Starts a server in the current scope. Closing the scope stops accepting, lets requests in flight finish for up to
 * `shutdownTimeout`, interrupts the rest (their scopes close: files, child processes) and destroys every socket.
 *
 * We listen with `node:net`/`node:tls` directly rather than `NodeSocketServer`: it cannot serve TLS, and its
 * shutdown closes the listener only after the connections, so a connection accepted mid-shutdown is never served
 * and never closed.
 *
 * @example
 * ```ts
 * import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
 * import { Console, Effect, Layer } from "effect"
 * import * as AccessLog from "effect-httpd/AccessLog"
 * import * as Handler from "effect-httpd/Handler"
 * import * as Response from "effect-httpd/Response"
 * import * as Server from "effect-httpd/Server"
 *
 * const program = Effect.gen(function*() {
 *   const server = yield* Server.make({ port: 0 }) // 0: any free port
 *   yield* Console.log(`listening on ${Server.url(server)}`)
 *   yield* Effect.never // until interrupted (Ctrl-C): the scope closes, the server shuts down
 * })
 *
 * program.pipe(
 *   Effect.scoped,
 *   Effect.provide(Layer.merge(
 *     Handler.layer({ GET: () => Effect.succeed(Response.text("hello\n")) }),
 *     AccessLog.layerStderr
 *   )),
 *   NodeRuntime.runMain
 * )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: ServerOptions = {}
): Effect.Effect<Server, ServeError, Scope.Scope | Handlers | AccessLog> =>
  Effect.gen(function*() {
    const host = options.host ?? "127.0.0.1"
    const port = options.port ?? 8000
    const secure = options.tls !== undefined
    const engine = yield* makeEngine(options, secure)
    const log = engine.log
    const maxConnections = options.maxConnections ?? (options.mode === "single" ? 1 : Infinity)
    const active = new Set<Connection>()
    const waiting: Array<Net.Socket> = []
    let stopping = false
    let onEmpty: (() => void) | undefined

    const serve = (socket: Net.Socket) => {
      active.add(new Connection(engine, socket as Transport, onClosed))
      // A socket that waited for its turn was paused; a `data` listener alone does not resume it.
      socket.resume()
    }
    const onClosed = (connection: Connection) => {
      active.delete(connection)
      while (!stopping && active.size < maxConnections && waiting.length > 0) {
        const next = waiting.shift()!
        if (!next.destroyed) serve(next)
      }
      if (active.size === 0) onEmpty?.()
    }
    const onConnection = (socket: Net.Socket) => {
      if (stopping) {
        socket.destroy()
        return
      }
      // No peer address: `getpeername` failed, the client reset the connection while it waited to be accepted (a
      // busy event loop). Its request may still be readable, but nobody is there to answer: work for nothing.
      if (socket.remoteAddress === undefined) {
        socket.destroy()
        return
      }
      socket.setNoDelay(true)
      if (active.size < maxConnections) serve(socket)
      else {
        socket.pause()
        waiting.push(socket)
        socket.once("close", () => {
          const i = waiting.indexOf(socket)
          if (i >= 0) waiting.splice(i, 1)
        })
      }
    }

    const listener: Net.Server = yield* Effect.try({
      try: () =>
        secure
          // ALPN: say HTTP/1.1 so clients that offer h2 settle on what we speak.
          ? Tls.createServer({ ALPNProtocols: ["http/1.1"], ...options.tls, allowHalfOpen: true } as Tls.TlsOptions, onConnection)
          : Net.createServer({ allowHalfOpen: true, pauseOnConnect: false }, onConnection),
      // Bad certificate or key material throws synchronously from `createServer`.
      catch: (cause) =>
        new ServeError({
          reason: "InvalidTls",
          message: `invalid TLS configuration: ${cause instanceof Error ? cause.message : String(cause)}`,
          cause
        })
    })
    // TLS handshake failures and client resets on the listener are the client's problem, not the server's.
    listener.on("tlsClientError", () => {})

    yield* Effect.acquireRelease(
      Effect.async<void, ServeError>((resume) => {
        const onError = (error: NodeJS.ErrnoException) => resume(Effect.fail(listenError(error, host, port)))
        listener.once("error", onError)
        listener.listen({ host, port, ipv6Only: options.ipv6Only ?? false }, () => {
          listener.off("error", onError)
          listener.on("error", () => {})
          resume(Effect.void)
        })
      }),
      () =>
        Effect.gen(function*() {
          stopping = true
          // Stop accepting now (new clients are refused, not accepted and dropped); the callback fires once every
          // connection is gone.
          const closing = new Promise<void>((resolve) => listener.close(() => resolve()))
          for (const socket of waiting.splice(0)) socket.destroy()
          for (const connection of active) connection.shutdown()
          if (active.size > 0) {
            // Finalizers are uninterruptible: without `interruptible` the timeout could never cut the wait short.
            yield* Effect.async<void>((resume) => {
              onEmpty = () => resume(Effect.void)
              if (active.size === 0) resume(Effect.void)
            }).pipe(Effect.interruptible, Effect.timeout(millis(options.shutdownTimeout, 5_000)), Effect.ignore)
          }
          yield* Effect.forEach([...active], (connection) => connection.abort(), { concurrency: "unbounded", discard: true })
          yield* Effect.promise(() => closing)
          log.flush()
        })
    )

    const bound = listener.address() as Net.AddressInfo
    return {
      address: { hostname: bound.address, port: bound.port, family: bound.family === "IPv6" ? "IPv6" : "IPv4" },
      secure,
      activeConnections: () => active.size
    }
  })

/**
 * The server as a layer: listening while the layer is alive.
 *
 * @example
 * ```ts
 * import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
 * import { Effect, Layer } from "effect"
 * import * as AccessLog from "effect-httpd/AccessLog"
 * import * as Handler from "effect-httpd/Handler"
 * import * as Response from "effect-httpd/Response"
 * import * as Server from "effect-httpd/Server"
 *
 * const handlers = Handler.layer({ GET: (request) => Effect.succeed(Response.text(`you asked for ${request.path}\n`)) })
 *
 * Server.layer({ port: 8000, protocolVersion: "HTTP/1.1" }).pipe(
 *   Layer.provide(Layer.merge(handlers, AccessLog.layerStderr)),
 *   Layer.launch,
 *   NodeRuntime.runMain
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: ServerOptions = {}): Layer.Layer<HttpServer, ServeError, Handlers | AccessLog> =>
  Layer.scoped(HttpServer, make(options))

/**
 * The URL of a running server, with brackets for IPv6 literals.
 *
 * @since 0.1.0
 * @category utils
 */
export const url = (server: Server, path = "/"): string => {
  const { hostname, port } = server.address
  const host = hostname.includes(":") ? `[${hostname}]` : hostname
  return `${server.secure ? "https" : "http"}://${host}:${port}${path}`
}
