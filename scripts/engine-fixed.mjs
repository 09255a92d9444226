#!/usr/bin/env node
/**
 * The engine benchmark's server: effect-httpd answering every GET with a fixed 200-byte body, keep-alive under
 * HTTP/1.1, with the full decoder and Schema validation on and logging off (the node:http peer logs nothing either).
 *
 * Usage: node scripts/engine-fixed.mjs PORT   (needs `npm run build` or `npm ci` to have compiled dist/)
 */
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as AccessLog from "../dist/AccessLog.js"
import * as Handler from "../dist/Handler.js"
import * as Response from "../dist/Response.js"
import * as Server from "../dist/Server.js"

const port = Number(process.argv[2] ?? 8000)
const body = Buffer.alloc(200, "x")
const response = Response.bytes(body, { contentType: "text/plain" })

const main = Effect.gen(function*() {
  const server = yield* Server.make({ host: "127.0.0.1", port, protocolVersion: "HTTP/1.1" })
  console.log(`listening on ${Server.url(server)}`)
  return yield* Effect.never
}).pipe(
  Effect.scoped,
  Effect.provide(Layer.merge(Handler.layer({ GET: () => Effect.succeed(response) }), AccessLog.layerSilent))
)

const fiber = Effect.runFork(main)
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.once(signal, () => Effect.runPromise(Fiber.interrupt(fiber)).then(() => process.exit(0)))
}
