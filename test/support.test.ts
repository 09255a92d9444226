import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber } from "effect"
import { maskPort, normalizeForDiff, replacePort } from "./support/compare.js"
import { pythonHttpServer } from "./support/pythonServer.js"
import { httpRequest, parseResponses, RawClientError, sendRaw } from "./support/rawClient.js"

const bytes = (text: string) => Buffer.from(text, "latin1")

/** A temporary directory that lives as long as the test's scope. */
const tempDir = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "effect-httpd-support-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

/** A throwaway TCP server whose connection behaviour each test scripts. */
const scriptedServer = (onConnection: (socket: net.Socket) => void) =>
  Effect.acquireRelease(
    Effect.async<{ server: net.Server; sockets: Set<net.Socket> }>((resume) => {
      const sockets = new Set<net.Socket>()
      const server = net.createServer((socket) => {
        sockets.add(socket)
        socket.on("close", () => sockets.delete(socket))
        socket.on("error", () => {})
        onConnection(socket)
      })
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed({ server, sockets })))
    }),
    // close() waits for open connections, so end them first.
    ({ server, sockets }) =>
      Effect.async<void>((resume) => {
        server.close(() => resume(Effect.void))
        for (const socket of sockets) socket.destroy()
      })
  ).pipe(Effect.map(({ server }) => (server.address() as net.AddressInfo).port))

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe("parseResponses", () => {
  it("frames a body by Content-Length and exposes headers in order and case-insensitively", () => {
    const { responses, rest } = parseResponses(
      bytes("HTTP/1.0 200 OK\r\nServer: x\r\nContent-type: text/plain\r\nContent-Length: 5\r\nX-A: 1\r\nx-a: 2\r\n\r\nhello")
    )
    expect(rest.length).toBe(0)
    expect(responses).toHaveLength(1)
    const [r] = responses
    expect(r!.statusLine).toBe("HTTP/1.0 200 OK")
    expect(r!.version).toBe("HTTP/1.0")
    expect(r!.status).toBe(200)
    expect(r!.reason).toBe("OK")
    expect(r!.headers).toEqual([["Server", "x"], ["Content-type", "text/plain"], ["Content-Length", "5"], ["X-A", "1"], [
      "x-a",
      "2"
    ]])
    expect(r!.header("CONTENT-TYPE")).toBe("text/plain")
    expect(r!.header("x-a")).toBe("1, 2")
    expect(r!.header("missing")).toBeUndefined()
    expect(r!.body.toString()).toBe("hello")
  })

  it("keeps any characters in the reason phrase, and an empty one", () => {
    const { responses } = parseResponses(
      bytes("HTTP/1.1 501 Unsupported method ('PUT'): \xe9!\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200\r\nContent-Length: 0\r\n\r\n")
    )
    expect(responses.map((r) => [r.status, r.reason])).toEqual([[501, "Unsupported method ('PUT'): \xe9!"], [200, ""]])
  })

  it("decodes a chunked body with extensions and trailers", () => {
    const wire = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\n"
    const { responses, rest } = parseResponses(bytes(`${wire}HTTP/1.1 204 No Content\r\n\r\n`))
    expect(rest.length).toBe(0)
    expect(responses).toHaveLength(2)
    expect(responses[0]!.body.toString()).toBe("hello, world")
    expect(responses[0]!.trailers).toEqual([["X-Trailer", "t"]])
    expect(responses[0]!.raw.toString("latin1")).toBe(wire)
    expect(responses[1]!.status).toBe(204)
  })

  it("leaves an unfinished chunked body in rest", () => {
    const wire = bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel")
    const { responses, rest } = parseResponses(wire)
    expect(responses).toHaveLength(0)
    expect(rest.equals(wire)).toBe(true)
  })

  it("gives HEAD responses no body even with Content-Length", () => {
    const head = "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\n"
    const get = "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello"
    const { responses, rest } = parseResponses(bytes(head + get), { headRequests: [true, false] })
    expect(rest.length).toBe(0)
    expect(responses.map((r) => r.body.toString())).toEqual(["", "hello"])
    expect(responses[0]!.raw.toString("latin1")).toBe(head)
  })

  it("gives 304 and 204 responses no body", () => {
    const { responses, rest } = parseResponses(
      bytes("HTTP/1.1 304 Not Modified\r\nContent-Length: 12\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n")
    )
    expect(rest.length).toBe(0)
    expect(responses.map((r) => [r.status, r.body.length])).toEqual([[304, 0], [204, 0]])
  })

  it("reads a close-delimited body to the end of data, or defers it while the stream is open", () => {
    const wire = bytes("HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<html>all of it</html>")
    const closed = parseResponses(wire)
    expect(closed.responses).toHaveLength(1)
    expect(closed.responses[0]!.body.toString()).toBe("<html>all of it</html>")
    const open = parseResponses(wire, { complete: false })
    expect(open.responses).toHaveLength(0)
    expect(open.rest.equals(wire)).toBe(true)
  })

  it("splits pipelined responses and keeps a truncated one in rest", () => {
    const one = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none"
    const two = "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\ntwo"
    const partial = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nthr"
    const { responses, rest } = parseResponses(bytes(one + two + partial))
    expect(responses.map((r) => [r.status, r.body.toString()])).toEqual([[200, "one"], [404, "two"]])
    expect(responses.map((r) => r.raw.toString("latin1"))).toEqual([one, two])
    expect(rest.toString("latin1")).toBe(partial)
  })

  it("returns non-HTTP bytes as one response without a status", () => {
    const html = "<!DOCTYPE HTML>\n<html><body>Error code: 400</body></html>\n"
    const { responses, rest } = parseResponses(bytes(html))
    expect(rest.length).toBe(0)
    expect(responses).toHaveLength(1)
    expect(responses[0]!.statusLine).toBeUndefined()
    expect(responses[0]!.status).toBeUndefined()
    expect(responses[0]!.reason).toBeUndefined()
    expect(responses[0]!.version).toBeUndefined()
    expect(responses[0]!.headers).toEqual([])
    expect(responses[0]!.body.toString()).toBe(html)
    // A reply shorter than "HTTP/" is still a reply once the stream ended.
    expect(parseResponses(bytes("HT")).responses[0]!.body.toString()).toBe("HT")
    expect(parseResponses(bytes("HT"), { complete: false }).responses).toHaveLength(0)
  })

  it("returns a 100-continue interim response as its own entry without consuming a HEAD slot", () => {
    const wire = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n"
    const { responses, rest } = parseResponses(bytes(wire + "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), {
      headRequests: [true, false]
    })
    expect(rest.length).toBe(0)
    expect(responses.map((r) => [r.status, r.body.toString()])).toEqual([[100, ""], [200, ""], [200, "ok"]])
  })

  it("handles bare LF line endings and folded header lines", () => {
    const { responses } = parseResponses(bytes("HTTP/1.0 200 OK\nX-Long: a\n  b\nContent-Length: 1\n\nz"))
    expect(responses[0]!.headers).toEqual([["X-Long", "a b"], ["Content-Length", "1"]])
    expect(responses[0]!.body.toString()).toBe("z")
  })
})

