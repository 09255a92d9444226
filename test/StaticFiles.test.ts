/**
 * The static handler beyond Python (ranges, entity tags), its resource handling (file descriptors on completion,
 * client abort, shutdown; backpressure; HEAD without opening), its options, and `toHttpApp` inside an
 * `@effect/platform` application.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodePath from "@effect/platform-node/NodePath"
import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as NodeFs from "node:fs"
import * as Http from "node:http"
import * as Net from "node:net"
import * as NodePathMod from "node:path"
import * as AccessLog from "../src/AccessLog.js"
import { MimeTypes } from "../src/MimeTypes.js"
import * as Server from "../src/Server.js"
import * as StaticFiles from "../src/StaticFiles.js"
import { BIG_SIZE, buildStaticTree, patternBytes } from "./fixtures/staticTree.js"
import { type ParsedResponse, sendRaw } from "./support/rawClient.js"
import { getOne } from "./support/getOne.js"

// ---------------------------------------------------------------------------------------------------------------
// Helpers

interface Counters {
  opens: number
  readFiles: number
  bytesRead: number
  failReadDirectory: boolean
}

/** Bytes this process has read (every read(2): files, sockets, pipes). */
const rchar = (): number => Number(/rchar: (\d+)/.exec(NodeFs.readFileSync("/proc/self/io", "latin1"))![1])

const newCounters = (): Counters => ({ opens: 0, readFiles: 0, bytesRead: 0, failReadDirectory: false })

/** The Node file system, instrumented: what the handler opens and reads. */
const countingFileSystem = (counters: Counters): Layer.Layer<FileSystem.FileSystem> =>
  Layer.effect(
    FileSystem.FileSystem,
    Effect.map(FileSystem.FileSystem, (fs): FileSystem.FileSystem => ({
      ...fs,
      open: (path, options) =>
        Effect.map(fs.open(path, options), (file): FileSystem.File => {
          counters.opens++
          return {
            [FileSystem.FileTypeId]: FileSystem.FileTypeId,
            fd: file.fd,
            stat: file.stat,
            seek: (offset, from) => file.seek(offset, from),
            sync: file.sync,
            read: (buffer) => file.read(buffer),
            readAlloc: (size) =>
              Effect.tap(file.readAlloc(size), (chunk) => {
                if (chunk._tag === "Some") counters.bytesRead += chunk.value.length
              }),
            truncate: (length) => file.truncate(length),
            write: (buffer) => file.write(buffer),
            writeAll: (buffer) => file.writeAll(buffer)
          }
        }),
      readFile: (path) =>
        Effect.tap(fs.readFile(path), (bytes) => {
          counters.readFiles++
          counters.bytesRead += bytes.length
        }),
      readDirectory: (path, options) =>
        counters.failReadDirectory
          ? fs.readDirectory("/nonexistent/for/test")
          : fs.readDirectory(path, options)
    }))
  ).pipe(Layer.provide(NodeFileSystem.layer))

const startServer = (
  options: StaticFiles.StaticFilesOptions,
  extra: { readonly counters?: Counters; readonly server?: Server.ServerOptions } = {}
) =>
  Server.make({ port: 0, ...extra.server }).pipe(
    Effect.provide(Layer.mergeAll(
      StaticFiles.layer(options).pipe(Layer.provide(Layer.mergeAll(
        extra.counters === undefined ? NodeFileSystem.layer : countingFileSystem(extra.counters),
        NodePath.layer,
        MimeTypes.layerWithoutFiles()
      ))),
      AccessLog.layerSilent
    ))
  )

const get = getOne

const headerNames = (response: ParsedResponse) => response.headers.map(([name]) => name)

/** Descriptors of this process that are open on `path`. */
const fdsOn = (path: string): number => {
  let count = 0
  for (const fd of NodeFs.readdirSync("/proc/self/fd")) {
    try {
      if (NodeFs.readlinkSync(`/proc/self/fd/${fd}`) === path) count++
    } catch {
      // closed while we looked
    }
  }
  return count
}
const totalFds = (): number => NodeFs.readdirSync("/proc/self/fd").length

/** Polls `check` until it holds or `ms` pass (descriptors close asynchronously). */
const settle = (check: () => boolean, ms = 3000): Effect.Effect<boolean> =>
  Effect.gen(function*() {
    const deadline = Date.now() + ms
    while (!check()) {
      if (Date.now() > deadline) return false
      yield* Effect.sleep("20 millis")
    }
    return true
  })

