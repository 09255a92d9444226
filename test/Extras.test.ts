/**
 * The opt-in options of issue #8 over real sockets: each is off by default (Python's bytes), and each does what it
 * says when asked for, with and without the response cache, including the hostile inputs.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as NodeFs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Cgi from "../src/Cgi.js"
import * as Cli from "../src/Cli.js"
import { MimeTypes } from "../src/MimeTypes.js"
import * as StaticFiles from "../src/StaticFiles.js"
import { cgiServer, docRoot } from "./support/cgiKit.js"
import { type ParsedResponse, sendRaw } from "./support/rawClient.js"
import { cliOutput, rawOptions } from "./support/cliOptions.js"
import { headerValues as header, request, startStatic as start } from "./support/staticServer.js"

const makeTree = Effect.acquireRelease(
  Effect.sync(() => {
    const base = NodeFs.realpathSync(NodeFs.mkdtempSync(Path.join(Os.tmpdir(), "effect-httpd-extras-")))
    NodeFs.writeFileSync(Path.join(base, "outside.txt"), "OUTSIDE-SECRET\n")
    NodeFs.mkdirSync(Path.join(base, "outdir"))
    NodeFs.writeFileSync(Path.join(base, "outdir", "x.txt"), "OUTSIDE-DIR\n")
    const root = Path.join(base, "public")
    NodeFs.mkdirSync(Path.join(root, "sub"), { recursive: true })
    NodeFs.mkdirSync(Path.join(root, "custom"))
    NodeFs.mkdirSync(Path.join(root, "plain"))
    NodeFs.writeFileSync(Path.join(root, "file.txt"), "0123456789")
    NodeFs.writeFileSync(Path.join(root, "sub", "index.html"), "<p>index</p>\n")
    NodeFs.writeFileSync(Path.join(root, "custom", "default.htm"), "<p>default</p>\n")
    NodeFs.writeFileSync(Path.join(root, "custom", "index.html"), "<p>not me</p>\n")
    NodeFs.writeFileSync(Path.join(root, "plain", "a.txt"), "a")
    return { base, root }
  }),
  ({ base }) => Effect.sync(() => NodeFs.rmSync(base, { recursive: true, force: true }))
)

const bothCaches = [true, false] as const

describe("--index-page / indexPages", () => {
  it.scopedLive("replaces the default list, in order; a missing name falls through to the listing", () =>
    Effect.gen(function*() {
      const { root } = yield* makeTree
      for (const cache of bothCaches) {
        const server = yield* start({ directory: root, cache, indexPages: ["default.htm", "index.html"] })
        const port = server.address.port
        expect((yield* request(port, "GET", "/custom/")).body.toString()).toBe("<p>default</p>\n")
        expect((yield* request(port, "GET", "/sub/")).body.toString()).toBe("<p>index</p>\n")
        const only = yield* start({ directory: root, cache, indexPages: ["default.htm"] })
        const listing = yield* request(only.address.port, "GET", "/sub/")
        expect(listing.body.toString()).toContain("Directory listing for /sub/")
      }
    }))

  it("the CLI refuses names that would leave the directory", () =>
    Effect.gen(function*() {
      for (const name of ["../secret", "a/b", "..", ".", "x\0y"]) {
        const error = yield* Effect.flip(Cli.run(["node", "effect-httpd", "--index-page", name, "0"]).pipe(
          Effect.provide(NodeContext.layer),
          Effect.timeoutFail({
            duration: "2 seconds",
            onTimeout: () => new Cli.CliError({ kind: "Startup", message: `started with ${name}` })
          })
        ))
        expect(error.exitCode, name).toBe(2)
        expect(error.message).toMatch(/^argument --index-page: invalid file name '/)
        expect(error.message).not.toMatch(/[\0\r\n]/)
      }
    }).pipe(Effect.runPromise))
})

describe("-H/--header / headers (Python 3.15)", () => {
  it.scopedLive("on 200 files and listings (GET and HEAD) and 206; not on 304, 301, 404, 416", () =>
    Effect.gen(function*() {
      const { root } = yield* makeTree
      for (const cache of bothCaches) {
        const server = yield* start({
          directory: root,
          cache,
          headers: [["X-Frame-Options", "DENY"], ["X-Test", "a: b"]]
        })
        const port = server.address.port
        for (let i = 0; i < 2; i++) {
          // Twice: the second answer may come from the response cache.
          const file = yield* request(port, "GET", "/file.txt")
          expect(file.status).toBe(200)
          expect(file.headers.slice(-4)).toEqual([["Accept-Ranges", "bytes"], ["ETag", header(file, "etag")[0]], [
            "X-Frame-Options",
            "DENY"
          ], ["X-Test", "a: b"]])
          expect(header(yield* request(port, "HEAD", "/file.txt"), "x-frame-options")).toEqual(["DENY"])
          expect(header(yield* request(port, "GET", "/plain/"), "x-frame-options")).toEqual(["DENY"])
          expect(header(yield* request(port, "GET", "/sub/"), "x-test")).toEqual(["a: b"])
          const partial = yield* request(port, "GET", "/file.txt", ["Range: bytes=0-1"])
          expect(partial.status).toBe(206)
          expect(header(partial, "x-frame-options")).toEqual(["DENY"])
          const etag = header(file, "etag")[0]!
          const notModified = yield* request(port, "GET", "/file.txt", [`If-None-Match: ${etag}`])
          expect(notModified.status).toBe(304)
          expect(header(notModified, "x-frame-options")).toEqual([])
          for (const [target, status] of [["/plain", 301], ["/nope", 404]] as const) {
            const response = yield* request(port, "GET", target)
            expect(response.status).toBe(status)
            expect(header(response, "x-frame-options")).toEqual([])
          }
          const unsatisfiable = yield* request(port, "GET", "/file.txt", ["Range: bytes=99-"])
          expect(unsatisfiable.status).toBe(416)
          expect(header(unsatisfiable, "x-test")).toEqual([])
        }
      }
    }))

  it.scopedLive("default: no extra header, bytes as before", () =>
    Effect.gen(function*() {
      const { root } = yield* makeTree
      const server = yield* start({ directory: root })
      const file = yield* request(server.address.port, "GET", "/file.txt")
      expect(file.headers.map(([n]) => n)).toEqual([
        "Server",
        "Date",
        "Content-type",
        "Content-Length",
        "Last-Modified",
        "Accept-Ranges",
        "ETag"
      ])
    }))

  it("parses 'Name: value' at the first colon, refusing injections and bad names (exit 2)", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [string, RegExp]> = [
        ["X-A: 1\r\nSet-Cookie: evil=1", /value of header 'X-A' contains CR or LF/],
        ["X-A: 1\nX-B: 2", /contains CR or LF/],
        ["X-A: a\0b", /contains a control character/],
        [": value", /empty header name/],
        ["no colon here", /is not of the form 'Name: value'/],
        ["Bad Name: v", /invalid header name 'Bad Name'/],
        ["Bad\r\nName: v", /invalid header name/],
        ["Content-Length: 0", /set by the server/],
        ["transfer-encoding: chunked", /set by the server/],
        // Which variant the body is, and the validators conditional requests are answered with.
        ["Content-Encoding: identity", /set by the server/],
        ["ETag: \"fixed\"", /set by the server/],
        ["last-modified: Thu, 01 Jan 1970 00:00:00 GMT", /set by the server/],
        ["X-U: \u2603", /beyond latin-1/],
        // Written as latin-1, U+010D and U+010A would be CR and LF.
        ["X-U: a\u010d\u010aSet-Cookie: x=1", /beyond latin-1/],
        // Hop-by-hop fields, and values the command-line parser would trim (checked as typed: cliHeader.ts).
        ["Upgrade: h2c", /header 'Upgrade' is hop-by-hop/],
        ["keep-alive: timeout=5", /hop-by-hop/],
        ["TE: trailers", /hop-by-hop/],
        ["Trailer: X", /hop-by-hop/],
        ["Proxy-Authenticate: Basic", /hop-by-hop/],
        ["X: \u2028", /'X: \\u2028' starts or ends with whitespace other than space and tab/],
        ["X: a\u00a0", /whitespace other than space and tab/],
        ["\u3000X: a", /whitespace other than/]
      ]
      for (const [line, message] of cases) {
        const error = yield* Effect.flip(Cli.run(["node", "effect-httpd", "-H", line, "0"]).pipe(
          Effect.provide(NodeContext.layer)
        ))
        expect(error.exitCode, line).toBe(2)
        expect(error.message, line).toMatch(/^argument -H\/--header: /)
        expect(error.message, line).toMatch(message)
        expect(Cli.errorLine(error), line).not.toMatch(/[\r\n\0]/)
      }
      const ok = yield* Cli.validate(
        rawOptions({ port: 0, header: ["X-A:  a: b\t"] }),
        "/",
        (_, to) => to
      )
      expect(ok.headers).toEqual([["X-A", "a: b"]])
    }).pipe(Effect.runPromise))

  it("the library refuses an invalid field when the handler is built", async () => {
    const exit = await StaticFiles.make({ headers: [["X-A", "1\r\nX-B: 2"]] }).pipe(
      Effect.provide(Layer.merge(NodeContext.layer, MimeTypes.layerWithoutFiles())),
      Effect.runPromiseExit
    )
    expect(Exit.isFailure(exit) && String(exit.cause)).toMatch(/StaticFiles: headers: value of header 'X-A' contains CR or LF/)
  })
})

describe("--color-scheme / colorScheme (Python 3.14)", () => {
  it.scopedLive("adds Python 3.14's style to listings and error pages; off by default", () =>
    Effect.gen(function*() {
      const { root } = yield* makeTree
      for (const cache of bothCaches) {
        const plain = yield* start({ directory: root, cache })
        const listing = (yield* request(plain.address.port, "GET", "/plain/")).body.toString()
        expect(listing).not.toContain("color-scheme")
        expect(listing.startsWith("<!DOCTYPE HTML>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>"))
          .toBe(true)
        expect((yield* request(plain.address.port, "GET", "/nope")).body.toString()).not.toContain("color-scheme")

        const dark = yield* start({ directory: root, cache, colorScheme: true }, {
          errorMessageFormat: StaticFiles.COLOR_SCHEME_ERROR_MESSAGE
        })
        const darkListing = (yield* request(dark.address.port, "GET", "/plain/")).body.toString()
        expect(darkListing).toBe(
          "<!DOCTYPE HTML>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n" +
            "<style type=\"text/css\">\n:root {\ncolor-scheme: light dark;\n}\n</style>\n" +
            "<title>Directory listing for /plain/</title>\n</head>\n<body>\n<h1>Directory listing for /plain/</h1>\n" +
            "<hr>\n<ul>\n<li><a href=\"a.txt\">a.txt</a></li>\n</ul>\n<hr>\n</body>\n</html>\n"
        )
        const error = yield* request(dark.address.port, "GET", "/nope")
        expect(error.body.toString()).toContain(
          "        <meta charset=\"utf-8\">\n        <style type=\"text/css\">\n            :root {\n" +
            "                color-scheme: light dark;\n            }\n        </style>\n        <title>Error response</title>"
        )
        expect(Number(header(error, "content-length")[0])).toBe(error.body.length)
      }
    }))
})

describe("--cors / cors", () => {
  it.scopedLive("off by default: no CORS header, OPTIONS is 501 as in Python", () =>
    Effect.gen(function*() {
      const { root } = yield* makeTree
      const server = yield* start({ directory: root })
      const port = server.address.port
      expect(header(yield* request(port, "GET", "/file.txt"), "access-control-allow-origin")).toEqual([])
      const options = yield* request(port, "OPTIONS", "/file.txt", ["Origin: http://a.example"])
      expect(options.status).toBe(501)
      expect(header(options, "access-control-allow-origin")).toEqual([])
    }))

  it.scopedLive("Allow-Origin on every answer (200, 206, 304, 301, 404, 416); preflight 204", () =>
    Effect.gen(function*() {
      const { root } = yield* makeTree
      for (const cache of bothCaches) {
        const server = yield* start({ directory: root, cache, cors: true })
        const port = server.address.port
        for (let i = 0; i < 2; i++) {
          const file = yield* request(port, "GET", "/file.txt", ["Origin: http://a.example"])
          expect(file.status).toBe(200)
          expect(header(file, "access-control-allow-origin")).toEqual(["*"])
          const etag = header(file, "etag")[0]!
          const answers: ReadonlyArray<readonly [string, ReadonlyArray<string>, number]> = [
            ["/file.txt", ["Range: bytes=0-1"], 206],
            ["/file.txt", [`If-None-Match: ${etag}`], 304],
            ["/file.txt", ["Range: bytes=99-"], 416],
            ["/plain", [], 301],
            ["/plain/", [], 200],
            ["/nope", [], 404]
          ]
          for (const [target, headers, status] of answers) {
            const response = yield* request(port, "GET", target, headers)
            expect(response.status, target).toBe(status)
            expect(header(response, "access-control-allow-origin"), `${status}`).toEqual(["*"])
          }
          expect(header(yield* request(port, "HEAD", "/file.txt"), "access-control-allow-origin")).toEqual(["*"])
        }
        const preflight = yield* request(port, "OPTIONS", "/file.txt", [
          "Origin: http://a.example",
          "Access-Control-Request-Method: GET",
          "Access-Control-Request-Headers: x-requested-with, range"
        ])
        expect(preflight.status).toBe(204)
        expect(preflight.body.length).toBe(0)
        expect(header(preflight, "access-control-allow-origin")).toEqual(["*"])
        expect(header(preflight, "access-control-allow-methods")).toEqual(["GET, HEAD, OPTIONS"])
        expect(header(preflight, "access-control-allow-headers")).toEqual(["x-requested-with, range"])
        expect(header(preflight, "access-control-max-age")).toEqual(["86400"])
        // POST and others stay 501, with the CORS header.
        const post = yield* request(port, "POST", "/file.txt", ["Content-Length: 0"])
        expect(post.status).toBe(501)
      }
    }))

  it.scopedLive("preflight: request headers that are not tokens are not echoed (no reflection, no injection)", () =>
    Effect.gen(function*() {
      const { root } = yield* makeTree
      const server = yield* start({ directory: root, cors: true })
      const port = server.address.port
      for (const value of ["x-a, <script>", "x-a;evil", "x-a, b c", "\"quoted\"", "x-\x80"]) {
        const response = yield* request(port, "OPTIONS", "/", [`Access-Control-Request-Headers: ${value}`])
        expect(response.status, value).toBe(204)
        expect(header(response, "access-control-allow-headers"), value).toEqual([])
      }
      const none = yield* request(port, "OPTIONS", "*")
      expect(none.status).toBe(204)
      expect(header(none, "access-control-allow-headers")).toEqual([])
      expect(header(none, "allow")).toEqual(["GET, HEAD, OPTIONS"])
    }))
})

describe("--cache-control / cacheControl", () => {
  it.scopedLive("on 200, 206 and 304 of files and listings; not on errors or redirects; none by default", () =>
    Effect.gen(function*() {
      const { root } = yield* makeTree
      const plain = yield* start({ directory: root })
      expect(header(yield* request(plain.address.port, "GET", "/file.txt"), "cache-control")).toEqual([])
      for (const cache of bothCaches) {
        const server = yield* start({ directory: root, cache, cacheControl: "public, max-age=60" })
        const port = server.address.port
        for (let i = 0; i < 2; i++) {
          const file = yield* request(port, "GET", "/file.txt")
          expect(header(file, "cache-control")).toEqual(["public, max-age=60"])
          const etag = header(file, "etag")[0]!
          const lastModified = header(file, "last-modified")[0]!
          const answers: ReadonlyArray<readonly [string, ReadonlyArray<string>, number, boolean]> = [
            ["/file.txt", ["Range: bytes=0-1"], 206, true],
            ["/file.txt", [`If-None-Match: ${etag}`], 304, true],
            ["/file.txt", [`If-Modified-Since: ${lastModified}`], 304, true],
            ["/plain/", [], 200, true],
            ["/sub/", [], 200, true],
            ["/plain", [], 301, false],
            ["/nope", [], 404, false],
            ["/file.txt", ["Range: bytes=99-"], 416, false]
          ]
          for (const [target, headers, status, sent] of answers) {
            const response = yield* request(port, "GET", target, headers)
            expect(response.status, `${target} ${headers}`).toBe(status)
            expect(header(response, "cache-control"), `${status}`).toEqual(sent ? ["public, max-age=60"] : [])
          }
        }
      }
    }))

  it("refuses a value with CR/LF or control characters, or empty (exit 2)", () =>
    Effect.gen(function*() {
      for (const value of ["no-cache\r\nSet-Cookie: a=1", "no-cache\nX: y", "a\0b", "a\x1bb", " "]) {
        const error = yield* Effect.flip(Cli.run(["node", "effect-httpd", "--cache-control", value, "0"]).pipe(
          Effect.provide(NodeContext.layer),
          Effect.timeoutFail({
            duration: "2 seconds",
            onTimeout: () => new Cli.CliError({ kind: "Startup", message: "started" })
          })
        ))
        expect(error.exitCode, value).toBe(2)
        expect(error.message, value).toMatch(/^argument --cache-control: the value /)
      }
    }).pipe(Effect.runPromise))
})

/** A tree with dot files and links in and out of the root. */
const makeLinkTree = Effect.flatMap(makeTree, ({ base, root }) =>
  Effect.sync(() => {
    NodeFs.mkdirSync(Path.join(root, ".git"))
    NodeFs.writeFileSync(Path.join(root, ".git", "config"), "GIT-SECRET\n")
    NodeFs.writeFileSync(Path.join(root, ".env"), "ENV-SECRET\n")
    NodeFs.mkdirSync(Path.join(root, "deep", ".hidden"), { recursive: true })
    NodeFs.writeFileSync(Path.join(root, "deep", ".hidden", "f.txt"), "HIDDEN\n")
    NodeFs.writeFileSync(Path.join(root, "deep", "ok.txt"), "ok\n")
    NodeFs.mkdirSync(Path.join(root, "links"))
    NodeFs.symlinkSync(Path.join(base, "outside.txt"), Path.join(root, "links", "out-file"))
    NodeFs.symlinkSync(Path.join(base, "outdir"), Path.join(root, "links", "out-dir"))
    NodeFs.symlinkSync("../file.txt", Path.join(root, "links", "in-file"))
    NodeFs.symlinkSync("../plain", Path.join(root, "links", "in-dir"))
    NodeFs.symlinkSync(Path.join(base, "nowhere"), Path.join(root, "links", "dangling"))
    NodeFs.mkdirSync(Path.join(root, "idx"))
    NodeFs.symlinkSync(Path.join(base, "outside.txt"), Path.join(root, "idx", "index.html"))
    NodeFs.writeFileSync(Path.join(root, "movable.txt"), "movable-inside\n")
    return { base, root }
  }))

