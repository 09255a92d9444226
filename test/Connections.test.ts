/**
 * How many connections a server holds and for how long, from the outside: the default cap and what happens past it,
 * `--max-connections`, and a request body trickling in below the minimum rate.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as NodePath from "node:path"
import * as AccessLog from "../src/AccessLog.js"
import * as Cli from "../src/Cli.js"
import * as Handler from "../src/Handler.js"
import { HttpError } from "../src/HttpError.js"
import { readBody } from "../src/internal/connection.js"
import * as Response from "../src/Response.js"
import * as Server from "../src/Server.js"
import { rawOptions } from "./support/cliOptions.js"
import { ensureBuilt, start as startCli } from "./support/cliProcess.js"
import { echoRoutes } from "./support/echoRoutes.js"
import { waitFor } from "./support/cgiKit.js"
import { sendRaw } from "./support/rawClient.js"
import { startStatic } from "./support/staticServer.js"

const tmp = Fs.mkdtempSync(NodePath.join(Os.tmpdir(), "effect-httpd-connections-"))
beforeAll(() => ensureBuilt(), 60_000)
afterAll(() => Fs.rmSync(tmp, { recursive: true, force: true }))

/** The echo routes, and PUT: reads its body only after a second (reading from the socket pauses meanwhile). */
const routes: Handler.Routes<never> = {
  ...echoRoutes,
  PUT: (request) =>
    Effect.zipRight(Effect.sleep("1 second"), readBody(request)).pipe(
      Effect.map((body) => Response.text(`late ${body.length}\n`)),
      Effect.mapError(() => new HttpError({ status: 400 }))
    )
}

const start = (options: Server.ServerOptions, lines: Array<string> = []) =>
  Server.make({ port: 0, host: "127.0.0.1", ...options }).pipe(
    Effect.provide(Layer.merge(Handler.layer(routes), AccessLog.layerCollect(lines)))
  )

interface Client {
  readonly socket: Net.Socket
  readonly state: { text: string; closed: boolean }
}

/** Connects (closed with the scope); `state` records what arrives and whether the server closed. */
const connect = (port: number) =>
  Effect.acquireRelease(
    Effect.async<Client>((resume) => {
      const state = { text: "", closed: false }
      const socket = Net.connect({ host: "127.0.0.1", port }, () => resume(Effect.succeed({ socket, state })))
      socket.on("data", (chunk: Buffer) => (state.text += chunk.toString("latin1")))
      socket.on("end", () => (state.closed = true))
      socket.on("close", () => (state.closed = true))
      socket.on("error", () => {})
    }),
    ({ socket }) => Effect.sync(() => socket.destroy())
  )

const connectMany = (port: number, n: number) =>
  Effect.forEach(Array.from({ length: n }, (_, i) => i), () => connect(port), { concurrency: 100 })

describe("connection cap", () => {
  it.scopedLive("by default 1024 connections are served at once; the next ones wait unread and are served in turn", () =>
    Effect.gen(function*() {
      expect(Server.DEFAULT_MAX_CONNECTIONS).toBe(1024)
      const server = yield* start({})
      const port = server.address.port
      const held = yield* connectMany(port, Server.DEFAULT_MAX_CONNECTIONS)
      yield* waitFor("the default cap of connections served", () => server.activeConnections() === Server.DEFAULT_MAX_CONNECTIONS)
      const extra = yield* connect(port)
      extra.socket.write("GET /waited HTTP/1.0\r\n\r\n")
      yield* Effect.sleep("200 millis")
      expect(server.activeConnections()).toBe(Server.DEFAULT_MAX_CONNECTIONS)
      expect(extra.state.text).toBe("")
      held[0]!.socket.destroy()
      yield* waitFor("extra.state.closed", () => extra.state.closed)
      expect(extra.state.text).toMatch(/^HTTP\/1\.0 200 OK\r\n[\s\S]*\/waited\n$/)
    }), 30_000)

  it.scopedLive(`past the cap, ${Server.MAX_WAITING} connections wait; beyond that a new one is closed at once`, () =>
    Effect.gen(function*() {
      const server = yield* start({ maxConnections: 1 })
      const port = server.address.port
      const served = yield* connect(port)
      const waiting = yield* connectMany(port, Server.MAX_WAITING)
      yield* waitFor("server.activeConnections() === 1", () => server.activeConnections() === 1)
      const refused = yield* connect(port)
      yield* waitFor("refused.state.closed", () => refused.state.closed)
      expect(refused.state.text).toBe("")
      expect(waiting.some((c) => c.state.closed)).toBe(false)
      // A waiting connection is served once the slot frees.
      waiting[0]!.socket.write("GET /first HTTP/1.0\r\n\r\n")
      served.socket.destroy()
      yield* waitFor("waiting[0]!.state.closed", () => waiting[0]!.state.closed)
      expect(waiting[0]!.state.text).toMatch(/path=\/first\n$/)
    }), 30_000)

  it.scopedLive("a connection that sends nothing holds its slot for the header timeout, not the idle timeout", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const server = yield* start({ idleTimeout: "20 seconds", headerTimeout: "300 millis" }, lines)
      const silent = yield* sendRaw({ port: server.address.port, chunks: [], timeoutMs: 5_000 })
      expect(silent).toMatchObject({ closedByServer: true, timedOut: false })
      expect(lines.some((l) => l.endsWith("Request timed out: TimeoutError('timed out')"))).toBe(true)
      // A request sent at once is answered, and the deadline ends with its head.
      const ok = yield* sendRaw({
        port: server.address.port,
        chunks: ["POST / HTTP/1.0\r\nContent-Length: 4\r\n\r\n", "ab", "cd"],
        delayBetweenChunksMs: 200
      })
      expect(ok.responses.map((r) => r.body.toString())).toEqual(["got 4: abcd\n"])
    }))

  it.effect("--max-connections: a positive integer, passed to the server", () =>
    Effect.gen(function*() {
      const validate = (overrides: Partial<Cli.RawOptions>) =>
        Cli.validate(rawOptions(overrides), "/srv", (from, to) => NodePath.resolve(from, to))
      expect((yield* validate({ maxConnections: Option.some(8) })).maxConnections).toBe(8)
      expect((yield* validate({})).maxConnections).toBeUndefined()
      for (const bad of [0, -1]) {
        const error = yield* Effect.flip(validate({ maxConnections: Option.some(bad) }))
        expect(error.message).toBe(`argument --max-connections: invalid count '${bad}' (an integer of at least 1)`)
      }
      const parsed = yield* Effect.flip(
        Cli.run(["node", "effect-httpd", "--max-connections", "0", "0"]).pipe(Effect.provide(NodeContext.layer))
      )
      expect(parsed.message).toBe("argument --max-connections: invalid count '0' (an integer of at least 1)")
    }))

  it.scopedLive("the executable with --max-connections 1: a second client waits until the first closes", () =>
    Effect.gen(function*() {
      Fs.writeFileSync(NodePath.join(tmp, "hello.txt"), "hello\n")
      const server = yield* startCli(["-b", "127.0.0.1", "-d", tmp, "--max-connections", "1", "0"])
      const first = yield* connect(server.port)
      const second = yield* connect(server.port)
      second.socket.write("GET /hello.txt HTTP/1.0\r\n\r\n")
      yield* Effect.sleep("300 millis")
      expect(second.state.text).toBe("")
      first.socket.destroy()
      yield* waitFor("second.state.closed", () => second.state.closed)
      expect(second.state.text).toMatch(/^HTTP\/1\.0 200 OK\r\n[\s\S]*\r\n\r\nhello\n$/)
    }), 30_000)
})

