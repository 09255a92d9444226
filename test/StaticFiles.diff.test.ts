/**
 * Differential test: the same raw HTTP/1.0 requests go to `python3 -m http.server` (CPython 3.11) and to our
 * server with `StaticFiles.layer({ pythonCompat: true })`, both serving one fixture tree; status line, headers
 * (Date and Server masked) and body must be identical byte for byte.
 *
 * DIFFERENCES (deliberate; asserted separately at the end of this file):
 * 1. A NUL (`%00`) or an encoded surrogate that is not one of surrogateescape's (`%ED%A0%80`) in the path:
 *    Python's `open()` raises ValueError/UnicodeEncodeError, the request dies and the connection closes with no
 *    response at all; we answer 404 "File not found" (with a trailing slash Python answers that 404 too).
 * 2. Such a surrogate in a listing's query (`/dir/?%ED%A0%80`): Python's `encode('utf-8', 'surrogateescape')`
 *    raises and the connection closes with no response; we list the directory and show U+FFFD.
 * 3. Names that differ only by case (`cases/`): Python keeps `os.listdir`'s order for them (the file system's
 *    hash order), we keep Node's `readdir` order (sorted by code unit). Both sort by `str.lower()` first, so
 *    only the order within such a group differs.
 * 4. An absolute-form target (`GET http://localhost/hello.txt`): Python looks for a file named after the whole URL
 *    (404); we serve its path, as RFC 9112 §3.2.2 requires of servers.
 * 5. A raw backslash in a directory redirect is sent as `%5C` (browsers read `\` as `/`: an open redirect).
 * 6. The asterisk form (`GET *`): Python looks for a file named `*` (404 here); we answer 400, as RFC 9112 §3.2.4
 *    keeps it for OPTIONS (so `PUT *` cannot write a file `*`).
 * Not exercised here: non-UTF-8 file names (compared with Python in test/UndecodableNames.test.ts), FIFOs/devices,
 * HEAD on an unreadable file (the tests run as root, which can open anything).
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { describe, expect, layer } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as AccessLog from "../src/AccessLog.js"
import { MimeTypes } from "../src/MimeTypes.js"
import * as Server from "../src/Server.js"
import * as StaticFiles from "../src/StaticFiles.js"
import { buildStaticTree, FILES, SYMLINKS } from "./fixtures/staticTree.js"
import { normalizeForDiff } from "./support/compare.js"
import { pythonHttpServer } from "./support/pythonServer.js"
import { type RawExchange, sendRaw } from "./support/rawClient.js"

class Servers extends Context.Tag("test/Servers")<Servers, {
  readonly root: string
  readonly python: number
  readonly ours: number
  /** The same pair speaking HTTP/1.1 (keep-alive). */
  readonly python11: number
  readonly ours11: number
}>() {}

const ServersLive = Layer.scoped(
  Servers,
  Effect.gen(function*() {
    const root = yield* buildStaticTree
    const python = yield* pythonHttpServer({ directory: root })
    const python11 = yield* pythonHttpServer({ directory: root, protocol: "HTTP/1.1" })
    const handlers = Layer.mergeAll(
      StaticFiles.layer({ directory: root, pythonCompat: true }).pipe(
        Layer.provide(Layer.mergeAll(NodeContext.layer, MimeTypes.layer().pipe(Layer.provide(NodeContext.layer))))
      ),
      AccessLog.layerSilent
    )
    const server = yield* Server.make({ port: 0 }).pipe(Effect.provide(handlers))
    const server11 = yield* Server.make({ port: 0, protocolVersion: "HTTP/1.1" }).pipe(Effect.provide(handlers))
    return { root, python: python.port, ours: server.address.port, python11: python11.port, ours11: server11.address.port }
  })
).pipe(Layer.provide(NodeContext.layer))

/** Percent-encodes each segment (any valid encoding will do: both servers get the same bytes). */
const url = (relative: string): string => "/" + relative.split("/").map(encodeURIComponent).join("/")

const request = (method: string, target: string, headers: ReadonlyArray<string> = []): string =>
  `${method} ${target} HTTP/1.0\r\n${headers.map((h) => h + "\r\n").join("")}\r\n`

const exchange = (port: number, raw: string, head: boolean): Effect.Effect<RawExchange, unknown> =>
  sendRaw({ port, chunks: [raw], headRequests: [head], timeoutMs: 10_000 })

const normalized = (ex: RawExchange) => ({
  responses: ex.responses.map((r) => normalizeForDiff(r)),
  rest: ex.rest.toString("latin1"),
  closedByServer: ex.closedByServer
})