describe("--no-dotfiles / hideDotfiles", () => {
  it.scopedLive("dot names at any depth answer 404 (encoded too) and are not listed; served by default", () =>
    Effect.gen(function*() {
      const { root } = yield* makeLinkTree
      const open = yield* start({ directory: root })
      expect((yield* request(open.address.port, "GET", "/.env")).status).toBe(200)
      expect((yield* request(open.address.port, "GET", "/")).body.toString()).toContain(".git/")
      for (const cache of bothCaches) {
        const server = yield* start({ directory: root, cache, hideDotfiles: true, cors: true })
        const port = server.address.port
        for (let i = 0; i < 2; i++) {
          for (
            const target of [
              "/.env",
              "/.git/config",
              "/.git/",
              "/.git",
              "/%2eenv",
              "/%2Egit/config",
              "/deep/.hidden/f.txt",
              "/deep/.hidden/",
              "/deep/%2ehidden/f.txt",
              "/x/../.env",
              "/.env?x=1"
            ]
          ) {
            for (const method of ["GET", "HEAD"]) {
              const response = yield* request(port, method, target)
              expect(response.status, `${method} ${target}`).toBe(404)
              expect(response.body.toString()).not.toMatch(/SECRET|HIDDEN/)
              expect(header(response, "access-control-allow-origin")).toEqual(["*"])
            }
          }
          const listing = (yield* request(port, "GET", "/")).body.toString()
          expect(listing).not.toContain(".git")
          expect(listing).not.toContain(".env")
          expect(listing).toContain("file.txt")
          const deep = (yield* request(port, "GET", "/deep/")).body.toString()
          expect(deep).not.toContain(".hidden")
          expect(deep).toContain("ok.txt")
          expect((yield* request(port, "GET", "/deep/ok.txt")).status).toBe(200)
        }
      }
    }))
})

