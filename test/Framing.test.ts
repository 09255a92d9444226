/**
 * The engine's one framing rule (src/internal/framing.ts): a handler's `Content-Length` / `Transfer-Encoding` are
 * checked against the body they describe (issue 12, item 1's attack: framing fields trusted).
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as AccessLog from "../src/AccessLog.js"
import * as Handler from "../src/Handler.js"
import type { HeaderField } from "../src/Headers.js"
import { HttpError } from "../src/HttpError.js"
import { chunked, errorFramingProblem, responseFraming, StreamLimit } from "../src/internal/framing.js"
import * as Response from "../src/Response.js"
import * as TestKit from "../src/TestKit.js"

const bytes = (text: string): Response.Body => ({ _tag: "Bytes", bytes: Buffer.from(text) })
const stream = (...parts: Array<string>): Response.Body => ({
  _tag: "Stream",
  stream: Stream.fromIterable(parts.map((part) => Buffer.from(part)))
})
const sent = { bodySent: true, canChunk: true }

describe("responseFraming", () => {
  it("takes one decimal Content-Length that matches a body of known length", () => {
    expect(responseFraming(200, [["content-length", "2"]], bytes("ab"), sent)).toEqual({
      length: 2,
      chunked: false,
      keepAlive: undefined
    })
    expect(responseFraming(200, [["Content-Length", "0"]], Response.emptyBody, sent)).toMatchObject({ length: 0 })
    expect(responseFraming(200, [["Connection", "close"]], stream("x"), sent)).toEqual({
      length: -1,
      chunked: false,
      keepAlive: false
    })
  })

  it("refuses a length that differs from the body's bytes, two lengths, and a length that is not digits", () => {
    expect(responseFraming(200, [["Content-Length", "1"]], bytes("é"), sent)).toBe(
      "Content-Length 1 but a body of 2 bytes"
    )
    expect(responseFraming(200, [["Content-Length", "3"]], Response.emptyBody, sent)).toMatch(/body of 0 bytes/)
    const two: Array<HeaderField> = [["Content-Length", "2"], ["Content-Length", "2"]]
    expect(responseFraming(200, two, bytes("ab"), sent)).toBe("two Content-Length fields")
    for (const value of ["+2", "2 ", "0x2", "2, 2", "", "1".repeat(16)]) {
      expect(responseFraming(200, [["Content-Length", value]], bytes("ab"), sent), value).toMatch(/not a decimal/)
    }
  })

  it("when no body is sent (HEAD, 204, 304) the length describes a GET's and is not compared", () => {
    const head = { bodySent: false, canChunk: true }
    expect(responseFraming(304, [["Content-Length", "99"]], Response.emptyBody, head)).toMatchObject({ length: 99 })
    expect(responseFraming(200, [["Content-Length", "x"]], Response.emptyBody, head)).toMatch(/not a decimal/)
  })

  it("takes Transfer-Encoding: chunked only on a Stream body to an HTTP/1.1 client, never with a length", () => {
    expect(responseFraming(200, [["Transfer-Encoding", "Chunked"]], stream("a"), sent)).toMatchObject({ chunked: true })
    expect(responseFraming(200, [["Transfer-Encoding", "gzip"]], stream("a"), sent)).toMatch(/other than chunked/)
    expect(responseFraming(200, [["Transfer-Encoding", "gzip, chunked"]], stream("a"), sent)).toMatch(/other than/)
    const both: Array<HeaderField> = [["Transfer-Encoding", "chunked"], ["Content-Length", "1"]]
    expect(responseFraming(200, both, stream("a"), sent)).toBe("both Transfer-Encoding and Content-Length")
    expect(responseFraming(200, [["Transfer-Encoding", "chunked"]], bytes("a"), sent)).toMatch(/known length/)
    expect(responseFraming(200, [["Transfer-Encoding", "chunked"]], stream("a"), { bodySent: true, canChunk: false }))
      .toMatch(/HTTP\/1\.0/)
  })

  it("refuses a 1xx status as a final response", () => {
    for (const status of [100, 101, 103, 199]) {
      expect(responseFraming(status, [], Response.emptyBody, sent)).toMatch(/interim/)
      expect(errorFramingProblem(status, undefined)).toMatch(/interim/)
    }
    expect(errorFramingProblem(404, [["content-length", "0"]])).toMatch(/error page/)
    expect(errorFramingProblem(401, [["WWW-Authenticate", "Basic"]])).toBeUndefined()
  })

  it("StreamLimit passes the declared bytes and cuts the rest; chunked frames a stream", () =>
    Effect.gen(function*() {
    const limit = new StreamLimit(5)
    expect(Buffer.from(limit.take(Buffer.from("abc"))).toString()).toBe("abc")
    expect(limit.overrun).toBe(false)
    expect(Buffer.from(limit.take(Buffer.from("defg"))).toString()).toBe("de")
    expect([limit.overrun, limit.missing]).toEqual([true, 0])
    const short = new StreamLimit(4)
    short.take(Buffer.from("a"))
    expect(short.missing).toBe(3)
    const framed = yield* Stream.runCollect(chunked(Stream.make(Buffer.alloc(26, 120), Buffer.alloc(0))))
    expect(Buffer.concat([...framed]).toString("latin1")).toBe("1a\r\n" + "x".repeat(26) + "\r\n0\r\n\r\n")
    }).pipe(Effect.runPromise))
})

describe("the engine writes a response as its framing says", () => {
  const routes: Handler.Routes<never> = {
    GET: (request) => {
      switch (request.pathname) {
        case "/chunked":
          return Effect.succeed(Response.make(200, stream("hello", "", " world"), {
            headers: [["Transfer-Encoding", "chunked"]]
          }))
        case "/long":
          return Effect.succeed(Response.make(200, stream("abc", "defgh"), { headers: [["Content-Length", "4"]] }))
        case "/short":
          return Effect.succeed(Response.make(200, stream("ab"), { headers: [["Content-Length", "4"]] }))
        case "/error-length":
          return Effect.fail(new HttpError({ status: 404, headers: [["Content-Length", "0"]] }))
        case "/interim":
          return Effect.fail(new HttpError({ status: 103 }))
        default:
          return Effect.succeed(Response.text("next"))
      }
    }
  }
  const run = (input: string) =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const exchange = yield* TestKit.exchange(input, { protocolVersion: "HTTP/1.1" }).pipe(
        Effect.provide(Layer.merge(Handler.layer(routes), AccessLog.layerCollect(lines)))
      )
      return { ...exchange, lines }
    })
  const twice = (path: string, version = "HTTP/1.1") =>
    `GET ${path} ${version}\r\nHost: a\r\n\r\nGET /next HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`

  it.live("chunks a Stream body whose handler set Transfer-Encoding: chunked, and keeps the connection", () =>
    Effect.gen(function*() {
      const { raw, responses } = yield* run(twice("/chunked"))
      expect(raw.toString("latin1")).toContain("\r\n\r\nb\r\nhello world\r\n0\r\n\r\nHTTP/1.1 200 OK")
      expect(responses.map((r) => Buffer.from(r.body).toString())).toEqual(["hello world", "next"])
    }))

  it.live("answers 500 to Transfer-Encoding: chunked for an HTTP/1.0 client", () =>
    Effect.gen(function*() {
      const { lines, responses } = yield* run("GET /chunked HTTP/1.0\r\n\r\n")
      expect(responses.map((r) => r.status)).toEqual([500])
      expect(lines.some((l) => l.includes("response refused: Transfer-Encoding: chunked to an HTTP/1.0 client"))).toBe(
        true
      )
    }))

  it.live("a Stream longer than its Content-Length: the declared bytes, then the connection closes", () =>
    Effect.gen(function*() {
      const { closed, lines, raw } = yield* run(twice("/long"))
      expect(closed).toBe(true)
      expect(raw.toString("latin1")).toMatch(/Content-Length: 4\r\n\r\nabcd$/)
      expect(lines.some((l) => l.includes("response body longer than its Content-Length 4"))).toBe(true)
    }))

  it.live("a Stream shorter than its Content-Length closes the connection", () =>
    Effect.gen(function*() {
      const { lines, raw } = yield* run(twice("/short"))
      expect(raw.toString("latin1")).toMatch(/Content-Length: 4\r\n\r\nab$/)
      expect(lines.some((l) => l.includes("2 bytes shorter than its Content-Length 4"))).toBe(true)
    }))

  it.live("an HttpError's own Content-Length or a 1xx status is a 500 (the engine frames the error page)", () =>
    Effect.gen(function*() {
      for (const path of ["/error-length", "/interim"]) {
        const { responses } = yield* run(`GET ${path} HTTP/1.0\r\n\r\n`)
        expect(responses.map((r) => r.status), path).toEqual([500])
        expect(responses[0]!.headers.filter(([name]) => name === "Content-Length"), path).toHaveLength(1)
      }
    }))
})