describe("httpRequest", () => {
  it("builds exact bytes and adds only Content-Length for an unframed body and Host for HTTP/1.1", () => {
    expect(httpRequest("GET", "/a b", [["Host", "x"], ["X", "1"]]).toString("latin1")).toBe(
      "GET /a b HTTP/1.1\r\nHost: x\r\nX: 1\r\n\r\n"
    )
    expect(httpRequest("POST", "/", { Host: "x" }, "abc", "HTTP/1.0").toString("latin1")).toBe(
      "POST / HTTP/1.0\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
    )
    // HTTP/1.1 without Host gets `Host: localhost` (RFC 9112 §3.2: the server answers 400 without one).
    expect(httpRequest("POST", "/", [["content-length", "9"]], "abc").toString("latin1")).toBe(
      "POST / HTTP/1.1\r\nHost: localhost\r\ncontent-length: 9\r\n\r\nabc"
    )
    expect(httpRequest("GET", "/", [], undefined, "").toString("latin1")).toBe("GET /\r\n")
  })
})

describe("compare", () => {
  it("masks Date and Server, drops ignored headers and keeps the rest verbatim", () => {
    const [resp] = parseResponses(
      bytes(
        "HTTP/1.0 200 OK\r\nServer: SimpleHTTP/0.6 Python/3.11.7\r\nDate: Wed, 01 Jan 2025 00:00:00 GMT\r\n" +
          "Content-type: text/plain\r\nLast-Modified: Tue, 31 Dec 2024 00:00:00 GMT\r\nX-Noise: 1\r\nContent-Length: 2\r\n\r\n\xe9!"
      )
    ).responses
    expect(normalizeForDiff(resp!, { ignoreHeaders: ["x-NOISE"] })).toEqual({
      statusLine: "HTTP/1.0 200 OK",
      headers: [
        ["Server", "<server>"],
        ["Date", "<date>"],
        ["Content-type", "text/plain"],
        ["Last-Modified", "Tue, 31 Dec 2024 00:00:00 GMT"],
        ["Content-Length", "2"]
      ],
      body: "\xe9!"
    })
  })

  it("replaces a port only where it is a whole number", () => {
    expect(replacePort("http://127.0.0.1:8000/ 18000 80001 8000", 8000)).toBe("http://127.0.0.1:<port>/ 18000 80001 <port>")
    expect(maskPort({ statusLine: "x", headers: [["Location", "http://h:81/"]], body: ":81" }, 81)).toEqual({
      statusLine: "x",
      headers: [["Location", "http://h:<port>/"]],
      body: ":<port>"
    })
  })
})

