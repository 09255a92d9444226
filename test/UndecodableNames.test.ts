/**
 * Issue 14, item 3: file names that are not valid UTF-8, listed and served as Python 3.11 lists and serves them
 * (`os.listdir` gives `'\udce9'` for the byte 0xE9, the listing links `%ED%B3%A9` through
 * `quote(errors='surrogatepass')` and shows the raw byte through `encode('utf-8', 'surrogateescape')`, and
 * `translate_path` maps `%ED%B3%A9` back to the byte).
 *
 * (a) CPython's own `test_undecodable_filename` (Lib/test/test_httpservers.py, 3.11), its body run by python3
 *     against our server; (b) byte-for-byte comparisons with `python3 -m http.server` on the same directory;
 * (c) the JSON and rich listings, archives, uploads, ranges and validators, with and without the response cache
 *     and the verified-open options; (d) a traversal battery of encodings that must never leave the root.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { execFile } from "node:child_process"
import * as NodeFs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Zlib from "node:zlib"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as FileSystem from "@effect/platform/FileSystem"
import * as StaticFiles from "../src/StaticFiles.js"
import { underCgiDirectory } from "../src/internal/cgiGate.js"
import { fsDecode, fsPath } from "../src/internal/osPath.js"
import { normalizeForDiff } from "./support/compare.js"
import { pythonHttpServer } from "./support/pythonServer.js"
import { type ParsedResponse, sendRaw } from "./support/rawClient.js"
import { ensureBuilt, start as startCli } from "./support/cliProcess.js"
import { headerValues, request, startStatic } from "./support/staticServer.js"

const bytes = (s: string): Buffer => Buffer.from(s, "latin1")
const join = (dir: Buffer, name: Buffer): Buffer => Buffer.concat([dir, bytes("/"), name])

/** The tree: names that are not UTF-8 beside ones that are, a directory so named, and a secret beside the root. */
const makeTree = Effect.acquireRelease(
  Effect.sync(() => {
    const base = NodeFs.realpathSync(NodeFs.mkdtempSync(Path.join(Os.tmpdir(), "effect-httpd-names-")))
    const root = Buffer.from(Path.join(base, "public"))
    NodeFs.mkdirSync(root)
    NodeFs.writeFileSync(Path.join(base, "secret.txt"), "SECRET\n")
    NodeFs.writeFileSync(join(root, bytes("latin1-\xe9.txt")), "latin-1 named\n")
    NodeFs.writeFileSync(join(root, bytes("caf\xc3\xa9.txt")), "utf-8 named\n")
    // The UTF-8 form of a surrogate (not valid UTF-8 either), and a valid name holding U+FFFD itself.
    NodeFs.writeFileSync(join(root, bytes("sur-\xed\xb3\xa9.txt")), "encoded surrogate\n")
    NodeFs.writeFileSync(join(root, bytes("repl-\xef\xbf\xbd.txt")), "replacement char\n")
    NodeFs.writeFileSync(join(root, bytes("0123456789-\xff\xfe.bin")), "0123456789")
    NodeFs.writeFileSync(join(root, bytes(".hidden-\xe9")), "dot\n")
    const dir = join(root, bytes("dir-\xff"))
    NodeFs.mkdirSync(dir)
    NodeFs.writeFileSync(join(dir, bytes("inner-\xe9.txt")), "inner\n")
    NodeFs.mkdirSync(join(dir, bytes("sub-\xe9")))
    NodeFs.mkdirSync(join(root, bytes("idx-\xe9")))
    NodeFs.writeFileSync(join(root, bytes("idx-\xe9/index.html")), "<p>index</p>\n")
    NodeFs.symlinkSync(bytes("latin1-\xe9.txt"), join(root, bytes("link-\xe9")))
    NodeFs.symlinkSync(Path.join(base, "secret.txt"), join(root, bytes("out-\xe9")))
    // For the traversal battery: served on its own, with the secrets one and two levels up.
    const plain = join(root, bytes("plain"))
    NodeFs.mkdirSync(plain)
    NodeFs.writeFileSync(join(root, bytes("secret.txt")), "SECRET one level up\n")
    NodeFs.mkdirSync(join(plain, bytes("sub-\xe9")))
    NodeFs.writeFileSync(join(plain, bytes("\xef")), "the byte 0xEF\n")
    return { base, root: root.toString() }
  }),
  ({ base }) => Effect.sync(() => NodeFs.rmSync(base, { recursive: true, force: true }))
)

const get = (port: number, target: string, headers: ReadonlyArray<string> = [], method = "GET") =>
  request(port, method, target, headers)