/** A raw client that sends one request and does not read until told to. */
const pausedClient = (port: number, request: string) =>
  Effect.acquireRelease(
    Effect.async<{ socket: Net.Socket; received: () => Buffer; closed: () => boolean }>((resume) => {
      const chunks: Array<Buffer> = []
      let closed = false
      const socket = Net.connect({ host: "127.0.0.1", port }, () => {
        socket.write(request)
        resume(Effect.succeed({ socket, received: () => Buffer.concat(chunks), closed: () => closed }))
      })
      socket.pause()
      socket.on("data", (chunk: Buffer) => chunks.push(chunk))
      socket.on("close", () => {
        closed = true
      })
      socket.on("error", () => {})
    }),
    ({ socket }) => Effect.sync(() => socket.destroy())
  )

/** A fresh file of pattern bytes next to the fixture tree. */
const writeBig = (root: string, name: string, size: number): string => {
  const path = NodePathMod.join(root, name)
  NodeFs.writeFileSync(path, patternBytes(size, 21))
  return path
}

const withTree = <A, E>(f: (root: string) => Effect.Effect<A, E, Scope.Scope>) =>
  Effect.flatMap(Effect.provide(buildStaticTree, NodeContext.layer), (root) => f(NodeFs.realpathSync(root)))

const HELLO = "Hello, world!\n"
const LM = "Thu, 04 Mar 2021 05:06:07 GMT"
const big = patternBytes(BIG_SIZE, 9)

// ---------------------------------------------------------------------------------------------------------------

describe("StaticFiles: ETag and conditional requests", () => {
  it.scopedLive("adds Accept-Ranges and ETag after Python's headers; 304 on If-None-Match (weak comparison)", () =>
    withTree((root) =>
      Effect.gen(function*() {
        const { address: { port } } = yield* startServer({ directory: root })
        const ok = yield* get(port, "/hello.txt")
        expect(ok.statusLine).toBe("HTTP/1.0 200 OK")
        expect(headerNames(ok)).toEqual(["Server", "Date", "Content-type", "Content-Length", "Last-Modified", "Accept-Ranges", "ETag"])
        expect(ok.header("accept-ranges")).toBe("bytes")
        const etag = ok.header("etag")!
        expect(etag).toMatch(/^"[0-9a-f]+-e-[0-9a-f]+"$/)
        expect(ok.body.toString()).toBe(HELLO)

        for (const value of [etag, "W/" + etag, `"nope", ${etag}`, "*"]) {
          const nm = yield* get(port, "/hello.txt", [`If-None-Match: ${value}`])
          expect([value, nm.statusLine, nm.headers.filter(([n]) => n === "ETag")]).toEqual([
            value,
            "HTTP/1.0 304 Not Modified",
            [["ETag", etag]]
          ])
          expect(nm.body.length).toBe(0)
        }
        // If-None-Match takes precedence over If-Modified-Since.
        const other = yield* get(port, "/hello.txt", ["If-None-Match: \"nope\"", "If-Modified-Since: Sat, 01 Jan 2050 00:00:00 GMT"])
        expect(other.status).toBe(200)
        // Python's If-Modified-Since still works, and the 304 carries the ETag.
        const ims = yield* get(port, "/hello.txt", [`If-Modified-Since: ${LM}`])
        expect(ims.status).toBe(304)
        expect(ims.header("etag")).toBe(etag)
        // HEAD gets the same 304, streamed files the same tag scheme.
        expect((yield* get(port, "/hello.txt", [`If-None-Match: ${etag}`], "HEAD")).status).toBe(304)
        const bigEtag = (yield* get(port, "/big.bin", [], "HEAD")).header("etag")!
        expect((yield* get(port, "/big.bin", [`If-None-Match: ${bigEtag}`])).status).toBe(304)
        // Listings have neither validators nor ranges.
        const listing = yield* get(port, "/dir/")
        expect(headerNames(listing)).toEqual(["Server", "Date", "Content-type", "Content-Length"])
      })
    ))

  it.scopedLive("a modified file gets a new ETag, and the old one no longer matches", () =>
    withTree((root) =>
      Effect.gen(function*() {
        const { address: { port } } = yield* startServer({ directory: root })
        const before = (yield* get(port, "/hello.txt")).header("etag")!
        NodeFs.writeFileSync(NodePathMod.join(root, "hello.txt"), "Changed, world\n")
        const after = yield* get(port, "/hello.txt", [`If-None-Match: ${before}`])
        expect(after.status).toBe(200)
        expect(after.body.toString()).toBe("Changed, world\n")
        expect(after.header("etag")).not.toBe(before)
      })
    ))
})

