/**
 * What an app observes around its handler, PlatformServer against NodeHttpServer: the server span a user tracer
 * receives (name, kind, attributes, parent from `traceparent`), `Effect.currentSpan` in the handler, settings given
 * to the serve layer only (`Layer.setTracer`, `withTracerDisabledWhen`), pre-response handlers and serve middleware.
 * PlatformServer runs its own per-serve equivalent of `HttpApp.toHandled` (`internal/platformHandled.ts`).
 */
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer, Option, Tracer } from "effect"
import { createServer } from "node:http"
import * as PlatformServer from "../src/PlatformServer.js"
import { httpRequest, sendRaw } from "./support/rawClient.js"

/** A tracer recording the spans it makes (effect's own spans underneath). */
const recordingTracer = () => {
  const spans: Array<Tracer.Span> = []
  const native = Effect.runSync(Effect.tracer)
  const tracer = Tracer.make({
    span: (...args) => {
      const span = native.span(...args)
      spans.push(span)
      return span
    },
    context: native.context
  })
  return { spans, tracer }
}

const app = HttpRouter.empty.pipe(
  HttpRouter.get(
    "/span",
    Effect.flatMap(Effect.currentSpan, (span) =>
      HttpServerResponse.json({
        name: span.name,
        parent: Option.match(span.parent, { onNone: () => null, onSome: (parent) => parent.spanId })
      }))
  ),
  HttpRouter.get("/quiet", Effect.map(Effect.option(Effect.currentSpan), (span) => HttpServerResponse.text(span._tag))),
  HttpRouter.get(
    "/pre",
    Effect.zipRight(
      HttpApp.appendPreResponseHandler((_request, response) =>
        Effect.succeed(HttpServerResponse.setHeader(response, "x-pre", "1"))
      ),
      HttpServerResponse.text("pre", { status: 202 })
    )
  ),
  HttpRouter.get("/defect", Effect.die("boom"))
)

/**
 * Serve middleware: a header on every response with the status it has (a response the middleware merely returned
 * is not what is sent: the app's was written already, under either server).
 */
const stamp = HttpMiddleware.make((httpApp) =>
  Effect.zipRight(
    HttpApp.appendPreResponseHandler((_request, response) =>
      Effect.succeed(HttpServerResponse.setHeader(response, "x-stamp", String(response.status)))
    ),
    httpApp
  )
)

type ServerLayer = Layer.Layer<HttpServer.HttpServer, unknown>
const servers: ReadonlyArray<readonly [string, () => ServerLayer]> = [
  ["NodeHttpServer", () => NodeHttpServer.layer(createServer, { host: "127.0.0.1", port: 0 })],
  ["PlatformServer", () => PlatformServer.layer({ host: "127.0.0.1", port: 0 })]
]

const TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

/** One exchange per path on a server whose serve layer alone gets the tracer, the tracer switch and middleware. */
const observe = (server: () => ServerLayer, paths: ReadonlyArray<string>) =>
  Effect.scoped(Effect.gen(function*() {
    const { spans, tracer } = recordingTracer()
    const serve = HttpServer.serve(app, stamp).pipe(
      HttpMiddleware.withTracerDisabledWhen((request) => request.url === "/quiet"),
      Layer.provide(Layer.setTracer(tracer))
    )
    const context = yield* Layer.build(serve.pipe(Layer.provideMerge(server()), Layer.orDie))
    const address = Context.get(context, HttpServer.HttpServer).address
    const port = address._tag === "TcpAddress" ? address.port : 0
    const responses = []
    for (const path of paths) {
      const result = yield* sendRaw({
        port,
        chunks: [httpRequest("GET", path, { Host: "x", "User-Agent": "t/1", traceparent: TRACEPARENT })],
        until: { responses: 1 },
        timeoutMs: 5000
      })
      const response = result.responses[0]!
      responses.push({
        status: response.status,
        pre: response.header("x-pre") ?? null,
        stamp: response.header("x-stamp") ?? null,
        body: response.body.toString()
      })
    }
    return {
      responses,
      spans: spans.map((span) => ({
        name: span.name,
        kind: span.kind,
        parent: Option.map(span.parent, (parent) => [parent.traceId, parent.spanId]),
        traceId: span.traceId,
        attributes: [...span.attributes].sort(([a], [b]) => (a < b ? -1 : 1))
      }))
    }
  }))

describe("PlatformServer vs NodeHttpServer: spans, serve-layer settings, pre-response handlers, middleware", () => {
  it.live("the same spans, responses and headers", () =>
    Effect.gen(function*() {
      const paths = ["/span?q=1", "/quiet", "/pre", "/defect", "/missing"]
      const [node, ours] = yield* Effect.forEach(servers, ([, server]) => observe(server, paths))
      expect(ours!.responses).toEqual(node!.responses)
      expect(ours!.spans).toEqual(node!.spans)
      // What they agree on, spelled out: a server span per traced request under the caller's trace, none for the
      // excluded URL; the handler sees the span; the pre-response handler and the middleware both ran.
      expect(ours!.spans.map((span) => span.name)).toEqual(Array(4).fill("http.server GET"))
      expect(ours!.spans[0]!.traceId).toBe("0af7651916cd43dd8448eb211c80319c")
      expect(JSON.parse(ours!.responses[0]!.body)).toMatchObject({ name: "http.server GET" })
      expect(ours!.responses[1]!.body).toBe("None")
      expect(ours!.responses[2]).toMatchObject({ status: 202, pre: "1", stamp: "202" })
      expect(ours!.responses[3]!.status).toBe(500)
    }))
})
