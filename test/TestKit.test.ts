/**
 * The test kit's own contract: `request` frames a body, and an exchange that does not finish is a failure, not an
 * empty success.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as AccessLog from "../src/AccessLog.js"
import * as Handler from "../src/Handler.js"
import * as TestKit from "../src/TestKit.js"
import { echoRoutes } from "./support/echoRoutes.js"

const provide = Effect.provide(Layer.merge(Handler.layer(echoRoutes), AccessLog.layerSilent))

describe("TestKit", () => {
  it("request adds Content-Length for a body, unless the headers frame it already, and Host to HTTP/1.1", () => {
    expect(TestKit.request("POST", "/f", { body: "héllo" }).toString("latin1")).toBe(
      "POST /f HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nh\xe9llo"
    )
    expect(TestKit.request("POST", "/f", { body: "" }).toString("latin1")).toBe(
      "POST /f HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n"
    )
    expect(TestKit.request("GET", "/").toString("latin1")).toBe("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    expect(TestKit.request("GET", "/", { headers: { host: "a" } }).toString("latin1")).toBe("GET / HTTP/1.1\r\nhost: a\r\n\r\n")
    expect(TestKit.request("GET", "/", { version: "HTTP/1.0" }).toString("latin1")).toBe("GET / HTTP/1.0\r\n\r\n")
    expect(
      TestKit.request("POST", "/f", { headers: { "transfer-encoding": "chunked" }, body: "1\r\na\r\n0\r\n\r\n" })
        .toString("latin1")
    ).toBe("POST /f HTTP/1.1\r\nHost: localhost\r\ntransfer-encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n")
    expect(TestKit.request("POST", "/f", { headers: [["Content-Length", "2"]], body: "ab" }).toString("latin1")).toBe(
      "POST /f HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n\r\nab"
    )
  })

  it.live("a request built with a body reaches the handler whole", () =>
    Effect.gen(function*() {
      const { responses } = yield* TestKit.exchange(
        TestKit.request("POST", "/f", { headers: { Connection: "close" }, body: "payload" }),
        { protocolVersion: "HTTP/1.1" }
      ).pipe(provide)
      expect(responses.map((r) => r.body.toString())).toEqual(["got 7: payload\n"])
    }))

  it.live("an exchange whose connection does not finish fails with ExchangeTimeout, carrying what was written", () =>
    Effect.gen(function*() {
      const error = yield* TestKit.exchange("GET /a HTTP/1.1\r\nHost: localhost\r\n\r\n", {
        protocolVersion: "HTTP/1.1",
        endInput: false,
        timeoutMs: 200
      }).pipe(provide, Effect.flip)
      expect(error._tag).toBe("ExchangeTimeout")
      expect(error.timeoutMs).toBe(200)
      expect(error.responses.map((r) => r.body.toString())).toEqual(["path=/a\n"])
    }))

  it.live("a handler that never answers fails the exchange instead of returning zero responses, and is interrupted", () =>
    Effect.gen(function*() {
      let released = false
      const stuck = Handler.layer({
        GET: () =>
          Effect.acquireRelease(Effect.void, () => Effect.sync(() => (released = true))).pipe(Effect.zipRight(Effect.never))
      })
      const error = yield* TestKit.exchange("GET / HTTP/1.0\r\n\r\n", { timeoutMs: 200 }).pipe(
        Effect.provide(Layer.merge(stuck, AccessLog.layerSilent)),
        Effect.flip
      )
      expect(error).toBeInstanceOf(TestKit.ExchangeTimeout)
      expect(error.responses).toEqual([])
      expect(released).toBe(true)
    }))
})
