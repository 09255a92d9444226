/**
 * A TLS port from the outside: connections that never finish their handshake (probes, silence, a FIN, plain HTTP)
 * are closed and release their descriptors, the shutdown closes them, and only forward-secret AEAD suites are agreed.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import { execFileSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as NodePath from "node:path"
import * as Tls from "node:tls"
import * as AccessLog from "../src/AccessLog.js"
import * as Handler from "../src/Handler.js"
import * as Response from "../src/Response.js"
import * as Server from "../src/Server.js"
import { classifyFirstBytes } from "../src/internal/tlsGate.js"
import { ensureBuilt, start as startCli } from "./support/cliProcess.js"
import { waitFor } from "./support/cgiKit.js"
import { sendRaw } from "./support/rawClient.js"

const dir = Fs.mkdtempSync("/tmp/effect-httpd-tlsport-")
const certFile = NodePath.join(dir, "cert.pem")
const keyFile = NodePath.join(dir, "key.pem")

beforeAll(() => {
  ensureBuilt()
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
    "-keyout", keyFile, "-out", certFile
  ], { stdio: "ignore" })
}, 60_000)
afterAll(() => Fs.rmSync(dir, { recursive: true, force: true }))

const tlsOptions = () => ({ cert: Fs.readFileSync(certFile), key: Fs.readFileSync(keyFile) })

/** A TLS server in its own scope (so a test can close it), logging into `lines`. */
const startTls = (options: Server.ServerOptions = {}, lines: Array<string> = []) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const routes: Handler.Routes<never> = { GET: (request) => Effect.succeed(Response.text(`${request.path}\n`)) }
    const server = yield* Server.make({ port: 0, host: "127.0.0.1", tls: tlsOptions(), ...options }).pipe(
      Effect.provide(Layer.merge(Handler.layer(routes), AccessLog.layerCollect(lines))),
      Scope.extend(scope)
    )
    yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
    return { server, port: server.address.port, scope, lines }
  })

const openFds = () => Fs.readdirSync("/proc/self/fd").length

/** A TCP connection that is opened, optionally sends `bytes`, and is closed (FIN) by the client. */
const probe = (port: number, bytes?: Uint8Array) =>
  Effect.async<void>((resume) => {
    const socket = Net.connect({ host: "127.0.0.1", port }, () => {
      if (bytes !== undefined) socket.write(bytes)
      socket.destroy()
    })
    socket.on("error", () => {})
    socket.on("close", () => resume(Effect.void))
  })

interface Handshake {
  readonly ok: boolean
  readonly protocol: string | null
  readonly cipher: string | undefined
  readonly body: string
}

/** A TLS client with the given settings: did the handshake succeed, with what, and what did `GET /` answer? */
const handshake = (port: number, options: Tls.ConnectionOptions) =>
  Effect.async<Handshake>((resume) => {
    let secured: Omit<Handshake, "body"> | undefined
    const chunks: Array<Buffer> = []
    const socket = Tls.connect({ host: "127.0.0.1", port, rejectUnauthorized: false, ...options }, () => {
      secured = { ok: true, protocol: socket.getProtocol(), cipher: socket.getCipher()?.name }
      socket.end("GET /modern HTTP/1.0\r\n\r\n")
    })
    socket.on("data", (chunk: Buffer) => chunks.push(chunk))
    socket.on("error", () => {})
    socket.on("close", () =>
      resume(Effect.succeed({
        ...(secured ?? { ok: false, protocol: null, cipher: undefined }),
        body: Buffer.concat(chunks).toString("latin1")
      })))
    return Effect.sync(() => socket.destroy())
  }).pipe(Effect.timeout("5 seconds"))

