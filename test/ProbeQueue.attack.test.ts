/**
 * While a handler is slow, a paused connection reads one chunk every 250 ms to notice a client's reset. The probe
 * was bounded by buffered body and held bytes, never by the pipelined requests it decoded: a client pipelining
 * behind a slow request (a long CGI script, an event stream) had every chunk parsed into queued request heads for as
 * long as the handler ran (+3 MB of heap a second on one connection, measured over a socket). The same core serves
 * sockets and streams; the Stream driver lets the test count the chunks read.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as AccessLog from "../src/AccessLog.js"
import * as Handler from "../src/Handler.js"
import * as Response from "../src/Response.js"
import * as Server from "../src/Server.js"

const PER_CHUNK = 100

describe("probe reads behind a slow request", () => {
  it.live("a connection paused on queued requests stops reading them while its handler runs", () =>
    Effect.gen(function*() {
      let pulls = 0
      const chunk = new Uint8Array(Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n".repeat(PER_CHUNK), "latin1"))
      const input = Stream.repeatEffect(Effect.sync(() => {
        pulls++
        return chunk
      }))
      const handlers = Handler.layer({ GET: () => Effect.as(Effect.never, Response.text("late")) })
      yield* Stream.runDrain(Server.serveStream(input, { protocolVersion: "HTTP/1.1" })).pipe(
        Effect.provide(Layer.merge(handlers, AccessLog.layerSilent)),
        Effect.timeout("3 seconds"),
        Effect.ignore
      )
      // One chunk fills the queue; no probe reads past it. Twelve probes in 3 s meant 1 200 queued heads, growing.
      expect(pulls).toBeLessThanOrEqual(4)
    }), 20_000)
})