describe("--no-follow-symlinks / followSymlinks: false", () => {
  it.scopedLive("links out of the root answer 404 (file, directory, in the middle, index page); links inside work", () =>
    Effect.gen(function*() {
      const { root } = yield* makeLinkTree
      const open = yield* start({ directory: root })
      expect((yield* request(open.address.port, "GET", "/links/out-file")).body.toString()).toBe("OUTSIDE-SECRET\n")
      for (const cache of bothCaches) {
        const server = yield* start({ directory: root, cache, followSymlinks: false })
        const port = server.address.port
        for (let i = 0; i < 2; i++) {
          for (
            const target of [
              "/links/out-file",
              "/links/out-dir/",
              "/links/out-dir",
              "/links/out-dir/x.txt",
              "/links/%6fut-dir/x.txt",
              "/links/dangling",
              "/idx/index.html"
            ]
          ) {
            for (const method of ["GET", "HEAD"]) {
              const response = yield* request(port, method, target)
              expect(response.status, `${method} ${target}`).toBe(404)
              expect(response.body.toString()).not.toMatch(/OUTSIDE/)
            }
          }
          // An index page linked outside is not used: the directory is listed, without it.
          const idx = yield* request(port, "GET", "/idx/")
          expect(idx.status).toBe(200)
          expect(idx.body.toString()).toContain("Directory listing for /idx/")
          expect(idx.body.toString()).not.toMatch(/OUTSIDE|index\.html/)
          expect((yield* request(port, "GET", "/links/in-file")).body.toString()).toBe("0123456789")
          expect((yield* request(port, "GET", "/links/in-dir/a.txt")).body.toString()).toBe("a")
          expect((yield* request(port, "GET", "/links/in-dir")).status).toBe(301)
          const listing = (yield* request(port, "GET", "/links/")).body.toString()
          expect(listing).toContain("in-file@")
          expect(listing).toContain("in-dir@")
          expect(listing).not.toContain("out-file")
          expect(listing).not.toContain("out-dir")
          expect(listing).not.toContain("dangling")
        }
      }
    }))

  it.scopedLive("a link re-pointed outside after its answer was cached is not served from the cache", () =>
    Effect.gen(function*() {
      const { base, root } = yield* makeLinkTree
      // Old enough for the cache (settleMs), and the link's targets too.
      const old = new Date(Date.now() - 60_000)
      NodeFs.writeFileSync(Path.join(base, "outside-same.txt"), "movable-inside\n")
      for (const file of ["movable.txt", "file.txt", "plain/a.txt"]) NodeFs.utimesSync(Path.join(root, file), old, old)
      NodeFs.utimesSync(Path.join(base, "outside-same.txt"), old, old)
      NodeFs.symlinkSync("movable.txt", Path.join(root, "hop"))
      NodeFs.mkdirSync(Path.join(root, "flip"))
      NodeFs.symlinkSync("../plain/a.txt", Path.join(root, "flip", "index.html"))
      const server = yield* start({ directory: root, followSymlinks: false, cache: { settleMs: 0 } })
      const port = server.address.port
      for (let i = 0; i < 3; i++) {
        expect((yield* request(port, "GET", "/hop")).body.toString()).toBe("movable-inside\n")
        expect((yield* request(port, "GET", "/flip/")).body.toString()).toBe("a")
      }
      // Re-point both links outside (atomically, as an attacker with write access to the tree would).
      NodeFs.symlinkSync(Path.join(base, "outside-same.txt"), Path.join(root, "hop.new"))
      NodeFs.renameSync(Path.join(root, "hop.new"), Path.join(root, "hop"))
      NodeFs.symlinkSync(Path.join(base, "outside.txt"), Path.join(root, "flip", "index.new"))
      NodeFs.renameSync(Path.join(root, "flip", "index.new"), Path.join(root, "flip", "index.html"))
      for (let i = 0; i < 2; i++) {
        expect((yield* request(port, "GET", "/hop")).status).toBe(404)
        const flip = yield* request(port, "GET", "/flip/")
        expect(flip.body.toString()).not.toContain("OUTSIDE")
        // The index page is refused, so the directory is listed, without the link.
        expect(flip.status).toBe(200)
        expect(flip.body.toString()).not.toContain("index.html")
      }
    }))
})

