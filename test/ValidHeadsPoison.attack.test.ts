/**
 * Header blocks validated once are remembered process-wide (`validHeads`), and a remembered block skips the Schema
 * and the `Host` syntax check. A two-word HTTP/0.9 request line still reads its header lines (as Python does) but
 * checks no `Host`: its block was remembered all the same, so any client could make a malformed `Host` pass for every
 * later HTTP/1.x request carrying the same block, on any server of the process.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as AccessLog from "../src/AccessLog.js"
import * as Handler from "../src/Handler.js"
import * as Response from "../src/Response.js"
import * as Server from "../src/Server.js"
import { sendRaw } from "./support/rawClient.js"

const serve = Server.make({ port: 0, protocolVersion: "HTTP/1.1" }).pipe(
  Effect.provide(Layer.merge(
    Handler.layer({ GET: (request) => Effect.succeed(Response.text(`host=${request.headers.get("host")}\n`)) }),
    AccessLog.layerSilent
  ))
)

describe("validated header blocks remembered process-wide", () => {
  it.scopedLive("an HTTP/0.9 request cannot make a malformed Host valid for later requests", () =>
    Effect.gen(function*() {
      const first = yield* serve
      const second = yield* serve
      const block = "Host: localhost:1@evil.example\r\nX-Poison: 1\r\n"
      const before = yield* sendRaw({ port: second.address.port, chunks: [`GET / HTTP/1.1\r\n${block}\r\n`], until: { responses: 1 } })
      expect(before.responses[0]?.status).toBe(400)
      // The same block behind a two-word request line, on another server of the process.
      yield* sendRaw({ port: first.address.port, chunks: [`GET /\r\n${block}\r\n`] })
      const after = yield* sendRaw({ port: second.address.port, chunks: [`GET / HTTP/1.1\r\n${block}\r\n`], until: { responses: 1 } })
      expect(after.responses[0]?.status).toBe(400)
    }))
})
