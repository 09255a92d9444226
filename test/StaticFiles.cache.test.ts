/**
 * The static handler's response cache and fast paths: hits served without reading, conditional requests and
 * ranges off cached metadata, and never a stale answer (modified, deleted, replaced by a directory, relinked);
 * the settle window, the bounds, `cache: false`; the `readdir` listing's link and directory marks.
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePathMod from "node:path"
import * as AccessLog from "../src/AccessLog.js"
import { FileCache } from "../src/internal/fileCache.js"
import { wholeReadCount } from "../src/internal/fileReads.js"
import { MimeTypes } from "../src/MimeTypes.js"
import * as Server from "../src/Server.js"
import * as StaticFiles from "../src/StaticFiles.js"
import type { ParsedResponse } from "./support/rawClient.js"
import { getOne } from "./support/getOne.js"

interface Counters {
  readonly readFiles: number
}

/** Files read whole from now on (a cache hit reads nothing), counted by the handler. */
const readCounter = (): Counters => {
  const base = wholeReadCount()
  return {
    get readFiles() {
      return wholeReadCount() - base
    }
  }
}

const startServer = (options: StaticFiles.StaticFilesOptions) =>
  Effect.map(
    Server.make({ port: 0, protocolVersion: "HTTP/1.1" }).pipe(
      Effect.provide(Layer.mergeAll(
        StaticFiles.layer(options).pipe(Layer.provide(Layer.mergeAll(
          NodeFileSystem.layer,
          NodePath.layer,
          MimeTypes.layerWithoutFiles()
        ))),
        AccessLog.layerSilent
      ))
    ),
    (server) => server.address.port
  )

const get = getOne

const header = (response: ParsedResponse, name: string): string | undefined =>
  response.headers.find(([n]) => n.toLowerCase() === name.toLowerCase())?.[1]

/** A fresh temporary root, removed with the test's scope. */
const tempRoot = Effect.acquireRelease(
  Effect.sync(() => NodeFs.realpathSync(NodeFs.mkdtempSync(NodePathMod.join(NodeOs.tmpdir(), "static-cache-")))),
  (root) => Effect.sync(() => NodeFs.rmSync(root, { recursive: true, force: true }))
)

// Tests cache files the moment they are written (settleMs 0), so every change below alters the size or sets an
// explicit, different mtime: two writes within one timestamp tick are what the settle window exists for.
const CACHED = { cache: { settleMs: 0 } } as const