describe("--json-listing / jsonListing", () => {
  const odd = ["quote\"d", "back\\slash", "ctl\x01\x1f\ttab", "new\nline", "\u00e9t\u00e9 \u2603 \u{1f600}", "<b>&amp;"]

  const makeJsonTree = Effect.flatMap(makeLinkTree, ({ base, root }) =>
    Effect.sync(() => {
      const dir = Path.join(root, "odd")
      NodeFs.mkdirSync(Path.join(dir, "Zdir"), { recursive: true })
      for (const name of odd) NodeFs.writeFileSync(Path.join(dir, name), name)
      NodeFs.writeFileSync(Path.join(dir, ".dot"), "x")
      NodeFs.symlinkSync("../file.txt", Path.join(dir, "link-in"))
      NodeFs.symlinkSync(Path.join(base, "outside.txt"), Path.join(dir, "link-out"))
      NodeFs.symlinkSync(Path.join(base, "nowhere"), Path.join(dir, "link-dangling"))
      const mtime = new Date("2020-01-02T03:04:05.000Z")
      NodeFs.utimesSync(Path.join(dir, odd[0]!), mtime, mtime)
      return { base, root, dir }
    }))

  interface Entry {
    readonly name: string
    readonly href: string
    readonly type: string
    readonly size: number | null
    readonly mtime: string | null
  }
  const parse = (response: ParsedResponse): Array<Entry> => JSON.parse(response.body.toString("utf8"))

  it.scopedLive("Accept (q-values respected) or ?format=json; names round-trip; sorted as the HTML listing", () =>
    Effect.gen(function*() {
      const { dir } = yield* makeJsonTree
      for (const cache of bothCaches) {
        const server = yield* start({ directory: Path.dirname(dir), cache, jsonListing: true })
        const port = server.address.port
        for (let i = 0; i < 2; i++) {
          const json = yield* request(port, "GET", "/odd/", ["Accept: application/json"])
          expect(json.status).toBe(200)
          expect(header(json, "content-type")).toEqual(["application/json"])
          expect(header(json, "vary")).toEqual(["Accept"])
          expect(Number(header(json, "content-length")[0])).toBe(json.body.length)
          const entries = parse(json)
          const html = (yield* request(port, "GET", "/odd/")).body.toString()
          // Same names, same order as the HTML listing (whose hrefs are the quoted names).
          const links = [...html.matchAll(/<a href="([^"]*)">/g)].map((m) => m[1]!)
          const hrefs = links.map((link) => decodeURIComponent(link).replace(/\/$/, ""))
          expect(entries.map((e) => e.name)).toEqual(hrefs)
          // Each entry's href is the HTML listing's link, byte for byte.
          expect(entries.map((e) => e.href)).toEqual(links)
          for (const name of odd) expect(entries.map((e) => e.name)).toContain(name)
          const quoted = entries.find((e) => e.name === odd[0])!
          expect(quoted).toEqual({ name: odd[0], href: "quote%22d", type: "file", size: Buffer.byteLength(odd[0]!), mtime: "2020-01-02T03:04:05.000Z" })
          expect(entries.find((e) => e.name === "Zdir")).toMatchObject({ type: "directory", size: null })
          expect(entries.find((e) => e.name === "link-in")).toMatchObject({ type: "symlink", size: 10 })
          expect(entries.find((e) => e.name === "link-dangling")).toEqual({
            name: "link-dangling",
            href: "link-dangling",
            type: "symlink",
            size: null,
            mtime: null
          })
          for (const e of entries) if (e.mtime !== null) expect(new Date(e.mtime).toISOString()).toBe(e.mtime)

          const query = yield* request(port, "GET", "/odd/?format=json")
          expect(parse(query)).toEqual(entries)
          expect(parse(yield* request(port, "GET", "/odd/?a=1&format=json"))).toEqual(entries)
          const head = yield* request(port, "HEAD", "/odd/", ["Accept: application/json"])
          expect(head.status).toBe(200)
          expect(head.body.length).toBe(0)
          expect(header(head, "content-type")).toEqual(["application/json"])

          for (
            const accept of [
              "application/json",
              "application/*",
              "text/html;q=0.5, application/json",
              "application/json; charset=utf-8",
              "APPLICATION/JSON;Q=0.9, text/html;q=0.8"
            ]
          ) {
            const r = yield* request(port, "GET", "/odd/", [`Accept: ${accept}`])
            expect(header(r, "content-type"), accept).toEqual(["application/json"])
          }
          for (
            const accept of [
              "application/json;q=0",
              "application/json;q=0.000",
              "*/*",
              "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
              "text/html, application/json",
              "application/json;q=2",
              "text/plain",
              "application/jsonx"
            ]
          ) {
            const r = yield* request(port, "GET", "/odd/", [`Accept: ${accept}`])
            expect(header(r, "content-type"), accept).toEqual(["text/html; charset=utf-8"])
            expect(header(r, "vary"), accept).toEqual(["Accept"])
          }
          // A directory with an index page still answers the page.
          const index = yield* request(port, "GET", "/sub/?format=json")
          expect(index.body.toString()).toBe("<p>index</p>\n")
          const redirect = yield* request(port, "GET", "/odd?format=json")
          expect(redirect.status).toBe(301)
          expect(header(redirect, "location")).toEqual(["/odd/?format=json"])
        }
      }
    }))

  it.scopedLive("off by default (Python's HTML whatever is asked, no Vary); dotfile and symlink options apply", () =>
    Effect.gen(function*() {
      const { dir } = yield* makeJsonTree
      const root = Path.dirname(dir)
      const plain = yield* start({ directory: root })
      const html = yield* request(plain.address.port, "GET", "/odd/?format=json", ["Accept: application/json"])
      expect(header(html, "content-type")).toEqual(["text/html; charset=utf-8"])
      expect(header(html, "vary")).toEqual([])
      for (const cache of bothCaches) {
        const all = parse(yield* request((yield* start({ directory: root, cache, jsonListing: true })).address.port, "GET", "/odd/?format=json"))
        expect(all.map((e) => e.name)).toContain(".dot")
        expect(all.map((e) => e.name)).toContain("link-out")
        const server = yield* start({ directory: root, cache, jsonListing: true, hideDotfiles: true, followSymlinks: false })
        const names = parse(yield* request(server.address.port, "GET", "/odd/?format=json")).map((e) => e.name)
        expect(names).not.toContain(".dot")
        expect(names).not.toContain("link-out")
        expect(names).not.toContain("link-dangling")
        expect(names).toContain("link-in")
        expect((yield* request(server.address.port, "GET", "/.git/?format=json")).status).toBe(404)
        expect((yield* request(server.address.port, "GET", "/links/out-dir/?format=json")).status).toBe(404)
      }
    }))
})