const body = (response: ParsedResponse): string => response.body.toString("latin1")

/** Both caches, with and without the verified-open options (`followSymlinks: false` and `hideDotfiles`). */
const variants: ReadonlyArray<StaticFiles.StaticFilesOptions> = [
  { pythonCompat: true },
  { pythonCompat: true, cache: false },
  { pythonCompat: true, followSymlinks: false, hideDotfiles: true },
  { pythonCompat: true, followSymlinks: false, hideDotfiles: true, cache: false }
]

describe("names that are not UTF-8 (issue 14, item 3)", () => {
  it.scopedLive("(a) CPython's test_undecodable_filename passes against our server", () =>
    Effect.gen(function*() {
      const { base } = yield* makeTree
      // As in CPython's SimpleHTTPServerTestCase: the server serves the temporary directory's parent and the
      // test's base_url is "/" + the directory's name.
      const tempdir = NodeFs.mkdtempSync(Path.join(base, "public", "cpython-"))
      const server = yield* startStatic({ directory: Path.dirname(tempdir), pythonCompat: true })
      const result = yield* runPython(CPYTHON_TEST, [String(server.address.port), tempdir])
      expect(result).toEqual({ code: 0, stderr: "" })
    }))

  it.scopedLive("(b) the listing page and the file's answer are Python's, byte for byte", () =>
    Effect.gen(function*() {
      const { root } = yield* makeTree
      const python = yield* pythonHttpServer({ directory: root })
      const targets = [
        "/",
        "/latin1-%ED%B3%A9.txt",
        "/sur-%ED%B3%AD%ED%B2%B3%ED%B2%A9.txt",
        "/repl-%EF%BF%BD.txt",
        "/dir-%ED%B3%BF",
        "/dir-%ED%B3%BF/",
        "/dir-%ED%B3%BF/inner-%ED%B3%A9.txt",
        "/dir-%ED%B3%BF/sub-%ED%B3%A9/",
        "/link-%ED%B3%A9",
        "/idx-%ED%B3%A9/",
        "/idx-%ED%B3%A9",
        "/latin1-%ED%B3%A9.txt/",
        "/latin1-%e9.txt",
        "/latin1-%ED%B3%A9.txt?x=%ED%B3%A9"
      ]
      for (const options of variants.slice(0, 2)) {
        const ours = yield* startStatic({ directory: root, ...options })
        for (const target of targets) {
          for (const method of ["GET", "HEAD"]) {
            const theirs = yield* get(python.port, target, [], method)
            const mine = yield* get(ours.address.port, target, [], method)
            expect({ target, method, ...normalizeForDiff(mine) }).toEqual({ target, method, ...normalizeForDiff(theirs) })
          }
        }
      }
      // What the page holds (the comparison above says Python's holds the same).
      const page = body(yield* get(python.port, "/"))
      expect(page).toContain("<li><a href=\"latin1-%ED%B3%A9.txt\">latin1-\xe9.txt</a></li>")
      expect(page).toContain("<li><a href=\"dir-%ED%B3%BF/\">dir-\xff/</a></li>")
    }))

  it.scopedLive("(c) JSON and rich listings name them as Python does, and link them to what is served", () =>
    Effect.gen(function*() {
      const { root } = yield* makeTree
      for (const options of variants) {
        const hidden = options.hideDotfiles === true
        const confined = options.followSymlinks === false
        const ours = yield* startStatic({ directory: root, ...options, jsonListing: true, richListing: true, rangeRequests: true, etag: true })
        const port = ours.address.port
        const json = yield* get(port, "/?format=json")
        expect(json.statusLine).toBe("HTTP/1.0 200 OK")
        const entries = JSON.parse(json.body.toString("utf8")) as Array<{ name: string; type: string; size: number }>
        const byName = new Map(entries.map((e) => [e.name, e]))
        expect(byName.get("latin1-\udce9.txt")).toMatchObject({ type: "file", size: 14 })
        expect(byName.get("sur-\udced\udcb3\udca9.txt")).toMatchObject({ type: "file", size: 18 })
        expect(byName.get("dir-\udcff")).toMatchObject({ href: "dir-%ED%B3%BF/", type: "directory", size: null })
        expect(byName.get("link-\udce9")).toMatchObject({ type: "symlink", size: 14 })
        expect(byName.has("out-\udce9")).toBe(!confined)
        expect(byName.has(".hidden-\udce9")).toBe(!hidden)
        // JSON escapes the lone surrogates: the bytes stay ASCII.
        expect(json.body.toString("latin1")).toContain("\"latin1-\\udce9.txt\"")
        const inner = JSON.parse((yield* get(port, "/dir-%ED%B3%BF/?format=json")).body.toString("utf8"))
        expect(inner.map((e: { name: string }) => e.name)).toEqual(["inner-\udce9.txt", "sub-\udce9"])

        const rich = body(yield* get(port, "/"))
        expect(rich).toContain("href=\"latin1-%ED%B3%A9.txt\"")
        expect(rich).toContain("<span>latin1-\xe9.txt</span>")
        expect(rich).toContain("href=\"dir-%ED%B3%BF/\"")
        expect(rich).not.toContain("latin1-\xef\xbf\xbd")
        // Every link of the rich listing answers 200 (or 404 only where the options refuse it).
        const links = [...rich.matchAll(/class="name"><a href="([^"]+)"/g)].map(([, href]) => href!)
        expect(links.length).toBe(entries.length)
        for (const href of links) {
          const answer = yield* get(port, "/" + href!)
          expect([href, answer.statusLine]).toEqual([href, "HTTP/1.0 200 OK"])
        }
        // Served by bytes, with ranges and validators as for any file.
        const file = yield* get(port, "/0123456789-%ED%B3%BF%ED%B3%BE.bin", ["Range: bytes=2-4"])
        expect([file.statusLine, body(file)]).toEqual(["HTTP/1.0 206 Partial Content", "234"])
        const etag = headerValues(yield* get(port, "/latin1-%ED%B3%A9.txt"), "ETag")[0]!
        const again = yield* get(port, "/latin1-%ED%B3%A9.txt", [`If-None-Match: ${etag}`])
        expect(again.statusLine).toBe("HTTP/1.0 304 Not Modified")
        expect((yield* get(port, "/out-%ED%B3%A9")).statusLine).toBe(confined ? "HTTP/1.0 404 File not found" : "HTTP/1.0 200 OK")
        expect((yield* get(port, "/.hidden-%ED%B3%A9")).statusLine).toBe(hidden ? "HTTP/1.0 404 File not found" : "HTTP/1.0 200 OK")
      }
    }))

  it.scopedLive("(c) archives keep such files (each byte not UTF-8 written as %XX); uploads write the bytes GET reads", () =>
    Effect.gen(function*() {
      const { root } = yield* makeTree
      const ours = yield* startStatic({ directory: root, archives: true, upload: true })
      const port = ours.address.port
      const tar = yield* get(port, "/dir-%ED%B3%BF/?download=tar.gz")
      expect(tar.statusLine).toBe("HTTP/1.0 200 OK")
      expect(headerValues(tar, "X-Archive-Entries")).toEqual(["2"])
      const unpacked = Zlib.gunzipSync(tar.body)
      expect(unpacked.includes(Buffer.from("inner-%E9.txt"))).toBe(true)
      expect(headerValues(tar, "Content-Disposition")).toEqual([
        "attachment; filename=\"dir-_FF.tar.gz\"; filename*=UTF-8''dir-%25FF.tar.gz"
      ])
      expect(unpacked.includes(Buffer.from("inner\n"))).toBe(true)

      const put = yield* sendRaw({
        port,
        chunks: ["PUT /up-%ED%B3%A9.txt HTTP/1.0\r\nContent-Length: 3\r\n\r\nnew"],
        timeoutMs: 10_000
      })
      expect(put.responses[0]!.statusLine).toBe("HTTP/1.0 201 Created")
      expect(NodeFs.readFileSync(join(Buffer.from(root), bytes("up-\xe9.txt")), "latin1")).toBe("new")
      expect(body(yield* get(port, "/up-%ED%B3%A9.txt"))).toBe("new")
      // No bytes stand for U+D800: refused as any bad path.
      const bad = yield* sendRaw({
        port,
        chunks: ["PUT /up-%ED%A0%80.txt HTTP/1.0\r\nContent-Length: 3\r\n\r\nnew"],
        timeoutMs: 10_000
      })
      expect(bad.responses[0]!.statusLine).toBe("HTTP/1.0 400 Bad path")
    }))

  it.scopedLive("(d) no encoding of a surrogate, overlong form or stray byte leaves the root", () =>
    Effect.gen(function*() {
      const { root } = yield* makeTree
      const plain = Path.join(root, "plain")
      const python = yield* pythonHttpServer({ directory: plain })
      const ours = yield* Effect.forEach(variants, (options) => startStatic({ directory: plain, ...options }))
      const pieces = [
        "%C0%AF", // overlong '/': invalid UTF-8, unquote falls back to 'replace' (U+FFFD twice)
        "%C0%AE%C0%AE", // overlong '..'
        "%ED%A0%80", // lone high surrogate: no bytes
        "%ED%B0%AF", // U+DC2F, would be '/' if surrogateescape took bytes below 0x80: no bytes
        "%ED%B0%AE%ED%B0%AE", // U+DC2E twice, '..' the same way: no bytes
        "%ED%B0%80", // U+DC00, NUL the same way: no bytes
        "%ED%B3%AF", // U+DCEF: the byte 0xEF, a name like any other
        "%FF",
        "%2e%2e",
        "%2F"
      ]
      const targets = pieces.flatMap((p) => [
        `/${p}secret.txt`,
        `/${p}/secret.txt`,
        `/..${p}secret.txt`,
        `/${p}/${p}/secret.txt`,
        `/${p}..%2f..%2fsecret.txt`,
        `/sub-%ED%B3%A9/${p}/..%2f..%2fsecret.txt`,
        `/${p}`,
        `/sub-%ED%B3%A9/${p}`
      ])
      const exchange = (port: number, target: string) =>
        sendRaw({ port, chunks: [`GET ${target} HTTP/1.0\r\n\r\n`], timeoutMs: 10_000 })
      for (const target of targets) {
        const theirs = yield* exchange(python.port, target)
        for (const server of ours) {
          const mine = yield* exchange(server.address.port, target)
          expect(mine.responses.length).toBe(1)
          const answer = mine.responses[0]!
          expect(body(answer)).not.toContain("SECRET")
          if (theirs.responses.length === 0) {
            // Python's open() raises UnicodeEncodeError or ValueError (not OSError) and the connection closes
            // without an answer (a documented difference): ours is the 404 of a file no bytes name.
            expect([target, answer.statusLine]).toEqual([target, "HTTP/1.0 404 File not found"])
          } else {
            expect({ target, ...normalizeForDiff(answer) }).toEqual({ target, ...normalizeForDiff(theirs.responses[0]!) })
          }
        }
      }
      // The one byte 0xEF is a name like any other.
      expect(body(yield* get(ours[0]!.address.port, "/%ED%B3%AF"))).toBe("the byte 0xEF\n")
      // The mapping itself: Python's os.fsencode of what unquote makes of each piece.
      expect(fsPath("\udcef")).toEqual(bytes("\xef"))
      expect(fsPath("\udc2f")).toBeUndefined()
      expect(fsPath("\udc00")).toBeUndefined()
      expect(fsPath("\ud800")).toBeUndefined()
      expect(fsPath("caf\u00e9\ud83d\ude00")).toBe("caf\u00e9\ud83d\ude00")
      expect(fsDecode(bytes("\xed\xb3\xa9\xc0\xaf\xf0\x9f\x98\x80\xe9"))).toBe("\udced\udcb3\udca9\udcc0\udcaf\ud83d\ude00\udce9")
    }))
})

