/**
 * `PlatformServer` beyond the differential test: `layerTest`, a client reset interrupting the app, shutdown, and
 * `Cgi.toHttpApp` mounted in an `HttpRouter` (on PlatformServer and on NodeHttpServer).
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { describe, expect, it } from "@effect/vitest"
import { Context, Deferred, Effect, Fiber, Layer, Option } from "effect"
import { createServer } from "node:http"
import * as Net from "node:net"
import * as Cgi from "../src/Cgi.js"
import { MimeTypes } from "../src/MimeTypes.js"
import * as PlatformServer from "../src/PlatformServer.js"
import { docRoot } from "./support/cgiKit.js"
import { portOf } from "./support/platformPort.js"
import { httpRequest, sendRaw } from "./support/rawClient.js"

describe("PlatformServer", () => {
  it.scopedLive("layerTest: an HttpClient aimed at the server", () =>
    Effect.gen(function*() {
      const app = HttpRouter.empty.pipe(HttpRouter.get("/hello/:name", Effect.flatMap(HttpRouter.params, (p) =>
        HttpServerResponse.text(`hello ${p.name}`))))
      const context = yield* Layer.build(HttpServer.serve(app).pipe(Layer.provideMerge(PlatformServer.layerTest)))
      const client = Context.get(context, HttpClient.HttpClient)
      const response = yield* client.get("/hello/ada")
      expect(response.status).toBe(200)
      expect(yield* response.text).toBe("hello ada")
    }))

  it.scopedLive("a client reset interrupts the app and closes its scope", () =>
    Effect.gen(function*() {
      const released = yield* Deferred.make<void>()
      const started = yield* Deferred.make<void>()
      const app = HttpRouter.empty.pipe(HttpRouter.get(
        "/slow",
        Effect.gen(function*() {
          yield* Effect.addFinalizer(() => Deferred.succeed(released, undefined))
          yield* Deferred.succeed(started, undefined)
          return yield* Effect.never
        }).pipe(Effect.scoped)
      ))
      const scope = yield* Effect.scope
      const context = yield* Layer.buildWithScope(
        HttpServer.serve(app).pipe(Layer.provideMerge(PlatformServer.layer({ host: "127.0.0.1", port: 0 }))),
        scope
      )
      const port = portOf(Context.get(context, HttpServer.HttpServer))
      const socket = Net.connect({ port, host: "127.0.0.1" })
      socket.on("error", () => {})
      socket.write(httpRequest("GET", "/slow", { Host: "x" }))
      yield* Deferred.await(started)
      socket.resetAndDestroy()
      yield* Deferred.await(released).pipe(Effect.timeout("5 seconds"))
    }))

  it.scopedLive("a body is read once: concurrent and later reads share it; withMaxBodySize bounds it", () =>
    Effect.gen(function*() {
      const app = HttpRouter.empty.pipe(
        HttpRouter.post(
          "/twice",
          Effect.gen(function*() {
            const request = yield* HttpServerRequest.HttpServerRequest
            const [text, json] = yield* Effect.all([request.text, request.json], { concurrency: 2 })
            return yield* HttpServerResponse.json({ text, json, again: yield* request.text })
          })
        ),
        HttpRouter.post(
          "/bounded",
          Effect.flatMap(
            HttpIncomingMessage.withMaxBodySize(Effect.flatMap(HttpServerRequest.HttpServerRequest, (r) => r.text), Option.some(4)),
            (text) => HttpServerResponse.text(text)
          )
        )
      )
      const scope = yield* Effect.scope
      const context = yield* Layer.buildWithScope(
        HttpServer.serve(app).pipe(Layer.provideMerge(PlatformServer.layer({ host: "127.0.0.1", port: 0 }))),
        scope
      )
      const port = portOf(Context.get(context, HttpServer.HttpServer))
      const body = JSON.stringify({ n: 1 })
      // The body arrives after the head: the second reader waits for the first one's read.
      const twice = yield* sendRaw({
        port,
        chunks: [httpRequest("POST", "/twice", { Host: "x", "Content-Length": String(body.length) }), body],
        delayBetweenChunksMs: 50,
        until: { responses: 1 },
        timeoutMs: 5000
      })
      expect(JSON.parse(twice.responses[0]!.body.toString())).toEqual({ text: body, json: { n: 1 }, again: body })
      const bounded = yield* sendRaw({
        port,
        chunks: [httpRequest("POST", "/bounded", { Host: "x" }, "0123456789")],
        until: { responses: 1 },
        timeoutMs: 5000
      })
      expect(bounded.responses[0]!.status).toBe(400)
    }))

  it.scopedLive("a request that arrives before serve waits for the app instead of being refused", () =>
    Effect.gen(function*() {
      const context = yield* Layer.build(PlatformServer.layer({ host: "127.0.0.1", port: 0 }))
      const server = Context.get(context, HttpServer.HttpServer)
      const pending = yield* Effect.fork(sendRaw({
        port: portOf(server),
        chunks: [httpRequest("GET", "/", { Host: "x", Connection: "close" })],
        timeoutMs: 5000
      }))
      yield* Effect.sleep("200 millis")
      yield* server.serve(HttpServerResponse.text("late"))
      const result = yield* Fiber.join(pending)
      expect(result.responses[0]!.status).toBe(200)
      expect(result.responses[0]!.body.toString()).toBe("late")
    }))

  it.scopedLive("Cgi.toHttpApp mounted with includePrefix runs <directory>/cgi-bin/<script>", () =>
    Effect.gen(function*() {
      const root = yield* docRoot({
        "cgi-bin/hello.sh": {
          content: "#!/bin/sh\nbody=\"hello $QUERY_STRING via $SCRIPT_NAME\"\n" +
            "printf 'Status: 201 Made\\r\\nContent-Type: text/plain\\r\\nX-Method: %s\\r\\n\\r\\n%s' \"$REQUEST_METHOD\" \"$body\"\n"
        },
        "cgi-bin/upper.sh": { content: "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\ntr a-z A-Z\n" }
      })
      const cgi = yield* Cgi.toHttpApp({ directory: root }).pipe(
        Effect.provide(Layer.merge(NodeContext.layer, MimeTypes.layerWithoutFiles()))
      )
      const app = HttpRouter.empty.pipe(
        HttpRouter.get("/", HttpServerResponse.text("home")),
        HttpRouter.mountApp("/cgi-bin", cgi, { includePrefix: true })
      )
      const start = <E>(server: Layer.Layer<HttpServer.HttpServer | NodeContext.NodeContext, E>) =>
        Effect.map(
          Layer.build(HttpServer.serve(app).pipe(Layer.provideMerge(server), Layer.orDie)),
          (context) => portOf(Context.get(context, HttpServer.HttpServer))
        )
      for (
        const port of [
          yield* start(PlatformServer.layer({ host: "127.0.0.1", port: 0 })),
          yield* start(NodeHttpServer.layer(createServer, { host: "127.0.0.1", port: 0 }))
        ]
      ) {
        const get = yield* sendRaw({
          port,
          chunks: [httpRequest("GET", "/cgi-bin/hello.sh?x", { Host: "x", Connection: "close" })],
          timeoutMs: 5000
        })
        const hello = get.responses[0]!
        expect(hello.status).toBe(201)
        expect(hello.header("x-method")).toBe("GET")
        expect(hello.body.toString()).toBe("hello x via /cgi-bin/hello.sh")
        const post = yield* sendRaw({
          port,
          chunks: [httpRequest("POST", "/cgi-bin/upper.sh", { Host: "x", Connection: "close" }, "shout")],
          timeoutMs: 5000
        })
        expect(post.responses[0]!.body.toString()).toBe("SHOUT")
        const missing = yield* sendRaw({
          port,
          chunks: [httpRequest("GET", "/cgi-bin/nope.sh", { Host: "x", Connection: "close" })],
          timeoutMs: 5000
        })
        expect(missing.responses[0]!.status).toBe(404)
      }
    }))
})

