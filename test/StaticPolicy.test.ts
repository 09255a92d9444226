/**
 * Issue 12, items 9, 11, 12 and 14 over real sockets: `--no-dotfiles` judged on resolved names, the size cap of
 * `--compress`, error answers for the server's own trouble (out of descriptors, I/O errors) that no cache would
 * keep as "not found", and `-H` fields replacing the defaults of the same name.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import { SystemError } from "@effect/platform/Error"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as NodeFs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import * as AccessLog from "../src/AccessLog.js"
import * as Cli from "../src/Cli.js"
import type { HeaderField } from "../src/Headers.js"
import { HttpError } from "../src/HttpError.js"
import { eligible } from "../src/internal/compress.js"
import { mergeVary, withoutReplaced } from "../src/internal/extras.js"
import { fsFailure } from "../src/internal/fsFailure.js"
import { makeVerifier } from "../src/internal/openVerified.js"
import { MimeTypes } from "../src/MimeTypes.js"
import * as Server from "../src/Server.js"
import * as StaticFiles from "../src/StaticFiles.js"
import { rawOptions } from "./support/cliOptions.js"
import { ensureBuilt, runToExit, start as startCli } from "./support/cliProcess.js"
import { type ParsedResponse, sendRaw } from "./support/rawClient.js"
import { headerValues, request, startStatic } from "./support/staticServer.js"

const bothCaches = [true, false] as const

const makeTree = Effect.acquireRelease(
  Effect.sync(() => {
    const base = NodeFs.realpathSync(NodeFs.mkdtempSync(Path.join(Os.tmpdir(), "effect-httpd-policy-")))
    const root = Path.join(base, "public")
    NodeFs.mkdirSync(Path.join(root, ".git"), { recursive: true })
    NodeFs.writeFileSync(Path.join(root, ".git", "config"), "GIT-SECRET\n")
    NodeFs.writeFileSync(Path.join(root, ".env"), "ENV-SECRET\n")
    NodeFs.writeFileSync(Path.join(root, "file.txt"), "0123456789")
    NodeFs.mkdirSync(Path.join(root, "sub"))
    NodeFs.writeFileSync(Path.join(root, "sub", "a.txt"), "a")
    NodeFs.symlinkSync(".git", Path.join(root, "gitlink"))
    NodeFs.symlinkSync(".env", Path.join(root, "envlink"))
    NodeFs.symlinkSync("file.txt", Path.join(root, "oklink"))
    NodeFs.symlinkSync("nowhere", Path.join(root, "dangling"))
    return { base, root }
  }),
  ({ base }) => Effect.sync(() => NodeFs.rmSync(base, { recursive: true, force: true }))
)

describe("--no-dotfiles on resolved names (item 9)", () => {
  it.scopedLive("an in-tree link to a dot name is refused and not listed; other links are served as before", () =>
    Effect.gen(function*() {
      const { root } = yield* makeTree
      for (const cache of bothCaches) {
        for (const followSymlinks of [true, false]) {
          const server = yield* startStatic({ directory: root, cache, hideDotfiles: true, followSymlinks, jsonListing: true })
          const port = server.address.port
          for (let i = 0; i < 2; i++) {
            for (const target of ["/gitlink/config", "/gitlink/", "/gitlink", "/envlink", "/%67itlink/config"]) {
              for (const method of ["GET", "HEAD"]) {
                const response = yield* request(port, method, target)
                expect(response.status, `${method} ${target} ${cache} ${followSymlinks}`).toBe(404)
                expect(response.body.toString()).not.toContain("SECRET")
              }
            }
            const listing = (yield* request(port, "GET", "/")).body.toString()
            expect(listing).not.toMatch(/gitlink|envlink|\.git|\.env/)
            expect(listing).toContain("oklink@")
            // A dangling link is listed as Python lists it, unless links are confined.
            expect(listing.includes("dangling@")).toBe(followSymlinks)
            expect((yield* request(port, "GET", "/oklink")).body.toString()).toBe("0123456789")
            const json = (yield* request(port, "GET", "/?format=json")).body.toString()
            expect(json).not.toMatch(/gitlink|envlink|\.git|\.env/)
            expect(json).toContain("\"oklink\"")
          }
        }
      }
    }))

  it.scopedLive("a dot index page with hideDotfiles is refused when the handler is built; the CLI exits 2", () =>
    Effect.gen(function*() {
      const { root } = yield* makeTree
      const exit = yield* Effect.exit(startStatic({ directory: root, hideDotfiles: true, indexPages: ["index.html", ".env"] }))
      expect(Exit.isFailure(exit)).toBe(true)
      expect(String(Exit.isFailure(exit) ? exit.cause : "")).toContain("indexPages '.env' is a dot name")
      // Without hideDotfiles the name is allowed, as in Python.
      yield* startStatic({ directory: root, indexPages: [".env"] })
      const error = yield* Effect.flip(
        Cli.validate(rawOptions({ indexPage: [".env"], noDotfiles: true }), "/", (_, to) => to)
      )
      expect(error.exitCode).toBe(2)
      expect(error.message).toContain("argument --index-page: '.env' starts with '.', which --no-dotfiles hides")
      ensureBuilt()
      const run = yield* runToExit(["--index-page", ".env", "--no-dotfiles", "-d", root, "0"])
      expect(run.code).toBe(2)
      expect(run.stderr).toContain("--no-dotfiles hides")
    }), 60_000)
})

describe("--compress size cap (item 11)", () => {
  it.scopedLive("files over maxBytes (default 10 MiB) are sent as they are: no coding, no Vary, strong ETag", () =>
    Effect.gen(function*() {
      const { root } = yield* makeTree
      NodeFs.writeFileSync(Path.join(root, "mid.txt"), "x".repeat(3000))
      // Sparse: 10 MiB + 1 of zeros, as cheap to create as to stat.
      NodeFs.writeFileSync(Path.join(root, "huge.txt"), "")
      NodeFs.truncateSync(Path.join(root, "huge.txt"), 10 * 1024 * 1024 + 1)
      NodeFs.writeFileSync(Path.join(root, "edge.txt"), "")
      NodeFs.truncateSync(Path.join(root, "edge.txt"), 10 * 1024 * 1024)
      const accept = ["Accept-Encoding: gzip, br"]
      for (const cache of bothCaches) {
        const capped = yield* startStatic({ directory: root, cache, compress: { maxBytes: 2000 } })
        const mid = yield* request(capped.address.port, "GET", "/mid.txt", accept)
        expect(headerValues(mid, "content-encoding")).toEqual([])
        expect(headerValues(mid, "vary")).toEqual([])
        expect(mid.body.toString()).toBe("x".repeat(3000))
        expect(headerValues(mid, "etag")[0]).not.toMatch(/^W\//)
        const small = yield* request(capped.address.port, "GET", "/file.txt", accept)
        expect(headerValues(small, "content-length")).toEqual(["10"])

        const defaults = yield* startStatic({ directory: root, cache, compress: true })
        const huge = yield* request(defaults.address.port, "HEAD", "/huge.txt", accept)
        expect(huge.status).toBe(200)
        expect(headerValues(huge, "content-encoding")).toEqual([])
        expect(headerValues(huge, "content-length")).toEqual([String(10 * 1024 * 1024 + 1)])
        const edge = yield* request(defaults.address.port, "HEAD", "/edge.txt", accept)
        expect(headerValues(edge, "content-encoding")).toEqual(["br"])
        expect(headerValues((yield* request(defaults.address.port, "HEAD", "/mid.txt", accept)), "content-encoding"))
          .toEqual(["br"])
      }
    }), 60_000)

  it("the CLI: --compress-max-bytes maps to the option, needs --compress, and is a size (exit 2)", () =>
    Effect.gen(function*() {
      const raw = rawOptions({ port: 0, compress: true })
      const set = yield* Cli.validate({ ...raw, compressMaxBytes: Option.some(5) }, "/", (_, to) => to)
      expect(Cli.staticFilesOptions(set).compress).toEqual({ minBytes: 1024, maxBytes: 5 })
      const orphan = yield* Effect.flip(
        Cli.validate({ ...raw, compress: false, compressMaxBytes: Option.some(5) }, "/", (_, to) => to)
      )
      expect(orphan.exitCode).toBe(2)
      expect(orphan.message).toContain("--compress-max-bytes requires --compress")
      const negative = yield* Effect.flip(Cli.validate({ ...raw, compressMaxBytes: Option.some(-1) }, "/", (_, to) => to))
      expect(negative.message).toContain("argument --compress-max-bytes: invalid size '-1'")
    }).pipe(Effect.runPromise))
})

/** A `SystemError` as `NodeFileSystem` makes one from an errno exception. */
const systemError = (method: string, code: string, path: string) =>
  new SystemError({
    reason: code === "ENOENT" ? "NotFound" : "Unknown",
    module: "FileSystem",
    method,
    pathOrDescriptor: path,
    cause: Object.assign(new Error(`${code}: ${method} '${path}'`), { code })
  })

