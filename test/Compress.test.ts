/**
 * `--compress` / `compress` over real sockets, with the response cache on and off: negotiation by q-values, the
 * decoded body equal to the file, identity for ranges, binary types and small files, HEAD, weak ETags and 304.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as NodeFs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Zlib from "node:zlib"
import * as Cli from "../src/Cli.js"
import { MimeTypes } from "../src/MimeTypes.js"
import * as StaticFiles from "../src/StaticFiles.js"
import { isCompressible } from "../src/internal/compress.js"
import { sendRaw } from "./support/rawClient.js"
import { rawOptions } from "./support/cliOptions.js"
import { headerValues as header, request, startStatic as start } from "./support/staticServer.js"

const text = (n: number) => {
  let out = ""
  for (let i = 0; out.length < n; i++) out += `line ${i}: the quick brown fox jumps over the lazy dog\n`
  return out.slice(0, n)
}

const makeTree = Effect.acquireRelease(
  Effect.sync(() => {
    const root = NodeFs.realpathSync(NodeFs.mkdtempSync(Path.join(Os.tmpdir(), "effect-httpd-compress-")))
    NodeFs.writeFileSync(Path.join(root, "page.txt"), text(4000))
    NodeFs.writeFileSync(Path.join(root, "data.json"), JSON.stringify({ items: text(3000).split("\n") }))
    NodeFs.writeFileSync(Path.join(root, "small.txt"), text(500))
    NodeFs.writeFileSync(Path.join(root, "exact.txt"), text(1024))
    NodeFs.writeFileSync(Path.join(root, "image.png"), Buffer.from(text(4000)))
    NodeFs.writeFileSync(Path.join(root, "large.js"), text(300 * 1024))
    NodeFs.writeFileSync(Path.join(root, "pre.js"), text(4000))
    NodeFs.writeFileSync(Path.join(root, "pre.js.br"), "PRECOMPRESSED-BR")
    return { root }
  }),
  ({ root }) => Effect.sync(() => NodeFs.rmSync(root, { recursive: true, force: true }))
)

const decode = (coding: string | undefined, body: Buffer): string =>
  (coding === "gzip" ? Zlib.gunzipSync(body) : coding === "br" ? Zlib.brotliDecompressSync(body) : body).toString()

const bothCaches = [true, false] as const
const ae = (value: string) => [`Accept-Encoding: ${value}`]

describe("--compress / compress", () => {
  it("compressible types: text/*, JSON, JavaScript, XML, SVG, +json/+xml; not binary ones", () => {
    for (const type of ["text/plain", "text/html; charset=utf-8", "application/json", "application/javascript",
      "application/xml", "image/svg+xml", "application/ld+json", "application/atom+xml", "TEXT/CSS"]) {
      expect(isCompressible(type), type).toBe(true)
    }
    for (const type of ["image/png", "application/octet-stream", "application/zip", "video/mp4", "font/woff2"]) {
      expect(isCompressible(type), type).toBe(false)
    }
  })

  it.scopedLive("negotiates by q-values; the body decodes to the file; weak ETags; 304 per coding; HEAD", () =>
    Effect.gen(function*() {
      const { root } = yield* makeTree
      for (const cache of bothCaches) {
        const server = yield* start({ directory: root, cache, compress: true })
        const port = server.address.port
        for (let i = 0; i < 2; i++) {
          // Twice: the second answers may come from the response cache.
          const cases: ReadonlyArray<readonly [string, string | undefined, string | undefined]> = [
            ["/page.txt", undefined, undefined],
            ["/page.txt", "gzip, deflate, br", "br"],
            ["/page.txt", "gzip", "gzip"],
            ["/page.txt", "x-gzip", "gzip"],
            ["/page.txt", "gzip;q=0.5, br;q=0.9", "br"],
            ["/page.txt", "gzip;q=0.9, br;q=0.5", "gzip"],
            ["/page.txt", "br;q=0, gzip", "gzip"],
            ["/page.txt", "gzip;q=0.5, identity", undefined],
            ["/page.txt", "*;q=0", undefined],
            ["/page.txt", "deflate", undefined],
            ["/page.txt", "", undefined],
            ["/data.json", "gzip", "gzip"],
            ["/exact.txt", "gzip", "gzip"] // exactly the threshold
          ]
          for (const [target, accept, coding] of cases) {
            const res = yield* request(port, "GET", target, accept === undefined ? [] : ae(accept))
            const label = `${cache} ${i} ${target} ${accept}`
            expect(res.status, label).toBe(200)
            expect(header(res, "content-encoding"), label).toEqual(coding === undefined ? [] : [coding])
            expect(decode(coding, res.body), label).toBe(NodeFs.readFileSync(Path.join(root, target), "utf8"))
            expect(header(res, "vary"), label).toEqual(["Accept-Encoding"])
            expect(header(res, "content-length"), label).toEqual([String(res.body.length)])
            if (coding !== undefined) {
              expect(res.body.length, label).toBeLessThan(NodeFs.statSync(Path.join(root, target)).size / 2)
            }
            const etag = header(res, "etag")[0]!
            if (coding === undefined) expect(etag, label).toMatch(/^"[^"]*"$/)
            else expect(etag, label).toMatch(new RegExp(`^W/"[^"]*-${coding}"$`))
          }
          // HEAD: the GET's fields without a length (it would cost the compression), no body.
          const head = yield* request(port, "HEAD", "/page.txt", ae("gzip"))
          expect(head.status).toBe(200)
          expect(head.body.length).toBe(0)
          expect(header(head, "content-encoding")).toEqual(["gzip"])
          expect(header(head, "content-length")).toEqual([])
          expect(header(head, "vary")).toEqual(["Accept-Encoding"])
          expect(header(head, "etag")[0]).toMatch(/^W\/".*-gzip"$/)
          // 304 for the coding's own tag, with Vary; another coding's request gets its 200.
          const gzipTag = header(yield* request(port, "GET", "/page.txt", ae("gzip")), "etag")[0]!
          const plainTag = header(yield* request(port, "GET", "/page.txt"), "etag")[0]!
          expect(new Set([gzipTag, plainTag, header(yield* request(port, "GET", "/page.txt", ae("br")), "etag")[0]])
            .size).toBe(3)
          const notModified = yield* request(port, "GET", "/page.txt", [...ae("gzip"), `If-None-Match: ${gzipTag}`])
          expect(notModified.status).toBe(304)
          expect(header(notModified, "etag")).toEqual([gzipTag])
          expect(header(notModified, "vary")).toEqual(["Accept-Encoding"])
          const identity = yield* request(port, "GET", "/page.txt", [`If-None-Match: ${gzipTag}`])
          expect(identity.status).toBe(200)
          expect(header(identity, "content-encoding")).toEqual([])
          const plain304 = yield* request(port, "GET", "/page.txt", [`If-None-Match: ${plainTag}`])
          expect(plain304.status).toBe(304)
          expect(header(plain304, "vary")).toEqual(["Accept-Encoding"])
        }
      }
    }))

  it.scopedLive("identity for Range, binary types, files below the threshold, precompressed siblings; off by default", () =>
    Effect.gen(function*() {
      const { root } = yield* makeTree
      const page = NodeFs.readFileSync(Path.join(root, "page.txt"))
      for (const cache of bothCaches) {
        const server = yield* start({ directory: root, cache, compress: true, precompressed: true })
        const port = server.address.port
        for (let i = 0; i < 2; i++) {
          const partial = yield* request(port, "GET", "/page.txt", [...ae("gzip, br"), "Range: bytes=10-19"])
          expect(partial.status).toBe(206)
          expect(partial.body).toEqual(page.subarray(10, 20))
          expect(header(partial, "content-encoding")).toEqual([])
          expect(header(partial, "content-range")).toEqual([`bytes 10-19/${page.length}`])
          expect(header(partial, "vary")).toEqual(["Accept-Encoding"])
          for (const target of ["/image.png", "/small.txt"]) {
            const res = yield* request(port, "GET", target, ae("gzip, br"))
            expect(res.status).toBe(200)
            expect(header(res, "content-encoding"), target).toEqual([])
            expect(header(res, "vary"), target).toEqual([])
            expect(res.body).toEqual(NodeFs.readFileSync(Path.join(root, target)))
          }
          // The sibling chosen: its bytes, its strong tag, not compressed again.
          const pre = yield* request(port, "GET", "/pre.js", ae("br"))
          expect(pre.body.toString()).toBe("PRECOMPRESSED-BR")
          expect(header(pre, "content-encoding")).toEqual(["br"])
          expect(header(pre, "etag")[0]).toMatch(/^"[^"]*-br"$/)
          // No sibling for gzip: compressed on the fly.
          const gz = yield* request(port, "GET", "/pre.js", ae("gzip"))
          expect(header(gz, "content-encoding")).toEqual(["gzip"])
          expect(decode("gzip", gz.body)).toBe(NodeFs.readFileSync(Path.join(root, "pre.js"), "utf8"))
          expect(header(gz, "vary")).toEqual(["Accept-Encoding"])
        }
        const threshold = yield* start({ directory: root, cache, compress: { minBytes: 5000 } })
        const below = yield* request(threshold.address.port, "GET", "/page.txt", ae("gzip"))
        expect(header(below, "content-encoding")).toEqual([])
        expect(below.body).toEqual(page)
        const off = yield* start({ directory: root, cache })
        const plain = yield* request(off.address.port, "GET", "/page.txt", ae("gzip, br"))
        expect(header(plain, "content-encoding")).toEqual([])
        expect(header(plain, "vary")).toEqual([])
        expect(plain.body).toEqual(page)
      }
    }))

  it.scopedLive("a large file streams through zlib without a length; the body decodes to the file", () =>
    Effect.gen(function*() {
      const { root } = yield* makeTree
      const large = NodeFs.readFileSync(Path.join(root, "large.js"), "utf8")
      for (const cache of bothCaches) {
        const server = yield* start({ directory: root, cache, compress: true }, { protocolVersion: "HTTP/1.1" })
        for (const coding of ["gzip", "br"]) {
          const res = yield* request(server.address.port, "GET", "/large.js", ae(coding))
          expect(res.status).toBe(200)
          expect(header(res, "content-encoding")).toEqual([coding])
          expect(header(res, "content-length")).toEqual([])
          expect(res.body.length).toBeLessThan(large.length / 4)
          expect(decode(coding, res.body)).toBe(large)
        }
        // Keep-alive holds for a small compressed file (it has a length).
        const exchange = yield* sendRaw({
          port: server.address.port,
          chunks: ["GET /page.txt HTTP/1.1\r\nHost: localhost\r\nAccept-Encoding: gzip\r\n\r\n" +
            "GET /page.txt HTTP/1.1\r\nHost: localhost\r\nAccept-Encoding: br\r\nConnection: close\r\n\r\n"],
          until: "close",
          timeoutMs: 5000
        })
        expect(exchange.responses.map((r) => header(r, "content-encoding")[0])).toEqual(["gzip", "br"])
      }
    }))

  it("the CLI: --compress maps to the option; --compress-min-bytes needs it (exit 2)", () =>
    Effect.gen(function*() {
      expect(Cli.normalizeArgs(["--compress", "0"])).toEqual(["--compress=true", "0"])
      const raw = rawOptions({ port: 0, compress: true, compressMinBytes: Option.none() })
      const on = yield* Cli.validate(raw, "/", (_, to) => to)
      expect(Cli.staticFilesOptions(on).compress).toEqual({ minBytes: 1024, maxBytes: 10 * 1024 * 1024 })
      const min = yield* Cli.validate({ ...raw, compressMinBytes: Option.some(10) }, "/", (_, to) => to)
      expect(Cli.staticFilesOptions(min).compress).toEqual({ minBytes: 10, maxBytes: 10 * 1024 * 1024 })
      const off = yield* Cli.validate({ ...raw, compress: false }, "/", (_, to) => to)
      expect(Cli.staticFilesOptions(off).compress).toBeUndefined()
      const orphan = yield* Effect.flip(
        Cli.validate({ ...raw, compress: false, compressMinBytes: Option.some(10) }, "/", (_, to) => to)
      )
      expect(orphan.message).toContain("--compress-min-bytes requires --compress")
    }).pipe(Effect.runPromise))

  it("the library refuses an invalid threshold when the handler is built", async () => {
    const exit = await Effect.runPromiseExit(
      StaticFiles.make({ compress: { minBytes: -1 } }).pipe(
        Effect.provide(Layer.merge(NodeContext.layer, MimeTypes.layerWithoutFiles()))
      )
    )
    expect(exit._tag).toBe("Failure")
  })
})
