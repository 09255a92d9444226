import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as AccessLog from "../src/AccessLog.js"
import * as Handler from "../src/Handler.js"
import { HttpError } from "../src/HttpError.js"
import { readBody } from "../src/internal/connection.js"
import * as Response from "../src/Response.js"
import * as TestKit from "../src/TestKit.js"

const echo: Handler.Routes<never> = {
  GET: (request) => Effect.succeed(Response.text(`${request.method} ${request.path} ${request.version.text}\n`)),
  HEAD: () => Effect.succeed(Response.text("not sent\n")),
  POST: (request) =>
    Effect.map(Effect.orDie(readBody(request)), (body) => Response.text(`got ${Buffer.from(body).toString()}\n`)),
  PUT: () => Effect.succeed(Response.text("ignored the body\n"))
}

const run = (
  input: string | ReadonlyArray<string>,
  options: TestKit.ExchangeOptions = {},
  routes: Handler.Routes<never> = echo,
  handlerOptions: { expectContinue?: Handler.ExpectContinue } = {}
) =>
  Effect.gen(function*() {
    const lines: Array<string> = []
    const exchange = yield* TestKit.exchange(input, options).pipe(
      Effect.provide(Layer.merge(Handler.layer(routes, handlerOptions), AccessLog.layerCollect(lines)))
    )
    return { ...exchange, lines }
  })

const LOG_PREFIX = /^127\.0\.0\.1 - - \[\d\d\/[A-Z][a-z]{2}\/\d{4} \d\d:\d\d:\d\d\] /

