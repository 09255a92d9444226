/**
 * `@effect/platform`'s `HttpServer` on the engine: the listener, decoder, limits, timeouts and connection driver of
 * `Server`, with `HttpApp`s as handlers.
 */
import * as Etag from "@effect/platform/Etag"
import * as FileSystem from "@effect/platform/FileSystem"
import * as HttpApp from "@effect/platform/HttpApp"
import type * as Middleware from "@effect/platform/HttpMiddleware"
import * as Platform from "@effect/platform/HttpPlatform"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerError from "@effect/platform/HttpServerError"
import * as ServerRequest from "@effect/platform/HttpServerRequest"
import * as ServerResponse from "@effect/platform/HttpServerResponse"
import * as Socket from "@effect/platform/Socket"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as FiberRefs from "effect/FiberRefs"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { createRequire } from "node:module"
import type { IncomingMessage } from "node:http"
import type { Duplex } from "node:stream"
import { AccessLog, type AccessLogService } from "../AccessLog.js"
import { type Handler, type HandlerMap, Handlers } from "../Handler.js"
import type { Request } from "../Request.js"
import * as Response from "../Response.js"
import * as Server from "../Server.js"
import { detachSocket } from "./connection.js"
import { asksUpgrade } from "./connectionOptions.js"
import { millis } from "./engine.js"
import { makeHandled } from "./platformHandled.js"
import { joinHeaders, PlatformRequest } from "./platformRequest.js"
import { PlatformFile, type ResponseConfig, writeResponse } from "./platformResponse.js"

/**
 * `ws` and `mime` as `@effect/platform-node` has them (its own dependencies, so they resolve wherever it is
 * installed, hoisted or not): the WebSocket server `NodeHttpServer` upgrades with, and the file types its platform
 * answers. This package then needs no dependencies of its own.
 */
const fromPlatformNode = createRequire(createRequire(import.meta.url).resolve("@effect/platform-node/package.json"))
const mime = fromPlatformNode("mime") as { getType(path: string): string | null }

/** The part of `ws`'s `WebSocketServer` used here (its types stay out of this package's declarations). */
interface UpgradeServer {
  handleUpgrade(
    request: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    callback: (ws: unknown) => void
  ): void
  close(callback: () => void): void
}
const WebSocketServer = (fromPlatformNode("ws") as {
  WebSocketServer: new(options: { readonly noServer: true }) => UpgradeServer
}).WebSocketServer

/**
 * The options of `PlatformServer.layer`: `Server`'s, with HTTP/1.1 keep-alive. Unlike `Server`, no DNS-rebinding
 * `Host` check unless `allowedHosts` is given: an app on 127.0.0.1 behind a reverse proxy receives the public `Host`,
 * and `NodeHttpServer`, which this layer replaces, checks none.
 */
export type PlatformServerOptions = Omit<Server.ServerOptions, "protocolVersion" | "mode"> & {
  /** Where log lines of the engine go (timeouts, failed writes). Default: nowhere, as node:http. */
  readonly accessLog?: AccessLogService
}

/** Every method goes to the one app (the engine's map is by method). */
class AnyMethod extends Map<string, Handler> {
  constructor(private readonly handler: Handler) {
    super()
  }
  override get(_method: string): Handler {
    return this.handler
  }
}

/** Written if an app's handling ended without any response (it cannot, through `toHandled`). */
const FALLBACK = Response.make(500, Response.emptyBody, { headers: [["content-length", "0"]], standardHeaders: false })
const DONE = Exit.succeed(FALLBACK)

/** The engine's request as node's `IncomingMessage`, for `ws`'s handshake (it reads method, url and headers). */
const handshakeRequest = (request: Request, socket: Duplex): IncomingMessage =>
  ({ method: request.method, url: request.target, headers: joinHeaders(request.headers.fields), socket }) as
    unknown as IncomingMessage

const upgradeFor = (
  request: Request,
  wss: Effect.Effect<UpgradeServer>
): Effect.Effect<Socket.Socket, HttpServerError.RequestError> =>
  Socket.fromWebSocket(Effect.flatMap(wss, (server) =>
    Effect.acquireRelease(
      Effect.suspend(() => {
        const detached = detachSocket(request)
        if (detached === undefined) {
          return Effect.fail(new Socket.SocketGenericError({ reason: "Open", cause: "the connection cannot be upgraded" }))
        }
        const socket = detached.socket as unknown as Duplex
        return Effect.async<globalThis.WebSocket, Socket.SocketError>((resume) => {
          // `ws` answers a bad handshake itself and destroys the socket without calling back.
          const onClose = () => resume(Effect.fail(new Socket.SocketGenericError({ reason: "Open", cause: "closed" })))
          socket.once("close", onClose)
          server.handleUpgrade(handshakeRequest(request, socket), socket, detached.head, (ws) => {
            socket.off("close", onClose)
            resume(Effect.succeed(ws as unknown as globalThis.WebSocket))
          })
        })
      }),
      (ws) => Effect.sync(() => ws.close())
    )))


/** What an app's handler needs from its server. */
export interface AppServices {
  readonly config: ResponseConfig
  readonly wss: Effect.Effect<UpgradeServer>
}

/**
 * The engine handler running `app` for each request with `serveRefs` (the fiber refs and context of the
 * `HttpServer.serve` that installed it), answering through `writeResponse` from inside the platform's request scope.
 */
