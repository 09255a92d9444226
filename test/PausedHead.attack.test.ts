/**
 * Reading pauses while pipelined requests queue up behind a slow handler (or while answers wait for a client to
 * read them). A next head cut by a chunk boundary then waits for us, not for the client: the header timeout must not
 * run meanwhile ("our own backpressure is not the client's silence"), or the connection is destroyed mid-work with
 * its queued requests unanswered. (Before, the reset probe happened to read the rest of the head; past a long queue
 * it no longer reads.)
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as AccessLog from "../src/AccessLog.js"
import * as Handler from "../src/Handler.js"
import * as Response from "../src/Response.js"
import * as Server from "../src/Server.js"
import { sendRaw } from "./support/rawClient.js"

const QUEUED = 200
const REQUEST = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"

describe("a head cut while reading is paused", () => {
  it.scopedLive("is not timed out while the server itself is not reading", () =>
    Effect.gen(function*() {
      const server = yield* Server.make({ port: 0, protocolVersion: "HTTP/1.1", headerTimeout: "400 millis" }).pipe(
        Effect.provide(Layer.merge(
          Handler.layer({ GET: () => Effect.as(Effect.sleep("15 millis"), Response.text("ok")) }),
          AccessLog.layerSilent
        ))
      )
      const result = yield* sendRaw({
        port: server.address.port,
        chunks: [REQUEST.repeat(QUEUED) + REQUEST.slice(0, 10), REQUEST.slice(10)],
        delayBetweenChunksMs: 50,
        until: { responses: QUEUED + 1 },
        timeoutMs: 20_000
      })
      expect(result.responses.length).toBe(QUEUED + 1)
    }), 30_000)
})