/**
 * The real file system, except that stating, opening, reading or listing a name containing `EMFILE` or `EIO` fails
 * so. (Served files and listed directories are opened with `node:fs` whatever `FileSystem` is, so with `cache:
 * false` the `stat` before them is where this layer meets them; the real executable's test below exhausts the
 * descriptors for real.)
 */
const failingFileSystem = Layer.effect(
  FileSystem.FileSystem,
  Effect.map(FileSystem.FileSystem, (fs): FileSystem.FileSystem => {
    const failure = (method: string, path: string) => {
      const code = path.includes("EMFILE") ? "EMFILE" : path.includes("EIO") ? "EIO" : undefined
      return code === undefined ? undefined : systemError(method, code, path)
    }
    return {
      ...fs,
      stat: (path) => Option.match(Option.fromNullable(failure("stat", path)), {
        onNone: () => fs.stat(path),
        onSome: Effect.fail
      }),
      readFile: (path) => Option.match(Option.fromNullable(failure("readFile", path)), {
        onNone: () => fs.readFile(path),
        onSome: Effect.fail
      }),
      open: (path, options) => Option.match(Option.fromNullable(failure("open", path)), {
        onNone: () => fs.open(path, options),
        onSome: Effect.fail
      }),
      readDirectory: (path, options) => Option.match(Option.fromNullable(failure("readDirectory", path)), {
        onNone: () => fs.readDirectory(path, options),
        onSome: Effect.fail
      })
    }
  })
).pipe(Layer.provide(NodeFileSystem.layer))

