/**
 * The DNS-rebinding defence over real sockets, through the executable (issue 12 item 8): bound to a loopback address,
 * the server refuses requests for any other host name, before any handler (files, listings, CGI, uploads).
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as NodePath from "node:path"
import * as Layer from "effect/Layer"
import * as AccessLog from "../src/AccessLog.js"
import * as Handler from "../src/Handler.js"
import * as Server from "../src/Server.js"
import { ensureBuilt, runToExit, start } from "./support/cliProcess.js"
import { echoRoutes } from "./support/echoRoutes.js"
import { sendRaw } from "./support/rawClient.js"

const tmp = Fs.mkdtempSync(NodePath.join(Os.tmpdir(), "effect-httpd-rebind-"))
const www = NodePath.join(tmp, "www")

beforeAll(() => {
  ensureBuilt()
  Fs.chmodSync(tmp, 0o755)
  Fs.mkdirSync(NodePath.join(www, "cgi-bin"), { recursive: true, mode: 0o755 })
  Fs.writeFileSync(NodePath.join(www, "hello.txt"), "hello\n", { mode: 0o644 })
  Fs.writeFileSync(
    NodePath.join(www, "cgi-bin", "hi.sh"),
    "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\ncgi says hi\\n'\n",
    { mode: 0o755 }
  )
})
afterAll(() => Fs.rmSync(tmp, { recursive: true, force: true }))

/** One request on its own connection; the status, or undefined for no response. */
const status = (port: number, request: string) =>
  sendRaw({ port, chunks: [request], timeoutMs: 5000, headRequests: [request.startsWith("HEAD ")] })
    .pipe(Effect.map((ex) => ex.responses[0]?.status))

const get = (path: string, host: string | undefined, version = "HTTP/1.1") =>
  `GET ${path} ${version}\r\n${host === undefined ? "" : `Host: ${host}\r\n`}Connection: close\r\n\r\n`

