/**
 * The malformed-request corpus (test/fixtures/malformed.ts) over real sockets: exact statuses, whether the
 * connection closes, that nothing after refused bytes is interpreted, and that other clients are served meanwhile.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as AccessLog from "../src/AccessLog.js"
import * as Handler from "../src/Handler.js"
import { HttpError } from "../src/HttpError.js"
import * as Response from "../src/Response.js"
import * as Server from "../src/Server.js"
import { malformedCases } from "./fixtures/malformed.js"
import { echoRoutes } from "./support/echoRoutes.js"
import { sendRaw } from "./support/rawClient.js"

const FOLLOW_UP = "GET /next HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"

describe("malformed requests over real sockets", () => {
  it.scopedLive("each case: exact status, close or keep, no smuggled follow-up, other clients served", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const server = yield* Server.make({ port: 0, protocolVersion: "HTTP/1.1", limits: { maxBodyBytes: 1024 * 1024 } })
        .pipe(Effect.provide(Layer.merge(Handler.layer(echoRoutes), AccessLog.layerCollect(lines))))
      const port = server.address.port
      const failures: Array<string> = []
      yield* Effect.forEach(malformedCases, (c) =>
        Effect.gen(function*() {
          const [ex, other] = yield* Effect.all([
            sendRaw({
              port,
              chunks: c.halfClose === true ? [c.request] : [c.request + FOLLOW_UP],
              halfClose: c.halfClose === true,
              timeoutMs: 5000
            }),
            sendRaw({ port, chunks: ["GET /other HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"], timeoutMs: 5000 })
          ], { concurrency: 2 })
          const statuses = ex.responses.map((r) => r.status)
          const expected = c.keeps ? [...c.statuses, 200] : [...c.statuses]
          const problems: Array<string> = []
          if (JSON.stringify(statuses) !== JSON.stringify(expected)) {
            problems.push(`statuses ${JSON.stringify(statuses)} != ${JSON.stringify(expected)}`)
          }
          if (!ex.closedByServer || ex.timedOut) problems.push("server did not close")
          if (c.keeps && ex.responses.at(-1)?.body.toString() !== "path=/next\n") problems.push("follow-up not answered")
          if (!c.keeps && ex.bytes.includes("path=/next")) problems.push("follow-up smuggled through")
          if (c.bodyIncludes !== undefined && !(ex.responses[0]?.body.toString("latin1") ?? "").includes(c.bodyIncludes)) {
            problems.push(`body lacks ${JSON.stringify(c.bodyIncludes)}: ${ex.responses[0]?.body.toString("latin1").slice(0, 300)}`)
          }
          if (other.responses[0]?.status !== 200) problems.push("the other client was not served")
          if (problems.length > 0) failures.push(`${c.name}: ${problems.join("; ")}`)
        }), { concurrency: 4, discard: true })
      expect(failures).toEqual([])
      // Still serving after the whole corpus.
      const after = yield* sendRaw({ port, chunks: ["GET /after HTTP/1.0\r\n\r\n"] })
      expect(after.responses[0]!.body.toString()).toBe("path=/after\n")
      // No log line carries a raw control character: the corpus's NUL, ESC, CR and DEL bytes are escaped.
      expect(lines.length).toBeGreaterThan(malformedCases.length)
      for (const line of lines) expect(line).not.toMatch(/[\x00-\x1f\x7f-\x9f]/)
      expect(lines.some((line) => line.includes("\\x1b[31m"))).toBe(true)
    }))
})

describe("response-side injection", () => {
  it.scopedLive("CR/LF in a handler's header → 500 without the injected field; error texts are escaped and one line", () =>
    Effect.gen(function*() {
      const server = yield* Server.make({ port: 0 }).pipe(Effect.provide(Layer.merge(
        Handler.layer({
          GET: (request) =>
            request.path === "/header"
              ? Effect.succeed(Response.text("x", { headers: [["X-Reflected", "a\r\nSet-Cookie: evil=1"]] }))
              : request.path === "/lf"
              ? Effect.succeed(Response.text("x", { headers: [["X-Reflected", "a\nSet-Cookie: evil=1"]] }))
              : Effect.fail(new HttpError({ status: 400, message: "<script>m</script>\r\nSet-Cookie: evil=2", explain: "<img onerror=x>" }))
        }),
        AccessLog.layerSilent
      )))
      for (const path of ["/header", "/lf"]) {
        const ex = yield* sendRaw({ port: server.address.port, chunks: [`GET ${path} HTTP/1.0\r\n\r\n`] })
        expect(ex.responses[0]!.status).toBe(500)
        expect(ex.bytes.toString("latin1")).not.toContain("Set-Cookie")
      }
      const ex = yield* sendRaw({ port: server.address.port, chunks: ["GET /error HTTP/1.0\r\n\r\n"] })
      const response = ex.responses[0]!
      expect(response.status).toBe(400)
      // The reason phrase cannot break the status line; the page escapes message and explanation.
      expect(response.headers.some(([name]) => name.toLowerCase() === "set-cookie")).toBe(false)
      const page = response.body.toString("utf8")
      expect(page).toContain("&lt;script&gt;m&lt;/script&gt;")
      expect(page).toContain("&lt;img onerror=x&gt;")
      expect(page).not.toContain("<script>")
    }))
})

describe("HTTP/1.0 with Transfer-Encoding (RFC 9112 §6.1)", () => {
  it.scopedLive("the response does not promise keep-alive, the server closes, and nothing after the body is read", () =>
    Effect.gen(function*() {
      const server = yield* Server.make({ port: 0, protocolVersion: "HTTP/1.1" })
        .pipe(Effect.provide(Layer.merge(Handler.layer(echoRoutes), AccessLog.layerSilent)))
      const ex = yield* sendRaw({
        port: server.address.port,
        chunks: ["POST / HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\nGET /next HTTP/1.0\r\n\r\n"],
        timeoutMs: 5000
      })
      expect(ex.responses.map((r) => r.status)).toEqual([200])
      // HTTP/1.0 without `Connection: keep-alive` in the response means close.
      expect(ex.responses[0]!.headers.find(([name]) => name.toLowerCase() === "connection")?.[1]).not.toBe("keep-alive")
      expect(ex.closedByServer).toBe(true)
    }))
})
