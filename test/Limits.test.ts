/**
 * Abuse and limits over real sockets: idle and slow heads, stalled readers, the connection cap, thousands of
 * simultaneous connections, and faults (resets mid-request and mid-response, running out of descriptors).
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as ChildProcess from "node:child_process"
import * as NodeFs from "node:fs"
import * as Net from "node:net"
import * as AccessLog from "../src/AccessLog.js"
import * as Handler from "../src/Handler.js"
import * as Response from "../src/Response.js"
import * as Server from "../src/Server.js"
import { echoRoutes } from "./support/echoRoutes.js"
import { sendRaw } from "./support/rawClient.js"

interface Probe {
  streamsStarted: number
  streamsFinalized: number
}

/** GET /big streams 64 MiB lazily and records when the stream's scope closes; everything else is the echo routes. */
const routes = (probe: Probe): Handler.Routes<never> => ({
  ...echoRoutes,
  GET: (request) => {
    if (request.path !== "/big") return echoRoutes.GET!(request)
    const chunk = Buffer.alloc(64 * 1024, 0x61)
    const body = Stream.repeatValue(chunk).pipe(
      Stream.take(1024),
      Stream.onStart(Effect.sync(() => probe.streamsStarted++)),
      Stream.ensuring(Effect.sync(() => probe.streamsFinalized++))
    )
    return Effect.succeed(Response.stream(body, { contentType: "application/octet-stream", contentLength: 64 * 1024 * 1024 }))
  }
})

const start = (options: Server.ServerOptions, lines: Array<string> = []) =>
  Effect.gen(function*() {
    const probe: Probe = { streamsStarted: 0, streamsFinalized: 0 }
    const server = yield* Server.make({ port: 0, protocolVersion: "HTTP/1.1", ...options }).pipe(
      Effect.provide(Layer.merge(Handler.layer(routes(probe)), AccessLog.layerCollect(lines)))
    )
    return { server, probe, port: server.address.port, lines }
  })

/** A raw client socket closed with the scope; `received` collects what arrives, `closed` turns true on FIN/RST. */
const open = (port: number, options: { readonly paused?: boolean } = {}) =>
  Effect.acquireRelease(
    Effect.async<{ socket: Net.Socket; state: { received: number; text: string; closed: boolean; error: string | undefined } }>((resume) => {
      const state = { received: 0, text: "", closed: false, error: undefined as string | undefined }
      const socket = Net.connect({ host: "127.0.0.1", port })
      socket.on("data", (d: Buffer) => {
        state.received += d.length
        if (state.text.length < 4096) state.text += d.toString("latin1")
      })
      socket.on("end", () => (state.closed = true))
      socket.on("close", () => (state.closed = true))
      socket.on("error", (e: NodeJS.ErrnoException) => (state.error = e.code ?? e.message))
      socket.once("connect", () => {
        if (options.paused === true) socket.pause()
        resume(Effect.succeed({ socket, state }))
      })
      socket.once("error", () => resume(Effect.succeed({ socket, state })))
    }),
    ({ socket }) => Effect.sync(() => socket.destroy())
  )

/** Polls `check` every 20 ms until it holds or `ms` pass. */
const waitFor = (check: () => boolean, ms = 5000) =>
  Effect.gen(function*() {
    const deadline = Date.now() + ms
    while (!check() && Date.now() < deadline) yield* Effect.sleep("20 millis")
    return check()
  })

const openFds = () => NodeFs.readdirSync("/proc/self/fd").length

