/**
 * `archives` / `--archives`: `?download=tar.gz|zip` on a directory, over real sockets, extracted with `tar` and
 * Python's `zipfile` and compared byte for byte; what goes in (dotfiles, links in and out of the root, FIFOs, upload
 * temporaries); the caps (413 before any byte); the download name; a client reset closes every file at once.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { execFileSync } from "node:child_process"
import { createHash, randomBytes } from "node:crypto"
import * as NodeFs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Cli from "../src/Cli.js"
import { archivedNames, archiveFormat, disposition } from "../src/internal/archive.js"
import { TEMP_PREFIX } from "../src/internal/upload.js"
import { rawOptions } from "./support/cliOptions.js"
import { headerValues as header, request, startStatic as start } from "./support/staticServer.js"

const tempDir = (prefix: string) =>
  Effect.acquireRelease(
    Effect.sync(() => NodeFs.realpathSync(NodeFs.mkdtempSync(Path.join(Os.tmpdir(), prefix)))),
    (dir) => Effect.sync(() => NodeFs.rmSync(dir, { recursive: true, force: true }))
  )

/** A served root with `share/` to archive, and a file outside the root for links to point at. */
const makeTree = Effect.gen(function*() {
  const outside = yield* tempDir("effect-httpd-outside-")
  NodeFs.writeFileSync(Path.join(outside, "secret.txt"), "outside the root\n")
  const root = yield* tempDir("effect-httpd-archive-")
  const share = Path.join(root, "share")
  NodeFs.mkdirSync(Path.join(share, "sub", "deeper"), { recursive: true })
  NodeFs.mkdirSync(Path.join(share, "empty"))
  NodeFs.mkdirSync(Path.join(share, ".git"))
  NodeFs.writeFileSync(Path.join(share, "a.txt"), "alpha\n")
  NodeFs.writeFileSync(Path.join(share, "zero"), "")
  NodeFs.writeFileSync(Path.join(share, "sub", "bin.dat"), randomBytes(300_000))
  NodeFs.writeFileSync(Path.join(share, "sub", "deeper", "ü ñ \"q\".md"), "unicode name\n")
  NodeFs.writeFileSync(Path.join(share, ".env"), "TOKEN=1\n")
  NodeFs.writeFileSync(Path.join(share, ".git", "config"), "[core]\n")
  NodeFs.writeFileSync(Path.join(share, TEMP_PREFIX + "0123"), "half an upload")
  NodeFs.writeFileSync(Path.join(root, "top.txt"), "a file elsewhere in the root\n")
  NodeFs.symlinkSync(Path.join(outside, "secret.txt"), Path.join(share, "escape.txt"))
  NodeFs.symlinkSync(outside, Path.join(share, "escape-dir"))
  NodeFs.symlinkSync("../top.txt", Path.join(share, "inside.txt"))
  NodeFs.symlinkSync("sub", Path.join(share, "loop"))
  NodeFs.symlinkSync("missing", Path.join(share, "dangling"))
  execFileSync("mkfifo", [Path.join(share, "fifo")])
  return { root, share }
})

/** Every file under `dir` (relative path → bytes), directories as `name/` → empty. */
const contents = (dir: string): Map<string, Buffer> => {
  const found = new Map<string, Buffer>()
  const visit = (at: string, prefix: string) => {
    for (const name of NodeFs.readdirSync(at).sort()) {
      const full = Path.join(at, name)
      const stats = NodeFs.lstatSync(full)
      if (stats.isDirectory()) {
        found.set(prefix + name + "/", Buffer.alloc(0))
        visit(full, prefix + name + "/")
      } else {
        found.set(prefix + name, NodeFs.readFileSync(full))
      }
    }
  }
  visit(dir, "")
  return found
}

const extract = (format: "tar.gz" | "zip", archive: Buffer, into: string): Map<string, Buffer> => {
  const file = Path.join(into, "download." + format)
  NodeFs.writeFileSync(file, archive)
  const out = Path.join(into, "out")
  NodeFs.mkdirSync(out)
  if (format === "zip") execFileSync("python3", ["-m", "zipfile", "-e", file, out])
  else execFileSync("tar", ["-xzf", file, "-C", out])
  return contents(out)
}

