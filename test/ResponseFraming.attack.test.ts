/**
 * Outside attack on the response head (issue 12, item 1, after "one encoder for every response head" landed).
 * Every test here FAILS on the code it was written against: each is a hole found over real sockets on 127.0.0.1.
 * What held is listed in the attack report, not here. Fixed by the engine's framing rule (src/internal/framing.ts),
 * the CGI output parser, `pyRepr`'s isprintable, the decoder's scheme check and `-H`'s raw check (cliHeader.ts).
 */
import { beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Stream } from "effect"
import * as AccessLog from "../src/AccessLog.js"
import * as Handler from "../src/Handler.js"
import * as Response from "../src/Response.js"
import * as Server from "../src/Server.js"
import { cgiServer, docRoot } from "./support/cgiKit.js"
import { ensureBuilt, start } from "./support/cliProcess.js"
import { sendRaw } from "./support/rawClient.js"

const send = (port: number, request: string) =>
  Effect.map(sendRaw({ port, chunks: [request], timeoutMs: 10_000 }), (ex) => ex.bytes.toString("latin1"))

/** The head lines of the first response in `raw`. */
const headOf = (raw: string): Array<string> => raw.slice(0, raw.indexOf("\r\n\r\n")).split("\r\n")

const bytes = (text: string, encoding: BufferEncoding = "utf8"): Response.Body => ({
  _tag: "Bytes",
  bytes: Buffer.from(text, encoding)
})

/** Two pipelined keep-alive requests; the second asks the server to close. */
const pipelined = (first: string) =>
  `GET ${first} HTTP/1.1\r\nHost: a\r\n\r\nGET /second HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`

// The smuggled response an attacker puts in the request (here: in the query the handler echoes).
const SMUGGLED = "HTTP/1.1 200 Injected\r\nSet-Cookie: pwned=1\r\nContent-Length: 0\r\n\r\n"