describe("sendRaw", () => {
  it.scopedLive("sends chunks with delays and a half-close, and sees the server close", () =>
    Effect.gen(function*() {
      const port = yield* scriptedServer((socket) => {
        const received: Array<string> = []
        socket.on("data", (d) => received.push(d.toString("latin1")))
        socket.on("end", () => socket.end(`HTTP/1.0 200 OK\r\n\r\n${JSON.stringify(received)}`))
      })
      const exchange = yield* sendRaw({ port, chunks: ["ab", bytes("cd")], delayBetweenChunksMs: 50, halfClose: true })
      expect(exchange.closedByServer).toBe(true)
      expect(exchange.timedOut).toBe(false)
      expect(exchange.responses).toHaveLength(1)
      // Separate reads prove the delay kept the chunks apart.
      expect(JSON.parse(exchange.responses[0]!.body.toString())).toEqual(["ab", "cd"])
    }))

  it.scopedLive("reports a timeout as an observation, keeping what arrived", () =>
    Effect.gen(function*() {
      const port = yield* scriptedServer((socket) => socket.write("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxHTTP/1.1"))
      const exchange = yield* sendRaw({ port, chunks: ["GET / HTTP/1.1\r\n\r\n"], timeoutMs: 300 })
      expect(exchange.timedOut).toBe(true)
      expect(exchange.closedByServer).toBe(false)
      expect(exchange.responses.map((r) => r.body.toString())).toEqual(["x"])
      expect(exchange.rest.toString()).toBe("HTTP/1.1")
    }))

  it.scopedLive("treats a reset as the server closing", () =>
    Effect.gen(function*() {
      const port = yield* scriptedServer((socket) => socket.once("data", () => socket.resetAndDestroy()))
      const exchange = yield* sendRaw({ port, chunks: ["x"] })
      expect(exchange.closedByServer).toBe(true)
      expect(exchange.timedOut).toBe(false)
    }))

  it.scopedLive("fails with RawClientError when nothing listens", () =>
    Effect.gen(function*() {
      const port = yield* scriptedServer(() => {}).pipe(Effect.scoped)
      const exit = yield* Effect.exit(sendRaw({ port, chunks: [] }))
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit)) expect(exit.cause._tag === "Fail" && exit.cause.error instanceof RawClientError).toBe(true)
    }))

  it.scopedLive("destroys the socket when interrupted", () =>
    Effect.gen(function*() {
      let serverSawClose = false
      let connected = false
      const port = yield* scriptedServer((socket) => {
        connected = true
        socket.on("close", () => (serverSawClose = true))
        // 'end' (and so 'close') is only emitted once the stream is read.
        socket.resume()
      })
      const fiber = yield* Effect.fork(sendRaw({ port, chunks: ["x"], timeoutMs: 60_000 }))
      while (!connected) yield* Effect.sleep("10 millis")
      yield* Fiber.interrupt(fiber)
      while (!serverSawClose) yield* Effect.sleep("10 millis")
      expect(serverSawClose).toBe(true)
    }).pipe(Effect.timeout("3 seconds")))
})