describe("--spa / spaFallback", () => {
  const browser = "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

  it.scopedLive("extension-less missing paths asked for as HTML get the page (200); everything else keeps its 404", () =>
    Effect.gen(function*() {
      const { root } = yield* makeLinkTree
      const off = yield* start({ directory: root })
      expect((yield* request(off.address.port, "GET", "/deep/route", [browser])).status).toBe(404)
      for (const cache of bothCaches) {
        const server = yield* start({
          directory: root,
          cache,
          spaFallback: "sub/index.html",
          cacheControl: "no-cache",
          hideDotfiles: true
        })
        const port = server.address.port
        for (let i = 0; i < 2; i++) {
          for (const target of ["/deep/route", "/deep/route/", "/users/42/edit?tab=1", "/v1.2/page", "/%2e%2e/route", "/.env"]) {
            const page = yield* request(port, "GET", target, [browser])
            expect(page.status, target).toBe(200)
            expect(page.body.toString(), target).toBe("<p>index</p>\n")
            expect(header(page, "content-type")).toEqual(["text/html"])
            expect(header(page, "cache-control")).toEqual(["no-cache"])
          }
          const head = yield* request(port, "HEAD", "/deep/route", ["Accept: text/html"])
          expect(head.status).toBe(200)
          expect(head.body.length).toBe(0)
          expect(header(head, "content-length")).toEqual(["13"])
          expect((yield* request(port, "GET", "/deep/route", ["Accept: text/*"])).status).toBe(200)
          const keeps: ReadonlyArray<readonly [string, ReadonlyArray<string>]> = [
            ["/assets/missing.js", [browser]],
            ["/deep/route.html", [browser]],
            ["/deep/route", []],
            ["/deep/route", ["Accept: */*"]],
            ["/deep/route", ["Accept: application/json"]],
            ["/deep/route", ["Accept: text/html;q=0, */*"]],
            ["/file.txt/", [browser]]
          ]
          for (const [target, headers] of keeps) {
            const response = yield* request(port, "GET", target, headers)
            expect(response.status, `${target} ${headers}`).toBe(404)
            expect(response.body.toString()).not.toContain("<p>index</p>")
          }
          // What exists is served as before.
          expect((yield* request(port, "GET", "/file.txt", [browser])).body.toString()).toBe("0123456789")
          expect((yield* request(port, "GET", "/plain/", [browser])).body.toString()).toContain("Directory listing")
          expect((yield* request(port, "GET", "/plain", [browser])).status).toBe(301)
          expect((yield* request(port, "POST", "/deep/route", [browser, "Content-Length: 0"])).status).toBe(501)
        }
      }
    }))

  it("the library refuses a fallback outside the directory or missing, when the handler is built", async () => {
    for (const [file, message] of [["../outside.txt", /must not leave/], ["/etc/passwd", /must be relative/], ["nope.html", /is not a file/], ["sub", /is not a file/]] as const) {
      const exit = await StaticFiles.make({ directory: "test/fixtures", spaFallback: file }).pipe(
        Effect.provide(Layer.merge(NodeContext.layer, MimeTypes.layerWithoutFiles())),
        Effect.runPromiseExit
      )
      expect(Exit.isFailure(exit) && String(exit.cause), file).toMatch(message)
    }
  })

  it.scoped("the CLI checks the file at start-up: traversal, absolute, missing, a directory, a link out (exit 2)", () =>
    Effect.gen(function*() {
      const { base, root } = yield* makeLinkTree
      NodeFs.symlinkSync(Path.join(base, "outside.txt"), Path.join(root, "out.html"))
      const cases: ReadonlyArray<readonly [string, RegExp]> = [
        ["../outside.txt", /must not leave the served directory/],
        ["sub/../../outside.txt", /must not leave the served directory/],
        ["/etc/passwd", /must be relative/],
        ["missing.html", /does not exist/],
        ["sub", /is not a regular file/],
        ["out.html", /is outside the served directory/],
        ["a\0b", /contains NUL/]
      ]
      for (const [file, message] of cases) {
        const error = yield* Effect.flip(Cli.run(["node", "effect-httpd", "-d", root, "--spa", file, "0"]).pipe(
          Effect.provide(NodeContext.layer),
          Effect.timeoutFail({
            duration: "2 seconds",
            onTimeout: () => new Cli.CliError({ kind: "Startup", message: `started with ${file}` })
          })
        ))
        expect(error.exitCode, file).toBe(2)
        expect(error.message, file).toMatch(/^argument --spa: '/)
        expect(error.message, file).toMatch(message)
      }
    }))
})

describe("--basic-auth / basicAuth", () => {
  const basic = (text: string) => `Authorization: Basic ${Buffer.from(text, "utf8").toString("base64")}`
  const challenge = "Basic realm=\"effect-httpd\", charset=\"UTF-8\""
  const users = [{ user: "alice", password: "pa:ss:w\u00f6rd" }, { user: "bob", password: "hunter2" }]

  it.scopedLive("401 with the challenge without valid credentials (GET, HEAD, listings); 200 with them", () =>
    Effect.gen(function*() {
      const { root } = yield* makeTree
      for (const cache of bothCaches) {
        const server = yield* start({ directory: root, cache, basicAuth: users, cors: true })
        const port = server.address.port
        for (let i = 0; i < 2; i++) {
          const refused: ReadonlyArray<ReadonlyArray<string>> = [
            [],
            ["Authorization: Basic !!!!"],
            ["Authorization: Basic YWxpY2U6cGE"], // unpadded base64
            ["Authorization: Basic YWxp Y2U="],
            ["Authorization: Basic"],
            ["Authorization: Bearer YWxpY2U6aHVudGVyMg=="],
            [basic("alice")], // no colon
            [`Authorization: Basic ${Buffer.from([0x61, 0x3a, 0xff, 0xfe]).toString("base64")}`], // not UTF-8
            [basic("alice:wrong")],
            [basic("alice:pa")], // a prefix of the password
            [basic("alice:pa:ss:w\u00f6rd ")],
            [basic("alice:hunter2")], // another user's password
            [basic("Alice:pa:ss:w\u00f6rd")],
            [basic(":hunter2")]
          ]
          for (const headers of refused) {
            for (const [method, target] of [["GET", "/file.txt"], ["HEAD", "/file.txt"], ["GET", "/plain/"], ["GET", "/nope"], ["OPTIONS", "*"]]) {
              const response = yield* request(port, method!, target!, headers)
              expect(response.status, `${method} ${target} ${headers}`).toBe(401)
              expect(header(response, "www-authenticate")).toEqual([challenge])
              expect(response.body.toString()).not.toContain("0123456789")
            }
          }
          for (const credentials of ["alice:pa:ss:w\u00f6rd", "bob:hunter2"]) {
            const ok = yield* request(port, "GET", "/file.txt", [basic(credentials)])
            expect(ok.status).toBe(200)
            expect(ok.body.toString()).toBe("0123456789")
            expect(header(ok, "www-authenticate")).toEqual([])
          }
          const lower = yield* request(port, "GET", "/plain/", [`authorization: basic ${Buffer.from("bob:hunter2").toString("base64")}`])
          expect(lower.status).toBe(200)
          expect((yield* request(port, "GET", "/nope", [basic("bob:hunter2")])).status).toBe(404)
        }
      }
      const single = yield* start({ directory: root, basicAuth: { user: "u", password: "" } })
      expect((yield* request(single.address.port, "GET", "/file.txt", [basic("u:")])).status).toBe(200)
      expect((yield* request(single.address.port, "GET", "/file.txt", [basic("u:x")])).status).toBe(401)
    }))

  it.scopedLive("guards the CGI handler's methods too, and refuses Expect: 100-continue before the body", () =>
    Effect.gen(function*() {
      const root = yield* docRoot({
        "cgi-bin/hello.sh": { content: "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\nscript ran\\n'\n" },
        "index.html": { content: "home\n", mode: 0o644 }
      })
      const { port } = yield* cgiServer({ directory: root, runAsNobody: false, basicAuth: users }, {
        protocolVersion: "HTTP/1.1"
      })
      for (const method of ["GET", "POST"]) {
        const refused = yield* request(port, method, "/cgi-bin/hello.sh", ["Content-Length: 0"])
        expect(refused.status, method).toBe(401)
        expect(header(refused, "www-authenticate")).toEqual([challenge])
        const ok = yield* request(port, method, "/cgi-bin/hello.sh", ["Content-Length: 0", basic("bob:hunter2")])
        expect(ok.status, method).toBe(200)
        expect(ok.body.toString()).toBe("script ran\n")
      }
      expect((yield* request(port, "GET", "/", [])).status).toBe(401)
      expect((yield* request(port, "GET", "/", [basic("bob:hunter2")])).body.toString()).toBe("home\n")
      // HTTP/1.1 with Expect: the 401 comes instead of 100 Continue.
      const expect100 = yield* sendRaw({
        port,
        chunks: ["POST /cgi-bin/hello.sh HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n"],
        timeoutMs: 5000
      })
      expect(expect100.responses.map((r) => r.status)).toEqual([401])
    }))

  it("the library refuses invalid credentials when the handler is built", async () => {
    for (const [value, message] of [[[], /no credentials/], [{ user: "", password: "x" }, /empty user name/], [{ user: "a:b", password: "x" }, /contains ':'/], [{ user: "a", password: "x\ny" }, /control character/]] as const) {
      const exit = await StaticFiles.make({ basicAuth: value }).pipe(
        Effect.provide(Layer.merge(NodeContext.layer, MimeTypes.layerWithoutFiles())),
        Effect.runPromiseExit
      )
      expect(Exit.isFailure(exit) && String(exit.cause)).toMatch(message)
    }
  })

  it("the CLI refuses plain HTTP on a non-loopback address without --basic-auth-insecure (exit 2, one line)", () =>
    Effect.gen(function*() {
      const refusals: ReadonlyArray<ReadonlyArray<string>> = [
        ["--basic-auth", "alice:secret", "0"],
        ["--basic-auth", "alice:secret", "-b", "0.0.0.0", "0"],
        ["--basic-auth", "alice:secret", "-b", "::", "0"],
        ["--basic-auth", "alice:secret", "-b", "192.0.2.1", "0"]
      ]
      for (const args of refusals) {
        const error = yield* Effect.flip(Cli.run(["node", "effect-httpd", ...args]).pipe(
          Effect.provide(NodeContext.layer),
          Effect.timeoutFail({ duration: "2 seconds", onTimeout: () => new Cli.CliError({ kind: "Startup", message: "started" }) })
        ))
        expect(error.exitCode, args.join(" ")).toBe(2)
        expect(error.message).toMatch(/^--basic-auth over plain HTTP on a non-loopback address/)
        expect(Cli.errorLine(error)).not.toMatch(/[\r\n]|secret/)
      }
      for (const [value, message] of [["nocolon-secret", /expected USER:PASSWORD/], [":secret", /empty user name/], ["a:b\x01secret", /control character/]] as const) {
        const error = yield* Effect.flip(Cli.run(["node", "effect-httpd", "--basic-auth", value, "-b", "127.0.0.1", "0"]).pipe(
          Effect.provide(NodeContext.layer)
        ))
        expect(error.exitCode).toBe(2)
        expect(error.message).toMatch(message)
        expect(error.message).not.toContain("secret")
      }
      const raw = rawOptions({ port: 0, basicAuth: ["alice:pa:ss"] })
      const accepted = [
        { bind: Option.some("127.0.0.1") },
        { bind: Option.some("127.1.2.3") },
        { bind: Option.some("::1") },
        { bind: Option.some("localhost") },
        { tlsCert: Option.some("cert.pem") },
        { basicAuthInsecure: true }
      ]
      for (const overrides of accepted) {
        const config = yield* Cli.validate({ ...raw, ...overrides }, "/", (_, to) => to)
        expect(config.basicAuth).toEqual([{ user: "alice", password: "pa:ss" }])
        expect(Cli.staticFilesOptions(config).basicAuth).toEqual([{ user: "alice", password: "pa:ss" }])
      }
    }).pipe(Effect.runPromise))
})

describe("--precompressed / precompressed", () => {
  const siblingTree = (root: string) => {
    NodeFs.mkdirSync(Path.join(root, "pc"))
    const put = (name: string, text: string) => NodeFs.writeFileSync(Path.join(root, "pc", name), text)
    put("app.js", "PLAIN-JAVASCRIPT-BODY")
    put("app.js.br", "BR-BYTES")
    put("app.js.gz", "GZIP-BYTES!")
    put("only.css", "PLAIN-CSS")
    put("only.css.gz", "GZ-CSS")
    put("none.txt", "NONE")
    put("dir.txt", "DIR-PLAIN")
    NodeFs.mkdirSync(Path.join(root, "pc", "dir.txt.br")) // a directory is not a sibling
    put("gone.txt", "GONE-PLAIN")
    put("gone.txt.br", "GONE-BR")
  }
  const ae = (value: string) => [`Accept-Encoding: ${value}`]

  it.scopedLive("negotiates br/gzip by q-values; keeps Content-Type; Vary; distinct ETags; 304 and ranges per coding", () =>
    Effect.gen(function*() {
      const { root } = yield* makeTree
      siblingTree(root)
      for (const cache of bothCaches) {
        const server = yield* start({ directory: root, cache, precompressed: true })
        const port = server.address.port
        const plainType = header(yield* request(port, "GET", "/pc/app.js"), "content-type")[0]
        expect(plainType).toMatch(/javascript/)
        for (let i = 0; i < 2; i++) {
          // Twice: the second answers may come from the response cache, one entry per coding.
          const cases: ReadonlyArray<readonly [string, string | undefined, string | undefined]> = [
            ["/pc/app.js", undefined, undefined],
            ["/pc/app.js", "gzip, deflate, br", "br"],
            ["/pc/app.js", "gzip;q=0.5, br;q=0.9", "br"],
            ["/pc/app.js", "gzip;q=0.9, br;q=0.5", "gzip"],
            ["/pc/app.js", "br;q=0, gzip", "gzip"],
            ["/pc/app.js", "x-gzip", "gzip"],
            ["/pc/app.js", "*", "br"],
            ["/pc/app.js", "*;q=0", undefined],
            ["/pc/app.js", "identity;q=0", undefined],
            ["/pc/app.js", "identity;q=0, gzip;q=0.1", "gzip"],
            ["/pc/app.js", "gzip;q=0.5, identity", undefined],
            ["/pc/app.js", "br;q=1.5", undefined], // invalid q: the element is skipped
            ["/pc/app.js", "", undefined],
            ["/pc/app.js", "deflate", undefined],
            ["/pc/only.css", "br, gzip", "gzip"],
            ["/pc/only.css", "br", undefined]
          ]
          for (const [target, accept, coding] of cases) {
            const res = yield* request(port, "GET", target, accept === undefined ? [] : ae(accept))
            const label = `${cache} ${target} ${accept}`
            expect(res.status, label).toBe(200)
            const file = Path.join(root, target + (coding === "br" ? ".br" : coding === "gzip" ? ".gz" : ""))
            expect(res.body.toString(), label).toBe(NodeFs.readFileSync(file, "utf8"))
            expect(header(res, "content-encoding"), label).toEqual(coding === undefined ? [] : [coding])
            expect(header(res, "vary"), label).toEqual(["Accept-Encoding"])
            expect(header(res, "content-length"), label).toEqual([String(res.body.length)])
            if (target === "/pc/app.js") expect(header(res, "content-type"), label).toEqual([plainType])
            const etag = header(res, "etag")[0]!
            expect(etag.endsWith(coding === undefined ? "\"" : `-${coding}"`), label).toBe(true)
          }
          // No sibling (or a directory named like one): no Vary, the file itself even when identity is refused.
          for (const target of ["/pc/none.txt", "/pc/dir.txt"]) {
            const res = yield* request(port, "GET", target, ae("identity;q=0, br"))
            expect(res.status).toBe(200)
            expect(res.body.toString()).toBe(target === "/pc/none.txt" ? "NONE" : "DIR-PLAIN")
            expect(header(res, "vary")).toEqual([])
            expect(header(res, "content-encoding")).toEqual([])
          }
          // HEAD: the GET's head, no body.
          const head = yield* request(port, "HEAD", "/pc/app.js", ae("br"))
          expect(head.body.length).toBe(0)
          expect(header(head, "content-encoding")).toEqual(["br"])
          expect(header(head, "content-length")).toEqual(["8"])
          expect(header(head, "vary")).toEqual(["Accept-Encoding"])
          // ETags differ per coding; If-None-Match matches only its own coding; 304 keeps Vary.
          const tags = new Set<string>()
          for (const accept of ["br", "gzip", "identity"]) {
            tags.add(header(yield* request(port, "GET", "/pc/app.js", ae(accept)), "etag")[0]!)
          }
          expect(tags.size).toBe(3)
          const brTag = header(yield* request(port, "GET", "/pc/app.js", ae("br")), "etag")[0]!
          const notModified = yield* request(port, "GET", "/pc/app.js", [...ae("br"), `If-None-Match: ${brTag}`])
          expect(notModified.status).toBe(304)
          expect(header(notModified, "etag")).toEqual([brTag])
          expect(header(notModified, "vary")).toEqual(["Accept-Encoding"])
          const other = yield* request(port, "GET", "/pc/app.js", [...ae("gzip"), `If-None-Match: ${brTag}`])
          expect(other.status).toBe(200)
          expect(other.body.toString()).toBe("GZIP-BYTES!")
          // Ranges apply to the compressed bytes.
          const partial = yield* request(port, "GET", "/pc/app.js", [...ae("br"), "Range: bytes=0-1"])
          expect(partial.status).toBe(206)
          expect(partial.body.toString()).toBe("BR")
          expect(header(partial, "content-range")).toEqual(["bytes 0-1/8"])
          expect(header(partial, "content-encoding")).toEqual(["br"])
        }
        // A sibling removed: the next answer is the file itself, without Vary (no stale cached variant).
        expect((yield* request(port, "GET", "/pc/gone.txt", ae("br"))).body.toString()).toBe("GONE-BR")
        NodeFs.renameSync(Path.join(root, "pc", "gone.txt.br"), Path.join(root, "pc", "gone.tmp"))
        const after = yield* request(port, "GET", "/pc/gone.txt", ae("br"))
        expect(after.body.toString()).toBe("GONE-PLAIN")
        expect(header(after, "vary")).toEqual([])
        NodeFs.renameSync(Path.join(root, "pc", "gone.tmp"), Path.join(root, "pc", "gone.txt.br"))
      }
    }))

  it.scopedLive("off by default; with followSymlinks: false a sibling linking outside is ignored", () =>
    Effect.gen(function*() {
      const { base, root } = yield* makeTree
      siblingTree(root)
      NodeFs.symlinkSync(Path.join(base, "outside.txt"), Path.join(root, "pc", "none.txt.br"))
      for (const cache of bothCaches) {
        const off = yield* start({ directory: root, cache })
        const plain = yield* request(off.address.port, "GET", "/pc/app.js", ae("br, gzip"))
        expect(plain.body.toString()).toBe("PLAIN-JAVASCRIPT-BODY")
        expect(header(plain, "vary")).toEqual([])
        expect(header(plain, "content-encoding")).toEqual([])
        const confined = yield* start({ directory: root, cache, precompressed: true, followSymlinks: false })
        for (let i = 0; i < 2; i++) {
          const res = yield* request(confined.address.port, "GET", "/pc/none.txt", ae("br"))
          expect(res.body.toString()).toBe("NONE")
          expect(header(res, "content-encoding")).toEqual([])
        }
        // Followed by default, as any link.
        const open = yield* start({ directory: root, cache, precompressed: true })
        expect((yield* request(open.address.port, "GET", "/pc/none.txt", ae("br"))).body.toString()).toBe("OUTSIDE-SECRET\n")
      }
    }))

  it("the CLI flag maps to the option (and takes no value)", () =>
    Effect.gen(function*() {
      expect(Cli.normalizeArgs(["--precompressed", "0"])).toEqual(["--precompressed=true", "0"])
      const raw = rawOptions({ port: 0, precompressed: true })
      const on = yield* Cli.validate(raw, "/", (_, to) => to)
      expect(Cli.staticFilesOptions(on).precompressed).toBe(true)
      const off = yield* Cli.validate({ ...raw, precompressed: false }, "/", (_, to) => to)
      expect(Cli.staticFilesOptions(off).precompressed).toBeUndefined()
    }).pipe(Effect.runPromise))
})

describe("--upload / upload", () => {
  const put = (port: number, target: string, body: string | undefined, headers: ReadonlyArray<string> = []) =>
    Effect.map(
      sendRaw({
        port,
        chunks: [
          `PUT ${target} HTTP/1.0\r\n${body === undefined ? "" : `Content-Length: ${Buffer.byteLength(body)}\r\n`}` +
          `${headers.map((h) => h + "\r\n").join("")}\r\n${body ?? ""}`
        ],
        timeoutMs: 5000
      }),
      (ex) => {
        expect(ex.responses.length).toBe(1)
        return ex.responses[0]!
      }
    )
  const temps = (dir: string): Array<string> =>
    NodeFs.readdirSync(dir, { recursive: true }).map(String).filter((name) => name.includes(".effect-httpd-upload-"))
  const read = (file: string) => NodeFs.readFileSync(file, "utf8")

  it.scopedLive("201 with Location for a new file, 204 when replaced; GET then serves it (cache on and off)", () =>
    Effect.gen(function*() {
      const { root } = yield* makeTree
      for (const cache of bothCaches) {
        const server = yield* start({ directory: root, cache, upload: true })
        const port = server.address.port
        const name = `new-${cache}.txt`
        const created = yield* put(port, `/sub/${name}?q=1`, "first body")
        expect(created.status).toBe(201)
        expect(header(created, "location")).toEqual([`/sub/${name}`])
        expect(read(Path.join(root, "sub", name))).toBe("first body")
        expect((yield* request(port, "GET", `/sub/${name}`)).body.toString()).toBe("first body")
        const replaced = yield* put(port, `/sub/${name}`, "second, longer body")
        expect(replaced.status).toBe(204)
        expect(replaced.body.length).toBe(0)
        expect((yield* request(port, "GET", `/sub/${name}`)).body.toString()).toBe("second, longer body")
        const empty = yield* put(port, `/sub/${name}`, "")
        expect(empty.status).toBe(204)
        expect(read(Path.join(root, "sub", name))).toBe("")
        expect(temps(root)).toEqual([])
      }
    }))

  it.scopedLive("traversal stays inside the root; links on the way or as target → 403; directories and missing parents → 409", () =>
    Effect.gen(function*() {
      const { base, root } = yield* makeTree
      NodeFs.symlinkSync(Path.join(base, "outdir"), Path.join(root, "linkdir"))
      NodeFs.symlinkSync(Path.join(base, "outside.txt"), Path.join(root, "linkfile"))
      NodeFs.symlinkSync(Path.join(base, "nothing-here.txt"), Path.join(root, "dangling"))
      NodeFs.symlinkSync(root, Path.join(root, "sub", "loop"))
      for (const cache of bothCaches) {
        const server = yield* start({ directory: root, cache, upload: { maxBytes: 1000 } })
        const port = server.address.port
        for (const [target, file] of [["/../t1.txt", "t1.txt"], ["/%2e%2e/t2.txt", "t2.txt"], ["/sub%2f..%2f..%2ft3.txt", "t3.txt"], ["/..%2f..%2ft4.txt", "t4.txt"]] as const) {
          const res = yield* put(port, target, "in")
          expect(res.status, target).toBeLessThan(300)
          expect(read(Path.join(root, file))).toBe("in")
          expect(NodeFs.existsSync(Path.join(base, file))).toBe(false)
          NodeFs.rmSync(Path.join(root, file))
        }
        const refused: ReadonlyArray<readonly [string, number]> = [
          ["/linkdir/new.txt", 403],
          ["/linkfile", 403],
          ["/dangling", 403],
          ["/sub/loop/file.txt", 403],
          ["/sub", 409],
          ["/sub/", 409],
          ["/", 409],
          ["/missing/x.txt", 409],
          ["/file.txt/x", 409]
        ]
        for (const [target, status] of refused) {
          const res = yield* put(port, target, "EVIL")
          expect(res.status, target).toBe(status)
        }
        expect(NodeFs.readdirSync(Path.join(base, "outdir"))).toEqual(["x.txt"])
        expect(read(Path.join(base, "outside.txt"))).toBe("OUTSIDE-SECRET\n")
        expect(NodeFs.existsSync(Path.join(base, "nothing-here.txt"))).toBe(false)
        expect(read(Path.join(root, "file.txt"))).toBe("0123456789")
        expect(NodeFs.lstatSync(Path.join(root, "linkfile")).isSymbolicLink()).toBe(true)
        expect(temps(base)).toEqual([])
      }
    }))

  it.scopedLive("411 without a length, 413 over the cap (declared, chunked, Expect: 100-continue); off → 501", () =>
    Effect.gen(function*() {
      const { root } = yield* makeTree
      for (const cache of bothCaches) {
        const server = yield* start({ directory: root, cache, upload: { maxBytes: 10 } })
        const port = server.address.port
        expect((yield* put(port, "/a.bin", undefined)).status).toBe(411)
        expect((yield* put(port, "/a.bin", "x".repeat(11))).status).toBe(413)
        expect((yield* put(port, "/a.bin", "x".repeat(10))).status).toBe(201)
        const chunked = yield* sendRaw({
          port,
          chunks: [
            "PUT /b.bin HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
            "8\r\n12345678\r\n",
            "8\r\n12345678\r\n0\r\n\r\n"
          ],
          delayBetweenChunksMs: 20,
          timeoutMs: 5000
        })
        expect(chunked.responses[0]!.status).toBe(413)
        const chunkedOk = yield* sendRaw({
          port,
          chunks: ["PUT /c.bin HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n4\r\nabcd\r\n0\r\n\r\n"],
          timeoutMs: 5000
        })
        expect(chunkedOk.responses[0]!.status).toBe(201)
        expect(read(Path.join(root, "c.bin"))).toBe("abcd")
        const expect100 = yield* sendRaw({
          port,
          chunks: ["PUT /d.bin HTTP/1.1\r\nHost: localhost\r\nContent-Length: 50\r\nExpect: 100-continue\r\n\r\n"],
          until: { responses: 1 },
          timeoutMs: 5000
        })
        expect(expect100.responses[0]!.status).toBe(413)
        expect(NodeFs.existsSync(Path.join(root, "b.bin"))).toBe(false)
        expect(NodeFs.existsSync(Path.join(root, "d.bin"))).toBe(false)
        expect(temps(root)).toEqual([])
        NodeFs.rmSync(Path.join(root, "a.bin"))
        NodeFs.rmSync(Path.join(root, "c.bin"))
        const cors = yield* start({ directory: root, cache, cors: true, upload: true })
        const preflight = yield* request(cors.address.port, "OPTIONS", "/e.bin", ["Origin: http://a.example", "Access-Control-Request-Method: PUT"])
        // Without --basic-auth a preflight never allows PUT (issue 12, item 8): any page could write files.
        expect(header(preflight, "access-control-allow-methods")).toEqual(["GET, HEAD, OPTIONS"])
        const off = yield* start({ directory: root, cache })
        expect((yield* put(off.address.port, "/e.bin", "data")).status).toBe(501)
        expect(NodeFs.existsSync(Path.join(root, "e.bin"))).toBe(false)
      }
    }))

  it.scopedLive("a client reset mid-upload leaves no temporary file and no partial target; basic auth guards PUT", () =>
    Effect.gen(function*() {
      const { root } = yield* makeTree
      NodeFs.writeFileSync(Path.join(root, "kept.txt"), "KEPT")
      const server = yield* start({ directory: root, upload: true, basicAuth: { user: "u", password: "p" } })
      const port = server.address.port
      const auth = `Authorization: Basic ${Buffer.from("u:p").toString("base64")}`
      expect((yield* put(port, "/anon.txt", "x")).status).toBe(401)
      expect(NodeFs.existsSync(Path.join(root, "anon.txt"))).toBe(false)
      expect((yield* put(port, "/authed.txt", "x", [auth])).status).toBe(201)
      for (const target of ["partial.txt", "kept.txt"]) {
        const socket = Net.connect(port, "127.0.0.1")
        yield* Effect.async<void>((resume) => void socket.once("connect", () => resume(Effect.void)))
        socket.write(`PUT /${target} HTTP/1.0\r\nContent-Length: 1000000\r\n${auth}\r\n\r\n` + "y".repeat(4096))
        // Wait until the temporary file holds some of the body, then reset.
        for (let i = 0; i < 200 && temps(root).length === 0; i++) yield* Effect.sleep("10 millis")
        expect(temps(root).length).toBe(1)
        socket.resetAndDestroy()
        for (let i = 0; i < 200 && temps(root).length > 0; i++) yield* Effect.sleep("10 millis")
        expect(temps(root)).toEqual([])
      }
      expect(NodeFs.existsSync(Path.join(root, "partial.txt"))).toBe(false)
      expect(read(Path.join(root, "kept.txt"))).toBe("KEPT")
    }))

  it("the library refuses upload with CGI and an invalid cap when the handler is built", async () => {
    const cgi = await Cgi.make({ upload: true }).pipe(
      Effect.provide(Layer.merge(NodeContext.layer, MimeTypes.layerWithoutFiles())),
      Effect.runPromiseExit
    )
    expect(Exit.isFailure(cgi) && String(cgi.cause)).toMatch(/upload option cannot be combined with CGI/)
    const cap = await StaticFiles.make({ upload: { maxBytes: -1 } }).pipe(
      Effect.provide(Layer.merge(NodeContext.layer, MimeTypes.layerWithoutFiles())),
      Effect.runPromiseExit
    )
    expect(Exit.isFailure(cap) && String(cap.cause)).toMatch(/upload.maxBytes must be a non-negative integer/)
  })

  it("the CLI: --upload-max-bytes needs --upload; --upload refuses --cgi; the cap maps to the option", () =>
    Effect.gen(function*() {
      for (const [args, message] of [[["--upload-max-bytes", "5", "0"], /requires --upload/], [["--upload", "--cgi", "0"], /cannot be combined with --cgi/], [["--upload", "--upload-max-bytes", "-1", "0"], /invalid size/]] as const) {
        const error = yield* Effect.flip(Cli.run(["node", "effect-httpd", ...args]).pipe(Effect.provide(NodeContext.layer)))
        expect(error.exitCode, args.join(" ")).toBe(2)
        expect(error.message).toMatch(message)
      }
      expect(Cli.normalizeArgs(["--upload", "0"])).toEqual(["--upload=true", "0"])
      const raw = rawOptions({ port: 0, upload: true })
      const byDefault = yield* Cli.validate(raw, "/", (_, to) => to)
      expect(Cli.staticFilesOptions(byDefault).upload).toEqual({ maxBytes: 100 * 1024 * 1024 })
      const capped = yield* Cli.validate({ ...raw, uploadMaxBytes: Option.some(5) }, "/", (_, to) => to)
      expect(Cli.staticFilesOptions(capped).upload).toEqual({ maxBytes: 5 })
      const off = yield* Cli.validate({ ...raw, upload: false }, "/", (_, to) => to)
      expect(Cli.staticFilesOptions(off).upload).toBeUndefined()
    }).pipe(Effect.runPromise))
})

// `--help` as the user sees it (in process), for the options of this file.
const help = cliOutput("--help")

describe("--help", () => {
  it("documents every opt-in option with an example", () =>
    Effect.gen(function*() {
      const text = yield* help
      const options = text.slice(text.indexOf("OPTIONS"))
      for (
        const option of [
          "--index-page",
          "--header",
          "--color-scheme",
          "--cors",
          "--cache-control",
          "--no-dotfiles",
          "--no-follow-symlinks",
          "--json-listing",
          "--spa",
          "--basic-auth",
          "--basic-auth-insecure",
          "--precompressed",
          "--upload",
          "--upload-max-bytes",
          "--compress",
          "--compress-min-bytes",
          "--rich-listing"
        ]
      ) {
        const at = options.indexOf(option)
        expect(at, option).toBeGreaterThan(0)
        const described = options.slice(at, options.indexOf("This setting", at))
        expect(described, option).toContain(`Example: ${option === "--header" ? "-H" : option}`)
      }
    }).pipe(Effect.runPromise))
})
