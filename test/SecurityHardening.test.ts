/**
 * Hardening beyond Python: a total head deadline, a body inactivity timeout, a cap on head bytes, CR/LF in
 * `HttpError.headers`, absolute-form targets, and the backslash open redirect on the directory-slash 301.
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as NodeFs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import * as AccessLog from "../src/AccessLog.js"
import * as Handler from "../src/Handler.js"
import { MimeTypes } from "../src/MimeTypes.js"
import * as Server from "../src/Server.js"
import * as StaticFiles from "../src/StaticFiles.js"
import { HttpError } from "../src/HttpError.js"
import { echoRoutes } from "./support/echoRoutes.js"
import { sendRaw } from "./support/rawClient.js"

describe("hardening: engine", () => {
  it.scopedLive("headerTimeout: a head trickled a byte every 100 ms is cut off after 500 ms in total", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const server = yield* Server.make({ port: 0, protocolVersion: "HTTP/1.1", idleTimeout: "300 millis", headerTimeout: "500 millis" })
        .pipe(Effect.provide(Layer.merge(Handler.layer(echoRoutes), AccessLog.layerCollect(lines))))
      const socket = Net.connect({ host: "127.0.0.1", port: server.address.port })
      let closed = false
      let received = 0
      socket.on("data", (d) => (received += d.length))
      socket.on("close", () => (closed = true))
      socket.on("error", () => {})
      yield* Effect.addFinalizer(() => Effect.sync(() => socket.destroy()))
      const started = Date.now()
      socket.write("GET / HTTP/1.1\r\nHost: localhost\r\n")
      while (!closed && Date.now() - started < 3000) {
        yield* Effect.sleep("100 millis")
        if (!closed) socket.write("X")
      }
      expect(closed).toBe(true)
      expect(received).toBe(0)
      expect(lines.some((l) => l.endsWith("Request timed out: TimeoutError('timed out')"))).toBe(true)
      // Keep-alive connections that are merely idle are governed by idleTimeout, not headerTimeout.
      const ok = yield* sendRaw({ port: server.address.port, chunks: ["GET /x HTTP/1.0\r\n\r\n"] })
      expect(ok.responses[0]!.status).toBe(200)
    }))

  /**
   * `HttpError.headers` (e.g. the Content-Range of a 416) go through the same head encoder as a Response's
   * (src/internal/headEncoder.ts): a field outside RFC 9110's grammar turns the error into a 500, nothing of it sent.
   * test/ResponseSplitting.test.ts tries the code points whose low byte is CR or LF.
   */
  it.scopedLive("CR/LF in HttpError.headers cannot inject a header field", () =>
    Effect.gen(function*() {
      const server = yield* Server.make({ port: 0 }).pipe(Effect.provide(Layer.merge(
        Handler.layer({
          GET: () => Effect.fail(new HttpError({ status: 416, headers: [["Content-Range", "bytes */1\r\nSet-Cookie: evil=3"]] }))
        }),
        AccessLog.layerSilent
      )))
      const ex = yield* sendRaw({ port: server.address.port, chunks: ["GET / HTTP/1.0\r\n\r\n"] })
      expect(ex.responses[0]!.headers.some(([name]) => name.toLowerCase() === "set-cookie")).toBe(false)
    }))

  it.scopedLive("bodyTimeout: a body that stalls mid-way is dropped, and the handler's scope closes", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const server = yield* Server.make({ port: 0, protocolVersion: "HTTP/1.1", idleTimeout: "300 millis", bodyTimeout: "300 millis" })
        .pipe(Effect.provide(Layer.merge(Handler.layer(echoRoutes), AccessLog.layerCollect(lines))))
      const socket = Net.connect({ host: "127.0.0.1", port: server.address.port })
      let closed = false
      socket.on("close", () => (closed = true))
      socket.on("error", () => {})
      yield* Effect.addFinalizer(() => Effect.sync(() => socket.destroy()))
      socket.write("POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n0123456789")
      yield* Effect.sleep("1500 millis")
      expect(closed).toBe(true)
      expect(server.activeConnections()).toBe(0)
    }))

  it.scopedLive("maxHeaderBytes: 99 header lines of 60 KiB (6 MB) are refused with 431 before they are buffered", () =>
    Effect.gen(function*() {
      const server = yield* Server.make({ port: 0, limits: { maxHeaderBytes: 64 * 1024 } })
        .pipe(Effect.provide(Layer.merge(Handler.layer(echoRoutes), AccessLog.layerSilent)))
      const line = "X: " + "a".repeat(60 * 1024) + "\r\n"
      const ex = yield* sendRaw({ port: server.address.port, chunks: ["GET / HTTP/1.1\r\nHost: localhost\r\n", ...Array.from({ length: 99 }, () => line), "\r\n"], timeoutMs: 10_000 })
      expect(ex.responses.map((r) => r.status)).toEqual([431])
    }))

  /**
   * ENGINE DECISION (src/Decoder.ts `completeHead` / src/Request.ts): RFC 9112 §3.2.2 — a server MUST accept the
   * absolute-form. We accept it (no 400) but, like Python, hand `http://host/p` to the handler as `path`, so
   * StaticFiles answers 404 (Python too). Proposed: for a target matching /^[a-z][a-z0-9+.-]*:\/\//i, keep `target`
   * as received and set `path` to its path-and-query (`/p?q`, `/` when empty); the Host header is then ignored in
   * favour of the target's authority (RFC 9112 §3.2.2). Python compatibility is unaffected for every origin-form
   * request.
   */
  it.scopedLive("absolute-form: `GET http://host/file.txt` serves /file.txt", () =>
    Effect.gen(function*() {
      const root = NodeFs.mkdtempSync(Path.join(Os.tmpdir(), "effect-httpd-hardening-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => NodeFs.rmSync(root, { recursive: true, force: true })))
      NodeFs.writeFileSync(Path.join(root, "file.txt"), "hello\n")
      const server = yield* Server.make({ port: 0 }).pipe(Effect.provide(Layer.mergeAll(
        StaticFiles.layer({ directory: root }).pipe(Layer.provide(Layer.mergeAll(NodeFileSystem.layer, NodePath.layer, MimeTypes.layerWithoutFiles()))),
        AccessLog.layerSilent
      )))
      const ex = yield* sendRaw({ port: server.address.port, chunks: ["GET http://localhost/file.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"] })
      expect(ex.responses[0]!.status).toBe(200)
      expect(ex.responses[0]!.body.toString()).toBe("hello\n")
    }))
})