describe("StaticFiles: Range", () => {
  it.scopedLive("single ranges of small (buffered) and large (streamed) files", () =>
    withTree((root) =>
      Effect.gen(function*() {
        const { address: { port } } = yield* startServer({ directory: root })
        const small = yield* get(port, "/hello.txt", ["Range: bytes=0-4"])
        expect(small.statusLine).toBe("HTTP/1.0 206 Partial Content")
        expect(headerNames(small)).toEqual([
          "Server",
          "Date",
          "Content-type",
          "Content-Length",
          "Last-Modified",
          "Content-Range",
          "Accept-Ranges",
          "ETag"
        ])
        expect(small.header("content-range")).toBe("bytes 0-4/14")
        expect(small.header("content-length")).toBe("5")
        expect(small.body.toString()).toBe("Hello")
        expect((yield* get(port, "/hello.txt", ["Range: bytes=-7"])).body.toString()).toBe("world!\n")
        expect((yield* get(port, "/hello.txt", ["Range: bytes=7-"])).body.toString()).toBe("world!\n")

        const cases: ReadonlyArray<[string, number, number]> = [
          ["bytes=1000000-1999999", 1000000, 1999999],
          ["bytes=-100", BIG_SIZE - 100, BIG_SIZE - 1],
          ["bytes=3000000-", 3000000, BIG_SIZE - 1],
          ["bytes=65535-65536", 65535, 65536],
          ["bytes=0-99999999", 0, BIG_SIZE - 1]
        ]
        for (const [range, start, end] of cases) {
          const r = yield* get(port, "/big.bin", [`Range: ${range}`])
          expect([range, r.status, r.header("content-range"), r.header("content-length")]).toEqual([
            range,
            206,
            `bytes ${start}-${end}/${BIG_SIZE}`,
            String(end - start + 1)
          ])
          expect(r.body.equals(big.subarray(start, end + 1))).toBe(true)
        }
      })
    ))

  it.scopedLive("416 with Content-Range for unsatisfiable ranges; malformed or other units are ignored", () =>
    withTree((root) =>
      Effect.gen(function*() {
        const { address: { port } } = yield* startServer({ directory: root })
        const r = yield* get(port, "/hello.txt", ["Range: bytes=14-"])
        expect(r.statusLine).toBe("HTTP/1.0 416 Requested Range Not Satisfiable")
        expect(r.header("content-range")).toBe("bytes */14")
        expect(r.header("connection")).toBe("close")
        expect((yield* get(port, "/big.bin", ["Range: bytes=99999999-"])).header("content-range")).toBe(`bytes */${BIG_SIZE}`)
        for (const value of ["bytes=5-3", "items=0-1", "bytes=x"]) {
          const full = yield* get(port, "/hello.txt", [`Range: ${value}`])
          expect([value, full.status, full.body.toString()]).toEqual([value, 200, HELLO])
        }
        // Range applies to GET only; HEAD describes the whole file.
        const head = yield* get(port, "/hello.txt", ["Range: bytes=0-1"], "HEAD")
        expect([head.status, head.header("content-length")]).toEqual([200, "14"])
        // Ranges never apply to listings or redirects.
        expect((yield* get(port, "/dir/", ["Range: bytes=0-1"])).status).toBe(200)
      })
    ))

  it.scopedLive("multiple ranges: multipart/byteranges in request order; overlapping ones get the whole file", () =>
    withTree((root) =>
      Effect.gen(function*() {
        const { address: { port } } = yield* startServer({ directory: root })
        for (const [path, body] of [["/hello.txt", Buffer.from(HELLO)], ["/big.bin", big]] as const) {
          const r = yield* get(port, path, ["Range: bytes=7-11, 0-4"])
          expect(r.status).toBe(206)
          const type = r.header("content-type")!
          const boundary = /^multipart\/byteranges; boundary=([0-9a-f]+)$/.exec(type)![1]!
          expect(Number(r.header("content-length"))).toBe(r.body.length)
          const partType = path === "/hello.txt" ? "text/plain" : "application/octet-stream"
          const total = body.length
          expect(r.body.toString("latin1")).toBe(
            `--${boundary}\r\nContent-Type: ${partType}\r\nContent-Range: bytes 7-11/${total}\r\n\r\n` +
              body.subarray(7, 12).toString("latin1") +
              `\r\n--${boundary}\r\nContent-Type: ${partType}\r\nContent-Range: bytes 0-4/${total}\r\n\r\n` +
              body.subarray(0, 5).toString("latin1") + `\r\n--${boundary}--\r\n`
          )
        }
        const overlapping = yield* get(port, "/hello.txt", ["Range: bytes=0-5, 3-8"])
        expect([overlapping.status, overlapping.body.toString()]).toEqual([200, HELLO])
      })
    ))

  it.scopedLive("If-Range: a matching strong ETag or the exact Last-Modified date lets the range apply", () =>
    withTree((root) =>
      Effect.gen(function*() {
        const { address: { port } } = yield* startServer({ directory: root })
        const etag = (yield* get(port, "/hello.txt")).header("etag")!
        const cases: ReadonlyArray<[string, number]> = [
          [etag, 206],
          ["W/" + etag, 200],
          ["\"stale\"", 200],
          [LM, 206],
          ["Thu, 04 Mar 2021 05:06:08 GMT", 200],
          ["not a date", 200]
        ]
        for (const [ifRange, status] of cases) {
          const r = yield* get(port, "/hello.txt", ["Range: bytes=0-4", `If-Range: ${ifRange}`])
          expect([ifRange, r.status, r.body.toString()]).toEqual([ifRange, status, status === 206 ? "Hello" : HELLO])
        }
      })
    ))

  it.scopedLive("HTTP/1.1 keep-alive: partial responses are framed exactly", () =>
    withTree((root) =>
      Effect.gen(function*() {
        const { address: { port } } = yield* startServer({ directory: root }, { server: { protocolVersion: "HTTP/1.1" } })
        const request = (range: string) => `GET /big.bin HTTP/1.1\r\nHost: localhost\r\nRange: ${range}\r\n\r\n`
        const exchange = yield* sendRaw({
          port,
          chunks: [request("bytes=10-19") + request("bytes=-5") + "GET /hello.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"],
          timeoutMs: 10_000
        })
        expect(exchange.responses.map((r) => r.status)).toEqual([206, 206, 200])
        expect(exchange.responses[0]!.body.equals(big.subarray(10, 20))).toBe(true)
        expect(exchange.responses[1]!.body.equals(big.subarray(BIG_SIZE - 5))).toBe(true)
        expect(exchange.responses[2]!.body.toString()).toBe(HELLO)
      })
    ))

  it.scopedLive("options: rangeRequests off ignores Range; etag off sends no ETag; pythonCompat turns both off", () =>
    withTree((root) =>
      Effect.gen(function*() {
        const noRanges = yield* startServer({ directory: root, rangeRequests: false })
        const a = yield* get(noRanges.address.port, "/hello.txt", ["Range: bytes=0-1"])
        expect([a.status, a.header("accept-ranges"), a.header("etag") !== undefined]).toEqual([200, undefined, true])
        const noEtag = yield* startServer({ directory: root, etag: false })
        const b = yield* get(noEtag.address.port, "/hello.txt", ["If-None-Match: *"])
        expect([b.status, b.header("etag"), b.header("accept-ranges")]).toEqual([200, undefined, "bytes"])
        const compat = yield* startServer({ directory: root, pythonCompat: true })
        const c = yield* get(compat.address.port, "/hello.txt", ["Range: bytes=0-1"])
        expect(headerNames(c)).toEqual(["Server", "Date", "Content-type", "Content-Length", "Last-Modified"])
        const compatWithEtag = yield* startServer({ directory: root, pythonCompat: true, etag: true })
        expect((yield* get(compatWithEtag.address.port, "/hello.txt")).header("etag")).toBeDefined()
      })
    ))
})

