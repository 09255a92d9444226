/**
 * Outside attacks on the connection layer (issue 12 items 2, 7, 8, 13, 16) that broke through, over real sockets,
 * against the built executable. Each test states the expected behaviour and FAILS on the code it was written against.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { execFileSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as NodePath from "node:path"
import * as Tls from "node:tls"
import { ensureBuilt, start } from "./support/cliProcess.js"

const tmp = Fs.mkdtempSync(NodePath.join(Os.tmpdir(), "effect-httpd-attack-conn-"))
const www = NodePath.join(tmp, "www")
const certFile = NodePath.join(tmp, "cert.pem")
const keyFile = NodePath.join(tmp, "key.pem")

beforeAll(() => {
  ensureBuilt()
  Fs.mkdirSync(www, { recursive: true })
  Fs.writeFileSync(NodePath.join(www, "hello.txt"), "hello\n")
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
    "-keyout", keyFile, "-out", certFile
  ], { stdio: "ignore" })
})
afterAll(() => Fs.rmSync(tmp, { recursive: true, force: true }))

/** Sends `raw` on a fresh connection; the first status code, or undefined if none before close/timeout. */
const rawStatus = (port: number, raw: string, timeoutMs = 3000) =>
  Effect.promise(() =>
    new Promise<number | undefined>((resolve) => {
      const socket = Net.connect(port, "127.0.0.1")
      let data = ""
      const done = () => {
        clearTimeout(timer)
        socket.destroy()
        const m = /^HTTP\/1\.[01] (\d{3})/.exec(data)
        resolve(m ? Number(m[1]) : undefined)
      }
      const timer = setTimeout(done, timeoutMs)
      socket.setEncoding("latin1")
      socket.on("connect", () => socket.write(raw, "latin1"))
      socket.on("data", (d: string) => {
        data += d
        if (data.includes("\r\n\r\n")) done()
      })
      socket.on("error", done)
      socket.on("close", done)
    })
  )

describe.concurrent("attack: connection layer", () => {
  it.scopedLive("TLS 1.2 client-initiated renegotiation is unlimited (Node's 3-per-10-min guard is ignored): CPU amplification", () =>
    Effect.gen(function*() {
      const server = yield* start(["-b", "127.0.0.1", "-d", www, "-p", "HTTP/1.1", "--tls-cert", certFile, "--tls-key", keyFile, "0"])
      const renegotiations = yield* Effect.promise(() =>
        new Promise<number>((resolve) => {
          let n = 0
          const s = Tls.connect({ port: server.port, host: "127.0.0.1", rejectUnauthorized: false, maxVersion: "TLSv1.2" }, async () => {
            for (let i = 0; i < 20; i++) {
              const ok = await new Promise<boolean>((res) => {
                if (!s.renegotiate({ rejectUnauthorized: false }, (e) => res(!e))) res(false)
              })
              if (!ok) break
              n++
            }
            s.destroy()
            resolve(n)
          })
          s.on("error", () => {
            s.destroy()
            resolve(n)
          })
          setTimeout(() => resolve(n), 8000)
        })
      )
      // Expected: client renegotiation refused or the connection closed after Node's CLIENT_RENEG_LIMIT (3);
      // nginx disables client renegotiation. Actual: all 20 (and ~600/s from one client) succeed.
      expect(renegotiations).toBeLessThanOrEqual(3)
    }), 30_000)

  it.scopedLive("absolute-form authority with userinfo: http://localhost:x@evil.example/ is checked as 'localhost'", () =>
    Effect.gen(function*() {
      const server = yield* start(["-b", "127.0.0.1", "-d", www, "-p", "HTTP/1.1", "0"])
      // The request names evil.example (userinfo 'localhost:x'); Host says evil.example too.
      // Expected 400 (userinfo in the authority, as for Host: user@localhost) or 403. Actual: 200, the file is served.
      const status = yield* rawStatus(
        server.port,
        "GET http://localhost:x@evil.example/hello.txt HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n"
      )
      expect([400, 403]).toContain(status)
      const status2 = yield* rawStatus(
        server.port,
        "GET http://[::1]@evil.example/hello.txt HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n"
      )
      expect([400, 403]).toContain(status2)
    }), 30_000)

  it.scopedLive("Host with an out-of-range port (localhost:99999) is accepted as valid", () =>
    Effect.gen(function*() {
      const server = yield* start(["-b", "127.0.0.1", "-d", www, "-p", "HTTP/1.1", "0"])
      // Expected 400 (port is 0-65535, as `localhost:-1` and `localhost:0x50` already get). Actual: 200.
      expect(yield* rawStatus(server.port, "GET /hello.txt HTTP/1.1\r\nHost: localhost:99999\r\nConnection: close\r\n\r\n"))
        .toBe(400)
    }), 30_000)

  it.scopedLive("idle keep-alive connections hold every cap slot for the 120 s idle timeout: a new client waits", () =>
    Effect.gen(function*() {
      const server = yield* start(["-b", "127.0.0.1", "-d", www, "-p", "HTTP/1.1", "--max-connections", "4", "0"])
      const held: Array<Net.Socket> = []
      yield* Effect.addFinalizer(() => Effect.sync(() => held.forEach((s) => s.destroy())))
      // One tiny request each, then silence: each connection is now an idle keep-alive one.
      for (let i = 0; i < 4; i++) {
        const status = yield* Effect.promise(() =>
          new Promise<string>((resolve) => {
            const s = Net.connect(server.port, "127.0.0.1", () =>
              s.write("GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"))
            s.once("data", (d) => resolve(d.toString("latin1").slice(0, 12)))
            held.push(s)
          })
        )
        expect(status).toBe("HTTP/1.1 200")
      }
      // Expected (nginx reclaims idle keep-alive connections when worker_connections run out): the newcomer is served
      // at once. Actual: it waits unread until an idle connection times out (120 s).
      const t0 = Date.now()
      const status = yield* rawStatus(server.port, "GET /hello.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", 8000)
      expect({ status, waitedUnder5s: Date.now() - t0 < 5000 }).toEqual({ status: 200, waitedUnder5s: true })
    }), 30_000)
  it.scopedLive("a close option in a Connection list (`keep-alive, close`, `upgrade,close`) is ignored: the next pipelined request is served", () =>
    Effect.gen(function*() {
      const server = yield* start(["-b", "127.0.0.1", "-d", www, "-p", "HTTP/1.1", "0"])
      for (const value of ["keep-alive, close", "upgrade,close", "x,\tclose"]) {
        const answered = yield* Effect.promise(() =>
          new Promise<{ responses: number; closed: boolean }>((resolve) => {
            const s = Net.connect(server.port, "127.0.0.1", () =>
              s.write(
                `GET /hello.txt HTTP/1.1\r\nHost: localhost\r\nConnection: ${value}\r\n\r\n` +
                  "GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"
              ))
            let data = ""
            const done = (closed: boolean) => {
              clearTimeout(timer)
              s.destroy()
              resolve({ responses: data.split("HTTP/1.1 200").length - 1, closed })
            }
            const timer = setTimeout(() => done(false), 1500)
            s.setEncoding("latin1").on("data", (d: string) => (data += d))
            s.on("end", () => done(true))
            s.on("error", () => done(true))
          })
        )
        // RFC 9112 §9.6: a server that receives a "close" connection option MUST close after its response.
        // Expected one response then close; actual: both served and the connection stays open.
        expect([value, answered]).toEqual([value, { responses: 1, closed: true }])
      }
    }), 30_000)
})