export const appHandler = <E, R>(
  app: HttpApp.Default<E, R>,
  middleware: Middleware.HttpMiddleware | undefined,
  serveRefs: FiberRefs.FiberRefs,
  services: AppServices
): Handler => {
  const { config, wss } = services
  const handleResponse = (request: ServerRequest.HttpServerRequest, response: ServerResponse.HttpServerResponse) =>
    writeResponse(config, (request as PlatformRequest).source, response)
  const handled = makeHandled(app, handleResponse, middleware, serveRefs)
  return (request) =>
    // `handled` answered already (a defect became its 500); only interruption is the engine's business.
    Effect.matchCauseEffect(
      handled(
        new PlatformRequest(request, request.target, asksUpgrade(request.headers) ? upgradeFor(request, wss) : undefined)
      ),
      {
        onFailure: (cause) => Cause.isInterruptedOnly(cause) ? Effect.failCause(cause as Cause.Cause<never>) : DONE,
        onSuccess: () => DONE
      }
    )
}

/**
 * Starts the engine with no app: `serve` installs one (for as long as its scope lives).
 */
export const make = (
  options: PlatformServerOptions
): Effect.Effect<HttpServer.HttpServer, HttpServerError.ServeError, Scope.Scope> =>
  Effect.gen(function*() {
    let current: Handler | undefined
    // Requests that arrive before `serve` installed an app (the port accepts as soon as the layer is built) wait
    // for it, as node:http's would wait for a `request` listener, instead of being refused.
    const waiting = new Set<() => void>()
    const whenServing = (request: Request) =>
      Effect.flatMap(
        Effect.async<Handler>((resume) => {
          const wake = () => {
            waiting.delete(wake)
            resume(Effect.succeed(current!))
          }
          waiting.add(wake)
          return Effect.sync(() => waiting.delete(wake))
        }),
        (handler) => handler(request)
      )
    const handlers: HandlerMap = {
      byMethod: new AnyMethod((request) => current === undefined ? whenServing(request) : current(request)),
      expectContinue: undefined,
      // `toHandled` scopes each request itself; file bodies open their descriptor in a scope of their own.
      scoped: false
    }
    const scope = yield* Effect.scope
    // Made on the first upgrade, closed with the server.
    const wss = yield* Effect.cached(Scope.extend(
      Effect.acquireRelease(
        Effect.sync(() => new WebSocketServer({ noServer: true })),
        // Not waiting for its clients: this scope closes before the engine's shutdown, which gives the upgraded
        // connections their grace and then destroys them (`ws` would wait for every client to go away).
        (server) => Effect.sync(() => server.close(() => {}))
      ),
      scope
    ))
    const fs = yield* Effect.provide(FileSystem.FileSystem, NodeFileSystem.layer)
    const idle = options.idleTimeout ?? "5 seconds"
    const config: ResponseConfig = { keepAliveSeconds: Math.round(millis(idle, 5_000) / 1000), fs }
    const listen = (host: string) =>
      Server.make({ allowedHosts: ["*"], ...options, host, idleTimeout: idle, protocolVersion: "HTTP/1.1", keepAliveOnError: true })
    const started = yield* (options.host === undefined
      // node's `listen` without a host: dual-stack `::`, else IPv4 everywhere.
      ? Effect.catchIf(listen("::"), (e) => e.reason === "AddressNotAvailable", () => listen("0.0.0.0"))
      : listen(options.host)).pipe(
        Effect.provideService(Handlers, handlers),
        Effect.provideService(AccessLog, options.accessLog ?? { enabled: false, write: () => {}, flush: () => {} }),
        Effect.mapError((cause) => new HttpServerError.ServeError({ cause }))
      )
    const hostname = started.address.hostname
    return HttpServer.make({
      address: { _tag: "TcpAddress", hostname: hostname === "::" ? "0.0.0.0" : hostname, port: started.address.port },
      serve: (app, middleware) =>
        Effect.gen(function*() {
          const handler = appHandler(app, middleware, yield* Effect.getFiberRefs, { config, wss })
          yield* Effect.acquireRelease(
            Effect.sync(() => {
              current = handler
              for (const wake of [...waiting]) wake()
            }),
            () =>
              Effect.sync(() => {
                if (current === handler) current = undefined
              })
          )
        })
    })
  })

/** `HttpPlatform` whose file responses the engine writes from the file itself, with node's headers and types. */
export const platformLayer: Layer.Layer<Platform.HttpPlatform> = Layer.effect(
  Platform.HttpPlatform,
  Platform.make({
    fileResponse(path, status, statusText, headers, start, _end, contentLength) {
      return ServerResponse.raw(new PlatformFile(path, start, contentLength), {
        headers: {
          ...headers,
          "content-type": headers["content-type"] ?? mime.getType(path) ?? "application/octet-stream",
          "content-length": contentLength.toString()
        },
        status,
        statusText
      })
    },
    fileWebResponse(file, status, statusText, headers) {
      return ServerResponse.stream(
        Stream.fromReadableStream(() => file.stream() as ReadableStream<Uint8Array>, (cause) => cause),
        {
          headers: {
            ...headers,
            "content-type": headers["content-type"] ?? mime.getType(file.name) ?? "application/octet-stream"
          },
          contentLength: file.size,
          status,
          statusText
        }
      )
    }
  })
).pipe(
  // As `NodeHttpServer`: its platform's files carry strong ETags, while the layer offers the weak generator.
  Layer.provide(Etag.layer),
  Layer.provide(NodeFileSystem.layer)
)

/** What `NodeHttpServer.layer` provides besides the server. */
export const layerContext = Layer.mergeAll(platformLayer, Etag.layerWeak, NodeContext.layer)