describe("library: framing fields a handler sets are trusted", () => {
  const routes: Handler.Routes<never> = {
    GET: (request) => {
      const echoed = decodeURIComponent(request.query ?? "")
      switch (request.pathname) {
        // The common bug: the length of the text (UTF-16 units) instead of its UTF-8 bytes. Each `é` is one unit,
        // two bytes, so the body overruns its Content-Length by one byte per `é`: the attacker's tail.
        case "/echo": {
          const text = "é".repeat(SMUGGLED.length) + echoed
          return Effect.succeed(Response.make(200, bytes(text), {
            headers: [["Content-Type", "text/plain; charset=utf-8"], ["Content-Length", String(text.length)]]
          }))
        }
        case "/two-lengths":
          return Effect.succeed(Response.make(200, bytes("ab" + echoed), {
            headers: [["Content-Length", String(2 + echoed.length)], ["Content-Length", "2"]]
          }))
        case "/te-and-length":
          return Effect.succeed(Response.make(200, bytes("ab" + echoed), {
            headers: [["Transfer-Encoding", "chunked"], ["Content-Length", String(2 + echoed.length)]]
          }))
        case "/stream-long":
          // A streamed body longer than the Content-Length its handler announced.
          return Effect.succeed(Response.make(200, { _tag: "Stream", stream: Stream.make(Buffer.from("ab" + echoed)) }, {
            headers: [["Content-Length", "2"]]
          }))
        case "/stream-short":
          // A streamed body shorter than announced: the next response is read as the rest of this body.
          return Effect.succeed(Response.make(200, { _tag: "Stream", stream: Stream.make(Buffer.from("ab")) }, {
            headers: [["Content-Length", String(2 + SMUGGLED.length)]]
          }))
        case "/interim":
          // A status taken from elsewhere (an upstream, a parameter): 1xx is interim, never a final answer.
          return Effect.succeed(Response.make(Number(echoed), bytes("x"), { headers: [["Content-Length", "1"]] }))
        default:
          return Effect.succeed(Response.text("second"))
      }
    }
  }
  const serve = Server.make({ port: 0, protocolVersion: "HTTP/1.1" }).pipe(
    Effect.provide(Layer.merge(Handler.layer(routes), AccessLog.layerSilent))
  )

  it.scopedLive("[medium] a Content-Length shorter than the body: the surplus is read as the next response", () =>
    Effect.gen(function*() {
      const server = yield* serve
      const raw = yield* send(server.address.port, pipelined(`/echo?${encodeURIComponent(SMUGGLED)}`))
      // Actual: `HTTP/1.1 200 OK … Content-Length: 104 … éééé…` (208 bytes) — the client reads 104 bytes, then
      // `HTTP/1.1 200 Injected` / `Set-Cookie: pwned=1` as the answer to its second request.
      // Expected: never more body bytes than the Content-Length sent (a 500 with nothing sent, or the length fixed).
      const first = headOf(raw)
      const length = Number(first.find((l) => l.startsWith("Content-Length: "))?.slice(16))
      const second = raw.slice(raw.indexOf("\r\n\r\n") + 4 + length)
      expect(second.split("\r\n")[0]).not.toBe("HTTP/1.1 200 Injected")
      expect(raw).not.toContain("Set-Cookie: pwned=1")
    }))

  it.scopedLive("[medium] a Stream body longer or shorter than its Content-Length: the connection is kept, the framing lost", () =>
    Effect.gen(function*() {
      const server = yield* serve
      const long = yield* send(server.address.port, pipelined(`/stream-long?${encodeURIComponent(SMUGGLED)}`))
      // Actual: `Content-Length: 2`, body `ab` + the smuggled response, then the real second response.
      expect(long).not.toContain("Set-Cookie: pwned=1")
      const short = yield* send(server.address.port, pipelined("/stream-short"))
      // Actual: `Content-Length: 68`, body `ab`, connection kept: the second response's head becomes this body.
      // Expected: the server closes the connection when a body does not meet its length (as it does for a file
      // that shrank, or a CGI script's `Content-Length`), so nothing after it can be misread.
      const length = Number(headOf(short).find((l) => l.startsWith("Content-Length: "))?.slice(16))
      const body = short.slice(short.indexOf("\r\n\r\n") + 4, short.indexOf("\r\n\r\n") + 4 + length)
      expect(body).not.toContain("HTTP/1.1 200 OK")
    }))

  it.scopedLive("[medium] two different Content-Length fields are sent as given", () =>
    Effect.gen(function*() {
      const server = yield* serve
      const raw = yield* send(server.address.port, pipelined(`/two-lengths?${encodeURIComponent(SMUGGLED)}`))
      // Actual: `Content-Length: 68` and `Content-Length: 2` in one head (RFC 9112 §6.3: unrecoverable for a
      // client; one that takes the last reads the smuggled response).
      const lengths = headOf(raw).filter((l) => l.toLowerCase().startsWith("content-length:"))
      expect(lengths.length).toBeLessThanOrEqual(1)
    }))

  it.scopedLive("[medium] Transfer-Encoding with Content-Length over an unchunked body is sent as given", () =>
    Effect.gen(function*() {
      const server = yield* serve
      const raw = yield* send(server.address.port, pipelined(`/te-and-length?${encodeURIComponent(SMUGGLED)}`))
      // Actual: `Transfer-Encoding: chunked` + `Content-Length: 68`, body not chunked, connection kept (RFC 9112
      // §6.1: a server MUST NOT send both; a client reading chunked desyncs).
      const head = headOf(raw).map((l) => l.toLowerCase())
      const te = head.some((l) => l.startsWith("transfer-encoding:"))
      const cl = head.some((l) => l.startsWith("content-length:"))
      expect(te && cl).toBe(false)
    }))

  it.scopedLive("[low-medium] a 1xx status as the final response keeps the connection: the next answer is taken for it", () =>
    Effect.gen(function*() {
      const server = yield* serve
      for (const status of ["100", "101", "199"]) {
        const raw = yield* send(server.address.port, pipelined(`/interim?${status}`))
        // Actual: `HTTP/1.1 100 Continue` (or `101 Switching Protocols`) with a body, connection kept: a client reads
        // it as interim and takes the response to its second request as the answer to the first.
        // Expected: as for a status outside 100–999 (and as RFC 3875 mode refuses `Status: 1xx`): a 500.
        expect(headOf(raw)[0], status).not.toMatch(/^HTTP\/1\.1 1\d\d /)
      }
    }))
})