describe("os.fsdecode / os.fsencode (issue 14, item 3)", () => {
  it.live("fsDecode and fsPath map 3000 byte strings exactly as python3 does", () =>
    Effect.gen(function*() {
      const script = String.raw`
import json, os, random
random.seed(14)
alphabet = [0x41, 0x2e, 0xc3, 0xa9, 0xe9, 0xed, 0xb3, 0xa0, 0x80, 0xbf, 0xc0, 0xaf, 0xe0, 0xf0, 0x90, 0xf4, 0x8f, 0xf5, 0xff, 0x9f, 0xef, 0xbd]
names = [bytes(random.choice(alphabet) for _ in range(random.randint(1, 8))) for _ in range(3000)]
print(json.dumps([[b.hex(), os.fsdecode(b)] for b in names]))
`
      const out = yield* Effect.async<string>((resume) => {
        execFile("python3", ["-c", script], { maxBuffer: 1 << 24 }, (_error, stdout) => resume(Effect.succeed(stdout)))
      })
      const pairs = JSON.parse(out) as Array<[string, string]>
      expect(pairs.length).toBe(3000)
      for (const [hex, name] of pairs) {
        const raw = Buffer.from(hex, "hex")
        expect([hex, fsDecode(raw)]).toEqual([hex, name])
        const os = fsPath(name)
        expect([hex, Buffer.isBuffer(os) ? os.toString("hex") : Buffer.from(os!).toString("hex")]).toEqual([hex, hex])
      }
    }))
})

