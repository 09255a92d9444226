/**
 * Issue 14 (left open, low): option values that name files and are not valid UTF-8 keep their bytes, as Python's
 * `sys.argv` keeps them (`surrogateescape`). Node decodes each such byte as U+FFFD, so `--index-page`, `--spa`,
 * `--tls-cert`, `--tls-key` and `--tls-password-file` named another file (the U+FFFD twin) or none; `-d` was
 * already read again from `/proc/self/cmdline` (test/NonUtf8Root.attack.test.ts), and now so are these. A name
 * an error message prints is printed as Python's stderr prints it (`\udce9`), not as U+FFFD.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as NodeFs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { ensureBuilt, get, runToExit, start, withRawArguments } from "./support/cliProcess.js"
import { hasOpenssl, makeCertificate } from "./support/tlsCert.js"

const bytes = (s: string): Buffer => Buffer.from(s, "latin1")

/** A temporary directory (its real path), removed with the scope, and the bytes of a name inside it. */
const makeBase = Effect.acquireRelease(
  Effect.sync(() => NodeFs.realpathSync(NodeFs.mkdtempSync(Path.join(Os.tmpdir(), "effect-httpd-argbytes-")))),
  (base) => Effect.sync(() => NodeFs.rmSync(base, { recursive: true, force: true }))
)
const at = (base: string, name: string): Buffer => Buffer.concat([Buffer.from(base + "/"), bytes(name)])

/** A browser's GET (Accept: text/html, which the SPA fallback answers). */
const getPage = (url: string) =>
  Effect.promise(() => fetch(url, { headers: { accept: "text/html" } }).then((response) => response.text()))

/** Serves `base` with `args` (some of them bytes that are not UTF-8) and GETs each path. */
const serveAndGet = (base: string, args: ReadonlyArray<string | Uint8Array>, paths: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const server = yield* start(["-b", "127.0.0.1", "-d", base], { wrapper: withRawArguments([...args, "0"]) })
    const bodies: Array<string> = []
    for (const path of paths) {
      bodies.push(
        server.scheme === "HTTPS"
          ? (yield* get(`https://127.0.0.1:${server.port}${path}`)).body
          : yield* getPage(`http://127.0.0.1:${server.port}${path}`)
      )
    }
    return bodies
  })