describe("python http.server end to end", () => {
  const setup = Effect.gen(function*() {
    const dir = yield* tempDir
    fs.writeFileSync(path.join(dir, "hello.txt"), "hello\n")
    return dir
  })

  it.scopedLive("serves a file, a 404, and a bare-HTML reply to a bad version (HTTP/1.0)", () =>
    Effect.gen(function*() {
      const dir = yield* setup
      const server = yield* pythonHttpServer({ directory: dir })

      const ok = yield* sendRaw({ port: server.port, chunks: [httpRequest("GET", "/hello.txt", [], undefined, "HTTP/1.0")] })
      expect(ok.closedByServer).toBe(true)
      expect(ok.responses).toHaveLength(1)
      const mtime = new Date(fs.statSync(path.join(dir, "hello.txt")).mtimeMs).toUTCString()
      expect(normalizeForDiff(ok.responses[0]!)).toEqual({
        statusLine: "HTTP/1.0 200 OK",
        headers: [
          ["Server", "<server>"],
          ["Date", "<date>"],
          ["Content-type", "text/plain"],
          ["Content-Length", "6"],
          ["Last-Modified", mtime]
        ],
        body: "hello\n"
      })

      const missing = yield* sendRaw({ port: server.port, chunks: [httpRequest("GET", "/nope", [["Host", "x"]])] })
      expect(missing.responses).toHaveLength(1)
      expect(missing.responses[0]!.status).toBe(404)
      expect(missing.responses[0]!.reason).toBe("File not found")
      expect(missing.responses[0]!.header("content-type")).toBe("text/html;charset=utf-8")
      expect(missing.responses[0]!.body.length).toBe(Number(missing.responses[0]!.header("Content-Length")))

      const bad = yield* sendRaw({ port: server.port, chunks: ["GET / HTTP/1.x\r\n\r\n"] })
      expect(bad.closedByServer).toBe(true)
      expect(bad.responses).toHaveLength(1)
      expect(bad.responses[0]!.status).toBeUndefined()
      expect(bad.responses[0]!.statusLine).toBeUndefined()
      expect(bad.responses[0]!.body.toString()).toMatch(/^<!DOCTYPE HTML>[\s\S]*Bad request version \('HTTP\/1\.x'\)/)

      const log = yield* server.awaitStderr((text) => text.includes('"GET / HTTP/1.x" 400'))
      expect(log).toContain('"GET /hello.txt HTTP/1.0" 200')
      expect(log).toContain('"GET /nope HTTP/1.1" 404')
    }))

  it.scopedLive("keeps the connection alive for two pipelined requests (HTTP/1.1)", () =>
    Effect.gen(function*() {
      const dir = yield* setup
      const server = yield* pythonHttpServer({ directory: dir, protocol: "HTTP/1.1" })
      const get = httpRequest("GET", "/hello.txt", [["Host", "localhost"]])
      const head = httpRequest("HEAD", "/hello.txt", [["Host", "localhost"]])
      const exchange = yield* sendRaw({
        port: server.port,
        chunks: [Buffer.concat([get, head])],
        until: { responses: 2 },
        headRequests: [false, true]
      })
      expect(exchange.timedOut).toBe(false)
      // Python keeps the connection open: we stopped because both responses arrived.
      expect(exchange.closedByServer).toBe(false)
      expect(exchange.responses.map((r) => [r.statusLine, r.body.toString()])).toEqual([
        ["HTTP/1.1 200 OK", "hello\n"],
        ["HTTP/1.1 200 OK", ""]
      ])
      expect(exchange.responses[1]!.header("content-length")).toBe("6")
      expect(exchange.rest.length).toBe(0)
    }))

  it.scopedLive("stops the python process when the scope closes", () =>
    Effect.gen(function*() {
      const dir = yield* setup
      const pid = yield* pythonHttpServer({ directory: dir }).pipe(
        Effect.tap(({ pid }) => Effect.sync(() => expect(isAlive(pid)).toBe(true))),
        Effect.map(({ pid }) => pid),
        Effect.scoped
      )
      expect(() => process.kill(pid, 0)).toThrow()
    }))

  it.scopedLive("reports a python that cannot start", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(
        pythonHttpServer({ directory: "/", extraArgs: ["--no-such-flag"] }).pipe(Effect.scoped)
      )
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit)) expect(String(exit.cause)).toContain("no-such-flag")
    }))
})