/** What the archive of `share` must hold: no dot names (with hideDotfiles), no link out, no link to a directory. */
const expected = (share: string, root: string, dotfiles: boolean): Map<string, Buffer> => {
  const want = new Map<string, Buffer>([
    ["a.txt", Buffer.from("alpha\n")],
    ["empty/", Buffer.alloc(0)],
    ["inside.txt", NodeFs.readFileSync(Path.join(root, "top.txt"))],
    ["sub/", Buffer.alloc(0)],
    ["sub/bin.dat", NodeFs.readFileSync(Path.join(share, "sub", "bin.dat"))],
    ["sub/deeper/", Buffer.alloc(0)],
    ["sub/deeper/ü ñ \"q\".md", Buffer.from("unicode name\n")],
    ["zero", Buffer.alloc(0)]
  ])
  if (dotfiles) {
    want.set(".env", Buffer.from("TOKEN=1\n"))
    want.set(".git/", Buffer.alloc(0))
    want.set(".git/config", Buffer.from("[core]\n"))
  }
  return new Map([...want].sort(([a], [b]) => a < b ? -1 : 1))
}

/** Path → SHA-256 of the bytes, in path order (comparing the digests: a deep equality on 300 KB buffers is slow). */
const sorted = (map: Map<string, Buffer>) =>
  new Map([...map].sort(([a], [b]) => a < b ? -1 : 1).map(([k, v]) => [k, createHash("sha256").update(v).digest("hex")]))