describe("hardening: StaticFiles", () => {
  /**
   * STATICFILES FIX (src/internal/urlPath.ts `directoryRedirect`): `GET /\evil.example/..%2f..%2fsub` resolves to
   * the directory `sub`, and the 301 says `Location: /\evil.example/..%2f..%2fsub/`. Browsers (WHATWG URL) read `\`
   * as `/` in http(s) URLs, so that is `//evil.example/…`: an open redirect (the caddy CVE-2022-28923 class).
   * Python 3.11.7 does exactly the same (checked: `python3 -m http.server`), so this is a deliberate deviation.
   * Fix: percent-encode every backslash of the redirect target — `urlunsplit({...parts, path: parts.path.replace(/\\/g,
   * "%5C") + "/"})` — which names the same directory (translatePath decodes %5C back to `\`).
   */
  it.scopedLive("a raw backslash in the path cannot turn the directory redirect into //host", () =>
    Effect.gen(function*() {
      const root = NodeFs.mkdtempSync(Path.join(Os.tmpdir(), "effect-httpd-hardening-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => NodeFs.rmSync(root, { recursive: true, force: true })))
      NodeFs.mkdirSync(Path.join(root, "sub"))
      const server = yield* Server.make({ port: 0 }).pipe(Effect.provide(Layer.mergeAll(
        StaticFiles.layer({ directory: root }).pipe(Layer.provide(Layer.mergeAll(NodeFileSystem.layer, NodePath.layer, MimeTypes.layerWithoutFiles()))),
        AccessLog.layerSilent
      )))
      for (const target of ["/\\evil.example/..%2f..%2fsub", "/\\\\evil.example/..%2f..%2fsub", "/\\/evil.example/..%2f..%2fsub"]) {
        const ex = yield* sendRaw({ port: server.address.port, chunks: [`GET ${target} HTTP/1.0\r\n\r\n`] })
        const location = ex.responses[0]!.header("location")!
        expect(ex.responses[0]!.status).toBe(301)
        expect(new URL(location, "http://origin.test/").host, target).toBe("origin.test")
        // Following the redirect lands on the same directory.
        const follow = yield* sendRaw({ port: server.address.port, chunks: [`GET ${location} HTTP/1.0\r\n\r\n`] })
        expect(follow.responses[0]!.status).toBe(200)
      }
    }))
})

