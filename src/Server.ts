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
import { dual } from "effect/Function"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Net from "node:net"
import * as Tls from "node:tls"
import type { AccessLog } from "./AccessLog.js"
import type { DecoderLimits } from "./Decoder.js"
import type { Handlers } from "./Handler.js"
import { Connection, type Engine, type Transport } from "./internal/connection.js"
import { ENGINE_VERSION, makeEngine, millis } from "./internal/engine.js"
import { hostPolicy } from "./internal/hostCheck.js"
import { IdleConnections } from "./internal/idleConnections.js"
import * as StreamDriver from "./internal/streamDriver.js"
import { makeTlsGate, plainHttpEngine, type TlsGate } from "./internal/tlsGate.js"

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
  /**
   * Connections served at once (a TLS connection counts from when it is accepted, before its handshake); more wait,
   * unread, until one closes, up to {@link MAX_WAITING} of them; beyond that a new connection is closed at once.
   * Default: 1 in `"single"` mode, else {@link DEFAULT_MAX_CONNECTIONS}.
   */
  readonly maxConnections?: number
  /** On shutdown, how long requests in flight may take before they are interrupted. Default 5 seconds. */
  readonly shutdownTimeout?: Duration.DurationInput
  /** Close a connection with no request in progress after this long (also a slow head). Default 120 seconds. */
  readonly idleTimeout?: Duration.DurationInput
  /**
   * Close a connection whose request head has not been completed this long after its first byte, or, for its first
   * request, after it was accepted. Default 30 seconds.
   */
  readonly headerTimeout?: Duration.DurationInput
  /** Close a connection whose request body sends nothing for this long. Default: `idleTimeout`. */
  readonly bodyTimeout?: Duration.DurationInput
  /**
   * Close a connection whose request body arrives slower than this many bytes a second on average: from the body's
   * start, it has `bodyTimeout` plus one second per `bodyMinRate` bytes received (Apache's `mod_reqtimeout`
   * `MinRate`); time we stopped reading (our own backpressure) does not count. Default 500; 0 disables.
   */
  readonly bodyMinRate?: number
  /**
   * Close a TLS connection that has not completed its handshake this long after it was accepted (a connection that
   * closes first is closed at once). Default: `headerTimeout` (else `idleTimeout`).
   */
  readonly handshakeTimeout?: Duration.DurationInput
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
  /**
   * DNS-rebinding defence. While listening on a loopback address (127.0.0.0/8, ::1), a request whose `Host` (or
   * absolute-form authority) is not `localhost`, a `.localhost` name or a loopback address gets 403, unless it is
   * one of these names (compared without case and port; `"*"` allows every name). A request without `Host`
   * (HTTP/1.0) is served. Not applied on other addresses.
   */
  readonly allowedHosts?: ReadonlyArray<string>
}

