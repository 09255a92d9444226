/**
 * The README's library and test-kit examples, run as written (imports point at src/ instead of the package name).
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as AccessLog from "../src/AccessLog.js"
import * as Handler from "../src/Handler.js"
import { HttpError } from "../src/HttpError.js"
import { MimeTypes } from "../src/MimeTypes.js"
import * as Response from "../src/Response.js"
import * as Server from "../src/Server.js"
import * as StaticFiles from "../src/StaticFiles.js"
import * as TestKit from "../src/TestKit.js"
import { sendRaw } from "./support/rawClient.js"

class Greeting extends Effect.Tag("Greeting")<Greeting, { readonly word: string }>() {}

const handlers = Handler.layer({
  GET: (request) =>
    request.pathname === "/"
      ? Effect.map(Greeting, (g) => Response.text(`${g.word} from ${request.remoteAddress}\n`))
      : Effect.fail(new HttpError({ status: 404, message: "File not found" })),
  SPAM: () => Effect.succeed(Response.text("any token is a method\n"))
}).pipe(Layer.provide(Layer.succeed(Greeting, { word: "hello" })))

describe("README examples", () => {
  it.scopedLive("the library example serves GET, SPAM and 404", () =>
    Effect.gen(function*() {
      const server = yield* Server.make({ host: "::", port: 0, protocolVersion: "HTTP/1.1", mode: "threading" }).pipe(
        Effect.provide(Layer.merge(handlers, AccessLog.layerSilent))
      )
      const port = server.address.port
      const ex = yield* sendRaw({
        port,
        chunks: ["GET / HTTP/1.1\r\nHost: localhost\r\n\r\nSPAM /x HTTP/1.1\r\nHost: localhost\r\n\r\nGET /nope HTTP/1.1\r\nHost: localhost\r\n\r\n"],
        until: { responses: 3 }
      })
      expect(ex.responses.map((r) => [r.status, r.body.toString().split("\n")[0]])).toEqual([
        [200, "hello from ::ffff:127.0.0.1"],
        [200, "any token is a method"],
        [404, "<!DOCTYPE HTML>"]
      ])
    }))

  it.live("the test-kit example injects a service", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const { responses } = yield* TestKit.exchange("GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").pipe(
        Effect.provide(Layer.merge(
          Handler.layer({
            GET: (request) => Effect.map(Greeting, (g) => Response.text(`${g.word} from ${request.remoteAddress}\n`))
          }).pipe(Layer.provide(Layer.succeed(Greeting, { word: "stubbed" }))),
          AccessLog.layerCollect(lines)
        ))
      )
      expect(responses[0]!.status).toBe(200)
      expect(responses[0]!.body.toString()).toBe("stubbed from 127.0.0.1\n")
      expect(lines[0]).toMatch(/"GET \/ HTTP\/1.1" 200 -$/)
    }))

  it.scopedLive("the static-files layer composition serves a directory", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "readme-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))
      fs.writeFileSync(path.join(dir, "notes.md"), "# hi\n")
      const files = StaticFiles.layer({ directory: dir, extensionsMap: { ".md": "text/markdown; charset=utf-8" } }).pipe(
        Layer.provide(MimeTypes.layer()),
        Layer.provideMerge(Layer.merge(NodeFileSystem.layer, NodePath.layer))
      )
      const server = yield* Server.make({ port: 0 }).pipe(Effect.provide(Layer.merge(files, AccessLog.layerSilent)))
      const ex = yield* sendRaw({ port: server.address.port, chunks: ["GET /notes.md HTTP/1.0\r\n\r\n"] })
      expect(ex.responses[0]!.header("content-type")).toBe("text/markdown; charset=utf-8")
      expect(ex.responses[0]!.body.toString()).toBe("# hi\n")
    }))
})