describe("Engine (through the test kit)", () => {
  it.live("answers a GET with Server and Date first, and logs it in Python's format", () =>
    Effect.gen(function*() {
      const { lines, responses } = yield* run("GET /x HTTP/1.0\r\n\r\n")
      expect(responses).toHaveLength(1)
      const [res] = responses
      expect(res!.statusLine).toBe("HTTP/1.0 200 OK")
      expect(res!.headers.map(([n]) => n)).toEqual(["Server", "Date", "Content-Type", "Content-Length"])
      expect(res!.header("server")).toMatch(/^effect-httpd\/0\.1\.0 Node\.js\/\d+\.\d+\.\d+$/)
      expect(res!.header("date")).toMatch(/^[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT$/)
      expect(res!.body.toString()).toBe("GET /x HTTP/1.0\n")
      expect(lines).toHaveLength(1)
      expect(lines[0]).toMatch(LOG_PREFIX)
      expect(lines[0]!.replace(LOG_PREFIX, "")).toBe("\"GET /x HTTP/1.0\" 200 -")
    }))

  it.live("escapes control characters in log lines so they cannot be forged", () =>
    Effect.gen(function*() {
      const { lines } = yield* run("GET /a\x1b[31m\\ HTTP/1.0\r\n\r\n")
      expect(lines.map((l) => l.replace(LOG_PREFIX, ""))).toEqual([
        "code 400, message Bad request syntax ('GET /a\\\\x1b[31m\\\\\\\\ HTTP/1.0')",
        "\"GET /a\\x1b[31m\\\\ HTTP/1.0\" 400 -"
      ])
    }))

  it.live("a method without a handler is 501 with Python's message, any token", () =>
    Effect.gen(function*() {
      const { lines, responses, closed } = yield* run("SPAM / HTTP/1.1\r\nHost: localhost\r\n\r\n", { protocolVersion: "HTTP/1.1" })
      expect(responses[0]!.statusLine).toBe("HTTP/1.1 501 Unsupported method ('SPAM')")
      expect(responses[0]!.headers.map(([n]) => n)).toEqual(["Server", "Date", "Connection", "Content-Type", "Content-Length"])
      expect(responses[0]!.header("connection")).toBe("close")
      expect(responses[0]!.body.toString()).toContain("<p>Message: Unsupported method (&#x27;SPAM&#x27;).</p>".replace(/&#x27;/g, "'"))
      expect(closed).toBe(true)
      expect(lines.map((l) => l.replace(LOG_PREFIX, ""))).toEqual([
        "code 501, message Unsupported method ('SPAM')",
        "\"SPAM / HTTP/1.1\" 501 -"
      ])
    }))

  it.live("HTTP/1.0 protocol: every response closes, even with Connection: keep-alive", () =>
    Effect.gen(function*() {
      const { responses } = yield* run(
        "GET /a HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\nGET /b HTTP/1.1\r\nHost: localhost\r\n\r\n",
        { protocolVersion: "HTTP/1.0" }
      )
      expect(responses.map((r) => r.body.toString())).toEqual(["GET /a HTTP/1.1\n"])
    }))

  it.live("HTTP/1.1 protocol: keep-alive by default, pipelined requests answered in order", () =>
    Effect.gen(function*() {
      const { responses } = yield* run(
        "GET /1 HTTP/1.1\r\nHost: localhost\r\n\r\nGET /2 HTTP/1.1\r\nHost: localhost\r\n\r\nGET /3 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\nGET /4 HTTP/1.1\r\nHost: localhost\r\n\r\n",
        { protocolVersion: "HTTP/1.1" }
      )
      expect(responses.map((r) => r.body.toString())).toEqual([
        "GET /1 HTTP/1.1\n",
        "GET /2 HTTP/1.1\n",
        "GET /3 HTTP/1.1\n"
      ])
    }))

  it.live("HTTP/1.1 protocol: an HTTP/1.0 request is kept alive only with Connection: keep-alive", () =>
    Effect.gen(function*() {
      const plain = yield* run("GET /1 HTTP/1.0\r\n\r\nGET /2 HTTP/1.0\r\n\r\n", { protocolVersion: "HTTP/1.1" })
      expect(plain.responses).toHaveLength(1)
      const kept = yield* run(
        "GET /1 HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\nGET /2 HTTP/1.0\r\n\r\n",
        { protocolVersion: "HTTP/1.1" }
      )
      expect(kept.responses).toHaveLength(2)
    }))

  it.live("HTTP/0.9: the body alone, no status line; the connection closes", () =>
    Effect.gen(function*() {
      const { raw, closed } = yield* run("GET /nine\r\n\r\nGET /more HTTP/1.0\r\n\r\n", { protocolVersion: "HTTP/1.1" })
      expect(raw.toString()).toBe("GET /nine HTTP/0.9\n")
      expect(closed).toBe(true)
    }))

  it.live("HEAD: headers only, never a body; error pages too (with their Content-Length)", () =>
    Effect.gen(function*() {
      const ok = yield* run("HEAD / HTTP/1.0\r\n\r\n")
      expect(ok.raw.toString()).toMatch(/Content-Length: 9\r\n\r\n$/)
      const missing = yield* run("HEAD / HTTP/1.0\r\n\r\n", {}, { HEAD: () => Effect.fail(new HttpError({ status: 404, message: "File not found" })) })
      expect(missing.raw.toString()).toMatch(/^HTTP\/1\.0 404 File not found\r\n[\s\S]*Content-Length: 335\r\n\r\n$/)
    }))

  it.live("send_error: message and explain are HTML-escaped; 204/304 errors have no page", () =>
    Effect.gen(function*() {
      const { responses } = yield* run("GET / HTTP/1.0\r\n\r\n", {}, {
        GET: () => Effect.fail(new HttpError({ status: 418, message: "<tea & 'biscuits'>", explain: "a <b>" }))
      })
      const body = responses[0]!.body.toString()
      expect(responses[0]!.statusLine).toBe("HTTP/1.0 418 <tea & 'biscuits'>")
      expect(body).toContain("<p>Message: &lt;tea &amp; 'biscuits'&gt;.</p>")
      expect(body).toContain("<p>Error code explanation: 418 - a &lt;b&gt;.</p>")
      const notModified = yield* run("GET / HTTP/1.0\r\n\r\n", {}, { GET: () => Effect.fail(new HttpError({ status: 304 })) })
      expect(notModified.raw.toString()).toMatch(/^HTTP\/1\.0 304 Not Modified\r\nServer: .*\r\nDate: .*\r\nConnection: close\r\n\r\n$/)
    }))

  it.live("a configurable error page and content type", () =>
    Effect.gen(function*() {
      const { responses } = yield* run("SPAM / HTTP/1.0\r\n\r\n", {
        errorMessageFormat: "%(code)d|%(message)s|%(explain)s|100%%",
        errorContentType: "text/plain"
      })
      expect(responses[0]!.body.toString()).toBe("501|Unsupported method ('SPAM')|Server does not support this operation|100%")
      expect(responses[0]!.header("content-type")).toBe("text/plain")
    }))

  it.live("Expect: 100-continue gets 100 Continue before the final response (both sides HTTP/1.1)", () =>
    Effect.gen(function*() {
      const input = "POST / HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbody"
      const { raw, responses } = yield* run(input, { protocolVersion: "HTTP/1.1" })
      expect(raw.toString().startsWith("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n")).toBe(true)
      expect(responses.map((r) => r.status)).toEqual([100, 200])
      expect(responses[1]!.body.toString()).toBe("got body\n")
      // Under HTTP/1.0 no interim response is sent.
      const old = yield* run(input, { protocolVersion: "HTTP/1.0" })
      expect(old.responses.map((r) => r.status)).toEqual([200])
    }))

  it.live("the Expect hook can refuse with 417, and the handler does not run", () =>
    Effect.gen(function*() {
      let ran = false
      const { responses } = yield* run(
        "POST / HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\nbody",
        { protocolVersion: "HTTP/1.1" },
        { POST: () => Effect.sync(() => (ran = true)).pipe(Effect.as(Response.text("no"))) },
        { expectContinue: () => Effect.fail(new HttpError({ status: 417 })) }
      )
      expect(responses.map((r) => r.statusLine)).toEqual(["HTTP/1.1 417 Expectation Failed"])
      expect(ran).toBe(false)
    }))

  it.live("an unread small body is drained so the next request still parses; a large one closes", () =>
    Effect.gen(function*() {
      const small = yield* run(
        ["PUT / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\r\n01234", "56789GET /next HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"],
        { protocolVersion: "HTTP/1.1" }
      )
      expect(small.responses.map((r) => r.body.toString())).toEqual(["ignored the body\n", "GET /next HTTP/1.1\n"])
      const large = yield* run(
        "PUT / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000\r\n\r\nxyz",
        { protocolVersion: "HTTP/1.1", maxDrainBytes: 1000, endInput: false, timeoutMs: 2000 }
      )
      expect(large.responses.map((r) => r.status)).toEqual([200])
      expect(large.closed).toBe(true)
    }))

  it.live("a chunked request body reaches the handler decoded", () =>
    Effect.gen(function*() {
      const { responses } = yield* run(
        "POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        { protocolVersion: "HTTP/1.1" }
      )
      expect(responses[0]!.body.toString()).toBe("got abcde\n")
    }))

  it.live("a streamed response without a length closes the connection after it (HTTP/1.0 framing)", () =>
    Effect.gen(function*() {
      const { responses, closed } = yield* run("GET /1 HTTP/1.1\r\nHost: localhost\r\n\r\nGET /2 HTTP/1.1\r\nHost: localhost\r\n\r\n", { protocolVersion: "HTTP/1.1" }, {
        GET: () => Effect.succeed(Response.stream(Stream.make(Buffer.from("a"), Buffer.from("b"))))
      })
      expect(responses.map((r) => r.body.toString())).toEqual(["ab"])
      expect(closed).toBe(true)
    }))

  it.live("a handler's header with CR/LF is refused with 500 (no response splitting)", () =>
    Effect.gen(function*() {
      const { raw, responses } = yield* run("GET / HTTP/1.0\r\n\r\n", {}, {
        GET: () => Effect.succeed(Response.setHeader(Response.text("x"), "X-Evil", "a\r\nSet-Cookie: owned=1"))
      })
      expect(responses[0]!.status).toBe(500)
      expect(raw.toString()).not.toContain("Set-Cookie")
    }))

  it.live("a handler defect becomes 500 and is logged; the request line is in the log", () =>
    Effect.gen(function*() {
      const { lines, responses } = yield* run("GET /boom HTTP/1.0\r\n\r\n", {}, { GET: () => Effect.die(new Error("kaput")) })
      expect(responses[0]!.status).toBe(500)
      expect(lines.some((l) => l.includes("handler failed") && l.includes("kaput"))).toBe(true)
    }))

  it.live("HttpError headers are sent (e.g. WWW-Authenticate)", () =>
    Effect.gen(function*() {
      const { responses } = yield* run("GET / HTTP/1.0\r\n\r\n", {}, {
        GET: () => Effect.fail(new HttpError({ status: 401, headers: [["WWW-Authenticate", "Basic realm=\"x\""]] }))
      })
      expect(responses[0]!.header("www-authenticate")).toBe("Basic realm=\"x\"")
    }))

  it.live("request fields: path, pathname, query, peer address", () =>
    Effect.gen(function*() {
      let seen: unknown
      yield* run("GET /a%20b/c?x=1&y#frag HTTP/1.0\r\n\r\n", { remoteAddress: "10.1.2.3" }, {
        GET: (r) =>
          Effect.sync(() => {
            seen = { path: r.path, pathname: r.pathname, query: r.query, remote: r.remoteAddress }
            return Response.text("")
          })
      })
      expect(seen).toEqual({ path: "/a%20b/c?x=1&y#frag", pathname: "/a%20b/c", query: "x=1&y", remote: "10.1.2.3" })
    }))

  it.live("handlers use their own services, which a test replaces", () =>
    Effect.gen(function*() {
      class Greeting extends Effect.Tag("Greeting")<Greeting, { readonly word: string }>() {}
      const routes = { GET: () => Effect.map(Greeting, (g) => Response.text(g.word)) }
      const exchange = yield* TestKit.exchange("GET / HTTP/1.0\r\n\r\n").pipe(
        Effect.provide(Layer.merge(
          Handler.layer(routes).pipe(Layer.provide(Layer.succeed(Greeting, { word: "stubbed" }))),
          AccessLog.layerSilent
        ))
      )
      expect(exchange.responses[0]!.body.toString()).toBe("stubbed")
    }))

  describe("keepAliveOnError (opt-in; Python closes after every error)", () => {
    const get: Handler.Handler<never> = (request) =>
        request.path === "/missing"
          ? Effect.fail(new HttpError({ status: 404, message: "File not found" }))
          : request.path === "/slow-missing"
          ? Effect.flatMap(Effect.sleep(1), () => Effect.fail(new HttpError({ status: 404 })))
          : request.path === "/close"
          ? Effect.fail(new HttpError({ status: 403, headers: [["Connection", "close"]] }))
          : Effect.succeed(Response.text("ok\n"))
    const failing: Handler.Routes<never> = { GET: get, HEAD: get, PUT: () => Effect.fail(new HttpError({ status: 403 })) }
    const errors = "GET /missing HTTP/1.1\r\nHost: localhost\r\n\r\nGET /slow-missing HTTP/1.1\r\nHost: localhost\r\n\r\nHEAD /missing HTTP/1.1\r\nHost: localhost\r\n\r\n" +
      "SPAM / HTTP/1.1\r\nHost: localhost\r\n\r\nGET /after HTTP/1.1\r\nHost: localhost\r\n\r\n"

    it.live("by default every error closes, with Connection: close, as Python's send_error", () =>
      Effect.gen(function*() {
        const { responses } = yield* run(errors, {}, failing)
        expect(responses.map((r) => r.statusLine)).toEqual(["HTTP/1.0 404 File not found"])
        expect(responses[0]!.header("connection")).toBe("close")
      }))

    it.live("keeps the connection through handler errors: sync, async, HEAD and an unknown method's 501", () =>
      Effect.gen(function*() {
        const { responses } = yield* run(errors, { protocolVersion: "HTTP/1.1", keepAliveOnError: true }, failing)
        expect(responses.map((r) => r.statusLine)).toEqual([
          "HTTP/1.1 404 File not found",
          "HTTP/1.1 404 Not Found",
          "HTTP/1.1 404 File not found",
          "HTTP/1.1 501 Unsupported method ('SPAM')",
          "HTTP/1.1 200 OK"
        ])
        for (const r of responses.slice(0, 4)) expect(r.header("connection")).toBeUndefined()
        // The error page keeps its length, so the client can find the next response.
        expect(Number(responses[0]!.header("content-length"))).toBe(responses[0]!.body.length)
        expect(responses[2]!.body.length).toBe(0)
        expect(responses[4]!.body.toString()).toBe("ok\n")
      }))

    it.live("still closes when the client asks to, the error asks to, or the decoder refused the request", () =>
      Effect.gen(function*() {
        const options = { protocolVersion: "HTTP/1.1" as const, keepAliveOnError: true }
        const asked = yield* run("GET /missing HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\nGET /x HTTP/1.1\r\nHost: localhost\r\n\r\n", options, failing)
        expect(asked.responses.map((r) => [r.statusLine, r.header("connection")])).toEqual([
          ["HTTP/1.1 404 File not found", "close"]
        ])
        const own = yield* run("GET /close HTTP/1.1\r\nHost: localhost\r\n\r\nGET /x HTTP/1.1\r\nHost: localhost\r\n\r\n", options, failing)
        expect(own.responses.map((r) => r.statusLine)).toEqual(["HTTP/1.1 403 Forbidden"])
        const bad = yield* run("GET /x HTTP/1.1\r\nHost: localhost\r\nBad Header\r\n\r\nGET /x HTTP/1.1\r\nHost: localhost\r\n\r\n", options, failing)
        expect(bad.responses.map((r) => [r.status, r.header("connection")])).toEqual([[400, "close"]])
      }))

    it.live("refused before 100 Continue: the connection closes (the client may never send the body)", () =>
      Effect.gen(function*() {
        // The client holds its body back and keeps the connection open: the server must not wait for the body.
        const { closed, responses } = yield* run(
          "PUT /f HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
          { protocolVersion: "HTTP/1.1", keepAliveOnError: true, endInput: false, timeoutMs: 2000 },
          echo,
          { expectContinue: () => Effect.fail(new HttpError({ status: 417 })) }
        )
        expect(responses.map((r) => [r.statusLine, r.header("connection")])).toEqual([
          ["HTTP/1.1 417 Expectation Failed", "close"]
        ])
        expect(closed).toBe(true)
      }))

    it.live("an unread body is skipped when small, else the connection closes, as after a success", () =>
      Effect.gen(function*() {
        const options = { protocolVersion: "HTTP/1.1" as const, keepAliveOnError: true, maxDrainBytes: 8 }
        const small = yield* run("PUT /f HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhelloGET /x HTTP/1.1\r\nHost: localhost\r\n\r\n", options, failing)
        expect(small.responses.map((r) => r.statusLine)).toEqual(["HTTP/1.1 403 Forbidden", "HTTP/1.1 200 OK"])
        const big = yield* run(
          ["PUT /f HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n", "x".repeat(100) + "GET /x HTTP/1.1\r\nHost: localhost\r\n\r\n"],
          options,
          failing
        )
        expect(big.responses.map((r) => r.statusLine)).toEqual(["HTTP/1.1 403 Forbidden"])
      }))
  })
})