describe("StaticFiles: options", () => {
  it.scopedLive("extensionsMap overrides the MIME service (exact, then lower-cased extension); indexPages", () =>
    withTree((root) =>
      Effect.gen(function*() {
        const { address: { port } } = yield* startServer({
          directory: root,
          extensionsMap: { ".txt": "text/x-custom", ".md": "text/markdown" },
          indexPages: ["other.txt"]
        })
        expect((yield* get(port, "/hello.txt")).header("content-type")).toBe("text/x-custom")
        expect((yield* get(port, "/UPPER.TXT")).header("content-type")).toBe("text/x-custom")
        expect((yield* get(port, "/dir/sub/other.md")).header("content-type")).toBe("text/markdown")
        expect((yield* get(port, "/style.css")).header("content-type")).toBe("text/css")
        // index.html is no longer an index page; other.txt is.
        expect((yield* get(port, "/withindex/")).body.toString()).toBe("other\n")
        expect((yield* get(port, "/withindexhtm/")).body.toString()).toContain("Directory listing for /withindexhtm/")
      })
    ))

  it.scopedLive("a directory that cannot be read: 404 \"No permission to list directory\"", () =>
    withTree((root) =>
      Effect.gen(function*() {
        const counters = newCounters()
        counters.failReadDirectory = true
        // cache: false keeps listings on FileSystem, whose failure the counting layer injects (as root, a chmod
        // cannot make a directory unreadable).
        const { address: { port } } = yield* startServer({ directory: root, cache: false }, { counters })
        const r = yield* get(port, "/dir/")
        expect(r.statusLine).toBe("HTTP/1.0 404 No permission to list directory")
        expect(r.body.toString()).toContain("<p>Message: No permission to list directory.</p>")
      })
    ))

  it.scopedLive("the default directory is the current one", () =>
    withTree((root) =>
      Effect.gen(function*() {
        const cwd = process.cwd()
        process.chdir(root)
        const server = yield* startServer({}).pipe(Effect.ensuring(Effect.sync(() => process.chdir(cwd))))
        // Resolved when the handler was built: later chdirs do not move it.
        expect((yield* get(server.address.port, "/hello.txt")).body.toString()).toBe(HELLO)
      })
    ))
})