describe("timeouts", () => {
  it.scopedLive("an idle keep-alive connection is closed after idleTimeout, and the timeout is logged", () =>
    Effect.gen(function*() {
      const { port, lines } = yield* start({ idleTimeout: "300 millis" })
      const { socket, state } = yield* open(port)
      socket.write("GET /a HTTP/1.1\r\nHost: localhost\r\n\r\n")
      expect(yield* waitFor(() => state.text.includes("path=/a"))).toBe(true)
      expect(state.closed).toBe(false)
      expect(yield* waitFor(() => state.closed, 3000)).toBe(true)
      expect(lines.some((l) => l.endsWith("Request timed out: TimeoutError('timed out')"))).toBe(true)
    }))

  it.scopedLive("a head that stops arriving is cut off after idleTimeout with no response", () =>
    Effect.gen(function*() {
      const { port } = yield* start({ idleTimeout: "300 millis" })
      const { socket, state } = yield* open(port)
      socket.write("GET /slow HTTP/1.1\r\nHost: localhost\r\nX-Pad: ")
      expect(yield* waitFor(() => state.closed, 3000)).toBe(true)
      expect(state.received).toBe(0)
    }))

  it.scopedLive("slowloris under the idle timer: a byte every 100 ms outlives idleTimeout 300 ms (why headerTimeout is needed)", () =>
    Effect.gen(function*() {
      const { port, server } = yield* start({ idleTimeout: "300 millis" })
      const { socket, state } = yield* open(port)
      socket.write("GET / HTTP/1.1\r\nHost: localhost\r\n")
      for (let i = 0; i < 12; i++) {
        yield* Effect.sleep("100 millis")
        socket.write("X")
      }
      // 1.2 s after the first byte, four idle periods, the trickled head is still being read.
      expect(state.closed).toBe(false)
      expect(server.activeConnections()).toBe(1)
      socket.write(": 1\r\n\r\n")
      expect(yield* waitFor(() => state.text.includes("path=/"))).toBe(true)
    }))

  it.scopedLive("a client that never reads a large streamed response is dropped after writeTimeout; the stream's scope closes", () =>
    Effect.gen(function*() {
      const { port, server, probe, lines } = yield* start({ writeTimeout: "300 millis" })
      const { socket } = yield* open(port, { paused: true })
      socket.write("GET /big HTTP/1.1\r\nHost: localhost\r\n\r\n")
      expect(yield* waitFor(() => probe.streamsStarted === 1)).toBe(true)
      expect(yield* waitFor(() => probe.streamsFinalized === 1 && server.activeConnections() === 0, 5000)).toBe(true)
      expect(lines.some((l) => l.endsWith("Request timed out: TimeoutError('timed out')"))).toBe(true)
      // Others are still served.
      const ex = yield* sendRaw({ port, chunks: ["GET /after HTTP/1.0\r\n\r\n"] })
      expect(ex.responses[0]!.status).toBe(200)
    }))
})

