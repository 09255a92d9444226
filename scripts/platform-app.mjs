#!/usr/bin/env node
/**
 * The platform benchmark's server: one `HttpRouter` app (a JSON GET with a path param; a POST of a JSON body
 * validated by a Schema) on `PlatformServer.layer` or on `NodeHttpServer.layer`, or a bare `node:http` handler
 * answering the same bytes.
 *
 * Usage: node scripts/platform-app.mjs PORT platform|node-platform|node-bare   (needs `npm run build`: dist/)
 */
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Http from "node:http"
import * as PlatformServer from "../dist/PlatformServer.js"

const port = Number(process.argv[2] ?? 8000)
const kind = process.argv[3] ?? "platform"

const Item = Schema.Struct({ id: Schema.Number, name: Schema.String, tags: Schema.Array(Schema.String) })
const Order = Schema.Struct({ customer: Schema.String, items: Schema.Array(Item) })

const user = (id) => ({ id, name: `user ${id}`, active: true })
const accepted = (order) => ({ ok: true, customer: order.customer, items: order.items.length })

if (kind === "node-bare") {
  const isOrder = (o) =>
    typeof o === "object" && o !== null && typeof o.customer === "string" && Array.isArray(o.items) &&
    o.items.every((i) => typeof i?.id === "number" && typeof i.name === "string" && Array.isArray(i.tags) &&
      i.tags.every((t) => typeof t === "string"))
  const json = (res, status, value) => {
    const body = JSON.stringify(value)
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) })
    res.end(body)
  }
  Http.createServer((req, res) => {
    const match = /^\/users\/([^/?]+)$/.exec(req.url ?? "")
    if (req.method === "GET" && match) return json(res, 200, user(match[1]))
    if (req.method === "POST" && req.url === "/orders") {
      const chunks = []
      req.on("data", (c) => chunks.push(c))
      req.on("end", () => {
        let order
        try {
          order = JSON.parse(Buffer.concat(chunks).toString("utf8"))
        } catch {
          order = undefined
        }
        if (!isOrder(order)) {
          res.writeHead(400, { "content-length": 0 })
          return res.end()
        }
        json(res, 200, accepted(order))
      })
      return
    }
    res.writeHead(404, { "content-length": 0 })
    res.end()
  }).listen(port, "127.0.0.1", () => console.log(`listening on ${port} (node-bare)`))
} else {
  const app = HttpRouter.empty.pipe(
    HttpRouter.get(
      "/users/:id",
      Effect.flatMap(HttpRouter.params, (params) => HttpServerResponse.json(user(params.id)))
    ),
    HttpRouter.post(
      "/orders",
      Effect.flatMap(HttpServerRequest.schemaBodyJson(Order), (order) => HttpServerResponse.json(accepted(order)))
    )
  )
  const server = kind === "node-platform"
    ? NodeHttpServer.layer(Http.createServer, { host: "127.0.0.1", port })
    : PlatformServer.layer({ host: "127.0.0.1", port })
  HttpServer.serve(app).pipe(
    Layer.provide(server),
    Layer.launch,
    Effect.tap(() => Effect.sync(() => console.log(`listening on ${port} (${kind})`))),
    NodeRuntime.runMain
  )
}
