import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as fs from "node:fs"
import { execFileSync } from "node:child_process"
import * as net from "node:net"
import * as tls from "node:tls"
import * as AccessLog from "../src/AccessLog.js"
import * as Handler from "../src/Handler.js"
import * as Response from "../src/Response.js"
import * as Server from "../src/Server.js"
import { readBody } from "../src/internal/connection.js"
import { waitFor } from "./support/cgiKit.js"
import { parseResponses, sendRaw } from "./support/rawClient.js"

const routes = (extra: Handler.Routes<never> = {}): Handler.Routes<never> => ({
  GET: (request) => Effect.succeed(Response.text(`${request.path}\n`)),
  ...extra
})

/** Starts a server in its own scope, so a test can close it while requests are in flight. */
const startServer = (options: Server.ServerOptions, handlers: Handler.Routes<never> = routes(), lines: Array<string> = []) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const server = yield* Server.make({ port: 0, ...options }).pipe(
      Effect.provide(Layer.merge(Handler.layer(handlers), AccessLog.layerCollect(lines))),
      Scope.extend(scope)
    )
    yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
    return { server, scope, lines }
  })

/** A handler that signals `started`, never answers, and signals `released` when its request scope closes. */
const blockUntilInterrupted = (started: Deferred.Deferred<void>, released: Deferred.Deferred<void>) =>
  Effect.acquireRelease(Deferred.succeed(started, undefined), () => Deferred.succeed(released, undefined)).pipe(
    Effect.zipRight(Effect.never),
    Effect.as(Response.text("never"))
  )

const openFds = () => fs.readdirSync("/proc/self/fd").length
const settle = (ms = 50) => Effect.promise(() => new Promise((r) => setTimeout(r, ms)))