describe("request body minimum rate", () => {
  const tempFiles = (dir: string) => Fs.readdirSync(dir).filter((name) => name.includes(".effect-httpd-upload-"))

  it.scopedLive("an upload trickling in below the rate is closed after the grace, and its temporary file removed", () =>
    Effect.gen(function*() {
      const dir = Fs.mkdtempSync(NodePath.join(tmp, "upload-"))
      const server = yield* startStatic(
        { directory: dir, upload: { maxBytes: 1_000_000 } },
        { bodyTimeout: "400 millis", bodyMinRate: 100 }
      )
      // One byte every 100 ms never leaves the body silent for 400 ms, but averages 10 bytes a second: the deadline
      // (400 ms + 10 ms a byte) passes after about half a second, long before the client would stop (10 s).
      const ex = yield* sendRaw({
        port: server.address.port,
        chunks: ["PUT /slow.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n", ...Array<string>(100).fill("x")],
        delayBetweenChunksMs: 100,
        timeoutMs: 5_000
      })
      expect(ex).toMatchObject({ closedByServer: true, timedOut: false })
      expect(ex.responses).toEqual([])
      yield* waitFor("no temporary upload file left", () => tempFiles(dir).length === 0)
      expect(Fs.existsSync(NodePath.join(dir, "slow.txt"))).toBe(false)
    }), 15_000)

  it.scopedLive("a body at a fair rate is not cut, however long it takes; 0 disables the rate", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const server = yield* start({ bodyTimeout: "400 millis", bodyMinRate: 100, protocolVersion: "HTTP/1.1" }, lines)
      // 1000 bytes a second for 1.5 s: well past the 400 ms grace, well above the rate.
      const fair = yield* sendRaw({
        port: server.address.port,
        chunks: ["POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1500\r\n\r\n", ...Array<string>(15).fill("y".repeat(100))],
        delayBetweenChunksMs: 100,
        until: { responses: 1 }
      })
      expect(fair.responses.map((r) => r.body.toString())).toEqual([`got 1500: ${"y".repeat(1500)}\n`])
      const unlimited = yield* start({ bodyTimeout: "400 millis", bodyMinRate: 0 })
      const slow = yield* sendRaw({
        port: unlimited.address.port,
        chunks: ["POST / HTTP/1.0\r\nContent-Length: 12\r\n\r\n", ...Array<string>(12).fill("z")],
        delayBetweenChunksMs: 100
      })
      expect(slow.responses.map((r) => r.body.toString())).toEqual([`got 12: ${"z".repeat(12)}\n`])
    }), 15_000)

  it.scopedLive("time the server does not read (its own backpressure) does not count against the client", () =>
    Effect.gen(function*() {
      // At 1 MB/s what arrives before reading pauses (64 KiB and a little more) buys about 0.5 s with the grace; the
      // handler reads nothing for a second.
      const server = yield* start({ bodyTimeout: "400 millis", bodyMinRate: 1_000_000 })
      const size = 4 * 1024 * 1024
      const ex = yield* sendRaw({
        port: server.address.port,
        chunks: [`PUT /late HTTP/1.0\r\nContent-Length: ${size}\r\n\r\n`, Buffer.alloc(size, 0x61)]
      })
      expect(ex.responses.map((r) => r.body.toString())).toEqual([`late ${size}\n`])
    }), 15_000)
})
