/**
 * PlatformServer under hostile clients and odd app responses, over real sockets: resets mid-upload, an app's own
 * framing headers, shutdown with stalled clients.
 */
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Multipart from "@effect/platform/Multipart"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Schedule, Schema, Scope, Stream } from "effect"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import * as PlatformServer from "../src/PlatformServer.js"
import { portOf } from "./support/platformPort.js"
import { sendRaw } from "./support/rawClient.js"

const stats = { started: 0, finalized: 0 }

const app = HttpRouter.empty.pipe(
  HttpRouter.post(
    "/upload",
    Effect.gen(function*() {
      stats.started++
      yield* Effect.addFinalizer(() => Effect.sync(() => stats.finalized++))
      const parts = yield* HttpServerRequest.schemaBodyForm(Schema.Struct({
        title: Schema.String,
        file: Multipart.SingleFileSchema
      }))
      return yield* HttpServerResponse.json({ path: parts.file.path })
    })
  ),
  HttpRouter.get("/apptechunked", HttpServerResponse.text("HELLO", { headers: { "transfer-encoding": "chunked" } })),
  HttpRouter.get(
    "/apptestream",
    HttpServerResponse.stream(Stream.make(new TextEncoder().encode("HELLO")), {
      headers: { "transfer-encoding": "chunked" }
    })
  ),
  HttpRouter.get(
    "/overlong",
    HttpServerResponse.stream(Stream.make(new Uint8Array(16).fill(98)), { contentLength: 4 })
  ),
  HttpRouter.get(
    "/short",
    HttpServerResponse.stream(Stream.make(new Uint8Array(2).fill(99)), { contentLength: 40 })
  ),
  HttpRouter.get("/status101", HttpServerResponse.text("no", { status: 101 })),
  HttpRouter.get("/status100", HttpServerResponse.empty({ status: 100 })),
  HttpRouter.get("/connclose", HttpServerResponse.text("bye", { headers: { connection: "close" } })),
  HttpRouter.get("/ignore", HttpServerResponse.text("ignored")),
  HttpRouter.get("/stream", HttpServerResponse.stream(
    Stream.repeatEffect(Effect.succeed(new Uint8Array(16384).fill(97))).pipe(Stream.schedule(Schedule.spaced("1 millis")))
  )),
  HttpRouter.get("/ws", Effect.gen(function*() {
    const socket = yield* HttpServerRequest.upgrade
    const write = yield* socket.writer
    yield* socket.runRaw((data) => write(data))
    return HttpServerResponse.empty()
  }))
)

const serve = Effect.gen(function*() {
  const scope = yield* Effect.scope
  const context = yield* Layer.buildWithScope(
    HttpServer.serve(app).pipe(Layer.provideMerge(PlatformServer.layer({ host: "127.0.0.1", port: 0 }))),
    scope
  )
  return portOf(Context.get(context, HttpServer.HttpServer))
})

const cpuMs = () => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}

const UPLOAD_BODY = "--B\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nt\r\n--B\r\n" +
  "Content-Disposition: form-data; name=\"file\"; filename=\"f\"\r\n\r\n" + "z".repeat(3000)

/** `count` uploads, one after the other, each reset by the client right after its first file bytes. */
const resetUploads = (port: number, count: number) =>
  Effect.forEach(Array.from({ length: count }), () =>
    Effect.async<void>((resume) => {
      const socket = Net.connect({ port, host: "127.0.0.1" })
      socket.on("error", () => {})
      socket.on("close", () => resume(Effect.void))
      socket.write(
        "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=B\r\n" +
          "Content-Length: 100000\r\n\r\n" + UPLOAD_BODY
      )
      setImmediate(() => socket.resetAndDestroy())
    }), { discard: true })

/** A GET of `path`, then a GET of /ignore on the same connection (read until `responses`, else until closed). */
const thenIgnore = (port: number, path: string, responses?: number) =>
  sendRaw({
    port,
    chunks: [`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\nGET /ignore HTTP/1.1\r\nHost: x\r\n\r\n`],
    ...(responses === undefined ? {} : { until: { responses } }),
    timeoutMs: 3000
  })

