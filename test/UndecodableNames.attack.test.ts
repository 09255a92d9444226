/**
 * Attacks on issue 14 item 3 (names that are not UTF-8), found open as `it.fails` and closed since (fix-names):
 * each now passes as a plain `it`.
 *
 * 1. Archives write U+FFFD for a byte that is not UTF-8, so `a\xff` and a file really named `a\ufffd` in one
 *    directory become two entries of one name (likewise `d\xe9/` and `d\ufffd/` merge): unpacking keeps one file's
 *    bytes under the other's name and drops the other, silently (tar, Python's zipfile). Anyone who may create
 *    a name in a shared tree (an upload: `PUT /a%ED%B3%BF`) can so replace another file's contents in every
 *    unpacked copy of the archive.
 * 2. The README says a surrogate no byte stands for answers 404 (Python drops the connection); but a high and a low
 *    surrogate encoded apart (CESU-8, `%ED%A0%80%ED%B3%A9`) become one JavaScript pair, the astral U+100E9, and
 *    open the file whose UTF-8 name is `F0 90 83 A9`: a second URL for one file, that Python never serves.
 * 3. The JSON listing names such a file `"a\udcff"` and gives no URL: a script cannot build one
 *    (`encodeURIComponent` throws URIError, Python's `quote` raises UnicodeEncodeError; strict JSON parsers such
 *    as serde_json refuse the lone surrogate escape, RFC 8259 §8.2). The HTML listing's link exists
 *    (`a%ED%B3%BF`): the JSON entry should carry it (`href`).
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { execFileSync } from "node:child_process"
import * as NodeFs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { headerValues, request, startStatic } from "./support/staticServer.js"

const makeTree = Effect.acquireRelease(
  Effect.sync(() => {
    const base = NodeFs.realpathSync(NodeFs.mkdtempSync(Path.join(Os.tmpdir(), "effect-httpd-names-attack-")))
    const root = Path.join(base, "public")
    NodeFs.mkdirSync(root)
    NodeFs.writeFileSync(Buffer.from(root + "/a\xff", "latin1"), "raw byte FF\n")
    NodeFs.writeFileSync(Path.join(root, "a\ufffd"), "really U+FFFD\n")
    NodeFs.writeFileSync(Path.join(root, "\u{100e9}"), "astral\n")
    return { base, root }
  }),
  ({ base }) => Effect.sync(() => NodeFs.rmSync(base, { recursive: true, force: true }))
)

/** The files an archive unpacks to: name → contents (tar and Python's zipfile, as users unpack). */
const unpacked = (format: "tar.gz" | "zip", archive: Buffer, base: string): Map<string, string> => {
  const dir = NodeFs.mkdtempSync(Path.join(base, "out-"))
  const file = Path.join(base, "archive." + format)
  NodeFs.writeFileSync(file, archive)
  if (format === "zip") execFileSync("python3", ["-m", "zipfile", "-e", file, dir])
  else execFileSync("tar", ["-xzf", file, "-C", dir])
  return new Map(NodeFs.readdirSync(dir).map((name) => [name, NodeFs.readFileSync(Path.join(dir, name), "latin1")]))
}

describe("names that are not UTF-8: open attacks", () => {
  for (const format of ["tar.gz", "zip"] as const) {
    it(`1. ${format}: a\\xff and a\\ufffd both survive unpacking (with U+FFFD one overwrote the other)`, () =>
      Effect.gen(function*() {
        const { base, root } = yield* makeTree
        const server = yield* startStatic({ directory: root, archives: true })
        const response = yield* request(server.address.port, "GET", `/?download=${format}`)
        expect(headerValues(response, "X-Archive-Entries")).toEqual(["3"])
        const contents = [...unpacked(format, response.body, base).values()].sort()
        expect(contents).toEqual(["astral\n", "raw byte FF\n", "really U+FFFD\n"])
      }).pipe(Effect.scoped, Effect.runPromise))
  }

  for (const format of ["tar.gz", "zip"] as const) {
    it(`1. ${format}: the quoted name (a%FF) of a\\xff steps past a sibling really named so`, () =>
      Effect.gen(function*() {
        const { base, root } = yield* makeTree
        NodeFs.writeFileSync(Path.join(root, "a%FF"), "really a%FF\n")
        const server = yield* startStatic({ directory: root, archives: true })
        const response = yield* request(server.address.port, "GET", `/?download=${format}`)
        expect(Object.fromEntries(unpacked(format, response.body, base))).toEqual({
          "a%FF": "really a%FF\n",
          "a%FF~2": "raw byte FF\n",
          "a\ufffd": "really U+FFFD\n",
          "\u{100e9}": "astral\n"
        })
      }).pipe(Effect.scoped, Effect.runPromise))
  }

  it("2. CESU-8 surrogates (%ED%A0%80%ED%B3%A9) do not open the file named U+100E9", () =>
    Effect.gen(function*() {
      const { root } = yield* makeTree
      const server = yield* startStatic({ directory: root, pythonCompat: true })
      // The file's own URL works; the pair of encoded surrogates is no name Python serves.
      expect((yield* request(server.address.port, "GET", "/%F0%90%83%A9")).statusLine).toBe("HTTP/1.0 200 OK")
      expect((yield* request(server.address.port, "GET", "/%ED%A0%80%ED%B3%A9")).statusLine)
        .toBe("HTTP/1.0 404 File not found")
    }).pipe(Effect.scoped, Effect.runPromise))

  it("3. the JSON listing gives a URL a script can use for every name", () =>
    Effect.gen(function*() {
      const { root } = yield* makeTree
      const server = yield* startStatic({ directory: root, jsonListing: true })
      const port = server.address.port
      const listing = yield* request(port, "GET", "/", ["Accept: application/json"])
      const entries = JSON.parse(listing.body.toString("utf8")) as Array<{ name: string; href?: string }>
      for (const entry of entries) {
        const href = entry.href ?? encodeURIComponent(entry.name)
        expect((yield* request(port, "GET", "/" + href)).statusLine).toBe("HTTP/1.0 200 OK")
      }
    }).pipe(Effect.scoped, Effect.runPromise))
})