const startFailing = (options: StaticFiles.StaticFilesOptions) =>
  Server.make({ port: 0 }).pipe(
    Effect.provide(Layer.mergeAll(
      StaticFiles.layer(options).pipe(
        Layer.provide(Layer.mergeAll(NodeContext.layer, MimeTypes.layerWithoutFiles(), failingFileSystem))
      ),
      AccessLog.layerSilent
    ))
  )

const NO_CACHING_FIELDS = ["etag", "last-modified", "cache-control", "x-extra"]

const expectUncacheable = (response: ParsedResponse) => {
  for (const name of NO_CACHING_FIELDS) expect(headerValues(response, name), name).toEqual([])
}

describe("the server's own trouble is not a 404 (item 12)", () => {
  it.scopedLive("EMFILE on open / read / readdir answers 503 with Retry-After, EIO 500; no validators, extras or cache headers", () =>
    Effect.gen(function*() {
      const { root } = yield* makeTree
      NodeFs.writeFileSync(Path.join(root, "EMFILE.txt"), "exists")
      NodeFs.writeFileSync(Path.join(root, "EIO.txt"), "exists")
      NodeFs.writeFileSync(Path.join(root, "big-EMFILE.txt"), "b".repeat(100_000))
      NodeFs.mkdirSync(Path.join(root, "dir-EMFILE"))
      NodeFs.mkdirSync(Path.join(root, "dir-EIO"))
      const server = yield* startFailing({
        directory: root,
        cache: false,
        cacheControl: "public, max-age=3600",
        headers: [["X-Extra", "1"]],
        jsonListing: true
      })
      const port = server.address.port
      for (const method of ["GET", "HEAD"]) {
        for (const target of ["/EMFILE.txt", "/big-EMFILE.txt", "/dir-EMFILE/", "/dir-EMFILE/?format=json"]) {
          const response = yield* request(port, method, target)
          expect(response.status, `${method} ${target}`).toBe(503)
          expect(headerValues(response, "retry-after")).toEqual(["1"])
          expectUncacheable(response)
        }
        if (method === "GET") {
          for (const target of ["/EIO.txt", "/dir-EIO/"]) {
            const response = yield* request(port, method, target)
            expect(response.status, target).toBe(500)
            expectUncacheable(response)
          }
        }
      }
      // What is really missing stays Python's 404.
      expect((yield* request(port, "GET", "/missing.txt")).status).toBe(404)
      expect((yield* request(port, "GET", "/file.txt/")).status).toBe(404)
      expect((yield* request(port, "GET", "/file.txt")).status).toBe(200)
    }))

  it.scopedLive("the real executable out of descriptors answers 503 for an existing file, never 404, and recovers", () =>
    Effect.gen(function*() {
      ensureBuilt()
      const { root } = yield* makeTree
      // Larger than the response cache takes: every request opens it.
      NodeFs.writeFileSync(Path.join(root, "big.txt"), "b".repeat(100_000))
      const server = yield* startCli(
        ["--protocol", "HTTP/1.1", "--bind", "127.0.0.1", "--cache-control", "max-age=60", "-d", root, "0"],
        { maxDescriptors: 64 }
      )
      const sockets: Array<Net.Socket> = []
      yield* Effect.addFinalizer(() => Effect.sync(() => sockets.forEach((socket) => socket.destroy())))
      /** One keep-alive request on a new connection, which stays open (and holds a descriptor in the server). */
      const ask = () =>
        Effect.async<string>((resume) => {
          const socket = Net.connect({ host: "127.0.0.1", port: server.port })
          sockets.push(socket)
          let received = ""
          socket.setEncoding("latin1")
          socket.on("connect", () => socket.write("GET /big.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"))
          socket.on("data", (chunk: string) => {
            received += chunk
            if (/\r\n\r\n/.test(received)) resume(Effect.succeed(received))
          })
          socket.on("error", () => {})
          socket.on("close", () => resume(Effect.succeed(received)))
        })
      const statuses: Array<string> = []
      let unavailable = ""
      for (let i = 0; i < 80 && unavailable === ""; i++) {
        const head = yield* ask()
        const status = head.slice(9, 12)
        statuses.push(status)
        if (status === "503") unavailable = head
      }
      expect(statuses).not.toContain("404")
      expect(unavailable).toMatch(/^HTTP\/1\.1 503 /)
      expect(unavailable).toMatch(/\r\nRetry-After: 1\r\n/)
      expect(unavailable).not.toMatch(/\r\n(ETag|Last-Modified|Cache-Control):/i)
      // Descriptors back: the file is served again.
      sockets.splice(0).forEach((socket) => socket.destroy())
      yield* Effect.sleep("200 millis")
      expect((yield* request(server.port, "GET", "/big.txt")).status).toBe(200)
    }), 60_000)
})

