/**
 * `@effect/platform`'s `HttpServer` on this package's engine: a drop-in for `NodeHttpServer.layer`, so an
 * `HttpRouter`/`HttpApi`/`HttpApp` application runs on the engine's decoder, limits, timeouts and connection driver.
 *
 * @since 0.1.0
 */
import type * as Etag from "@effect/platform/Etag"
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as Platform from "@effect/platform/HttpPlatform"
import * as HttpServer from "@effect/platform/HttpServer"
import type * as HttpServerError from "@effect/platform/HttpServerError"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import type * as NodeContext from "@effect/platform-node/NodeContext"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/platformServer.js"

/**
 * `Server`'s options (host, port, TLS, timeouts, limits, `maxConnections`…) for an `@effect/platform` app. The
 * protocol is HTTP/1.1 with keep-alive; `host` defaults to node's (`::` dual-stack, else `0.0.0.0`), `idleTimeout`
 * to node's `keepAliveTimeout` (5 seconds). `accessLog` receives the engine's log lines (timeouts, failed writes);
 * by default there are none, as with node:http.
 *
 * @since 0.1.0
 * @category models
 */
export type Options = internal.PlatformServerOptions

/**
 * The server alone: listening in the current scope, serving the app `HttpServer.serve` installs.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (options: Options) => Effect.Effect<HttpServer.HttpServer, HttpServerError.ServeError, Scope.Scope> =
  internal.make

/**
 * What `NodeHttpServer.layer` provides besides the server: `HttpPlatform` (file responses written by the engine
 * from the file, with a strong `ETag`, `Last-Modified` and `Content-Length`), `Etag.Generator` (weak) and
 * `NodeContext`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerContext: Layer.Layer<Platform.HttpPlatform | Etag.Generator | NodeContext.NodeContext> =
  internal.layerContext

/**
 * The server and its context, as `NodeHttpServer.layer` provides them.
 *
 * @example
 * ```ts
 * import * as HttpRouter from "@effect/platform/HttpRouter"
 * import * as HttpServer from "@effect/platform/HttpServer"
 * import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
 * import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
 * import { Layer } from "effect"
 * import * as PlatformServer from "effect-httpd/PlatformServer"
 *
 * const app = HttpRouter.empty.pipe(HttpRouter.get("/", HttpServerResponse.text("hello")))
 *
 * HttpServer.serve(app).pipe(Layer.provide(PlatformServer.layer({ port: 3000 })), Layer.launch, NodeRuntime.runMain)
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options
): Layer.Layer<
  HttpServer.HttpServer | Platform.HttpPlatform | Etag.Generator | NodeContext.NodeContext,
  HttpServerError.ServeError
> => Layer.merge(Layer.scoped(HttpServer.HttpServer, internal.make(options)), internal.layerContext)

/**
 * A server on 127.0.0.1 and a free port, with an `HttpClient` whose requests go to it: `NodeHttpServer.layerTest`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerTest: Layer.Layer<
  HttpServer.HttpServer | Platform.HttpPlatform | Etag.Generator | NodeContext.NodeContext | HttpClient.HttpClient,
  HttpServerError.ServeError
> = HttpServer.layerTestClient.pipe(
  Layer.provide(NodeHttpClient.layerWithoutAgent),
  Layer.provide(NodeHttpClient.makeAgentLayer({ keepAlive: false })),
  Layer.provideMerge(layer({ host: "127.0.0.1", port: 0 }))
)
