#!/usr/bin/env node
/**
 * The static-file benchmark's server until the CLI (`bin/effect-httpd.js`) lands: `StaticFiles.layer` over ROOT on
 * 127.0.0.1:PORT, HTTP/1.1, with Python's access log on stderr (the harness sends stderr to a file, so logging costs
 * what it costs Python). SIGINT/SIGTERM stop it gracefully.
 *
 * Usage: node scripts/static-server.mjs PORT ROOT   (needs `npm run build`)
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as AccessLog from "../dist/AccessLog.js"
import { MimeTypes } from "../dist/MimeTypes.js"
import * as Server from "../dist/Server.js"
import * as StaticFiles from "../dist/StaticFiles.js"

const port = Number(process.argv[2] ?? 8000)
const directory = process.argv[3] ?? "."

const platform = Layer.merge(NodeFileSystem.layer, NodePath.layer)
const handlers = StaticFiles.layer({ directory }).pipe(
  Layer.provide(Layer.provideMerge(MimeTypes.layer(), platform))
)

const main = Effect.gen(function*() {
  const server = yield* Server.make({ host: "127.0.0.1", port, protocolVersion: "HTTP/1.1" })
  console.log(`listening on ${Server.url(server)}`)
  return yield* Effect.never
}).pipe(
  Effect.scoped,
  Effect.provide(Layer.merge(handlers, AccessLog.layerStderr))
)

const fiber = Effect.runFork(main)
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.once(signal, () => Effect.runPromise(Fiber.interrupt(fiber)).then(() => process.exit(0)))
}