describe("option values that are not UTF-8 keep their bytes", () => {
  ensureBuilt()

  it.scopedLive("--index-page naming a file whose name holds 0xE9 is served for /, not its U+FFFD twin", () =>
    Effect.gen(function*() {
      const base = yield* makeBase
      NodeFs.writeFileSync(at(base, "i\xe9.html"), "index e9\n")
      // The decoy: what the name becomes once its byte is read as U+FFFD.
      NodeFs.writeFileSync(Path.join(base, "i\ufffd.html"), "the twin\n")
      expect(yield* serveAndGet(base, ["--index-page", bytes("i\xe9.html")], ["/"]))
        .toEqual(["index e9\n"])
    }), 30_000)

  it.scopedLive("each option's value is read from its own spelling; an ambiguous one keeps Node's string", () =>
    Effect.gen(function*() {
      const base = yield* makeBase
      NodeFs.writeFileSync(at(base, "p\xe8.html"), "index e8\n")
      NodeFs.writeFileSync(at(base, "p\xe9.html"), "spa e9\n")
      NodeFs.writeFileSync(at(base, "a\xe9.html"), "a e9\n")
      NodeFs.writeFileSync(at(base, "a\xe8.html"), "a e8\n")
      // `p\xe8` and `p\xe9` both decode to "p\ufffd.html", but each is its own option's; the two `a` pages both
      // decode to "a\ufffd.html" for the same option: no way to tell which is which, Node's string (no such file).
      const args = [
        "--index-page",
        bytes("a\xe9.html"),
        "--index-page",
        bytes("a\xe8.html"),
        "--index-page",
        bytes("p\xe8.html"),
        bytes("--spa=p\xe9.html")
      ]
      expect(yield* serveAndGet(base, args, ["/", "/route"])).toEqual(["index e8\n", "spa e9\n"])
    }), 30_000)

  it.scopedLive("--spa naming a file whose name holds 0xE9 answers a missing route", () =>
    Effect.gen(function*() {
      const base = yield* makeBase
      NodeFs.mkdirSync(at(base, "app-\xe9"))
      NodeFs.writeFileSync(at(base, "app-\xe9/s\xe9.html"), "spa e9\n")
      expect(yield* serveAndGet(base, ["--spa", bytes("app-\xe9/s\xe9.html")], ["/some/route"])).toEqual(["spa e9\n"])
    }), 30_000)

  it.scopedLive("argparse's spellings keep the bytes too: -dNAME, --dir NAME, --index-p=NAME", () =>
    Effect.gen(function*() {
      const base = yield* makeBase
      NodeFs.mkdirSync(at(base, "\xe9root"))
      NodeFs.writeFileSync(at(base, "\xe9root/p\xe9.html"), "index e9\n")
      const spellings = [
        [Buffer.concat([bytes("-d"), at(base, "\xe9root")]), bytes("--index-p=p\xe9.html")],
        [bytes("--dir"), at(base, "\xe9root"), bytes("--index-p"), bytes("p\xe9.html")]
      ]
      for (const args of spellings) {
        const server = yield* start(["-b", "127.0.0.1"], { wrapper: withRawArguments([...args, "0"]) })
        expect(yield* getPage(`http://127.0.0.1:${server.port}/`)).toBe("index e9\n")
      }
    }), 30_000)

  it.scopedLive("--spa under a served directory whose own name is not UTF-8 (it was refused: does not exist)", () =>
    Effect.gen(function*() {
      const base = yield* makeBase
      NodeFs.mkdirSync(at(base, "\xe9root"))
      NodeFs.writeFileSync(at(base, "\xe9root/index.html"), "the page\n")
      const server = yield* start(["-b", "127.0.0.1"], {
        wrapper: withRawArguments(["-d", at(base, "\xe9root"), "--spa", "index.html", "0"])
      })
      expect(yield* getPage(`http://127.0.0.1:${server.port}/route`)).toBe("the page\n")
    }), 30_000)

  it.scopedLive("--tls-cert and --tls-key in a directory whose name holds 0xE9 serve HTTPS, with --workers 2 too", () =>
    Effect.gen(function*() {
      if (!hasOpenssl) return
      const base = yield* makeBase
      const { cert, key } = makeCertificate(base)
      NodeFs.mkdirSync(at(base, "tls-\xe9"))
      NodeFs.writeFileSync(at(base, "tls-\xe9/c\xe9.pem"), cert)
      NodeFs.writeFileSync(at(base, "tls-\xe9/k\xe9.pem"), key)
      NodeFs.writeFileSync(Path.join(base, "f.txt"), "over TLS\n")
      for (const workers of [[], ["--workers", "2"]]) {
        const args = [
          ...workers,
          "--tls-cert",
          at(base, "tls-\xe9/c\xe9.pem"),
          Buffer.concat([bytes("--tls-key="), at(base, "tls-\xe9/k\xe9.pem")])
        ]
        expect(yield* serveAndGet(base, args, ["/f.txt"])).toEqual(["over TLS\n"])
      }
    }), 60_000)

  it.scopedLive("--tls-password-file whose name holds 0xE9 decrypts the key, the key in the certificate's file", () =>
    Effect.gen(function*() {
      if (!hasOpenssl) return
      const base = yield* makeBase
      const { cert, key } = makeCertificate(base, "s3cret")
      NodeFs.writeFileSync(at(base, "both-\xe9.pem"), Buffer.concat([cert, key]))
      NodeFs.writeFileSync(at(base, "pass-\xe9.txt"), "s3cret\n")
      NodeFs.writeFileSync(Path.join(base, "f.txt"), "decrypted\n")
      const args = ["--tls-cert", bytes("both-\xe9.pem"), "--tls-password-file", bytes("pass-\xe9.txt")]
      const server = yield* start(["-b", "127.0.0.1"], { cwd: base, wrapper: withRawArguments([...args, "0"]) })
      expect((yield* get(`https://127.0.0.1:${server.port}/f.txt`)).body).toBe("decrypted\n")
    }), 30_000)

  it.scopedLive("a missing such file: the usage error (exit 2) prints the name as Python does, \\udce9", () =>
    Effect.gen(function*() {
      const base = yield* makeBase
      const run = (args: ReadonlyArray<string | Uint8Array>) =>
        runToExit(["-b", "127.0.0.1", "-d", base], { wrapper: withRawArguments([...args, "0"]) })
      expect(yield* run(["--tls-cert", at(base, "c\xe9.pem")])).toMatchObject({
        code: 2,
        stderr: `effect-httpd: error: cannot read --tls-cert '${base}/c\\udce9.pem': no such file\n`
      })
      NodeFs.writeFileSync(Path.join(base, "cert.pem"), "not read\n")
      expect(yield* run(["--tls-cert", Path.join(base, "cert.pem"), "--tls-key", at(base, "k\xe9\n.pem")]))
        .toMatchObject({
          code: 2,
          stderr: `effect-httpd: error: cannot read --tls-key '${base}/k\\udce9\\n.pem': no such file\n`
        })
      expect(yield* run(["--spa", bytes("s\xe9.html")])).toMatchObject({
        code: 2,
        stderr: "effect-httpd: error: argument --spa: 's\\udce9.html' does not exist\n"
      })
      const noDirectory = runToExit(["-b", "127.0.0.1"], { wrapper: withRawArguments(["-d", at(base, "gone-\xe9"), "0"]) })
      expect(yield* noDirectory).toMatchObject({
        code: 2,
        stderr: `effect-httpd: error: argument -d/--directory: cannot use '${base}/gone-\\udce9': no such file\n`
      })
    }), 30_000)
})