interface Case {
  readonly name: string
  readonly raw: string
  readonly head?: boolean
}

const LM = "Thu, 04 Mar 2021 05:06:07 GMT"
const fileNames = Object.keys(FILES)
const directories = [
  "",
  "dir",
  "dir/sub",
  "dir/sub/deeper",
  "dir/emptysub",
  "dir with space",
  "%41dir",
  "withindex",
  "withindexhtm",
  "bothindex",
  "indexisdir",
  "indexisdir/index.html",
  "emptydir",
  "link-to-dir",
  "linkindex",
  "withindex/index-link-dir"
]

const cases: Array<Case> = []
for (const name of fileNames) {
  cases.push({ name: `GET ${name}`, raw: request("GET", url(name)) })
  cases.push({ name: `HEAD ${name}`, raw: request("HEAD", url(name)), head: true })
}
for (const name of Object.keys(SYMLINKS)) {
  cases.push({ name: `GET link ${name}`, raw: request("GET", url(name)) })
  cases.push({ name: `GET link ${name}/`, raw: request("GET", url(name) + "/") })
}
for (const dir of directories) {
  const base = dir === "" ? "" : url(dir)
  cases.push({ name: `GET dir ${dir}/`, raw: request("GET", base + "/") })
  cases.push({ name: `HEAD dir ${dir}/`, raw: request("HEAD", base + "/"), head: true })
  if (dir !== "") {
    cases.push({ name: `GET dir ${dir} (redirect)`, raw: request("GET", base) })
    cases.push({ name: `HEAD dir ${dir} (redirect)`, raw: request("HEAD", base), head: true })
  }
}
const raw = (name: string, target: string, headers: ReadonlyArray<string> = []) =>
  cases.push({ name, raw: request("GET", target, headers) })

