/**
 * The static handler's hot paths answer with an `Exit` (no fiber per request): a cached 200, a 404, a 416, a 401.
 * `Effect.fail(object)` is not an Exit in Effect 3 (it captures the current span through a fiber), so these paths
 * use `Exit.fail`; a regression here tripled the cost of a 404 without changing a byte on the wire.
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePathMod from "node:path"
import { Headers } from "../src/Headers.js"
import { MimeTypes } from "../src/MimeTypes.js"
import type { Request } from "../src/Request.js"
import * as StaticFiles from "../src/StaticFiles.js"

const root = NodeFs.mkdtempSync(NodePathMod.join(NodeOs.tmpdir(), "effect-httpd-sync-"))
NodeFs.writeFileSync(NodePathMod.join(root, "a.txt"), "hello\n")

const request = (path: string, headers: Record<string, string> = {}): Request => ({
  method: "GET",
  target: path,
  path,
  pathname: path,
  query: "",
  version: { major: 1, minor: 1, text: "HTTP/1.1" },
  requestLine: `GET ${path} HTTP/1.1`,
  headers: Headers.from(headers),
  framing: "none",
  contentLength: 0,
  remoteAddress: "127.0.0.1",
  remotePort: 40000,
  localAddress: "127.0.0.1",
  localPort: 8000,
  secure: false,
  body: Stream.empty
})

const services = Layer.mergeAll(NodeFileSystem.layer, NodePath.layer, MimeTypes.layerWithoutFiles())

describe("answers without a fiber", () => {
  it.scoped("static files: cached 200, 404, 416, 401", () =>
    Effect.gen(function*() {
      const open = yield* StaticFiles.make({ directory: root, cache: { settleMs: 0 } }).pipe(Effect.provide(services))
      const get = open.byMethod.get("GET")!
      // The first GET fills the cache (reads the file: an Effect); the second is answered from it.
      const first = get(request("/a.txt"))
      if (!Exit.isExit(first)) yield* first
      const cached = get(request("/a.txt"))
      expect(Exit.isExit(cached) && Exit.isSuccess(cached)).toBe(true)
      const missing = get(request("/missing.txt"))
      expect(Exit.isExit(missing)).toBe(true)
      expect(yield* Effect.flip(missing)).toMatchObject({ status: 404 })
      const unsatisfiable = get(request("/a.txt", { Range: "bytes=100-" }))
      expect(Exit.isExit(unsatisfiable)).toBe(true)
      expect(yield* Effect.flip(unsatisfiable)).toMatchObject({ status: 416 })
      const guarded = yield* StaticFiles.make({ directory: root, basicAuth: [{ user: "u", password: "p" }] }).pipe(
        Effect.provide(services)
      )
      const refused = guarded.byMethod.get("GET")!(request("/a.txt"))
      expect(Exit.isExit(refused)).toBe(true)
      expect(yield* Effect.flip(refused)).toMatchObject({ status: 401 })
    }))
})