/**
 * The default cap on connections served at once in `"threading"` mode: nginx's usual `worker_connections`. Each
 * connection holds one descriptor and may hold a file or a CGI process' pipes while it is answered; Node raises its
 * descriptor limit to the hard limit at start-up (commonly 4096 or far more), which leaves room for those.
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_MAX_CONNECTIONS = 1024

/**
 * Connections over the cap wait, unread, in a queue this long (Node's default listen backlog); more are closed.
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_WAITING = 511

/**
 * The TLS 1.2 cipher suites offered by default: forward-secret (ECDHE) with AEAD (AES-GCM, ChaCha20-Poly1305) only,
 * as Python 3.14's server context; TLS 1.3's suites are all of that kind. No static-RSA key exchange
 * (`AES128-GCM-SHA256`), no CBC (`AES128-SHA`, `ECDHE-RSA-AES128-SHA`). A `tls.ciphers` option replaces it.
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_CIPHERS =
  "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256:ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL"

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
    const maxConnections = options.maxConnections ?? (options.mode === "single" ? 1 : DEFAULT_MAX_CONNECTIONS)
    const active = new Set<Connection>()
    const waiting: Array<Net.Socket> = []
    let gate: TlsGate | undefined
    let stopping = false
    let onEmpty: (() => void) | undefined
    // Under the cap, newcomers get the slots of keep-alive connections idle between requests, longest idle first.
    const idle = new IdleConnections(() => waiting.length > 0)
    engine.idle = idle

    const inUse = () => active.size + (gate?.pending() ?? 0)
    const serve = (socket: Net.Socket, connectionEngine: Engine = engine) => {
      active.add(new Connection(connectionEngine, socket as Transport, onClosed))
      // A socket that waited for its turn was paused; a `data` listener alone does not resume it.
      socket.resume()
    }
    // A TLS port's sockets pass the gate (first bytes, handshake) before they are served.
    const admit = (socket: Net.Socket) => (gate === undefined ? serve(socket) : gate.accept(socket))
    const onSlotFree = () => {
      while (!stopping && inUse() < maxConnections && waiting.length > 0) {
        const next = waiting.shift()!
        if (!next.destroyed) admit(next)
      }
      if (inUse() === 0) onEmpty?.()
    }
    const onClosed = (connection: Connection) => {
      active.delete(connection)
      onSlotFree()
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
      // A TLS session may still be sending its last handshake records (a session ticket) when the first response is
      // written; a plain connection turns Nagle off itself, before a second write (`ResponseWriter.noDelay`).
      if (secure) socket.setNoDelay(true)
      if (inUse() < maxConnections) admit(socket)
      else if (waiting.length < MAX_WAITING) {
        socket.pause()
        waiting.push(socket)
        // Its 'close' frees the slot for the first waiting socket (onClosed).
        idle.closeOldest()
        socket.once("close", () => {
          const i = waiting.indexOf(socket)
          if (i >= 0) waiting.splice(i, 1)
        })
      } else socket.destroy()
    }

    const listener: Net.Server = yield* Effect.try({
      try: () => {
        const server = Net.createServer({ allowHalfOpen: true, pauseOnConnect: false }, onConnection)
        if (secure) {
          const tlsServer = Tls.createServer({
            // ALPN: say HTTP/1.1 so clients that offer h2 settle on what we speak.
            ALPNProtocols: ["http/1.1"],
            minVersion: "TLSv1.2",
            ciphers: DEFAULT_CIPHERS,
            ...options.tls
          })
          gate = makeTlsGate({
            tlsServer,
            deadlineMs: millis(
              options.handshakeTimeout,
              engine.headerTimeoutMs > 0 ? engine.headerTimeoutMs : engine.idleTimeoutMs
            ),
            onSecure: (socket) => serve(socket),
            onPlainHttp: (socket) => serve(socket, plainHttpEngine(engine)),
            onDropped: onSlotFree
          })
        }
        return server
      },
      // Bad certificate or key material throws synchronously from `createServer`.
      catch: (cause) =>
        new ServeError({
          reason: "InvalidTls",
          message: `invalid TLS configuration: ${cause instanceof Error ? cause.message : String(cause)}`,
          cause
        })
    })

    yield* Effect.acquireRelease(
      Effect.async<void, ServeError>((resume) => {
        const onError = (error: NodeJS.ErrnoException) => resume(Effect.fail(listenError(error, host, port)))
        listener.once("error", onError)
        listener.listen({ host, port, ipv6Only: options.ipv6Only ?? false }, () => {
          listener.off("error", onError)
          listener.on("error", () => {})
          // Before the first connection can be accepted: the rule depends on the address actually bound.
          const bound = listener.address() as Net.AddressInfo
          engine.hostPolicy = hostPolicy(bound.address, options.allowedHosts)
          // Bound to one address, every connection's local endpoint is the listener's: no system call per connection.
          if (bound.address !== "0.0.0.0" && bound.address !== "::") {
            engine.localEndpoint = { address: bound.address, port: bound.port }
          }
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
          // Before their handshake, connections have nothing in flight: they close now.
          gate?.closeAll()
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
 * Options of `serveStream`: the server's (the listener's own — `host`, `port`, `tls`, `mode`, `maxConnections`,
 * `shutdownTimeout` — do not apply), plus the endpoints the connection reports to handlers and the access log.
 *
 * @since 0.1.0
 * @category options
 */
export interface StreamOptions extends ServerOptions {
  /** The client's address (`request.remoteAddress`, the log's first field). Default `""`. */
  readonly remoteAddress?: string
  readonly remotePort?: number
  /** The server's address; a loopback one applies the DNS-rebinding rule (see `allowedHosts`), as on a socket. */
  readonly localAddress?: string
  readonly localPort?: number
  /** Whether the bytes arrived over TLS (`request.secure`). Default false. */
  readonly secure?: boolean
}

/**
 * One connection as a stream: request bytes in, response bytes out, through the same decoder, limits, keep-alive
 * rules, `100 Continue`, error pages, access log and request scopes as a socket connection of `make` (the same
 * connection core; the socket path drives it from the socket's callbacks, this from the stream). The output ends
 * when the connection closes (`Connection: close`, the input's end, an error, a timeout); ending or interrupting its
 * consumption closes the connection, interrupting the request in flight (its scope closes). Backpressure holds both
 * ways: the input is read only while the output's consumer keeps up (64 KiB ahead at most) and the handler takes
 * the bytes; a failure of the input fails the output.
 *
 * @example
 * ```ts
 * import { Effect, Layer, Stream } from "effect"
 * import * as AccessLog from "effect-httpd/AccessLog"
 * import * as Handler from "effect-httpd/Handler"
 * import * as Response from "effect-httpd/Response"
 * import * as Server from "effect-httpd/Server"
 *
 * const input = Stream.make(new TextEncoder().encode("GET / HTTP/1.0\r\n\r\n"))
 *
 * export const program = Server.serveStream(input, { serverVersion: "demo" }).pipe(
 *   Stream.decodeText(),
 *   Stream.mkString, // "HTTP/1.0 200 OK\r\nServer: demo …\r\n\r\nhello\n"
 *   Effect.provide(Layer.merge(
 *     Handler.layer({ GET: () => Effect.succeed(Response.text("hello\n")) }),
 *     AccessLog.layerSilent
 *   ))
 * )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const serveStream: {
  (
    options?: StreamOptions
  ): <E, R>(input: Stream.Stream<Uint8Array, E, R>) => Stream.Stream<Uint8Array, E, R | Handlers | AccessLog>
  <E, R>(
    input: Stream.Stream<Uint8Array, E, R>,
    options?: StreamOptions
  ): Stream.Stream<Uint8Array, E, R | Handlers | AccessLog>
} = dual(
  (args) => Stream.StreamTypeId in Object(args[0]),
  <E, R>(input: Stream.Stream<Uint8Array, E, R>, options?: StreamOptions) =>
    StreamDriver.serveStream(input, options ?? {})
)

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