describe("StaticFiles: resources", () => {
  it.scopedLive("cache: false: bytes come from the descriptor opened non-blocking, not FileSystem; HEAD reads none", () =>
    withTree((root) =>
      Effect.gen(function*() {
        const counters = newCounters()
        // Files are opened with node:fs whatever FileSystem is provided (O_NONBLOCK and fstat need a real
        // descriptor): the counting layer sees no open and no read, and HEAD reads no byte of a file.
        const { address: { port } } = yield* startServer({ directory: root, cache: false }, { counters })
        const before = rchar()
        for (const path of ["/hello.txt", "/big.bin", "/withindex/"]) {
          const r = yield* get(port, path, [], "HEAD")
          expect(r.status).toBe(200)
        }
        expect(rchar() - before).toBeLessThan(BIG_SIZE / 2)
        expect((yield* get(port, "/hello.txt")).body.toString()).toBe(HELLO)
        const r = yield* get(port, "/big.bin")
        expect(r.body.equals(big)).toBe(true)
        expect([counters.opens, counters.readFiles, counters.bytesRead]).toEqual([0, 0, 0])
      })
    ))

  it.scopedLive("the file descriptor is closed after a complete download", () =>
    withTree((root) =>
      Effect.gen(function*() {
        const path = NodePathMod.join(root, "big.bin")
        const { address: { port } } = yield* startServer({ directory: root })
        const before = totalFds()
        const r = yield* get(port, "/big.bin")
        expect(r.body.length).toBe(BIG_SIZE)
        expect(yield* settle(() => fdsOn(path) === 0)).toBe(true)
        expect(yield* settle(() => totalFds() <= before)).toBe(true)
      })
    ))

  it.scopedLive("a client that aborts mid-download: the descriptor is closed and the server goes on", () =>
    withTree((root) =>
      Effect.gen(function*() {
        const path = writeBig(root, "huge.bin", 32 * 1024 * 1024)
        const { address: { port } } = yield* startServer({ directory: root })
        const before = totalFds()
        yield* Effect.scoped(Effect.gen(function*() {
          const client = yield* pausedClient(port, "GET /huge.bin HTTP/1.0\r\n\r\n")
          expect(yield* settle(() => fdsOn(path) === 1)).toBe(true)
          client.socket.resume()
          yield* settle(() => client.received().length > 1024 * 1024)
          client.socket.destroy()
        }))
        expect(yield* settle(() => fdsOn(path) === 0)).toBe(true)
        expect(yield* settle(() => totalFds() <= before)).toBe(true)
        expect((yield* get(port, "/hello.txt")).body.toString()).toBe(HELLO)
      })
    ))

  it.scopedLive("server shutdown mid-download: the descriptor is closed and the client sees the end", () =>
    withTree((root) =>
      Effect.gen(function*() {
        const path = writeBig(root, "huge.bin", 32 * 1024 * 1024)
        const serverScope = yield* Scope.make()
        const { address: { port } } = yield* startServer({ directory: root }, { server: { shutdownTimeout: "50 millis" } })
          .pipe(Scope.extend(serverScope))
        const client = yield* pausedClient(port, "GET /huge.bin HTTP/1.0\r\n\r\n")
        expect(yield* settle(() => fdsOn(path) === 1)).toBe(true)
        yield* Scope.close(serverScope, Exit.void)
        expect(yield* settle(() => fdsOn(path) === 0)).toBe(true)
        client.socket.resume()
        expect(yield* settle(() => client.closed())).toBe(true)
        expect(client.received().length).toBeLessThan(32 * 1024 * 1024)
      })
    ))

  // Twice, with and without the response cache: reads on the descriptor, seen in this process's /proc/self/io
  // (rchar counts every read(2); the paused client reads nothing meanwhile).
  const backpressure = (
    options: Partial<StaticFiles.StaticFilesOptions>,
    bytesRead: (counters: Counters) => number,
    // rchar also counts this process's other reads (the /proc file itself, vitest's channel): a few hundred bytes,
    // far below one file chunk (256 KiB).
    slack = 0
  ) =>
    withTree((root) =>
      Effect.gen(function*() {
        const size = 64 * 1024 * 1024
        writeBig(root, "huge.bin", size)
        const counters = newCounters()
        const base = bytesRead(counters)
        const { address: { port } } = yield* startServer({ directory: root, ...options }, { counters })
        const client = yield* pausedClient(port, "GET /huge.bin HTTP/1.0\r\n\r\n")
        expect(yield* settle(() => bytesRead(counters) - base > 1024 * 1024)).toBe(true)
        // Reading stalls once the socket buffers are full: what was read stays far below the file's size.
        let last = -1
        yield* settle(() => {
          const now = bytesRead(counters)
          const stalled = now - last <= slack
          last = now
          return stalled
        }, 5000).pipe(Effect.zipLeft(Effect.sleep("100 millis")))
        const stalledAt = bytesRead(counters)
        yield* Effect.sleep("300 millis")
        expect(bytesRead(counters) - stalledAt).toBeLessThanOrEqual(slack)
        expect(stalledAt - base).toBeLessThan(size / 4)
        // Reading again lets it finish, byte for byte.
        client.socket.resume()
        expect(yield* settle(() => client.closed(), 20_000)).toBe(true)
        const received = client.received()
        const headEnd = received.indexOf("\r\n\r\n") + 4
        expect(received.length - headEnd).toBe(size)
        expect(received.subarray(headEnd).equals(patternBytes(size, 21))).toBe(true)
        expect(bytesRead(counters) - base).toBeGreaterThanOrEqual(size)
      })
    )

  it.scopedLive(
    "backpressure: a client that does not read stops the reads from the file (cache: false)",
    () => backpressure({ cache: false }, rchar, 64 * 1024),
    30_000
  )

  it.scopedLive(
    "backpressure: a client that does not read stops the reads from the file (direct reads)",
    () =>
      backpressure({}, rchar, 64 * 1024),
    30_000
  )

  it.scopedLive("a file that shrinks while it is sent: the connection closes short instead of hanging", () =>
    withTree((root) =>
      Effect.gen(function*() {
        const path = writeBig(root, "huge.bin", 32 * 1024 * 1024)
        const { address: { port } } = yield* startServer({ directory: root })
        const before = rchar()
        const client = yield* pausedClient(port, "GET /huge.bin HTTP/1.0\r\n\r\n")
        // Once reads have begun, the size was taken (from the descriptor's fstat, just after the open).
        expect(yield* settle(() => fdsOn(path) === 1 && rchar() - before > 128 * 1024)).toBe(true)
        NodeFs.truncateSync(path, 1024 * 1024)
        client.socket.resume()
        expect(yield* settle(() => client.closed(), 10_000)).toBe(true)
        const received = client.received()
        expect(received.toString("latin1")).toContain("Content-Length: 33554432\r\n")
        expect(received.length).toBeLessThan(32 * 1024 * 1024)
        expect(yield* settle(() => fdsOn(path) === 0)).toBe(true)
      })
    ))
})