describe.concurrent("--bind 127.0.0.1: Host must name this machine", () => {
  it.scopedLive("evil.example → 403 for every handler; localhost, 127.0.0.1, [::1] (with or without port) → served", () =>
    Effect.gen(function*() {
      const server = yield* start(["-b", "127.0.0.1", "-d", www, "-p", "HTTP/1.1", "--upload", "0"])
      const port = server.port
      for (const host of ["evil.example", `evil.example:${port}`, "EVIL.example.", "localhost.evil.example", "127.0.0.1.nip.io", "10.0.0.1", "[::2]"]) {
        expect([host, yield* status(port, get("/hello.txt", host))]).toEqual([host, 403])
      }
      // Listings, errors, other methods, uploads and the absolute form are refused at the same point.
      expect(yield* status(port, get("/", "evil.example"))).toBe(403)
      expect(yield* status(port, get("/missing", "evil.example"))).toBe(403)
      expect(yield* status(port, "OPTIONS * HTTP/1.1\r\nHost: evil.example\r\n\r\n")).toBe(403)
      expect(yield* status(port, "HEAD /hello.txt HTTP/1.1\r\nHost: evil.example\r\n\r\n")).toBe(403)
      expect(yield* status(port, "PUT /new.txt HTTP/1.1\r\nHost: evil.example\r\nContent-Length: 3\r\n\r\nabc")).toBe(403)
      expect(Fs.existsSync(NodePath.join(www, "new.txt"))).toBe(false)
      expect(yield* status(port, get("http://evil.example/hello.txt", "localhost"))).toBe(403)
      // A refused Expect: 100-continue gets no 100 first.
      const expect100 = yield* sendRaw({
        port,
        chunks: ["PUT /new.txt HTTP/1.1\r\nHost: evil.example\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n"],
        timeoutMs: 5000
      })
      expect(expect100.responses.map((r) => r.status)).toEqual([403])
      for (const host of ["localhost", `localhost:${port}`, "127.0.0.1", `127.0.0.1:${port}`, `[::1]:${port}`, "[::1]", `app.localhost:${port}`]) {
        expect([host, yield* status(port, get("/hello.txt", host))]).toEqual([host, 200])
      }
      expect(yield* status(port, get(`http://localhost:${port}/hello.txt`, "evil.example"))).toBe(200)
      // HTTP/1.0 without Host names nothing to rebind.
      expect(yield* status(port, get("/hello.txt", undefined, "HTTP/1.0"))).toBe(200)
      expect(yield* status(port, get("/hello.txt", "evil.example", "HTTP/1.0"))).toBe(403)
      // The page says why, without echoing the Host.
      const page = yield* sendRaw({ port, chunks: [get("/hello.txt", "<b>evil</b>.example")], timeoutMs: 5000 })
      expect(page.responses[0]!.status).toBe(400)
      const refused = yield* sendRaw({ port, chunks: [get("/hello.txt", "evil.example")], timeoutMs: 5000 })
      expect(refused.responses[0]!.statusLine).toBe("HTTP/1.1 403 Host not allowed")
      expect(refused.responses[0]!.body.toString()).not.toContain("evil.example")
      expect(server.stderr()).toContain("\"GET /hello.txt HTTP/1.1\" 403 -")
    }))

  it.scopedLive("CGI scripts are refused too", () =>
    Effect.gen(function*() {
      const server = yield* start(["-b", "127.0.0.1", "-d", www, "--cgi", "0"])
      expect(yield* status(server.port, get("/cgi-bin/hi.sh", "evil.example"))).toBe(403)
      expect(yield* status(server.port, get("/cgi-bin/hi.sh", `localhost:${server.port}`))).toBe(200)
    }))

  it.scopedLive("--allowed-host adds names (repeatable, without case or port); '*' allows any", () =>
    Effect.gen(function*() {
      const server = yield* start(["-b", "127.0.0.1", "-d", www, "--allowed-host", "evil.example", "--allowed-host", "Dev.Test", "0"])
      expect(yield* status(server.port, get("/hello.txt", "evil.example"))).toBe(200)
      expect(yield* status(server.port, get("/hello.txt", `dev.test:${server.port}`))).toBe(200)
      expect(yield* status(server.port, get("/hello.txt", "other.example"))).toBe(403)
      const any = yield* start(["-b", "127.0.0.1", "-d", www, "--allowed-host", "*", "0"])
      expect(yield* status(any.port, get("/hello.txt", "other.example"))).toBe(200)
    }))

  it.scopedLive("bound to all interfaces, no Host rule applies (the issue's scope: loopback-bound only)", () =>
    Effect.gen(function*() {
      const server = yield* start(["-b", "0.0.0.0", "-d", www, "0"])
      expect(yield* status(server.port, get("/hello.txt", "evil.example"))).toBe(200)
    }))

  it.scopedLive("an invalid --allowed-host is a usage error", () =>
    Effect.gen(function*() {
      const exit = yield* runToExit(["--allowed-host", "a b", "0"])
      expect(exit.code).toBe(2)
      expect(exit.stderr).toContain("argument --allowed-host: invalid host name 'a b'")
      const help = yield* runToExit(["--help"])
      expect(help.stdout).toMatch(/--allowed-host NAME[\s\S]*Example: --bind 127\.0\.0\.1 --allowed-host dev\.example/)
    }))
})

describe("Server.make on 127.0.0.1 (the library)", () => {
  it.scopedLive("keepAliveOnError: a refused request that awaited 100 Continue closes instead of waiting for its body", () =>
    Effect.gen(function*() {
      const server = yield* Server.make({ port: 0, protocolVersion: "HTTP/1.1", keepAliveOnError: true })
        .pipe(Effect.provide(Layer.merge(Handler.layer(echoRoutes), AccessLog.layerSilent)))
      const port = server.address.port
      const ex = yield* sendRaw({
        port,
        chunks: ["POST / HTTP/1.1\r\nHost: evil.example\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"],
        timeoutMs: 3000
      })
      expect(ex.responses.map((r) => r.status)).toEqual([403])
      expect(ex.closedByServer && !ex.timedOut).toBe(true)
      // Without Expect the error keeps the connection, as keepAliveOnError promises.
      const kept = yield* sendRaw({
        port,
        chunks: ["GET / HTTP/1.1\r\nHost: evil.example\r\n\r\nGET /ok HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"],
        timeoutMs: 3000
      })
      expect(kept.responses.map((r) => r.status)).toEqual([403, 200])
      // allowedHosts adds a name.
      const allowing = yield* Server.make({ port: 0, allowedHosts: ["evil.example"] })
        .pipe(Effect.provide(Layer.merge(Handler.layer(echoRoutes), AccessLog.layerSilent)))
      const served = yield* sendRaw({ port: allowing.address.port, chunks: ["GET / HTTP/1.0\r\nHost: evil.example\r\n\r\n"] })
      expect(served.responses[0]!.status).toBe(200)
    }))
})