describe("-H replaces the default field of the same name (item 14)", () => {
  it.scopedLive("one Content-Type (any case) on files, ranges, HEAD and listings; raw bytes", () =>
    Effect.gen(function*() {
      const { root } = yield* makeTree
      for (const cache of bothCaches) {
        const server = yield* startStatic({
          directory: root,
          cache,
          headers: [["content-TYPE", "text/html"], ["X-Extra", "1"]]
        })
        const port = server.address.port
        for (
          const [method, target, extra] of [
            ["GET", "/file.txt", ""],
            ["HEAD", "/file.txt", ""],
            ["GET", "/file.txt", "Range: bytes=0-3\r\n"],
            ["GET", "/sub/", ""],
            ["HEAD", "/sub/", ""]
          ] as const
        ) {
          const exchange = yield* sendRaw({
            port,
            chunks: [`${method} ${target} HTTP/1.0\r\n${extra}\r\n`],
            headRequests: [method === "HEAD"],
            timeoutMs: 10_000
          })
          const head = exchange.bytes.toString("latin1").split("\r\n\r\n")[0]! + "\r\n"
          expect(head.match(/\r\ncontent-type:/gi), `${method} ${target} ${extra}`).toHaveLength(1)
          expect(head).toContain("\r\ncontent-TYPE: text/html\r\n")
          expect(head).toContain("\r\nX-Extra: 1\r\n")
        }
        // Errors keep their own type and get no extra fields.
        const missing = yield* request(port, "GET", "/missing")
        expect(headerValues(missing, "content-type")).toEqual(["text/html;charset=utf-8"])
        expect(headerValues(missing, "x-extra")).toEqual([])
      }
    }))
})

