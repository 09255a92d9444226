/**
 * `compress` for directory listings (HTML, rich, JSON), with the response cache on and off: compressed when
 * `Accept-Encoding` allows, `Vary: Accept-Encoding` (joined to the JSON negotiation's `Accept`), no ETag, a length
 * that matches, and the decoded page equal to the identity one.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as NodeFs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Zlib from "node:zlib"
import { headerValues as header, request, startStatic as start } from "./support/staticServer.js"

const makeTree = Effect.acquireRelease(
  Effect.sync(() => {
    const root = NodeFs.realpathSync(NodeFs.mkdtempSync(Path.join(Os.tmpdir(), "effect-httpd-zlisting-")))
    const dir = Path.join(root, "many")
    NodeFs.mkdirSync(Path.join(dir, "sub"), { recursive: true })
    for (let i = 0; i < 200; i++) NodeFs.writeFileSync(Path.join(dir, `a-rather-long-file-name-number-${i}.txt`), "x")
    NodeFs.mkdirSync(Path.join(root, "few"))
    NodeFs.writeFileSync(Path.join(root, "few", "one.txt"), "x")
    return root
  }),
  (root) => Effect.sync(() => NodeFs.rmSync(root, { recursive: true, force: true }))
)

const decode = (coding: string | undefined, body: Buffer): Buffer =>
  coding === "gzip" ? Zlib.gunzipSync(body) : coding === "br" ? Zlib.brotliDecompressSync(body) : body

describe("compress: listings", () => {
  it.scopedLive("HTML, rich and JSON listings are compressed and vary on Accept-Encoding; small ones stay identity", () =>
    Effect.gen(function*() {
      const root = yield* makeTree
      for (const cache of [true, false]) {
        for (const extra of [{}, { richListing: true }, { jsonListing: true }]) {
          const server = yield* start({ directory: root, cache, compress: true, ...extra })
          const port = server.address.port
          const accept = "jsonListing" in extra ? ["Accept: application/json"] : []
          const plain = yield* request(port, "GET", "/many/", accept)
          expect(header(plain, "content-encoding")).toEqual([])
          expect(header(plain, "vary")).toEqual(["jsonListing" in extra ? "Accept, Accept-Encoding" : "Accept-Encoding"])
          for (const coding of ["gzip", "br"]) {
            const packed = yield* request(port, "GET", "/many/", [...accept, `Accept-Encoding: ${coding}`])
            expect(packed.status).toBe(200)
            expect(header(packed, "content-encoding")).toEqual([coding])
            expect(header(packed, "vary")).toEqual(header(plain, "vary"))
            expect(header(packed, "etag")).toEqual([])
            expect(Number(header(packed, "content-length")[0])).toBe(packed.body.length)
            expect(packed.body.length).toBeLessThan(plain.body.length / 4)
            expect(decode(coding, packed.body).equals(plain.body)).toBe(true)
            const head = yield* request(port, "HEAD", "/many/", [...accept, `Accept-Encoding: ${coding}`])
            expect(header(head, "content-length")).toEqual(header(packed, "content-length"))
          }
          // Below the threshold (1 KiB): as it is, no Vary for the coding.
          if ("jsonListing" in extra) {
            const small = yield* request(port, "GET", "/few/", [...accept, "Accept-Encoding: gzip"])
            expect(header(small, "content-encoding")).toEqual([])
            expect(header(small, "vary")).toEqual(["Accept"])
          }
        }
      }
    }))

  it.scopedLive("without compress a listing is untouched", () =>
    Effect.gen(function*() {
      const root = yield* makeTree
      const server = yield* start({ directory: root })
      const response = yield* request(server.address.port, "GET", "/many/", ["Accept-Encoding: gzip"])
      expect(header(response, "content-encoding")).toEqual([])
      expect(header(response, "vary")).toEqual([])
    }))
})