// Redirects keep the query and fragment the way urlsplit/urlunsplit do (an empty one is dropped).
for (const target of ["/dir?x=1", "/dir?x=1#frag", "/dir?", "/dir#", "/dir#frag", "/dir?a=%2F&b=<>", "/dir%2f", "/dir/sub?q", "/dir%20with%20space?x"]) {
  raw(`redirect ${target}`, target)
}
// Listing titles come from the unquoted request path, query included.
for (
  const target of [
    "/dir/?q=<b>&x=1",
    "/dir/?%ED%B2%80",
    "/dir/?%ff",
    "/dir/?%C3%A9%e2%82%ac",
    "/dir/#frag",
    "/dir/?a%",
    "/%41dir/",
    "/dir/./",
    "/dir//",
    "/dir/sub/../"
  ]
) raw(`listing ${target}`, target)
// If-Modified-Since: Python's lenient parser, UTC only, whole seconds.
for (
  const ims of [
    LM,
    "Thu, 04 Mar 2021 05:06:06 GMT",
    "Thu, 04 Mar 2021 05:06:08 GMT",
    "Sat, 01 Jan 2050 00:00:00 GMT",
    "Sat, 01 Jan 2000 00:00:00 GMT",
    "garbage",
    "",
    "Thu, 04 Mar 2021 05:06:07 +0200",
    "Thu, 04 Mar 2021 05:06:07 -0200",
    "Thu, 04 Mar 2021 05:06:07 -0000",
    "Thu, 04 Mar 2021 05:06:07 +0000",
    "Thu, 04 Mar 2021 05:06:07",
    "Thu, 04 Mar 2021 05:06:07 Z",
    "Thu, 04 Mar 2021 05:06:07 UT",
    "Thu, 04 Mar 2021 05:06:07 EST",
    "Thu, 04 Mar 2021 05:06:07 XYZ",
    "Thursday, 04-Mar-21 05:06:07 GMT",
    "Thu Mar  4 05:06:07 2021",
    "Thu, 31 Feb 2021 00:00:00 GMT",
    "Thu, 04 Mar 2021 24:00:00 GMT",
    "Thu, 04 Mar 2021 05:06:60 GMT",
    "04 Mar 2021 05:06:07 GMT",
    "Thu, 04 Mar 21 05:06:07 GMT",
    "Thu, 04 Mar 69 05:06:07 GMT",
    "Thu, 4 Mar 2021 5:6:7 GMT",
    "Thu, 04 Mar 2021 05.06.07 GMT",
    "Thu, 04 Mar 2021 05:06 GMT",
    "Thu, 04 Mar 2021 05:06:07 +00_00",
    "Thu, 04 March 2021 05:06:07 GMT",
    "Thu,04 Mar 2021 05:06:07 GMT",
    "Mar 04 2021 05:06:07 GMT",
    "Thu, 04 Mar 2021, 05:06:07 GMT",
    "Thu, 04 Mar 10000 05:06:07 GMT",
    "Thu, 04 Xyz 2021 05:06:07 GMT"
  ]
) {
  raw(`If-Modified-Since: ${ims}`, "/hello.txt", [`If-Modified-Since: ${ims}`])
}
raw("IMS with If-None-Match present", "/hello.txt", ["If-Modified-Since: Sat, 01 Jan 2050 00:00:00 GMT", "If-None-Match: *"])
raw("IMS on a listing", "/dir/", ["If-Modified-Since: Sat, 01 Jan 2050 00:00:00 GMT"])
raw("IMS on an index page", "/withindex/", ["If-Modified-Since: Sat, 01 Jan 2050 00:00:00 GMT"])
raw("IMS on a large file", "/big.bin", ["If-Modified-Since: Sat, 01 Jan 2050 00:00:00 GMT"])
raw("IMS twice (first wins)", "/hello.txt", ["If-Modified-Since: garbage", "If-Modified-Since: Sat, 01 Jan 2050 00:00:00 GMT"])
raw("Range ignored in Python mode", "/hello.txt", ["Range: bytes=0-3"])
cases.push({
  name: "HEAD with IMS",
  raw: request("HEAD", "/hello.txt", ["If-Modified-Since: Sat, 01 Jan 2050 00:00:00 GMT"]),
  head: true
})
// Traversal and odd paths: nothing may leave the root.
for (
  const target of [
    "/../",
    "/..",
    "/../../../../etc/passwd",
    "/%2e%2e/%2e%2e/etc/passwd",
    "/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
    "/dir/..%2f..%2f..%2fetc%2fpasswd",
    "/..\\..\\etc\\passwd",
    "/dir\\..\\hello.txt",
    "//etc/passwd",
    "///etc/passwd",
    "//dir",
    "/./hello.txt",
    "/dir/../hello.txt",
    "/dir/./nested.txt",
    "/dir//nested.txt",
    "/%2fetc%2fpasswd",
    "/.%2e/hello.txt",
    "/hello.txt/",
    "/hello.txt/.",
    "/missing.txt",
    "/dir/missing/",
    "/" + "a".repeat(300),
    "/" + "a/".repeat(2000),
    "/" + "n".repeat(250) + ".tx%74",
    "/%ff",
    "/%ED%B3%BF",
    "/%ED%B3%BF/",
    "/%00/",
    "/%ED%A0%80/",
    "/%zz",
    "/%",
    "/100%.txt",
    "/100%25.txt",
    "/%41.txt",
    "/%2541.txt",
    "/hello.txt?query",
    "/hello.txt#frag",
    "/hello.txt?a#b",
    "/hel%6co.txt",
    "/HELLO.TXT",
    "/%C3%BCn%C3%AFc%C3%B6d%C3%A9.txt",
    "/\xc3\xbcn\xc3\xafc\xc3\xb6d\xc3\xa9.txt",
    "/\xfcn\xefc\xf6d\xe9.txt",
    "/hello.txt%20",
    "/emoji%F0%9F%98%80.txt",
    "/emoji%F0%9F%98.txt",
    "/question%3F.txt",
    "/hash%23.txt"
  ]
) raw(`path ${JSON.stringify(target.length > 60 ? `${target.slice(0, 30)}…(${target.length} chars)` : target)}`, target)
// The engine's part of the contract, seen through this handler.
cases.push({ name: "POST a file (501)", raw: request("POST", "/hello.txt", ["Content-Length: 0"]) })
cases.push({ name: "lower-case get (501)", raw: request("get", "/hello.txt") })

