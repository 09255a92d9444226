/**
 * Attacks on the protocol-switch hold (bytes after an upgrade request kept unparsed until the app decides) and on
 * the platform request's body memo, over real sockets; compared with `NodeHttpServer.layer` where it decides.
 */
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Exit, Fiber, Layer, Scope } from "effect"
import * as Fs from "node:fs"
import * as Net from "node:net"
import { createServer } from "node:http"
import * as Os from "node:os"
import * as Path from "node:path"
import * as PlatformServer from "../src/PlatformServer.js"
import { portOf } from "./support/platformPort.js"
import { sendRaw } from "./support/rawClient.js"
import { startStatic } from "./support/staticServer.js"

const stats = { finalized: 0 }

const app = HttpRouter.empty.pipe(
  HttpRouter.post("/read", Effect.gen(function*() {
    yield* Effect.addFinalizer(() => Effect.sync(() => stats.finalized++))
    const request = yield* HttpServerRequest.HttpServerRequest
    return HttpServerResponse.text(yield* request.text)
  })),
  HttpRouter.get("/ws", Effect.gen(function*() {
    const socket = yield* HttpServerRequest.upgrade
    const write = yield* socket.writer
    yield* socket.runRaw((data) => write(data))
    return HttpServerResponse.empty()
  })),
  // Answered from a fiber, after the request's segment was handled.
  HttpRouter.get("/slow", Effect.as(Effect.sleep("10 seconds"), HttpServerResponse.text("slow"))),
  HttpRouter.get("/later", Effect.as(Effect.sleep("20 millis"), HttpServerResponse.text("later"))),
  // A reader that gives up (its own timeout), then another reader of the same body.
  HttpRouter.post("/two-readers", Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const impatient = yield* Effect.fork(Effect.option(Effect.timeout(request.text, "100 millis")))
    yield* Effect.sleep("20 millis")
    const text = yield* request.text
    yield* Fiber.join(impatient)
    return HttpServerResponse.text(`read ${text}`)
  }))
)

const start = <E>(server: Layer.Layer<HttpServer.HttpServer, E>) =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const context = yield* Layer.buildWithScope(
      HttpServer.serve(app).pipe(Layer.provideMerge(server), Layer.provide(PlatformServer.layerContext), Layer.orDie),
      scope
    )
    return portOf(Context.get(context, HttpServer.HttpServer))
  })

const WS_HEAD = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"