describe("PlatformServer: hostile clients and odd responses", () => {
  it.scopedLive("a multipart upload reset right after its first file bytes: the app's scope closes, no spinning", () =>
    Effect.gen(function*() {
      const port = yield* serve
      stats.started = 0
      stats.finalized = 0
      yield* resetUploads(port, 5)
      yield* Effect.sleep("1500 millis")
      const before = cpuMs()
      yield* Effect.sleep("1 second")
      const busy = cpuMs() - before
      // The server's request scopes all closed (finalizers ran) and nothing keeps a core busy.
      expect(stats.finalized).toBe(stats.started)
      expect(busy).toBeLessThan(300)
    }), { timeout: 20_000 })

  it.scopedLive("200 uploads reset mid-file leave no descriptors or temp files behind", () =>
    Effect.gen(function*() {
      // `Multipart.toPersisted` makes its directory under `os.tmpdir()`, which reads TMPDIR on each call.
      const tmp = Fs.mkdtempSync(Path.join(Os.tmpdir(), "ps-resets-"))
      const previous = process.env.TMPDIR
      process.env.TMPDIR = tmp
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          if (previous === undefined) delete process.env.TMPDIR
          else process.env.TMPDIR = previous
          Fs.rmSync(tmp, { recursive: true, force: true })
        })
      )
      const port = yield* serve
      const fds = () => Fs.readdirSync("/proc/self/fd").length
      yield* resetUploads(port, 5)
      yield* Effect.sleep("300 millis")
      const before = fds()
      yield* resetUploads(port, 200)
      // Bounded wait for the last scopes to close.
      for (let i = 0; i < 50 && (Fs.readdirSync(tmp).length > 0 || fds() > before + 5); i++) yield* Effect.sleep("100 millis")
      expect(Fs.readdirSync(tmp)).toEqual([])
      expect(fds()).toBeLessThanOrEqual(before + 5)
    }), { timeout: 30_000 })

  it.scopedLive("a whole multipart body without its closing delimiter is refused, nothing spins", () =>
    Effect.gen(function*() {
      const port = yield* serve
      stats.started = 0
      stats.finalized = 0
      const body = UPLOAD_BODY.slice(0, 200)
      const result = yield* sendRaw({
        port,
        chunks: [
          "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=B\r\n" +
          `Content-Length: ${body.length}\r\n\r\n${body}`
        ],
        until: { responses: 1 },
        timeoutMs: 5000
      })
      expect(result.bytes.toString("latin1")).toMatch(/^HTTP\/1\.1 [45]\d\d /)
      const before = cpuMs()
      yield* Effect.sleep("1 second")
      expect(stats.finalized).toBe(stats.started)
      expect(cpuMs() - before).toBeLessThan(300)
    }), { timeout: 20_000 })

  it.scopedLive("an app's own Transfer-Encoding: chunked on a byte body: the body is framed as announced", () =>
    Effect.gen(function*() {
      const port = yield* serve
      const result = yield* thenIgnore(port, "/apptechunked", 2)
      const text = result.bytes.toString("latin1")
      const head = text.slice(0, text.indexOf("\r\n\r\n")).toLowerCase()
      // Never both framings at once; if the head says chunked, the body is chunked (as node:http does).
      expect(head.includes("transfer-encoding: chunked") && head.includes("content-length:")).toBe(false)
      if (head.includes("transfer-encoding: chunked")) expect(text).toContain("\r\n\r\n5\r\nHELLO\r\n0\r\n\r\n")
    }))

  it.scopedLive("an app's own Transfer-Encoding: chunked on a stream body: one Transfer-Encoding field", () =>
    Effect.gen(function*() {
      const port = yield* serve
      const result = yield* thenIgnore(port, "/apptestream", 2)
      const text = result.bytes.toString("latin1")
      const head = text.slice(0, text.indexOf("\r\n\r\n"))
      expect(head.match(/^transfer-encoding:/gim)?.length).toBe(1)
      expect(head.match(/^content-length:/gim)).toBeNull()
      expect(text).toContain("\r\n\r\n5\r\nHELLO\r\n0\r\n\r\n")
      expect(text).toContain("ignored")
    }))

  it.scopedLive("a stream longer than its contentLength: no byte past it, the connection closes", () =>
    Effect.gen(function*() {
      const port = yield* serve
      const result = yield* thenIgnore(port, "/overlong")
      const text = result.bytes.toString("latin1")
      expect(text.slice(text.indexOf("\r\n\r\n") + 4)).toBe("bbbb")
      expect(result.closedByServer).toBe(true)
    }))

  it.scopedLive("a stream shorter than its contentLength: the connection closes", () =>
    Effect.gen(function*() {
      const port = yield* serve
      const result = yield* thenIgnore(port, "/short")
      expect(result.closedByServer).toBe(true)
      expect(result.bytes.toString("latin1")).not.toContain("ignored")
    }))

  for (const status of [100, 101]) {
    it.scopedLive(`status ${status} as an ordinary route's final response is a 500`, () =>
      Effect.gen(function*() {
        const port = yield* serve
        const result = yield* sendRaw({
          port,
          chunks: [`GET /status${status} HTTP/1.1\r\nHost: x\r\n\r\n`],
          until: { responses: 1 },
          timeoutMs: 3000
        })
        expect(result.bytes.toString("latin1")).toMatch(/^HTTP\/1\.1 500 /)
      }))
  }

  it.scopedLive("an app's Connection: close is honoured: one Connection field, the connection closes", () =>
    Effect.gen(function*() {
      const port = yield* serve
      const result = yield* thenIgnore(port, "/connclose")
      const text = result.bytes.toString("latin1")
      const head = text.slice(0, text.indexOf("\r\n\r\n"))
      expect(head.match(/^connection:/gim)?.length).toBe(1)
      expect(result.closedByServer).toBe(true)
      expect(text).not.toContain("ignored")
    }))

  it.scopedLive("a WebSocket frame in the upgrade request's segment reaches the app (node's upgrade `head`)", () =>
    Effect.gen(function*() {
      const port = yield* serve
      const payload = Buffer.from("hello in the same segment")
      const mask = Buffer.from([0x12, 0x34, 0x56, 0x78])
      // A masked text frame, as a client sends it: FIN + text, mask bit + length, key, masked payload.
      const frame = Buffer.concat([
        Buffer.from([0x81, 0x80 | payload.length]),
        mask,
        Buffer.from(payload.map((byte, i) => byte ^ mask[i % 4]!))
      ])
      const upgrade = Buffer.from(
        "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        "latin1"
      )
      const echo = Buffer.concat([Buffer.from([0x81, payload.length]), payload])
      const received = yield* Effect.acquireRelease(
        Effect.sync(() => Net.connect({ port, host: "127.0.0.1" })),
        (socket) => Effect.sync(() => socket.destroy())
      ).pipe(Effect.flatMap((socket) =>
        Effect.async<Buffer>((resume) => {
          const chunks: Array<Buffer> = []
          const finish = () => resume(Effect.succeed(Buffer.concat(chunks)))
          socket.on("error", () => {})
          socket.on("close", finish)
          socket.on("data", (chunk) => {
            chunks.push(chunk)
            if (Buffer.concat(chunks).includes(echo)) finish()
          })
          // One write: the frame arrives in the upgrade request's segment.
          socket.write(Buffer.concat([upgrade, frame]))
        })
      ), Effect.timeout("5 seconds"))
      const text = received.toString("latin1")
      expect(text).toMatch(/^HTTP\/1\.1 101 /)
      expect(received.subarray(received.indexOf("\r\n\r\n") + 4)).toEqual(echo)
    }))

  for (const [name, request] of [
    ["a streamed response the client stopped reading", "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n"],
    [
      "an open WebSocket",
      "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ]
  ] as const) {
    it.live(`shutdown with ${name} completes within shutdownTimeout (+ slack)`, () =>
      Effect.gen(function*() {
        const scope = yield* Scope.make()
        const context = yield* Layer.buildWithScope(
          HttpServer.serve(app).pipe(Layer.provideMerge(PlatformServer.layer({
            host: "127.0.0.1",
            port: 0,
            shutdownTimeout: "1 second"
          }))),
          scope
        )
        const port = portOf(Context.get(context, HttpServer.HttpServer))
        const socket = Net.connect({ port, host: "127.0.0.1" })
        socket.on("error", () => {})
        yield* Effect.async<void>((resume) => {
          socket.once("data", () => {
            socket.pause()
            resume(Effect.void)
          })
          socket.write(request)
        })
        yield* Effect.sleep("300 millis")
        const closed = yield* Scope.close(scope, Exit.void).pipe(Effect.disconnect, Effect.timeout("5 seconds"), Effect.either)
        socket.destroy()
        expect(closed._tag).toBe("Right")
      }), { timeout: 20_000 })
  }
})