describe("TLS port: connections that never finish the handshake", () => {
  it("classifies the first bytes: TLS record, plain HTTP method, undecided", () => {
    const of = (text: string) => classifyFirstBytes(Buffer.from(text, "latin1"))
    expect(classifyFirstBytes(Buffer.from([0x16, 0x03, 0x01]))).toBe("Tls")
    expect(of("GET / HTTP/1.1\r\n")).toBe("PlainHttp")
    expect(of("PROPFIND /")).toBe("PlainHttp")
    expect(of("x-Custom! /")).toBe("PlainHttp")
    expect(of("")).toBe("NeedMore")
    expect(of("GE")).toBe("NeedMore")
    expect(of("\x80\x2e\x01")).toBe("Tls")
    expect(of(" GET /")).toBe("Tls")
    expect(of("GET\t/")).toBe("Tls")
    expect(of("G".repeat(25))).toBe("Tls")
    expect(of("G".repeat(24))).toBe("NeedMore")
  })

  it.scopedLive("50 connect+close probes: every descriptor is released (no CLOSE-WAIT leak)", () =>
    Effect.gen(function*() {
      const { port } = yield* startTls()
      // Warm up (lazily opened descriptors of the TLS stack and the event loop), then take the baseline.
      yield* handshake(port, {})
      yield* Effect.sleep("100 millis")
      const baseline = openFds()
      yield* Effect.forEach(Array.from({ length: 50 }, (_, i) => i), (i) =>
        // Plain connect+close, and a FIN after part of a ClientHello.
        probe(port, i % 2 === 0 ? undefined : Buffer.from([0x16, 0x03, 0x01, 0x00, 0x40])), { concurrency: 10 })
      yield* waitFor("descriptors back at the baseline", () => openFds() <= baseline)
    }))

  it.scopedLive("a silent connection, a stalled ClientHello and a stalled method are closed at the handshake deadline", () =>
    Effect.gen(function*() {
      // The deadline defaults to the header timeout.
      const { port } = yield* startTls({ headerTimeout: "300 millis" })
      for (const chunks of [[], [Buffer.from([0x16, 0x03, 0x01, 0x00, 0x40, 0x01])], ["GE"]]) {
        const ex = yield* sendRaw({ port, chunks, timeoutMs: 5_000 })
        expect(ex).toMatchObject({ closedByServer: true, timedOut: false })
        expect(ex.bytes.length).toBe(0)
      }
      // A handshake that completes in time is not cut by it.
      const ok = yield* handshake(port, {})
      expect(ok).toMatchObject({ ok: true })
    }))

  it.scopedLive("a FIN before the handshake closes the connection at once, long before the deadline", () =>
    Effect.gen(function*() {
      const { port } = yield* startTls({ handshakeTimeout: "60 seconds" })
      for (const chunks of [[], [Buffer.from([0x16, 0x03, 0x01, 0x00, 0x40, 0x01])], ["GET"]]) {
        const ex = yield* sendRaw({ port, chunks, halfClose: true, timeoutMs: 3_000 })
        expect(ex).toMatchObject({ closedByServer: true, timedOut: false })
      }
    }))

  it.scopedLive("plain HTTP on the TLS port: a plain-text 400 and a log line, then the port still speaks TLS", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const { port } = yield* startTls({ protocolVersion: "HTTP/1.1" }, lines)
      const ex = yield* sendRaw({ port, chunks: ["GET /page HTTP/1.1\r\nHost: localhost\r\n\r\n"] })
      expect(ex.closedByServer).toBe(true)
      expect(ex.responses.length).toBe(1)
      const response = ex.responses[0]!
      expect(response.status).toBe(400)
      expect(response.headers).toContainEqual(["Connection", "close"])
      expect(response.body.toString()).toContain("The plain HTTP request was sent to HTTPS port")
      // The method split over two reads, and an unknown method, get the same answer.
      const split = yield* sendRaw({ port, chunks: ["GE", "T / HTTP/1.0\r\n\r\n"], delayBetweenChunksMs: 50 })
      expect(split.responses.map((r) => r.status)).toEqual([400])
      const odd = yield* sendRaw({ port, chunks: ["BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n"] })
      expect(odd.responses.map((r) => r.status)).toEqual([400])
      yield* Effect.sleep("50 millis")
      expect(lines.some((l) => l.includes("code 400, message The plain HTTP request was sent to HTTPS port"))).toBe(true)
      expect(lines.some((l) => /^127\.0\.0\.1 - - \[.*\] "GET \/page HTTP\/1\.1" 400 -$/.test(l))).toBe(true)
      expect(yield* handshake(port, {})).toMatchObject({ ok: true })
    }))

  it.scopedLive("shutdown closes connections still before their handshake: the scope closes well within the grace", () =>
    Effect.gen(function*() {
      const { port, scope, server } = yield* startTls({ shutdownTimeout: "30 seconds", handshakeTimeout: "60 seconds" })
      const sockets = Array.from({ length: 6 }, (_, i) => {
        const socket = Net.connect({ host: "127.0.0.1", port }, () => {
          if (i % 2 === 1) socket.write(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x40]))
        })
        socket.on("error", () => {})
        return socket
      })
      yield* Effect.addFinalizer(() => Effect.sync(() => sockets.forEach((s) => s.destroy())))
      yield* Effect.sleep("200 millis")
      expect(server.activeConnections()).toBe(0)
      // With the 30 s grace, only closing the pending connections can end this before the 10 s budget.
      const closed = yield* Effect.timeout(Scope.close(scope, Exit.void), "10 seconds").pipe(Effect.option)
      expect(closed._tag).toBe("Some")
      yield* waitFor("every pre-handshake socket closed", () => sockets.every((s) => s.destroyed || s.readableEnded))
    }))

  it.scopedLive("the executable exits promptly on SIGTERM and SIGINT with pre-handshake connections open", () =>
    Effect.gen(function*() {
      for (const signal of ["SIGTERM", "SIGINT"] as const) {
        const server = yield* startCli(["-b", "127.0.0.1", "--tls-cert", certFile, "--tls-key", keyFile, "0"])
        const sockets = Array.from({ length: 6 }, (_, i) => {
          const socket = Net.connect({ host: "127.0.0.1", port: server.port }, () => {
            if (i % 2 === 1) socket.write(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x40]))
          })
          socket.on("error", () => {})
          return socket
        })
        yield* Effect.addFinalizer(() => Effect.sync(() => sockets.forEach((s) => s.destroy())))
        yield* Effect.sleep("300 millis")
        const signalled = Date.now()
        server.child.kill(signal)
        const exit = yield* Effect.promise(() => server.exited).pipe(Effect.timeout("15 seconds"))
        const took = Date.now() - signalled
        expect(exit.code).toBe(0)
        // Nothing is in flight, so nothing waits for the 2 s grace (Cli.SHUTDOWN_GRACE).
        expect(took).toBeLessThan(1_900)
      }
    }), 40_000)
})

