/**
 * Attacks on the objects the server shares between requests (the speed work: one cached answer per file, one version
 * object per protocol version): a library handler that changes what it was handed, through a cast, must not change
 * what later requests see. Over real sockets, with the library (`Server.make`, `StaticFiles.make`).
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as NodePath from "node:path"
import * as AccessLog from "../src/AccessLog.js"
import * as Handler from "../src/Handler.js"
import type { HeaderField } from "../src/Headers.js"
import { MimeTypes } from "../src/MimeTypes.js"
import * as Response from "../src/Response.js"
import * as Server from "../src/Server.js"
import * as StaticFiles from "../src/StaticFiles.js"
import { getOne } from "./support/getOne.js"
import { sendRaw } from "./support/rawClient.js"
import { headerValues } from "./support/staticServer.js"

/** A fresh temporary root, removed with the test's scope. */
const tempRoot = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(NodePath.join(Os.tmpdir(), "shared-answers-"))),
  (root) => Effect.sync(() => Fs.rmSync(root, { recursive: true, force: true }))
)

const serve = (handlers: Layer.Layer<Handler.Handlers>) =>
  Effect.map(
    Server.make({ port: 0 }).pipe(Effect.provide(Layer.merge(handlers, AccessLog.layerSilent))),
    (server) => server.address.port
  )

describe("shared answers and versions", () => {
  it.scopedLive("a handler replacing a cached static answer's header list does not leak it into later hits", () =>
    Effect.gen(function*() {
      const root = yield* tempRoot
      Fs.writeFileSync(NodePath.join(root, "a.txt"), "hello")
      // A per-request field (think `Set-Cookie`) set by writing over the answer the static handler returned.
      const handlers = Layer.effect(
        Handler.Handlers,
        Effect.map(StaticFiles.make({ directory: root, cache: { settleMs: 0 } }), (map) => {
          const get = map.byMethod.get("GET")!
          const byMethod = new Map(map.byMethod)
          byMethod.set("GET", (request) =>
            Effect.map(get(request), (response) => {
              try {
                const own = response as { headers: ReadonlyArray<HeaderField> }
                own.headers = [...response.headers, ["X-Client", request.headers.get("x-client") ?? ""]]
              } catch {
                // A frozen answer refuses the write: the field is simply not added.
              }
              return response
            }))
          return { ...map, byMethod }
        })
      ).pipe(Layer.provide(Layer.merge(NodeContext.layer, MimeTypes.layerWithoutFiles())))
      const port = yield* serve(handlers)
      for (const client of ["alice", "bob", "carol", "dave"]) {
        const response = yield* getOne(port, "/a.txt", [`X-Client: ${client}`])
        expect(response.status).toBe(200)
        expect(response.body.toString()).toBe("hello")
        for (const value of headerValues(response, "X-Client")) expect(value).toBe(client)
      }
    }))

  it.scopedLive("a handler cannot change the version object every later HTTP/0.9 request shares", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const handlers = Layer.effect(
        Handler.Handlers,
        Handler.make({
          GET: (request) =>
            Effect.sync(() => {
              seen.push(request.version.text)
              try {
                ;(request.version as { text: string }).text = "HTTP/1.1"
              } catch {
                // Frozen: the shared version stays as it is.
              }
              return Response.text("x")
            })
        })
      )
      const port = yield* serve(handlers)
      for (let i = 0; i < 2; i++) {
        const exchange = yield* sendRaw({ port, chunks: ["GET /\r\n"], headRequests: [], halfClose: true, timeoutMs: 5_000 })
        // HTTP/0.9: the body alone, no head.
        expect(exchange.bytes.toString("latin1")).toBe("x")
      }
      for (const text of ["HTTP/1.0", "HTTP/1.1"]) {
        yield* sendRaw({ port, chunks: [`GET / ${text}\r\nHost: localhost\r\nConnection: close\r\n\r\n`], headRequests: [false] })
      }
      expect(seen).toEqual(["HTTP/0.9", "HTTP/0.9", "HTTP/1.0", "HTTP/1.1"])
    }))
})