describe("StaticFiles cache", () => {
  it.scopedLive("a hit is served without reading; conditional requests, ranges and HEAD use the cached copy", () =>
    Effect.gen(function*() {
      const root = yield* tempRoot
      NodeFs.writeFileSync(NodePathMod.join(root, "a.txt"), "0123456789")
      const counters = readCounter()
      const port = yield* startServer({ directory: root, ...CACHED })
      const first = yield* get(port, "/a.txt")
      const second = yield* get(port, "/a.txt")
      expect(counters.readFiles).toBe(1)
      // The query is not part of the key (translate_path drops it).
      expect((yield* get(port, "/a.txt?v=2#top")).body.toString()).toBe("0123456789")
      expect(counters.readFiles).toBe(1)
      expect(second.body.toString()).toBe("0123456789")
      expect(second.headers.filter(([n]) => n !== "Date")).toEqual(first.headers.filter(([n]) => n !== "Date"))
      const etag = header(first, "ETag")!
      const lastModified = header(first, "Last-Modified")!

      expect((yield* get(port, "/a.txt", [`If-None-Match: ${etag}`])).status).toBe(304)
      expect((yield* get(port, "/a.txt", [`If-Modified-Since: ${lastModified}`])).status).toBe(304)
      expect((yield* get(port, "/a.txt", ["If-None-Match: \"other\""])).status).toBe(200)
      const range = yield* get(port, "/a.txt", ["Range: bytes=2-4"])
      expect(range.status).toBe(206)
      expect(header(range, "Content-Range")).toBe("bytes 2-4/10")
      expect(range.body.toString()).toBe("234")
      expect((yield* get(port, "/a.txt", ["Range: bytes=20-"])).status).toBe(416)
      const head = yield* get(port, "/a.txt", [], "HEAD")
      expect(head.status).toBe(200)
      expect(header(head, "Content-Length")).toBe("10")
      expect(head.body.length).toBe(0)
      expect(counters.readFiles).toBe(1)
    }))

  it.scopedLive("never stale: a modified file, a deleted one, a file replaced by a directory, a relinked name", () =>
    Effect.gen(function*() {
      const root = yield* tempRoot
      const file = NodePathMod.join(root, "f.txt")
      NodeFs.writeFileSync(file, "one")
      const counters = readCounter()
      const port = yield* startServer({ directory: root, ...CACHED })
      expect((yield* get(port, "/f.txt")).body.toString()).toBe("one")
      expect((yield* get(port, "/f.txt")).body.toString()).toBe("one")
      expect(counters.readFiles).toBe(1)

      // New size.
      NodeFs.writeFileSync(file, "three")
      expect((yield* get(port, "/f.txt")).body.toString()).toBe("three")
      // Same size, another mtime.
      NodeFs.writeFileSync(file, "THREE")
      NodeFs.utimesSync(file, new Date(2001, 1, 1), new Date(2001, 1, 1))
      const changed = yield* get(port, "/f.txt")
      expect(changed.body.toString()).toBe("THREE")
      expect(header(changed, "Last-Modified")).toBe(new Date(2001, 1, 1).toUTCString())

      // Deleted.
      NodeFs.rmSync(file)
      expect((yield* get(port, "/f.txt")).status).toBe(404)

      // A directory where the file was.
      NodeFs.writeFileSync(file, "back")
      expect((yield* get(port, "/f.txt")).body.toString()).toBe("back")
      NodeFs.rmSync(file)
      NodeFs.mkdirSync(file)
      const redirect = yield* get(port, "/f.txt")
      expect(redirect.status).toBe(301)
      expect(header(redirect, "Location")).toBe("/f.txt/")

      // A symbolic link pointed elsewhere (same size, same mtime): the inode differs.
      const x = NodePathMod.join(root, "x.txt")
      const y = NodePathMod.join(root, "y.txt")
      NodeFs.writeFileSync(x, "xxxx")
      NodeFs.writeFileSync(y, "yyyy")
      NodeFs.utimesSync(x, new Date(2002, 1, 1), new Date(2002, 1, 1))
      NodeFs.utimesSync(y, new Date(2002, 1, 1), new Date(2002, 1, 1))
      NodeFs.symlinkSync("x.txt", NodePathMod.join(root, "link.txt"))
      expect((yield* get(port, "/link.txt")).body.toString()).toBe("xxxx")
      expect((yield* get(port, "/link.txt")).body.toString()).toBe("xxxx")
      NodeFs.rmSync(NodePathMod.join(root, "link.txt"))
      NodeFs.symlinkSync("y.txt", NodePathMod.join(root, "link.txt"))
      expect((yield* get(port, "/link.txt")).body.toString()).toBe("yyyy")
    }))

  it.scopedLive("index pages are cached under the directory's URL and dropped when removed", () =>
    Effect.gen(function*() {
      const root = yield* tempRoot
      NodeFs.mkdirSync(NodePathMod.join(root, "d"))
      NodeFs.writeFileSync(NodePathMod.join(root, "d", "index.html"), "<p>index</p>")
      NodeFs.writeFileSync(NodePathMod.join(root, "d", "other.txt"), "other")
      const counters = readCounter()
      const port = yield* startServer({ directory: root, ...CACHED })
      expect((yield* get(port, "/d/")).body.toString()).toBe("<p>index</p>")
      expect((yield* get(port, "/d/")).body.toString()).toBe("<p>index</p>")
      expect(counters.readFiles).toBe(1)
      NodeFs.rmSync(NodePathMod.join(root, "d", "index.html"))
      const listing = yield* get(port, "/d/")
      expect(listing.status).toBe(200)
      expect(listing.body.toString()).toContain("<li><a href=\"other.txt\">other.txt</a></li>")
    }))

  it.scopedLive("HEAD only stats; files changed within settleMs are not cached; cache: false never caches", () =>
    Effect.gen(function*() {
      const root = yield* tempRoot
      NodeFs.writeFileSync(NodePathMod.join(root, "new.txt"), "fresh")
      const settling = readCounter()
      const port = yield* startServer({ directory: root, cache: { settleMs: 60_000 } })
      expect(header(yield* get(port, "/new.txt", [], "HEAD"), "Content-Length")).toBe("5")
      expect(settling.readFiles).toBe(0) // HEAD only stats
      yield* get(port, "/new.txt")
      yield* get(port, "/new.txt")
      expect(settling.readFiles).toBe(2)
      const off = readCounter()
      const offPort = yield* startServer({ directory: root, cache: false })
      yield* get(offPort, "/new.txt")
      const last = yield* get(offPort, "/new.txt")
      expect(last.body.toString()).toBe("fresh")
      expect(off.readFiles).toBe(2)
    }))

  it.scopedLive("bounded: the least recently used entry goes first; larger files are not cached", () =>
    Effect.gen(function*() {
      const root = yield* tempRoot
      for (const name of ["a", "b", "c"]) NodeFs.writeFileSync(NodePathMod.join(root, name), name)
      NodeFs.writeFileSync(NodePathMod.join(root, "big"), "0123456789")
      const counters = readCounter()
      const port = yield* startServer({ directory: root, cache: { settleMs: 0, maxEntries: 2, maxFileSize: 5 } })
      yield* get(port, "/a")
      yield* get(port, "/b")
      yield* get(port, "/a") // hit: a is now the most recent
      expect(counters.readFiles).toBe(2)
      yield* get(port, "/c") // evicts b
      yield* get(port, "/a")
      expect(counters.readFiles).toBe(3)
      yield* get(port, "/b")
      expect(counters.readFiles).toBe(4)
      yield* get(port, "/big")
      yield* get(port, "/big")
      expect(counters.readFiles).toBe(6)
    }))

  it("FileCache keeps within its byte bound", () => {
    const root = NodeFs.mkdtempSync(NodePathMod.join(NodeOs.tmpdir(), "static-cache-unit-"))
    try {
      const path = NodePathMod.join(root, "f")
      NodeFs.writeFileSync(path, "x")
      const stats = NodeFs.statSync(path)
      const cache = new FileCache({ maxEntries: 100, maxBytes: 3 * 1024 + 3000, maxFileSize: 1000, settleMs: 0 })
      const entry = (size: number) => ({
        path,
        version: { dev: stats.dev, ino: stats.ino, size: stats.size, mtimeMs: stats.mtimeMs, ctimeMs: stats.ctimeMs },
        meta: { size: 1, mtimeMs: 0, ino: stats.ino },
        bytes: new Uint8Array(size),
        get: Effect.never,
        head: Effect.never
      })
      for (let i = 0; i < 5; i++) cache.insert(`/k${i}`, entry(1000))
      expect(cache.size).toBe(3)
      expect(cache.bytes).toBeLessThanOrEqual(3 * 1024 + 3000)
      expect(cache.lookup("/k0")).toBeUndefined()
      expect(cache.lookup("/k4")?.path).toBe(path)
      NodeFs.appendFileSync(path, "y")
      expect(cache.lookup("/k4")).toBeUndefined()
      expect(cache.size).toBe(2)
      expect(cache.admits({ ...entry(1).version, size: 1001 })).toBe(false)
    } finally {
      NodeFs.rmSync(root, { recursive: true, force: true })
    }
  })

  it.scopedLive("cached listings follow the directory: entries added, renamed, and link targets changed", () =>
    Effect.gen(function*() {
      const root = yield* tempRoot
      const d = NodePathMod.join(root, "d")
      NodeFs.mkdirSync(d)
      NodeFs.writeFileSync(NodePathMod.join(d, "a.txt"), "")
      // An explicit old mtime: the next change in d moves it to now, whatever the timestamp tick.
      const age = (path: string) => NodeFs.utimesSync(path, new Date(2001, 1, 1), new Date(2001, 1, 1))
      age(d)
      const port = yield* startServer({ directory: root, ...CACHED })
      const first = (yield* get(port, "/d/")).body.toString()
      expect(first).toContain("<li><a href=\"a.txt\">a.txt</a></li>\n</ul>")
      expect((yield* get(port, "/d/?x=<1>")).body.toString()).toContain("<title>Directory listing for /d/?x=&lt;1&gt;")
      expect((yield* get(port, "/d/")).body.toString()).toBe(first)
      NodeFs.writeFileSync(NodePathMod.join(d, "b.txt"), "")
      expect((yield* get(port, "/d/")).body.toString()).toContain("<li><a href=\"b.txt\">b.txt</a></li>")
      age(d)
      yield* get(port, "/d/")
      NodeFs.renameSync(NodePathMod.join(d, "a.txt"), NodePathMod.join(d, "c.txt"))
      const renamed = (yield* get(port, "/d/")).body.toString()
      expect(renamed).not.toContain("a.txt")
      expect(renamed).toContain("<li><a href=\"c.txt\">c.txt</a></li>")

      // A link whose target changes from a directory to a file elsewhere: the listing's directory is unchanged.
      const outside = NodePathMod.join(root, "outside")
      NodeFs.mkdirSync(outside)
      NodeFs.mkdirSync(NodePathMod.join(outside, "t"))
      const withLink = NodePathMod.join(root, "withlink")
      NodeFs.mkdirSync(withLink)
      NodeFs.symlinkSync("../outside/t", NodePathMod.join(withLink, "l"))
      age(withLink)
      expect((yield* get(port, "/withlink/")).body.toString()).toContain("<li><a href=\"l/\">l@</a></li>")
      expect((yield* get(port, "/withlink/")).body.toString()).toContain("<li><a href=\"l/\">l@</a></li>")
      NodeFs.rmdirSync(NodePathMod.join(outside, "t"))
      NodeFs.writeFileSync(NodePathMod.join(outside, "t"), "")
      expect((yield* get(port, "/withlink/")).body.toString()).toContain("<li><a href=\"l\">l@</a></li>")
    }))

  it.scopedLive("the readdir listing marks directories, links to directories and links to files", () =>
    Effect.gen(function*() {
      const root = yield* tempRoot
      NodeFs.mkdirSync(NodePathMod.join(root, "sub"))
      NodeFs.writeFileSync(NodePathMod.join(root, "file"), "")
      NodeFs.symlinkSync("sub", NodePathMod.join(root, "dirlink"))
      NodeFs.symlinkSync("file", NodePathMod.join(root, "filelink"))
      NodeFs.symlinkSync("nowhere", NodePathMod.join(root, "dangling"))
      const port = yield* startServer({ directory: root, ...CACHED })
      const body = (yield* get(port, "/")).body.toString()
      expect(body).toContain([
        "<li><a href=\"dangling\">dangling@</a></li>",
        "<li><a href=\"dirlink/\">dirlink@</a></li>",
        "<li><a href=\"file\">file</a></li>",
        "<li><a href=\"filelink\">filelink@</a></li>",
        "<li><a href=\"sub/\">sub/</a></li>"
      ].join("\n"))
    }))

  it.scopedLive("a Stream consumer writing into a chunk cannot corrupt the cached file later requests get", () =>
    Effect.gen(function*() {
      const root = yield* tempRoot
      // Above the head's coalescing size: the body goes out as its own chunk, the cached bytes themselves.
      const content = "abcdefgh".repeat(4096)
      NodeFs.writeFileSync(NodePathMod.join(root, "big.txt"), content)
      const files = StaticFiles.layer({ directory: root, ...CACHED }).pipe(Layer.provide(Layer.mergeAll(
        NodeFileSystem.layer,
        NodePath.layer,
        MimeTypes.layerWithoutFiles()
      )))
      const handlers = yield* Layer.build(Layer.merge(files, AccessLog.layerSilent))
      const answer = Stream.runCollect(
        Server.serveStream(Stream.make(new Uint8Array(Buffer.from("GET /big.txt HTTP/1.0\r\n\r\n"))))
      ).pipe(Effect.provide(handlers))
      const body = (chunks: Chunk.Chunk<Uint8Array>) => {
        const raw = Buffer.concat(Chunk.toReadonlyArray(chunks)).toString("latin1")
        return raw.slice(raw.indexOf("\r\n\r\n") + 4)
      }
      expect(body(yield* answer)).toBe(content)
      const hit = yield* answer
      expect(body(hit)).toBe(content)
      for (const chunk of hit) chunk.fill(0x58)
      expect(body(yield* answer)).toBe(content)
    }))
})