describe("StaticFiles.toHttpApp", () => {
  it.scopedLive("mounts in an HttpRouter served by NodeHttpServer", () =>
    withTree((root) =>
      Effect.gen(function*() {
        const app = yield* StaticFiles.toHttpApp({ directory: root }).pipe(
          Effect.provide(Layer.mergeAll(NodeContext.layer, MimeTypes.layerWithoutFiles()))
        )
        const router = HttpRouter.empty.pipe(
          HttpRouter.get("/hello", HttpServerResponse.text("from the router")),
          HttpRouter.mountApp("/static", app)
        )
        const context = yield* Layer.build(NodeHttpServer.layer(() => Http.createServer(), { port: 0 }))
        yield* HttpServer.serveEffect(router).pipe(Effect.provide(context))
        const address = Context.get(context, HttpServer.HttpServer).address
        const port = address._tag === "TcpAddress" ? address.port : 0
        const fetchText = (path: string, init: RequestInit = {}) =>
          Effect.promise(async () => {
            const response = await fetch(`http://127.0.0.1:${port}${path}`, { redirect: "manual", ...init })
            return { response, body: Buffer.from(await response.arrayBuffer()) }
          })

        const hello = yield* fetchText("/static/hello.txt")
        expect([hello.response.status, hello.body.toString()]).toEqual([200, HELLO])
        expect(hello.response.headers.get("content-type")).toBe("text/plain")
        expect(hello.response.headers.get("last-modified")).toBe(LM)
        expect(hello.response.headers.get("accept-ranges")).toBe("bytes")
        const etag = hello.response.headers.get("etag")!
        expect((yield* fetchText("/static/hello.txt", { headers: { "If-None-Match": etag } })).response.status).toBe(304)

        const redirect = yield* fetchText("/static/dir?x=1")
        expect([redirect.response.status, redirect.response.headers.get("location")]).toEqual([301, "/static/dir/?x=1"])
        const listing = yield* fetchText("/static/dir/")
        expect(listing.body.toString()).toContain("<title>Directory listing for /static/dir/</title>")
        expect(listing.body.toString()).toContain("<li><a href=\"nested.txt\">nested.txt</a></li>")
        expect((yield* fetchText("/static")).response.headers.get("location")).toBe("/static/")

        const range = yield* fetchText("/static/big.bin", { headers: { Range: "bytes=100-199" } })
        expect([range.response.status, range.response.headers.get("content-range")]).toEqual([
          206,
          `bytes 100-199/${BIG_SIZE}`
        ])
        expect(range.body.equals(big.subarray(100, 200))).toBe(true)
        const whole = yield* fetchText("/static/big.bin")
        expect(whole.body.equals(big)).toBe(true)
        expect(yield* settle(() => fdsOn(NodePathMod.join(root, "big.bin")) === 0)).toBe(true)

        const head = yield* fetchText("/static/hello.txt", { method: "HEAD" })
        expect([head.response.status, head.response.headers.get("content-length"), head.body.length]).toEqual([200, "14", 0])
        const missing = yield* fetchText("/static/missing")
        expect(missing.response.status).toBe(404)
        expect(missing.body.toString()).toContain("<p>Message: File not found.</p>")
        const unsatisfiable = yield* fetchText("/static/hello.txt", { headers: { Range: "bytes=99-" } })
        expect([unsatisfiable.response.status, unsatisfiable.response.headers.get("content-range")]).toEqual([416, "bytes */14"])
        expect((yield* fetchText("/static/hello.txt", { method: "POST" })).response.status).toBe(501)
        expect((yield* fetchText("/static/..%2f..%2fetc/passwd")).response.status).toBe(404)
        expect((yield* fetchText("/hello")).body.toString()).toBe("from the router")
      })
    ))
})