layer(ServersLive, { excludeTestServices: true, timeout: 60_000 })("StaticFiles vs python3 -m http.server", (it) => {
  for (const c of cases) {
    it.effect(c.name, () =>
      Effect.gen(function*() {
        const { ours, python } = yield* Servers
        const [theirs, mine] = yield* Effect.all([
          exchange(python, c.raw, c.head === true),
          exchange(ours, c.raw, c.head === true)
        ], { concurrency: 2 })
        expect(theirs.responses.length).toBe(1)
        expect(normalized(mine)).toEqual(normalized(theirs))
      }))
  }

  it.effect("HTTP/1.1 keep-alive: one connection, pipelined requests, same framing and same close", () =>
    Effect.gen(function*() {
      const { ours11, python11 } = yield* Servers
      const steps: ReadonlyArray<readonly [string, string, ReadonlyArray<string>]> = [
        ["GET", "/hello.txt", []],
        ["HEAD", "/dir/", []],
        ["GET", "/dir", []],
        ["GET", "/hello.txt", ["If-Modified-Since: Sat, 01 Jan 2050 00:00:00 GMT"]],
        ["GET", "/big.bin", []],
        ["GET", "/dir/", []],
        ["HEAD", "/big.bin", []],
        ["GET", "/empty.txt", []],
        ["GET", "/missing", []],
        ["GET", "/hello.txt", []]
      ]
      const raw = steps.map(([method, target, headers]) =>
        `${method} ${target} HTTP/1.1\r\nHost: localhost\r\n${headers.map((h) => h + "\r\n").join("")}\r\n`
      ).join("")
      const heads = steps.map(([method]) => method === "HEAD")
      const run = (port: number) => sendRaw({ port, chunks: [raw], headRequests: heads, timeoutMs: 10_000 })
      const [theirs, mine] = yield* Effect.all([run(python11), run(ours11)], { concurrency: 2 })
      // Python closes after the 404 (send_error), so the last request is never answered.
      expect(theirs.responses.map((r) => r.status)).toEqual([200, 200, 301, 304, 200, 200, 200, 200, 404])
      expect(normalized(mine)).toEqual(normalized(theirs))
    }))

  describe("DIFFERENCES", () => {
    for (const target of ["/hello.txt%00", "/%00", "/%ED%A0%80", "/dir/%ED%A0%80"]) {
      it.effect(`${JSON.stringify(target)}: python drops the connection, we answer 404`, () =>
        Effect.gen(function*() {
          const { ours, python } = yield* Servers
          const theirs = yield* exchange(python, request("GET", target), false)
          const mine = yield* exchange(ours, request("GET", target), false)
          expect(theirs.bytes.length).toBe(0)
          expect(theirs.closedByServer).toBe(true)
          expect(mine.responses.map((r) => r.statusLine)).toEqual(["HTTP/1.0 404 File not found"])
        }))
    }

    it.effect("a listing title with %ED%A0%80: python drops the connection, we show U+FFFD", () =>
      Effect.gen(function*() {
        const { ours, python } = yield* Servers
        const theirs = yield* exchange(python, request("GET", "/dir/?%ED%A0%80"), false)
        const mine = yield* exchange(ours, request("GET", "/dir/?%ED%A0%80"), false)
        expect(theirs.bytes.length).toBe(0)
        const body = mine.responses[0]!.body.toString("utf8")
        expect(mine.responses[0]!.status).toBe(200)
        expect(body).toContain("<title>Directory listing for /dir/?\uFFFD</title>")
      }))

    it.effect("asterisk form: python looks for a file '*' (404), we answer 400", () =>
      Effect.gen(function*() {
        const { ours, python } = yield* Servers
        expect((yield* exchange(python, request("GET", "*"), false)).responses[0]!.status).toBe(404)
        expect((yield* exchange(ours, request("GET", "*"), false)).responses[0]!.status).toBe(400)
      }))

    it.effect("absolute-form: python answers 404, we serve the path", () =>
      Effect.gen(function*() {
        const { ours, python } = yield* Servers
        const theirs = yield* exchange(python, request("GET", "http://localhost/hello.txt"), false)
        const mine = yield* exchange(ours, request("GET", "http://localhost/hello.txt"), false)
        expect(theirs.responses[0]!.status).toBe(404)
        const plain = yield* exchange(ours, request("GET", "/hello.txt"), false)
        expect(mine.responses[0]!.status).toBe(200)
        expect(mine.responses[0]!.body).toEqual(plain.responses[0]!.body)
      }))

    it.effect("names equal but for case: Python's order (the directory's, through opendir)", () =>
      Effect.gen(function*() {
        const { ours, python } = yield* Servers
        const theirs = yield* exchange(python, request("GET", "/cases/"), false)
        const mine = yield* exchange(ours, request("GET", "/cases/"), false)
        const items = (ex: RawExchange) => ex.responses[0]!.body.toString("utf8").match(/<li>.*<\/li>/g) ?? []
        expect(items(mine)).toEqual(items(theirs))
        // Everything but the list is identical.
        const strip = (ex: RawExchange) => normalizeForDiff(ex.responses[0]!).body.replace(/<li>.*<\/li>\n/g, "")
        expect(strip(mine)).toBe(strip(theirs))
      }))
  })
})
