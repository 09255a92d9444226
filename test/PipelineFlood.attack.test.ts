/**
 * A client that pipelines requests and never reads the responses. Each answer written at once (bytes, an error
 * page) went into the socket's user-space buffer whatever its size: reading paused only on queued requests, a
 * buffered body or held bytes, never on unsent responses, so ~40 bytes of request bought ~8 KB of server memory
 * without bound (20 000 pipelined GETs of a 15 KB answer: +300 MB RSS, measured). node:http stops parsing while the
 * socket needs a drain; so must we.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as Net from "node:net"
import * as AccessLog from "../src/AccessLog.js"
import * as Handler from "../src/Handler.js"
import * as Response from "../src/Response.js"
import * as Server from "../src/Server.js"

const REQUESTS = 5000
const BODY = 8000
const REQUEST = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"

describe("pipelining flood without reading", () => {
  it.scopedLive("a client that does not read stops the server answering (and buffering) its pipelined requests", () =>
    Effect.gen(function*() {
      let answered = 0
      const server = yield* Server.make({ port: 0, protocolVersion: "HTTP/1.1" }).pipe(
        Effect.provide(Layer.merge(
          Handler.layer({
            GET: () =>
              Effect.sync(() => {
                answered++
                // A fresh buffer per answer, as a handler building its page does.
                return Response.bytes(new Uint8Array(BODY).fill(97))
              })
          }),
          AccessLog.layerSilent
        ))
      )
      const socket = Net.connect({ host: "127.0.0.1", port: server.address.port })
      yield* Effect.addFinalizer(() => Effect.sync(() => socket.destroy()))
      socket.pause()
      socket.on("error", () => {})
      socket.write(REQUEST.repeat(REQUESTS))
      // Long enough for the server to take in every request (180 KB) and answer what it will.
      yield* Effect.sleep("1500 millis")
      // The kernel's buffers on both sides hold a few MB of answers at most; the rest of the 40 MB must wait.
      expect(answered).toBeLessThan(REQUESTS / 2)
      // Reading again, the client gets every answer, in order.
      let received = 0
      const done = yield* Effect.promise(() =>
        new Promise<boolean>((resolve) => {
          const total = REQUESTS * BODY
          let bodyBytes = 0
          socket.on("data", (chunk: Buffer) => {
            received += chunk.length
            bodyBytes = received
            if (bodyBytes >= total) resolve(true)
          })
          socket.resume()
          setTimeout(() => resolve(false), 20_000)
        })
      )
      expect(done).toBe(true)
      yield* Effect.sleep("100 millis")
      expect(answered).toBe(REQUESTS)
    }), 30_000)
})
