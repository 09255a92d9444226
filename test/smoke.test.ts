import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as AccessLog from "../src/AccessLog.js"
import * as Handler from "../src/Handler.js"
import * as Response from "../src/Response.js"
import * as Server from "../src/Server.js"

describe("smoke", () => {
  it.scopedLive("serves", () =>
    Effect.gen(function*() {
      const lines: string[] = []
      const server = yield* Server.make({ port: 0, protocolVersion: "HTTP/1.1" }).pipe(
        Effect.provide(Layer.merge(
          Handler.layer({ GET: () => Effect.succeed(Response.text("hello\n")) }),
          AccessLog.layerCollect(lines)
        ))
      )
      const res = yield* Effect.promise(() => fetch(Server.url(server, "/x")))
      const body = yield* Effect.promise(() => res.text())
      expect(res.status).toBe(200)
      expect(body).toBe("hello\n")
      expect(lines).toHaveLength(1)
      expect(lines[0]).toMatch(/"GET \/x HTTP\/1.1" 200 -$/)
      expect(res.headers.get("server")).toMatch(/^effect-httpd\//)
    }))
})