describe("PlatformServer: the protocol-switch hold and the body memo under attack", () => {
  it.scopedLive("`Upgrade` without `Connection: upgrade` is no protocol switch: no 101, as NodeHttpServer", () =>
    Effect.gen(function*() {
      const node = yield* start(NodeHttpServer.layer(createServer, { host: "127.0.0.1", port: 0 }))
      const ours = yield* start(PlatformServer.layer({ host: "127.0.0.1", port: 0 }))
      // A proxy that does not see a protocol switch here (no `upgrade` option) keeps reusing the connection for
      // other requests: switching now would feed them to the app's WebSocket.
      const request = `GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n${WS_HEAD}\r\n`
      const [theirs, mine] = yield* Effect.all([node, ours].map((port) =>
        sendRaw({ port, chunks: [request], until: { responses: 1 }, timeoutMs: 3000 })
      ))
      expect(theirs!.responses[0]?.status).toBe(400)
      expect(mine!.responses[0]?.status).toBe(theirs!.responses[0]?.status)
    }))

  it.scopedLive("a partial head held behind an upgrade request is bounded by the header timeout (platform app)", () =>
    Effect.gen(function*() {
      const port = yield* start(PlatformServer.layer({
        host: "127.0.0.1",
        port: 0,
        headerTimeout: "300 millis",
        idleTimeout: "60 seconds"
      }))
      const result = yield* sendRaw({
        port,
        chunks: ["GET /later HTTP/1.1\r\nHost: x\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\nGET /later HTTP/1.1\r\nHo"],
        timeoutMs: 4000
      })
      expect(result.responses[0]?.status).toBe(200)
      // Without the hold the same bytes are closed after the header timeout; the hold must not lift it.
      expect(result.timedOut).toBe(false)
      expect(result.closedByServer).toBe(true)
    }))

  it.scopedLive("a partial head held behind an upgrade request is bounded by the header timeout (static server)", () =>
    Effect.gen(function*() {
      const dir = yield* Effect.acquireRelease(
        Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "upgrade-hold-"))),
        (d) => Effect.sync(() => Fs.rmSync(d, { recursive: true, force: true }))
      )
      Fs.writeFileSync(Path.join(dir, "f.txt"), "file")
      const server = yield* startStatic({ directory: dir }, {
        protocolVersion: "HTTP/1.1",
        headerTimeout: "300 millis",
        idleTimeout: "60 seconds"
      })
      const result = yield* sendRaw({
        port: server.address.port,
        chunks: [
          "GET /f.txt HTTP/1.1\r\nHost: localhost\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\nGET /f.txt HTTP/1.1\r\nHo"
        ],
        timeoutMs: 4000
      })
      expect(result.responses[0]?.status).toBe(200)
      expect(result.timedOut).toBe(false)
      expect(result.closedByServer).toBe(true)
    }))

  it.scopedLive("a body reader interrupted by its own timeout leaves the body whole for the next reader", () =>
    Effect.gen(function*() {
      const port = yield* start(PlatformServer.layer({ host: "127.0.0.1", port: 0 }))
      const result = yield* sendRaw({
        port,
        chunks: ["POST /two-readers HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhello", "world"],
        delayBetweenChunksMs: 300,
        until: { responses: 1 },
        timeoutMs: 4000
      })
      // Not the first reader's interruption (503) for a reader nobody interrupted, nor half a body.
      expect(result.responses[0]?.status).toBe(200)
      expect(result.responses[0]?.body.toString()).toBe("read helloworld")
    }))

  it.live("shutdown with a handler waiting for a stalled body completes within shutdownTimeout (+ slack)", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(
        HttpServer.serve(app).pipe(Layer.provideMerge(PlatformServer.layer({
          host: "127.0.0.1",
          port: 0,
          shutdownTimeout: "1 second",
          bodyTimeout: "30 seconds"
        }))),
        scope
      )
      const port = portOf(Context.get(context, HttpServer.HttpServer))
      stats.finalized = 0
      const socket = Net.connect({ port, host: "127.0.0.1" })
      socket.on("error", () => {})
      socket.write("POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nhello")
      yield* Effect.sleep("300 millis")
      // The body read (once, for every reader) does not hold the forced stop until the body timeout.
      const closed = yield* Scope.close(scope, Exit.void).pipe(Effect.timeout("5 seconds"), Effect.either)
      socket.destroy()
      expect(closed._tag).toBe("Right")
      expect(stats.finalized).toBe(1)
    }), { timeout: 40_000 })

  it.scopedLive("pipelined requests behind a slow one: reading stops once the queue is full (no growth per probe)", () =>
    Effect.gen(function*() {
      const port = yield* start(PlatformServer.layer({ host: "127.0.0.1", port: 0 }))
      const socket = yield* Effect.acquireRelease(
        Effect.sync(() => Net.connect({ port, host: "127.0.0.1" })),
        (socket) => Effect.sync(() => socket.destroy())
      )
      socket.on("error", () => {})
      const tiny = Buffer.from("GET /a HTTP/1.1\r\nHost: x\r\n\r\n".repeat(2000))
      socket.write("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
      let written = 0
      const pump = () => {
        while (written < 64 * 1024 * 1024 && socket.write(tiny)) written += tiny.length
      }
      socket.on("drain", pump)
      pump()
      // What the server took: everything written minus what still waits in our buffer. After the kernel's buffers
      // filled, a server that keeps reading (a probe turn every 250 ms, each decoding ~2,400 heads into the queue)
      // takes ~256 KiB/s for as long as /slow runs (in lumps, as the window reopens), ~16 times that in heap.
      const accepted = () => socket.bytesWritten - socket.writableLength
      yield* Effect.sleep("2 seconds")
      const before = accepted()
      yield* Effect.sleep("7 seconds")
      expect(accepted() - before).toBeLessThan(512 * 1024)
    }), { timeout: 30_000 })
})
