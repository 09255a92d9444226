/**
 * A burst of pipelined requests in one segment is answered iteratively: before, each request answered
 * synchronously started the next one a few stack frames deeper, and ~2000 of them overflowed the stack inside the
 * socket's data callback (an uncaught exception: the whole server died).
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as AccessLog from "../src/AccessLog.js"
import * as Handler from "../src/Handler.js"
import * as Response from "../src/Response.js"
import * as Server from "../src/Server.js"
import { sendRaw } from "./support/rawClient.js"

const BURST = 5000

describe("pipelined bursts", () => {
  it.scopedLive(`${BURST} pipelined requests in one write get ${BURST} responses`, () =>
    Effect.gen(function*() {
      const server = yield* Server.make({ port: 0, protocolVersion: "HTTP/1.1" }).pipe(
        Effect.provide(Layer.merge(
          Handler.layer({ GET: () => Effect.succeed(Response.text("ok")) }),
          AccessLog.layerSilent
        ))
      )
      const result = yield* sendRaw({
        port: server.address.port,
        chunks: ["GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".repeat(BURST)],
        until: { responses: BURST },
        timeoutMs: 20_000
      })
      expect(result.responses.length).toBe(BURST)
      expect(result.responses.every((r) => r.status === 200)).toBe(true)
    }))
})