describe("archives", () => {
  it("the query names the format; anything else is no archive", () => {
    expect(archiveFormat("/d/?download=zip")).toBe("zip")
    expect(archiveFormat("/d/?x=1&download=tar.gz#f")).toBe("tar.gz")
    expect(archiveFormat("/d/?download=tar")).toBeUndefined()
    expect(archiveFormat("/d/?download=zip&download=tar.gz")).toBe("zip")
    expect(archiveFormat("/d/")).toBeUndefined()
    expect(archiveFormat("/d/#?download=zip")).toBeUndefined()
    expect(disposition("a\"b ü\r\n", "zip")).toBe(
      "attachment; filename=\"a_b ___.zip\"; filename*=UTF-8''a%22b%20%C3%BC%0D%0A.zip"
    )
    // A directory name that is not UTF-8 is offered as its entries are named.
    expect(disposition("d\udce9", "zip")).toBe("attachment; filename=\"d_E9.zip\"; filename*=UTF-8''d%25E9.zip")
  })

  it("names that are not UTF-8 get distinct entry names: bytes (and % beside them) quoted, ~N past a sibling's", () => {
    const names = ["%\udcff", "a%FF", "a%FF~2", "a\udcff", "a\ufffd", "b\udce9\udcff"]
    expect([...archivedNames(names)]).toEqual([
      ["%\udcff", "%25%FF"],
      ["a%FF", "a%FF"],
      ["a%FF~2", "a%FF~2"],
      ["a\udcff", "a%FF~3"],
      ["a\ufffd", "a\ufffd"],
      ["b\udce9\udcff", "b%E9%FF"]
    ])
  })

  it.scopedLive("tar.gz and zip extract to the directory's bytes; links out of the root, to directories, FIFOs left out", () =>
    Effect.gen(function*() {
      const { root, share } = yield* makeTree
      for (const cache of [true, false]) {
        for (const options of [{}, { followSymlinks: false }, { hideDotfiles: true }]) {
          const server = yield* start({ directory: root, cache, archives: true, ...options })
          for (const format of ["tar.gz", "zip"] as const) {
            const res = yield* request(server.address.port, "GET", `/share/?download=${format}`)
            expect(res.status, format).toBe(200)
            expect(header(res, "content-type")).toEqual([format === "zip" ? "application/zip" : "application/gzip"])
            expect(header(res, "content-disposition")).toEqual([
              `attachment; filename="share.${format}"; filename*=UTF-8''share.${format}`
            ])
            const into = yield* tempDir("effect-httpd-extract-")
            const got = sorted(extract(format, res.body, into))
            expect(got, `${format} ${JSON.stringify(options)}`).toEqual(sorted(expected(share, root, !("hideDotfiles" in options))))
          }
        }
      }
    }))

  it.scopedLive("the redirect keeps the query; HEAD walks and sends fields only; off by default", () =>
    Effect.gen(function*() {
      const { root } = yield* makeTree
      const server = yield* start({ directory: root, archives: true })
      const moved = yield* request(server.address.port, "GET", "/share?download=zip")
      expect(moved.status).toBe(301)
      expect(header(moved, "location")).toEqual(["/share/?download=zip"])
      const head = yield* request(server.address.port, "HEAD", "/share/?download=zip")
      expect(head.status).toBe(200)
      expect(head.body.length).toBe(0)
      expect(header(head, "content-type")).toEqual(["application/zip"])
      // A directory reached through a link out of the root is never archived (links are followed for files).
      expect((yield* request(server.address.port, "GET", "/share/escape-dir/?download=zip")).status).toBe(404)
      expect((yield* request(server.address.port, "GET", "/share/escape-dir/")).status).toBe(200)
      const rootArchive = yield* request(server.address.port, "GET", "/?download=tar.gz")
      expect(header(rootArchive, "content-disposition")[0]).toContain("filename=\"archive.tar.gz\"")
      const off = yield* start({ directory: root })
      const listing = yield* request(off.address.port, "GET", "/share/?download=zip")
      expect(header(listing, "content-type")).toEqual(["text/html; charset=utf-8"])
      expect(listing.body.toString()).toContain("<ul>")
    }))

  it.scopedLive("over a cap: 413 before any byte", () =>
    Effect.gen(function*() {
      const { root } = yield* makeTree
      const { share } = yield* Effect.succeed({ share: Path.join(root, "share") })
      const want = expected(share, root, false)
      const entries = want.size
      const bytes = [...want.values()].reduce((sum, b) => sum + b.length, 0)
      const fits = yield* start({ directory: root, hideDotfiles: true, archives: { maxEntries: entries, maxBytes: bytes } })
      expect((yield* request(fits.address.port, "GET", "/share/?download=zip")).status).toBe(200)
      for (const archives of [{ maxEntries: entries - 1 }, { maxBytes: bytes - 1 }]) {
        const server = yield* start({ directory: root, hideDotfiles: true, archives })
        for (const format of ["tar.gz", "zip"]) {
          const res = yield* request(server.address.port, "GET", `/share/?download=${format}`)
          expect(res.status, JSON.stringify(archives)).toBe(413)
          expect(header(res, "content-type")).toEqual(["text/html;charset=utf-8"])
        }
      }
    }))

  it.scopedLive("a client reset mid-archive closes every file the archive opened", () =>
    Effect.gen(function*() {
      const root = yield* tempDir("effect-httpd-reset-")
      NodeFs.mkdirSync(Path.join(root, "big"))
      for (const name of ["1.bin", "2.bin"]) NodeFs.writeFileSync(Path.join(root, "big", name), randomBytes(24 * 1024 * 1024))
      const server = yield* start({ directory: root, archives: true })
      const openUnderRoot = () =>
        NodeFs.readdirSync("/proc/self/fd").filter((fd) => {
          try {
            return NodeFs.readlinkSync(`/proc/self/fd/${fd}`).startsWith(root + "/")
          } catch {
            return false
          }
        }).length
      for (const format of ["tar.gz", "zip"]) {
        yield* Effect.promise(() =>
          new Promise<void>((resolve, reject) => {
            const socket = Net.connect(server.address.port, "127.0.0.1")
            let received = 0
            socket.on("error", () => {})
            socket.write(`GET /big/?download=${format} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`)
            socket.on("data", (chunk: Buffer) => {
              received += chunk.length
              // Well under the archive's size: the server is mid-file, holding it open.
              if (received > 256 * 1024 && !socket.destroyed) {
                socket.pause()
                const held = openUnderRoot()
                socket.resetAndDestroy()
                if (held === 0) reject(new Error("no file was open mid-archive"))
                else resolve()
              }
            })
          })
        )
        // Closed promptly (bounded wait, not a speed assertion).
        for (let i = 0; i < 100 && openUnderRoot() > 0; i++) yield* Effect.sleep("50 millis")
        expect(openUnderRoot(), format).toBe(0)
      }
      // The server still answers.
      expect((yield* request(server.address.port, "GET", "/")).status).toBe(200)
    }))

  it.scopedLive("backpressure: a client that stops reading stops the server reading the files", () =>
    Effect.gen(function*() {
      const root = yield* tempDir("effect-httpd-slow-")
      NodeFs.mkdirSync(Path.join(root, "big"))
      const size = 32 * 1024 * 1024
      for (const name of ["1.bin", "2.bin"]) NodeFs.writeFileSync(Path.join(root, "big", name), randomBytes(size))
      const server = yield* start({ directory: root, archives: true })
      // The files are read with pread (no file position to look at): count the bytes this process has read
      // (`rchar`: files and sockets; nothing else reads much while the client is paused).
      const rchar = () => Number(/^rchar:\s+(\d+)/m.exec(NodeFs.readFileSync("/proc/self/io", "utf8"))![1])
      for (const format of ["tar.gz", "zip"]) {
        const socket = Net.connect(server.address.port, "127.0.0.1")
        socket.on("error", () => {})
        socket.pause()
        const before = rchar()
        const readSoFar = () => rchar() - before
        socket.write(`GET /big/?download=${format} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`)
        // The client reads nothing: wait until the server's position in the files stands still (bounded polls).
        let last = -1
        let still = 0
        for (let i = 0; i < 200 && still < 5; i++) {
          yield* Effect.sleep("100 millis")
          const now = readSoFar()
          // Still: under 64 KiB more in 100 ms (the test process itself reads a little: timers, IPC).
          still = now - last < 64 * 1024 && now > 1024 * 1024 ? still + 1 : 0
          last = now
        }
        expect(still, format).toBe(5)
        // Stalled at what the buffers hold (socket, encoder, stream high-water marks), far from the 64 MiB there are.
        expect(last, format).toBeLessThan(16 * 1024 * 1024)
        socket.destroy()
      }
    }))

  it.scopedLive("archives at once: one over maxConcurrent answers 503 with Retry-After; a slot comes back when its client goes", () =>
    Effect.gen(function*() {
      const root = yield* tempDir("effect-httpd-busy-")
      NodeFs.mkdirSync(Path.join(root, "big"))
      NodeFs.writeFileSync(Path.join(root, "big", "1.bin"), randomBytes(16 * 1024 * 1024))
      const server = yield* start({ directory: root, archives: { maxConcurrent: 1 } })
      // A client that reads nothing keeps its archive (and the slot) in progress.
      const first = Net.connect(server.address.port, "127.0.0.1")
      first.on("error", () => {})
      first.pause()
      yield* Effect.promise(() => new Promise<void>((resolve) => first.once("connect", () => resolve())))
      first.write("GET /big/?download=zip HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
      let refused = yield* request(server.address.port, "GET", "/big/?download=tar.gz")
      for (let i = 0; i < 100 && refused.status !== 503; i++) {
        yield* Effect.sleep("20 millis")
        refused = yield* request(server.address.port, "GET", "/big/?download=tar.gz")
      }
      expect(refused.status).toBe(503)
      expect(header(refused, "retry-after")).toEqual(["1"])
      // Files and listings are not counted.
      expect((yield* request(server.address.port, "GET", "/big/")).status).toBe(200)
      first.resetAndDestroy()
      let again = refused
      for (let i = 0; i < 100 && again.status !== 200; i++) {
        yield* Effect.sleep("20 millis")
        again = yield* request(server.address.port, "HEAD", "/big/?download=zip")
      }
      expect(again.status).toBe(200)
    }))

  it("the CLI flag maps to the option", () =>
    Effect.gen(function*() {
      expect(Cli.normalizeArgs(["--archives", "0"])).toEqual(["--archives=true", "0"])
      const raw = rawOptions({ port: 0, archives: true })
      const on = yield* Cli.validate(raw, "/", (_, to) => to)
      expect(Cli.staticFilesOptions(on).archives).toBe(true)
      const off = yield* Cli.validate({ ...raw, archives: false }, "/", (_, to) => to)
      expect(Cli.staticFilesOptions(off).archives).toBeUndefined()
    }).pipe(Effect.runPromise))
})