describe("names that are not UTF-8 and --cgi (issue 14, item 3)", () => {
  const SCRIPT = "#!/bin/sh\necho 'Content-Type: text/plain'\necho\necho RAN\n# SOURCE-MARKER\n"
  const cgiTree = (base: string) => {
    const root = Buffer.from(Path.join(base, "cgi-root"))
    NodeFs.mkdirSync(join(root, bytes("cgi-bin")), { recursive: true })
    NodeFs.writeFileSync(join(root, bytes("cgi-bin/env.sh")), SCRIPT, { mode: 0o755 })
    NodeFs.symlinkSync(bytes("cgi-bin/env.sh"), join(root, bytes("l-\xe9")))
    NodeFs.symlinkSync(bytes("cgi-bin"), join(root, bytes("d-\xe9")))
    return root.toString()
  }

  it.scopedLive("the CGI gate resolves a link so named to the CGI directory", () =>
    Effect.gen(function*() {
      const root = cgiTree((yield* makeTree).base)
      const fs = yield* FileSystem.FileSystem
      for (const target of ["/l-%ED%B3%A9", "/d-%ED%B3%A9/env.sh", "/d-%ED%B3%A9/"]) {
        expect([target, yield* underCgiDirectory(fs, root, ["/cgi-bin"], target)]).toEqual([target, true])
      }
      expect(yield* underCgiDirectory(fs, root, ["/cgi-bin"], "/l-%ED%B3%AA")).toBe(false)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scopedLive("a script's source is never sent through such a link, whatever the options", () =>
    Effect.gen(function*() {
      ensureBuilt()
      const root = cgiTree((yield* makeTree).base)
      for (const extra of [[], ["--no-follow-symlinks"], ["--no-dotfiles"]]) {
        const server = yield* startCli(["-b", "127.0.0.1", "--cgi", ...extra, "-d", root, "0"])
        for (const target of ["/l-%ED%B3%A9", "/d-%ED%B3%A9/env.sh"]) {
          const answer = yield* get(server.port, target)
          expect(body(answer)).not.toContain("SOURCE-MARKER")
        }
      }
    }), 60_000)
})

/** Runs a python3 script (asynchronously: the server under test runs on this event loop). */
const runPython = (script: string, args: ReadonlyArray<string>) =>
  Effect.async<{ readonly code: number; readonly stderr: string }>((resume) => {
    const child = execFile("python3", ["-c", script, ...args], { timeout: 30_000 }, (error, _stdout, stderr) =>
      resume(Effect.succeed({ code: error === null ? 0 : typeof error.code === "number" ? error.code : 1, stderr })))
    return Effect.sync(() => child.kill())
  })

/**
 * The body of CPython 3.11's `SimpleHTTPServerTestCase.test_undecodable_filename` with the helpers it uses
 * (`request`, `check_status_and_reason`), unchanged but for `self`: our server's port and the test's temporary
 * directory come as arguments.
 */
const CPYTHON_TEST = String.raw`
import html, http.client, os, sys, urllib.parse
from http import HTTPStatus
from test.support import os_helper

port, tempdir = int(sys.argv[1]), sys.argv[2]
base_url = '/' + os.path.basename(tempdir)

def request(uri, method='GET', body=None, headers={}):
    connection = http.client.HTTPConnection('127.0.0.1', port, timeout=10)
    connection.request(method, uri, body, headers)
    return connection.getresponse()

def check_status_and_reason(response, status, data=None):
    def close_conn():
        nonlocal reader
        reader = response.fp
        response.fp = None
    reader = None
    response._close_conn = close_conn
    body = response.read()
    assert response
    assert response.status == status, (response.status, status)
    assert response.reason is not None
    if data:
        assert data == body, (data, body)
    assert response.version == 10
    assert response.msg.get("Connection", "close") == "close"
    assert reader.read(30) == b'', 'Connection should be closed'
    reader.close()
    return body

assert os_helper.TESTFN_UNDECODABLE
enc = sys.getfilesystemencoding()
filename = os.fsdecode(os_helper.TESTFN_UNDECODABLE) + '.txt'
with open(os.path.join(tempdir, filename), 'wb') as f:
    f.write(os_helper.TESTFN_UNDECODABLE)
response = request(base_url + '/')
body = check_status_and_reason(response, HTTPStatus.OK)
quotedname = urllib.parse.quote(filename, errors='surrogatepass')
assert ('href="%s"' % quotedname).encode(enc, 'surrogateescape') in body, body
assert ('>%s<' % html.escape(filename, quote=False)).encode(enc, 'surrogateescape') in body, body
response = request(base_url + '/' + quotedname)
check_status_and_reason(response, HTTPStatus.OK, data=os_helper.TESTFN_UNDECODABLE)
`