describe("TLS port: the connection cap", () => {
  it.scopedLive("a connection over the cap waits before its handshake, then completes it when a slot frees", () =>
    Effect.gen(function*() {
      const { port } = yield* startTls({ maxConnections: 1, handshakeTimeout: "300 millis" })
      // The slot is held by a connection before its handshake (it counts); the next waits unread, past the deadline.
      const first = Net.connect({ host: "127.0.0.1", port })
      first.on("error", () => {})
      yield* Effect.addFinalizer(() => Effect.sync(() => first.destroy()))
      yield* Effect.sleep("100 millis")
      const second = yield* Effect.fork(handshake(port, {}))
      yield* Effect.sleep("100 millis")
      // The first is closed at its deadline; the second, which waited, then gets its own deadline and completes.
      const result = yield* second.await
      expect(result._tag).toBe("Success")
      if (result._tag === "Success") expect(result.value).toMatchObject({ ok: true, body: expect.stringMatching(/\/modern\n$/) })
    }))
})

describe("TLS port: cipher suites", () => {
  it.scopedLive("forward-secret AEAD suites only: static RSA, CBC and TLS 1.1 are refused; modern clients connect", () =>
    Effect.gen(function*() {
      const { port } = yield* startTls()
      for (const cipher of ["AES128-SHA", "AES128-GCM-SHA256", "AES256-SHA256", "ECDHE-RSA-AES128-SHA", "ECDHE-RSA-AES256-SHA384"]) {
        const result = yield* handshake(port, { ciphers: cipher, maxVersion: "TLSv1.2" })
        expect({ cipher, ok: result.ok }).toEqual({ cipher, ok: false })
      }
      const old = yield* handshake(port, {
        minVersion: "TLSv1",
        maxVersion: "TLSv1.1",
        ciphers: "ECDHE-RSA-AES128-SHA:@SECLEVEL=0"
      })
      expect(old.ok).toBe(false)
      for (const cipher of ["ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-RSA-CHACHA20-POLY1305"]) {
        const result = yield* handshake(port, { ciphers: cipher, maxVersion: "TLSv1.2" })
        expect(result).toMatchObject({ ok: true, protocol: "TLSv1.2", cipher })
        expect(result.body).toMatch(/^HTTP\/1\.0 200 OK\r\n[\s\S]*\/modern\n$/)
      }
      const modern = yield* handshake(port, {})
      expect(modern).toMatchObject({ ok: true, protocol: "TLSv1.3" })
    }))

  it.scopedLive("a caller's own `tls.ciphers` replaces the default", () =>
    Effect.gen(function*() {
      const { port } = yield* startTls({ tls: { ...tlsOptions(), ciphers: "AES128-GCM-SHA256" } })
      const result = yield* handshake(port, { ciphers: "AES128-GCM-SHA256", maxVersion: "TLSv1.2" })
      expect(result).toMatchObject({ ok: true, cipher: "AES128-GCM-SHA256" })
    }))
})