describe("Server over real sockets", () => {
  it.scopedLive("binds port 0 on IPv4 and reports the address", () =>
    Effect.gen(function*() {
      const { server } = yield* startServer({ host: "127.0.0.1" })
      expect(server.address.hostname).toBe("127.0.0.1")
      expect(server.address.family).toBe("IPv4")
      expect(server.address.port).toBeGreaterThan(0)
      const ex = yield* sendRaw({ port: server.address.port, chunks: ["GET /v4 HTTP/1.0\r\n\r\n"] })
      expect(ex.responses[0]!.body.toString()).toBe("/v4\n")
    }))

  it.scopedLive("serves IPv6 on ::1, and dual-stack on :: (IPv4 clients appear as ::ffff:)", () =>
    Effect.gen(function*() {
      const v6 = yield* startServer({ host: "::1" })
      expect(v6.server.address.family).toBe("IPv6")
      expect(Server.url(v6.server)).toBe(`http://[::1]:${v6.server.address.port}/`)
      const ex6 = yield* sendRaw({ host: "::1", port: v6.server.address.port, chunks: ["GET /six HTTP/1.0\r\n\r\n"] })
      expect(ex6.responses[0]!.body.toString()).toBe("/six\n")
      const dual = yield* startServer({ host: "::" })
      const ex4 = yield* sendRaw({ host: "127.0.0.1", port: dual.server.address.port, chunks: ["GET /four HTTP/1.0\r\n\r\n"] })
      expect(ex4.responses[0]!.body.toString()).toBe("/four\n")
      yield* settle()
      expect(dual.lines.at(-1)).toMatch(/^::ffff:127\.0\.0\.1 - - /)
    }))

  it.scopedLive("HTTPS on the same engine, ALPN settling on http/1.1", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync("/tmp/effect-httpd-tls-")
      yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))
      execFileSync("openssl", [
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
        "-keyout", `${dir}/key.pem`, "-out", `${dir}/cert.pem`
      ], { stdio: "ignore" })
      const { server } = yield* startServer({
        tls: { cert: fs.readFileSync(`${dir}/cert.pem`), key: fs.readFileSync(`${dir}/key.pem`) }
      })
      expect(Server.url(server)).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/$/)
      const result = yield* Effect.async<{ alpn: string | false; body: string }>((resume) => {
        const socket = tls.connect({
          host: "127.0.0.1",
          port: server.address.port,
          rejectUnauthorized: false,
          ALPNProtocols: ["h2", "http/1.1"]
        }, () => socket.write("GET /secure HTTP/1.0\r\n\r\n"))
        const chunks: Array<Buffer> = []
        socket.on("data", (d: Buffer) => chunks.push(d))
        socket.on("close", () =>
          resume(Effect.succeed({ alpn: socket.alpnProtocol ?? false, body: Buffer.concat(chunks).toString() })))
      })
      expect(result.alpn).toBe("http/1.1")
      expect(result.body).toMatch(/^HTTP\/1\.0 200 OK\r\n[\s\S]*\r\n\r\n\/secure\n$/)
    }))

  it.scopedLive("bad TLS material is a typed ServeError, not a crash", () =>
    Effect.gen(function*() {
      const result = yield* Effect.either(startServer({ tls: { cert: "garbage", key: "garbage" } }))
      expect(result._tag).toBe("Left")
      if (result._tag === "Left") expect(result.left).toMatchObject({ _tag: "ServeError", reason: "InvalidTls" })
    }))

  it.scopedLive("a port in use is a typed ServeError", () =>
    Effect.gen(function*() {
      const { server } = yield* startServer({})
      const result = yield* Effect.either(startServer({ port: server.address.port }))
      expect(result._tag).toBe("Left")
      if (result._tag === "Left") expect(result.left).toMatchObject({ _tag: "ServeError", reason: "AddressInUse" })
    }))

  it.scopedLive("keep-alive and pipelining under HTTP/1.1; one response per connection under HTTP/1.0", () =>
    Effect.gen(function*() {
      const pipelined = "GET /1 HTTP/1.1\r\nHost: localhost\r\n\r\nGET /2 HTTP/1.1\r\nHost: localhost\r\n\r\nGET /3 HTTP/1.1\r\nHost: localhost\r\n\r\n"
      const v11 = yield* startServer({ protocolVersion: "HTTP/1.1" })
      const a = yield* sendRaw({ port: v11.server.address.port, chunks: [pipelined], until: { responses: 3 } })
      expect(a.responses.map((r) => r.body.toString())).toEqual(["/1\n", "/2\n", "/3\n"])
      expect(a.closedByServer).toBe(false)
      // Requests split across writes at awkward places still pair with their responses.
      const b = yield* sendRaw({
        port: v11.server.address.port,
        chunks: ["GET /x HTTP/1.1\r", "\nHost: localhost\r\n\r\nGE", "T /y HTTP/1.1\r\nHost: localhost\r\n\r\n"],
        delayBetweenChunksMs: 20,
        until: { responses: 2 }
      })
      expect(b.responses.map((r) => r.body.toString())).toEqual(["/x\n", "/y\n"])
      const v10 = yield* startServer({ protocolVersion: "HTTP/1.0" })
      const c = yield* sendRaw({ port: v10.server.address.port, chunks: [pipelined] })
      expect(c.responses.map((r) => r.body.toString())).toEqual(["/1\n"])
      expect(c.closedByServer).toBe(true)
    }))

  it.scopedLive("a client that half-closes after its request still gets the (async) response", () =>
    Effect.gen(function*() {
      const { server } = yield* startServer({ protocolVersion: "HTTP/1.1" }, {
        GET: () => Effect.as(Effect.sleep("50 millis"), Response.text("late but here\n"))
      })
      const ex = yield* sendRaw({ port: server.address.port, chunks: ["GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"], halfClose: true })
      expect(ex.responses[0]!.body.toString()).toBe("late but here\n")
      expect(ex.closedByServer).toBe(true)
    }))

  it.scopedLive("Expect: 100-continue: 100 first, then the body is read and answered", () =>
    Effect.gen(function*() {
      const { server } = yield* startServer({ protocolVersion: "HTTP/1.1" }, {
        POST: (request) => Effect.map(Effect.orDie(readBody(request)), (body) => Response.text(`got ${body}`))
      })
      const socket = net.connect(server.address.port, "127.0.0.1")
      yield* Effect.addFinalizer(() => Effect.sync(() => socket.destroy()))
      const received: Array<Buffer> = []
      socket.on("data", (d) => received.push(d))
      socket.write("POST / HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\nContent-Length: 5\r\nConnection: close\r\n\r\n")
      // Waiting on the bytes, not a fixed pause: under load the 100 may take longer than any pause we would pick.
      yield* waitFor("the interim 100", () => received.length > 0)
      yield* settle(50)
      expect(Buffer.concat(received).toString()).toBe("HTTP/1.1 100 Continue\r\n\r\n")
      socket.write("hello")
      yield* waitFor("the final response", () => parseResponses(Buffer.concat(received)).responses.length === 2)
      const [interim, final] = parseResponses(Buffer.concat(received)).responses
      expect(interim!.status).toBe(100)
      expect(final!.statusLine).toBe("HTTP/1.1 200 OK")
      expect(final!.body.toString()).toBe("got hello")
    }))

  it.scopedLive("a client abort interrupts its request: the request scope's finalizers run", () =>
    Effect.gen(function*() {
      const started = yield* Deferred.make<void>()
      const released = yield* Deferred.make<void>()
      const { server } = yield* startServer({}, {
        GET: () => blockUntilInterrupted(started, released)
      })
      const socket = net.connect(server.address.port, "127.0.0.1")
      socket.write("GET / HTTP/1.0\r\n\r\n")
      yield* Deferred.await(started)
      // A reset, not a FIN: a FIN alone is a half-close, and the client may still be waiting for its response.
      socket.resetAndDestroy()
      yield* Deferred.await(released).pipe(Effect.timeout("2 seconds"))
      yield* settle()
      expect(server.activeConnections()).toBe(0)
    }))

  it.scopedLive("a reset is noticed even while reading is paused behind an unread body", () =>
    Effect.gen(function*() {
      const started = yield* Deferred.make<void>()
      const released = yield* Deferred.make<void>()
      const { server } = yield* startServer({}, {
        POST: () => blockUntilInterrupted(started, released)
      })
      const socket = net.connect(server.address.port, "127.0.0.1")
      socket.on("error", () => {})
      socket.write("POST / HTTP/1.0\r\nContent-Length: 8000000\r\n\r\n")
      socket.write(Buffer.alloc(512 * 1024))
      yield* Deferred.await(started)
      yield* settle(200)
      socket.resetAndDestroy()
      yield* Deferred.await(released).pipe(Effect.timeout("6 seconds"))
    }))

  it.scopedLive("single mode (HTTPServer): the next connection waits until the current one closes", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const order: Array<string> = []
      const { server } = yield* startServer({ mode: "single" }, {
        GET: (request) =>
          Effect.gen(function*() {
            if (request.path === "/slow") yield* Deferred.await(gate)
            order.push(request.path)
            return Response.text(request.path)
          })
      })
      const port = server.address.port
      const slow = yield* Effect.fork(sendRaw({ port, chunks: ["GET /slow HTTP/1.0\r\n\r\n"] }))
      yield* settle(50)
      const fast = yield* Effect.fork(sendRaw({ port, chunks: ["GET /fast HTTP/1.0\r\n\r\n"] }))
      yield* settle(150)
      expect(order).toEqual([])
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(slow)
      yield* Fiber.join(fast)
      expect(order).toEqual(["/slow", "/fast"])
    }))

  it.scopedLive("threading mode (ThreadingHTTPServer): connections are served concurrently, up to maxConnections", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const order: Array<string> = []
      const handlers = {
        GET: (request: { path: string }) =>
          Effect.gen(function*() {
            if (request.path.startsWith("/slow")) yield* Deferred.await(gate)
            order.push(request.path)
            return Response.text(request.path)
          })
      }
      const { server } = yield* startServer({ mode: "threading", maxConnections: 2 }, handlers)
      const port = server.address.port
      const slow = yield* Effect.fork(sendRaw({ port, chunks: ["GET /slow HTTP/1.0\r\n\r\n"] }))
      yield* settle(50)
      yield* sendRaw({ port, chunks: ["GET /fast HTTP/1.0\r\n\r\n"] })
      expect(order).toEqual(["/fast"])
      // Two slow ones fill the cap; a third connection waits.
      const slow2 = yield* Effect.fork(sendRaw({ port, chunks: ["GET /slow2 HTTP/1.0\r\n\r\n"] }))
      yield* settle(50)
      const third = yield* Effect.fork(sendRaw({ port, chunks: ["GET /third HTTP/1.0\r\n\r\n"] }))
      yield* settle(150)
      expect(order).toEqual(["/fast"])
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(slow)
      yield* Fiber.join(slow2)
      yield* Fiber.join(third)
      expect(order.slice(1).sort()).toEqual(["/slow", "/slow2", "/third"])
    }))

  it.scopedLive("shutdown: stops accepting, lets in-flight requests finish, closes idle keep-alive connections", () =>
    Effect.gen(function*() {
      const baseline = openFds()
      const { scope, server } = yield* startServer({ protocolVersion: "HTTP/1.1", shutdownTimeout: "2 seconds" }, {
        GET: (request) =>
          request.path === "/slow"
            ? Effect.as(Effect.sleep("300 millis"), Response.text("finished\n"))
            : Effect.succeed(Response.text("quick\n"))
      })
      const port = server.address.port
      // An idle keep-alive connection, and a request in flight.
      const idle = yield* sendRaw({ port, chunks: ["GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"], until: { responses: 1 } })
      expect(idle.responses).toHaveLength(1)
      const inFlight = yield* Effect.fork(sendRaw({ port, chunks: ["GET /slow HTTP/1.1\r\nHost: localhost\r\n\r\n"] }))
      yield* settle(50)
      const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
      yield* settle(50)
      // No longer accepting: the port refuses connections while the request in flight finishes.
      const refused = yield* Effect.either(sendRaw({ port, chunks: ["GET / HTTP/1.0\r\n\r\n"], timeoutMs: 1000 }))
      expect(refused._tag).toBe("Left")
      const ex = yield* Fiber.join(inFlight)
      expect(ex.responses.map((r) => r.body.toString())).toEqual(["finished\n"])
      expect(ex.closedByServer).toBe(true)
      yield* Fiber.join(closing)
      expect(server.activeConnections()).toBe(0)
      yield* settle(100)
      expect(openFds()).toBeLessThanOrEqual(baseline)
    }))

  it.scopedLive("shutdown: requests past the deadline are interrupted, their finalizers run, sockets close", () =>
    Effect.gen(function*() {
      const released = yield* Deferred.make<void>()
      const started = yield* Deferred.make<void>()
      const { scope, server } = yield* startServer({ shutdownTimeout: "200 millis" }, {
        GET: () => blockUntilInterrupted(started, released)
      })
      const inFlight = yield* Effect.fork(sendRaw({ port: server.address.port, chunks: ["GET / HTTP/1.0\r\n\r\n"] }))
      yield* Deferred.await(started)
      const t0 = Date.now()
      yield* Scope.close(scope, Exit.void)
      const took = Date.now() - t0
      expect(took).toBeGreaterThanOrEqual(150)
      expect(yield* Deferred.isDone(released)).toBe(true)
      const ex = yield* Fiber.join(inFlight)
      expect(ex.closedByServer).toBe(true)
      expect(ex.responses).toHaveLength(0)
      // The port is free again.
      const again = yield* startServer({ port: server.address.port })
      expect(again.server.address.port).toBe(server.address.port)
    }))

  it.scopedLive("an idle connection is closed after idleTimeout and the timeout is logged", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const { server } = yield* startServer({ protocolVersion: "HTTP/1.1", idleTimeout: "150 millis" }, routes(), lines)
      const ex = yield* sendRaw({ port: server.address.port, chunks: ["GET /a HTTP/1.1\r\nHost: localhost\r\n\r\n"], timeoutMs: 2000 })
      expect(ex.responses).toHaveLength(1)
      expect(ex.closedByServer).toBe(true)
      expect(ex.timedOut).toBe(false)
      expect(lines.at(-1)).toMatch(/Request timed out: TimeoutError\('timed out'\)$/)
    }))

  it.scopedLive("a large request body streams to the handler in pieces", () =>
    Effect.gen(function*() {
      const pieces: Array<number> = []
      const { server } = yield* startServer({ protocolVersion: "HTTP/1.1" }, {
        POST: (request) =>
          Effect.map(
            Effect.orDie(Stream.runForEach(request.body, (chunk) => Effect.sync(() => pieces.push(chunk.length)))),
            () => Response.text(`${pieces.reduce((a, b) => a + b, 0)}\n`)
          )
      })
      const size = 8 * 1024 * 1024
      const ex = yield* sendRaw({
        port: server.address.port,
        chunks: [`POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${size}\r\nConnection: close\r\n\r\n`, Buffer.alloc(size, 7)],
        timeoutMs: 10000
      })
      expect(ex.responses[0]!.body.toString()).toBe(`${size}\n`)
      expect(pieces.length).toBeGreaterThan(1)
      expect(Math.max(...pieces)).toBeLessThan(size)
    }))
})
