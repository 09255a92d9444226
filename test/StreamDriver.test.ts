/**
 * `Server.serveStream`: one connection over a `Stream` of bytes, with the socket path's rules (keep-alive, limits,
 * timeouts), interruption closing the request's scope, and backpressure from the output's consumer to the input.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as AccessLog from "../src/AccessLog.js"
import * as Handler from "../src/Handler.js"
import * as HttpError from "../src/HttpError.js"
import * as Response from "../src/Response.js"
import * as Server from "../src/Server.js"
import * as TestKit from "../src/TestKit.js"
import { echoRoutes } from "./support/echoRoutes.js"

const provide = Effect.provide(Layer.merge(Handler.layer(echoRoutes), AccessLog.layerSilent))
const bytes = (text: string) => new Uint8Array(Buffer.from(text, "latin1"))
const text = (chunks: Chunk.Chunk<Uint8Array>) => Buffer.concat(Chunk.toReadonlyArray(chunks)).toString("latin1")

describe("Server.serveStream", () => {
  it.live("answers keep-alive requests in order and ends with the connection (data-first and data-last forms)", () =>
    Effect.gen(function*() {
      const input = Stream.make(
        bytes("GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nHost: x\r\nContent-Le"),
        bytes("ngth: 3\r\n\r\nabc"),
        bytes("GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /never HTTP/1.1\r\n\r\n")
      )
      const out = yield* Stream.runCollect(Server.serveStream(input, { protocolVersion: "HTTP/1.1" })).pipe(provide)
      const responses = TestKit.parseResponses(Buffer.from(text(out), "latin1"))
      expect(responses.map((r) => r.body.toString())).toEqual(["path=/a\n", "got 3: abc\n", "path=/c\n"])
      expect(responses[2]!.header("connection")).toBe("close")
      const piped = yield* Stream.runCollect(input.pipe(Server.serveStream({ protocolVersion: "HTTP/1.1" }))).pipe(provide)
      const undated = (raw: string) => raw.replace(/Date: [^\r]*/g, "Date: -")
      expect(undated(text(piped))).toBe(undated(text(out)))
    }))

  it.live("keeps the decoder's limits: an oversized head is 431, an oversized body 413, then the connection ends", () =>
    Effect.gen(function*() {
      const head = yield* Stream.runCollect(Server.serveStream(
        Stream.make(bytes(`GET / HTTP/1.1\r\nHost: x\r\nX: ${"a".repeat(5000)}\r\n\r\nGET /more HTTP/1.1\r\n\r\n`)),
        { protocolVersion: "HTTP/1.1", limits: { maxHeaderBytes: 1024, maxHeaderLine: 8192 } }
      )).pipe(provide)
      expect(text(head)).toMatch(/^HTTP\/1\.1 431 /)
      expect(text(head)).not.toContain("/more")
      const body = yield* Stream.runCollect(Server.serveStream(
        Stream.make(bytes("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"), bytes("x".repeat(100))),
        { protocolVersion: "HTTP/1.1", limits: { maxBodyBytes: 10 } }
      )).pipe(provide)
      expect(text(body)).toMatch(/^HTTP\/1\.1 413 /)
    }))

  it.live("keeps the timeouts: a client that sends half a head and then nothing is closed after headerTimeout", () =>
    Effect.gen(function*() {
      const input = Stream.concat(Stream.make(bytes("GET / HTTP/1.1\r\nHo")), Stream.never)
      const out = yield* Stream.runCollect(
        Server.serveStream(input, { protocolVersion: "HTTP/1.1", headerTimeout: "200 millis" })
      ).pipe(provide, Effect.timeout("10 seconds"))
      expect(Chunk.size(out)).toBe(0)
    }))

  it.live("interrupting the output interrupts the request in flight: its scope closes", () =>
    Effect.gen(function*() {
      const started = yield* Deferred.make<void>()
      const released = yield* Deferred.make<void>()
      const handlers = Handler.layer({
        GET: () =>
          Effect.acquireRelease(Deferred.succeed(started, undefined), () => Deferred.succeed(released, undefined)).pipe(
            Effect.zipRight(Effect.never),
            Effect.as(Response.text("never\n"))
          )
      })
      const fiber = yield* Stream.runDrain(
        Server.serveStream(Stream.concat(Stream.make(bytes("GET / HTTP/1.0\r\n\r\n")), Stream.never))
      ).pipe(Effect.provide(Layer.merge(handlers, AccessLog.layerSilent)), Effect.fork)
      yield* Deferred.await(started)
      expect(yield* Deferred.isDone(released)).toBe(false)
      yield* Fiber.interrupt(fiber)
      expect(yield* Deferred.isDone(released)).toBe(true)
    }))

  it.live("a failing input fails the output with its error", () =>
    Effect.gen(function*() {
      const input = Stream.concat(Stream.make(bytes("GET /a HTTP/1.1\r\nHost: x\r\n\r\n")), Stream.fail("boom" as const))
      const error = yield* Stream.runDrain(Server.serveStream(input, { protocolVersion: "HTTP/1.1" })).pipe(provide, Effect.flip)
      expect(error).toBe("boom")
    }))

  it.live("backpressure: while the output is not consumed, the input stops being pulled; consuming resumes it", () =>
    Effect.gen(function*() {
      const total = 2000
      let pulled = 0
      const request = bytes("GET /" + "p".repeat(1000) + " HTTP/1.1\r\nHost: x\r\n\r\n")
      const input = Stream.range(1, total).pipe(
        Stream.rechunk(1),
        Stream.map((i) => {
          pulled = i
          return request
        })
      )
      yield* Effect.scoped(Effect.gen(function*() {
        const pull = yield* Stream.toPull(Server.serveStream(input, { protocolVersion: "HTTP/1.1" }))
        let received = (yield* pull).pipe(Chunk.reduce(0, (n, c) => n + c.length))
        // Give the pump every chance to run ahead, then check it did not: ~64 KiB of responses wait, no more.
        yield* Effect.sleep("300 millis")
        const whileStalled = pulled
        expect(whileStalled).toBeLessThan(200)
        for (;;) {
          const next = yield* Effect.option(pull)
          if (next._tag === "None") break
          received += Chunk.reduce(next.value, 0, (n, c) => n + c.length)
        }
        expect(pulled).toBe(total)
        expect(received).toBeGreaterThan(total * 1000)
      }))
    }).pipe(provide))

  it.live("pipelining bound: behind a request still being answered, at most ~32 more are read ahead", () =>
    Effect.gen(function*() {
      let pulled = 0
      const input = Stream.range(1, 1000).pipe(
        Stream.rechunk(1),
        Stream.map((i) => {
          pulled = i
          return bytes("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        })
      )
      const handlers = Handler.layer({ GET: () => Effect.never })
      const fiber = yield* Stream.runDrain(Server.serveStream(input, { protocolVersion: "HTTP/1.1" })).pipe(
        Effect.provide(Layer.merge(handlers, AccessLog.layerSilent)),
        Effect.fork
      )
      yield* Effect.sleep("300 millis")
      expect(pulled).toBeGreaterThan(1)
      expect(pulled).toBeLessThan(40)
      yield* Fiber.interrupt(fiber)
    }))

  it.live("a consumer writing into a chunk cannot corrupt the cached error page other answers share", () =>
    Effect.gen(function*() {
      const handlers = Handler.layer({ GET: () => Effect.fail(HttpError.notFound("tidy shared page")) })
      // HTTP/0.9: the answer is the page alone, so the chunk would be the cached page itself.
      const answer = Stream.runCollect(Server.serveStream(Stream.make(bytes("GET /x\r\n")))).pipe(
        Effect.provide(Layer.merge(handlers, AccessLog.layerSilent))
      )
      const first = yield* answer
      const expected = text(first)
      expect(expected).toContain("tidy shared page")
      for (const chunk of first) chunk.fill(0x58)
      expect(text(yield* answer)).toBe(expected)
    }))
})