describe("caps", () => {
  it.scopedLive("maxConnections: excess connections wait unread and are served when a slot frees", () =>
    Effect.gen(function*() {
      const { port, server } = yield* start({ maxConnections: 2 })
      const a = yield* open(port)
      const b = yield* open(port)
      a.socket.write("GET /a HTTP/1.1\r\nHost: localhost\r\n\r\n")
      b.socket.write("GET /b HTTP/1.1\r\nHost: localhost\r\n\r\n")
      expect(yield* waitFor(() => a.state.text.includes("path=/a") && b.state.text.includes("path=/b"))).toBe(true)
      // Busy, not idle: a next head under way (idle keep-alive connections would be closed to make room).
      a.socket.write("GET /a2 HTTP/1.1\r\n")
      b.socket.write("GET /b2 HTTP/1.1\r\n")
      const c = yield* open(port)
      c.socket.write("GET /c HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
      yield* Effect.sleep("300 millis")
      expect(c.state.received).toBe(0)
      expect(server.activeConnections()).toBe(2)
      a.socket.destroy()
      expect(yield* waitFor(() => c.state.text.includes("path=/c"))).toBe(true)
    }))

  it.scopedLive("limits.maxBodyBytes: 413 for a declared length, 413 mid-way for a chunked body; header limits 431", () =>
    Effect.gen(function*() {
      const { port } = yield* start({ limits: { maxBodyBytes: 1000, maxHeaders: 10, maxHeaderLine: 200 } })
      const declared = yield* sendRaw({ port, chunks: ["POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1001\r\n\r\n"] })
      expect(declared.responses.map((r) => r.status)).toEqual([413])
      expect(declared.closedByServer).toBe(true)
      const chunked = yield* sendRaw({
        port,
        chunks: ["POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n", "200\r\n" + "x".repeat(512) + "\r\n", "200\r\n" + "y".repeat(512) + "\r\n"],
        delayBetweenChunksMs: 20
      })
      expect(chunked.responses.map((r) => r.status)).toEqual([413])
      const exact = yield* sendRaw({ port, chunks: ["POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n" + "z".repeat(1000)] })
      expect(exact.responses[0]!.body.toString()).toMatch(/^got 1000: z+\n$/)
      const many = yield* sendRaw({ port, chunks: ["GET / HTTP/1.1\r\nHost: localhost\r\n" + "A: b\r\n".repeat(10) + "\r\n"] })
      expect(many.responses.map((r) => r.status)).toEqual([431])
      const long = yield* sendRaw({ port, chunks: ["GET / HTTP/1.1\r\nHost: localhost\r\nA: " + "b".repeat(200) + "\r\n\r\n"] })
      expect(long.responses.map((r) => r.status)).toEqual([431])
    }))

  it.scopedLive("2000 simultaneous connections: a new client is still served, and every connection is released", () =>
    Effect.gen(function*() {
      const N = 2000
      // Over the default cap (1024), so that the 2001st, fresh client has a slot.
      const { port, server } = yield* start({ maxConnections: N + 1 })
      const fdsBefore = openFds()
      const rssBefore = process.memoryUsage().rss
      const sockets = yield* Effect.forEach(Array.from({ length: N }, (_, i) => i), (i) =>
        Effect.map(open(port), (c) => {
          // Half of them start a head and stall, the other half say nothing.
          if (i % 2 === 0) c.socket.write("GET /stalled HTTP/1.1\r\nHost: localhost\r\n")
          return c
        }), { concurrency: 200 })
      expect(sockets.every((s) => s.state.error === undefined)).toBe(true)
      expect(yield* waitFor(() => server.activeConnections() === N, 10_000)).toBe(true)
      const ex = yield* sendRaw({ port, chunks: ["GET /fresh HTTP/1.0\r\n\r\n"] })
      expect(ex.responses[0]!.body.toString()).toBe("path=/fresh\n")
      const rssDuring = process.memoryUsage().rss
      // Bounded: well under 50 KiB a connection (client and server sides both live in this process).
      expect(rssDuring - rssBefore).toBeLessThan(N * 50 * 1024)
      for (const s of sockets) s.socket.destroy()
      expect(yield* waitFor(() => server.activeConnections() === 0, 10_000)).toBe(true)
      expect(yield* waitFor(() => openFds() <= fdsBefore + 5, 5000)).toBe(true)
    }), 30_000)
})

describe("faults", () => {
  it.scopedLive("a reset in the middle of a request body: the handler is interrupted, the connection released", () =>
    Effect.gen(function*() {
      const { port, server } = yield* start({})
      const { socket } = yield* open(port)
      socket.write("POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000\r\n\r\n" + "x".repeat(1000))
      expect(yield* waitFor(() => server.activeConnections() === 1)).toBe(true)
      socket.resetAndDestroy()
      expect(yield* waitFor(() => server.activeConnections() === 0)).toBe(true)
      const ex = yield* sendRaw({ port, chunks: ["GET /after HTTP/1.0\r\n\r\n"] })
      expect(ex.responses[0]!.status).toBe(200)
    }))

  it.scopedLive("a reset in the middle of a streamed response: the stream's scope closes, the server keeps serving", () =>
    Effect.gen(function*() {
      const { port, server, probe } = yield* start({})
      const { socket, state } = yield* open(port)
      socket.write("GET /big HTTP/1.1\r\nHost: localhost\r\n\r\n")
      expect(yield* waitFor(() => state.received > 1024 * 1024)).toBe(true)
      socket.resetAndDestroy()
      expect(yield* waitFor(() => probe.streamsFinalized === 1 && server.activeConnections() === 0)).toBe(true)
      const ex = yield* sendRaw({ port, chunks: ["GET /after HTTP/1.0\r\n\r\n"] })
      expect(ex.responses[0]!.status).toBe(200)
    }))

  it.scopedLive("EMFILE: with the descriptor limit reached, connections fail; once freed, the server serves again", () =>
    Effect.gen(function*() {
      const { port, server } = yield* start({})
      const established = yield* open(port)
      const limits = () => NodeFs.readFileSync("/proc/self/limits", "latin1").match(/Max open files\s+(\d+)\s+(\d+)/)!
      const [, soft, hard] = limits()
      const setSoft = (n: string) => ChildProcess.execFileSync("prlimit", [`--pid=${process.pid}`, `--nofile=${n}:${hard}`])
      // Lower this process's own soft limit to just above what is open now (restored in every case).
      yield* Effect.acquireRelease(Effect.sync(() => setSoft(String(openFds() + 40))), () => Effect.sync(() => setSoft(soft!)))
      const clients = yield* Effect.forEach(Array.from({ length: 60 }, (_, i) => i), () => open(port), { concurrency: 1 })
      // Some connect attempts failed (socket() or accept() hit EMFILE): the server did not crash.
      const failed = clients.filter((c) => c.state.error !== undefined || c.state.closed).length
      expect(failed + server.activeConnections()).toBeGreaterThan(0)
      expect(clients.some((c) => c.state.error === "EMFILE") || server.activeConnections() < 61).toBe(true)
      // While descriptors are exhausted, a connection that already exists is still answered.
      established.socket.write("GET /during HTTP/1.1\r\nHost: localhost\r\n\r\n")
      expect(yield* waitFor(() => established.state.text.includes("path=/during"))).toBe(true)
      for (const c of clients) c.socket.destroy()
      yield* waitFor(() => server.activeConnections() === 0)
      setSoft(soft!)
      const ex = yield* sendRaw({ port, chunks: ["GET /recovered HTTP/1.0\r\n\r\n"] })
      expect(ex.responses[0]!.body.toString()).toBe("path=/recovered\n")
    }))
})