describe("the rules, one function each", () => {
  it("fsFailure: not there → the caller's 404, exhaustion → 503, anything else → 500", () => {
    const absent = new HttpError({ status: 404, message: "File not found" })
    const errno = (code: string) => Object.assign(new Error(code), { code })
    for (const code of ["ENOENT", "ENOTDIR", "EACCES", "EPERM", "ELOOP", "ENAMETOOLONG", "EISDIR"]) {
      expect(fsFailure(errno(code), absent), code).toBe(absent)
    }
    for (const code of ["EMFILE", "ENFILE", "ENOMEM"]) expect(fsFailure(errno(code), absent).status, code).toBe(503)
    for (const code of ["EIO", "EOVERFLOW", "ESTALE"]) expect(fsFailure(errno(code), absent).status, code).toBe(500)
    // A FileSystem error: the errno under `cause`, else its reason.
    expect(fsFailure(systemError("open", "EMFILE", "/x"), absent).status).toBe(503)
    expect(fsFailure(systemError("open", "ENOENT", "/x"), absent)).toBe(absent)
    expect(fsFailure(new SystemError({ reason: "NotFound", module: "FileSystem", method: "stat" }), absent)).toBe(absent)
    expect(fsFailure(new SystemError({ reason: "Unknown", module: "FileSystem", method: "stat" }), absent).status)
      .toBe(500)
  })

  it("makeVerifier: confinement and dot names judged on real paths", () => {
    const root = NodeFs.realpathSync(Os.tmpdir())
    expect(makeVerifier(root, { confine: false, hideDotfiles: false })).toBeUndefined()
    const confined = makeVerifier(root, { confine: true, hideDotfiles: false })!
    expect(confined.allowsReal(root)).toBe(true)
    expect(confined.allowsReal(root + "/a/.git/config")).toBe(true)
    expect(confined.allowsReal(root + "x/a")).toBe(false)
    expect(confined.allowsReal("/etc/passwd")).toBe(false)
    const dots = makeVerifier(root + "/.www", { confine: false, hideDotfiles: true })!
    // The root's own path may have dots; below it, and anywhere outside it, none may.
    expect(dots.allowsReal(root + "/.www/a/b.txt")).toBe(true)
    expect(dots.allowsReal(root + "/.www/a/.git/config")).toBe(false)
    expect(dots.allowsReal("/srv/site/a.txt")).toBe(true)
    expect(dots.allowsReal("/home/u/.ssh/id_rsa")).toBe(false)
  })

  it("mergeVary: the handler's members kept first, extra ones added once (any case), one field; * alone", () => {
    const fields: ReadonlyArray<HeaderField> = [["Content-type", "text/plain"], ["Vary", "Accept-Encoding"]]
    expect(mergeVary(fields, ["Origin"])).toEqual([["Content-type", "text/plain"], ["Vary", "Accept-Encoding, Origin"]])
    expect(mergeVary(fields, ["accept-encoding, Origin"])).toEqual([
      ["Content-type", "text/plain"],
      ["Vary", "Accept-Encoding, Origin"]
    ])
    expect(mergeVary([["Content-type", "text/plain"]], ["Origin"])).toEqual([["Content-type", "text/plain"], ["Vary", "Origin"]])
    expect(mergeVary(fields, ["*"])).toEqual([["Content-type", "text/plain"], ["Vary", "*"]])
  })

  it("withoutReplaced: fields an extra field names are dropped, any case", () => {
    const fields: ReadonlyArray<HeaderField> = [["Content-type", "text/plain"], ["Content-Length", "3"], ["ETag", "\"x\""]]
    expect(withoutReplaced(fields, new Set(["content-type"]))).toEqual([["Content-Length", "3"], ["ETag", "\"x\""]])
    expect(withoutReplaced(fields, new Set())).toBe(fields)
  })

  it("eligible: compressible types between minBytes and maxBytes", () => {
    const config = { minBytes: 10, maxBytes: 100 }
    expect([9, 10, 100, 101].map((size) => eligible(config, "text/plain", size))).toEqual([false, true, true, false])
    expect(eligible(config, "image/png", 50)).toBe(false)
  })
})