describe("CGI (rfc3875): a bodiless status keeps the length of the body it dropped", () => {
  it.scopedLive("[low] `Status: 204` with output: the 204 carries `Content-Length: 8`", () =>
    Effect.gen(function*() {
      const root = yield* docRoot({
        "cgi-bin/nc.sh": { content: "#!/bin/sh\nprintf 'Status: 204 x\\r\\n\\r\\nbodybody'\n" }
      })
      const { port } = yield* cgiServer({ directory: root, rfc3875: true }, { protocolVersion: "HTTP/1.1" })
      const raw = yield* send(port, "GET /cgi-bin/nc.sh HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
      // Actual: `HTTP/1.1 204 x` … `Content-Length: 8`, no body (RFC 9110 §8.6: MUST NOT send Content-Length in
      // a 204; a client honouring it swallows 8 bytes of the next response).
      expect(headOf(raw)[0]).toBe("HTTP/1.1 204 x")
      expect(headOf(raw).some((l) => l.toLowerCase().startsWith("content-length:"))).toBe(false)
    }))
})

describe("CGI (rfc3875): script header values are trimmed with JavaScript's trim", () => {
  it.scopedLive("[low] `Content-Length:` with VT, FF or NBSP around the digits is accepted as a length", () =>
    Effect.gen(function*() {
      const root = yield* docRoot({
        "cgi-bin/vt.sh": { content: "#!/bin/sh\nprintf 'Content-Length: \\0134\\r\\n\\r\\nbody'\n" },
        "cgi-bin/ff.sh": { content: "#!/bin/sh\nprintf 'Content-Length:\\f4\\f\\r\\n\\r\\nbody'\n" },
        "cgi-bin/nbsp.sh": { content: "#!/bin/sh\nprintf 'Content-Length: \\2404\\240\\r\\n\\r\\nbody'\n" },
        "cgi-bin/plus.sh": { content: "#!/bin/sh\nprintf 'Content-Length: +4\\r\\n\\r\\nbody'\n" }
      })
      const { port } = yield* cgiServer({ directory: root, rfc3875: true })
      const get = (script: string) => send(port, `GET /cgi-bin/${script} HTTP/1.0\r\n\r\n`)
      // `+4` is refused (502); `\v4`, `\f4\f`, `\xa04\xa0` (outside the digits' grammar as much) are taken as 4.
      expect(headOf(yield* get("plus.sh"))[0]).toBe("HTTP/1.0 502 Bad Gateway")
      for (const script of ["vt.sh", "ff.sh", "nbsp.sh"]) {
        expect(headOf(yield* get(script))[0], script).toBe("HTTP/1.0 502 Bad Gateway")
      }
    }))
})

describe("the executable", () => {
  beforeAll(() => ensureBuilt(), 120_000)

  it.scopedLive("[low] --cgi: U+2028, U+2029, U+202E, U+FEFF of the path reach the log raw (Python's repr escapes them)", () =>
    Effect.gen(function*() {
      const root = yield* docRoot({ "cgi-bin": "dir" })
      const server = yield* start(["--cgi", "-d", root, "-b", "127.0.0.1", "0"])
      const raw = yield* send(server.port, "GET /cgi-bin/x%E2%80%A8%E2%80%A9%E2%80%AEgpj.exe%EF%BB%BF HTTP/1.0\r\n\r\n")
      // The head held (reason escaped by the encoder):
      expect(headOf(raw)[0]).toBe("HTTP/1.0 404 No such CGI script ('/cgi-bin/x\\u2028\\u2029\\u202egpj.exe\\ufeff')")
      yield* Effect.sleep("300 millis")
      const line = server.stderr().split("\n").find((l) => l.includes("code 404, message"))!
      // Actual:   `… message No such CGI script ('/cgi-bin/x<LS><PS><RLO>gpj.exe<BOM>')` — a line separator and a
      //           right-to-left override in the log (pyRepr passes every code point above U+00FF).
      // Python 3.11.7 (measured): `… message No such CGI script ('/cgi-bin/x\\u2028\\u2029\\u202egpj.exe\\ufeff')`:
      // the repr's backslashes are doubled by the log's control-character table (`\\` → `\\\\`).
      expect(line).not.toMatch(/[\u2028\u2029\u202e\ufeff]/)
      expect(line).toContain("('/cgi-bin/x\\\\u2028\\\\u2029\\\\u202egpj.exe\\\\ufeff')")
    }))

  it.scopedLive("[low] a directory 301 for a non-http absolute-form target redirects to another host", () =>
    Effect.gen(function*() {
      const root = yield* docRoot({ d: "dir" })
      const server = yield* start(["-d", root, "-b", "127.0.0.1", "0"])
      for (const target of ["ftp://evil.example/../../d", "x://evil.example/../../d", "ws://evil.example/../../d"]) {
        const head = headOf(yield* send(server.port, `GET ${target} HTTP/1.0\r\n\r\n`))
        // Actual: `301` with `Location: ftp://evil.example/../../d/` (http:// and https:// targets are handled:
        // authority dropped, or 400). Python 3.11 does the same; not reachable from a browser's own request.
        const location = head.find((l) => l.startsWith("Location: "))
        expect(location === undefined || location.startsWith("Location: /"), target).toBe(true)
      }
    }))

  it.scopedLive("[low] -H 'Server: …' / -H 'Date: …' add a second Server / Date field instead of replacing it", () =>
    Effect.gen(function*() {
      const root = yield* docRoot({ "f.txt": { content: "hi\n", mode: 0o644 } })
      const server = yield* start(["-d", root, "-b", "127.0.0.1", "-H", "Server: x", "-H", "Date: y", "0"])
      const head = headOf(yield* send(server.port, "GET /f.txt HTTP/1.0\r\n\r\n"))
      // Actual: `Server: effect-httpd/0.1.0 …`, `Date: <now>`, then `Date: y`, `Server: x` (the option's help: "it
      // replaces the server's header of the same name").
      expect(head.filter((l) => l.startsWith("Server: ")).length).toBe(1)
      expect(head.filter((l) => l.startsWith("Date: ")).length).toBe(1)
    }))
})
