/**
 * Issue 12, items 6 and 17: the JSON and rich listings of a big directory are capped (first entries in name order,
 * with a stated marker), link checks under `followSymlinks: false` make no synchronous `realpath` per entry, and
 * bidi controls in names are shown escaped while links stay exact. Over real sockets, on real files.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as fc from "fast-check"
import * as NodeFs from "node:fs"
import fs from "node:fs"
import { syncBuiltinESMExports } from "node:module"
import * as Os from "node:os"
import * as Path from "node:path"
import { escapeDisplayed, sortByName } from "../src/internal/listing.js"
import { FirstByName, LISTING_PERMITS, MAX_LISTED_ENTRIES, withListingPermit } from "../src/internal/listingEntries.js"
import { headerValues as header, request, startStatic as start } from "./support/staticServer.js"

const tempDir = Effect.acquireRelease(
  Effect.sync(() => NodeFs.realpathSync(NodeFs.mkdtempSync(Path.join(Os.tmpdir(), "effect-httpd-listing-")))),
  (base) => Effect.sync(() => NodeFs.rmSync(base, { recursive: true, force: true }))
)

const bothCaches = [true, false] as const

describe("big directories (issue 12, item 6)", () => {
  it("FirstByName keeps the first `cap` names in the listing's order, ties in arrival order, holding ≤ 2 × cap", () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: fc.constantFrom("a", "A", "b", "B", "é", "É", "_", "😀"), maxLength: 3 })),
        fc.integer({ min: 1, max: 9 }),
        (names, cap) => {
          const first = new FirstByName<string>(cap, (name) => name)
          for (const name of names) first.add(name)
          const result = first.result()
          expect(result.entries).toEqual(sortByName(names, (name) => name).slice(0, cap))
          expect(result.total).toBe(names.length)
          expect(result.truncated).toBe(names.length > cap)
        }
      ),
      { seed: 12, numRuns: 300 }
    )
  })

  it.live(`at most ${LISTING_PERMITS} listings are built at once in the process; the others wait their turn`, () =>
    Effect.gen(function*() {
      const release = yield* Deferred.make<void>()
      let running = 0
      let most = 0
      const build = withListingPermit(Effect.gen(function*() {
        running++
        most = Math.max(most, running)
        yield* Deferred.await(release)
        running--
      }))
      const fibers = yield* Effect.forEach(Array.from({ length: 6 }), () => Effect.fork(build))
      for (let i = 0; i < 50 && running < LISTING_PERMITS; i++) yield* Effect.sleep("5 millis")
      yield* Effect.sleep("20 millis")
      expect(running).toBe(LISTING_PERMITS)
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.joinAll(fibers)
      expect(most).toBe(LISTING_PERMITS)
    }))

  it.scopedLive(`JSON and rich listings show the first ${MAX_LISTED_ENTRIES} entries and say they were cut`, () =>
    Effect.gen(function*() {
      const base = yield* tempDir
      const big = Path.join(base, "big")
      NodeFs.mkdirSync(big)
      const total = MAX_LISTED_ENTRIES + 37
      // Created in reverse so the directory's order is not the listing's.
      for (let i = total - 1; i >= 0; i--) NodeFs.writeFileSync(Path.join(big, `f${String(i).padStart(6, "0")}`), "")
      NodeFs.writeFileSync(Path.join(base, "small.txt"), "x")
      const expected = Array.from({ length: MAX_LISTED_ENTRIES }, (_, i) => `f${String(i).padStart(6, "0")}`)
      for (const cache of bothCaches) {
        const json = yield* start({ directory: base, cache, jsonListing: true })
        const answer = yield* request(json.address.port, "GET", "/big/?format=json")
        expect(answer.status).toBe(200)
        const entries = JSON.parse(answer.body.toString("utf8")) as Array<{ name: string }>
        expect(entries.map((e) => e.name)).toEqual(expected)
        expect(header(answer, "x-listing-truncated")).toEqual([`${MAX_LISTED_ENTRIES}/${total}`])
        // A directory under the cap: whole, no marker.
        const small = yield* request(json.address.port, "GET", "/?format=json")
        expect(JSON.parse(small.body.toString("utf8")).length).toBe(2)
        expect(header(small, "x-listing-truncated")).toEqual([])
        const rich = yield* start({ directory: base, cache, richListing: true })
        const page = yield* request(rich.address.port, "GET", "/big/?sort=name&order=desc")
        const text = page.body.toString("utf8")
        expect(text).toContain(`<p class="note">The first ${MAX_LISTED_ENTRIES} of ${total} entries`)
        expect(header(page, "x-listing-truncated")).toEqual([`${MAX_LISTED_ENTRIES}/${total}`])
        const rows = [...text.matchAll(/<td class="name"><a href="([^"]*)">/g)].map((m) => m[1])
        expect(rows).toEqual([...expected].reverse())
      }
      // Python's page is whole, as Python's.
      const plain = yield* start({ directory: base })
      const python = (yield* request(plain.address.port, "GET", "/big/")).body.toString("utf8")
      expect(python.match(/<li>/g)?.length).toBe(total)
    }))

  it.scopedLive("followSymlinks: false lists links inside the root without a synchronous realpath per link", () =>
    Effect.gen(function*() {
      const base = yield* tempDir
      const root = Path.join(base, "public")
      NodeFs.mkdirSync(Path.join(root, "links"), { recursive: true })
      NodeFs.writeFileSync(Path.join(root, "target.txt"), "in")
      NodeFs.writeFileSync(Path.join(base, "outside.txt"), "out")
      for (let i = 0; i < 60; i++) {
        const target = i % 2 === 0 ? Path.join(root, "target.txt") : Path.join(base, "outside.txt")
        NodeFs.symlinkSync(target, Path.join(root, "links", `l${String(i).padStart(2, "0")}`))
      }
      const inside = Array.from({ length: 30 }, (_, i) => `l${String(i * 2).padStart(2, "0")}`)
      const original = fs.realpathSync
      let calls = 0
      const counting = Object.assign((...args: Parameters<typeof original>) => {
        calls++
        return original(...args)
      }, { native: original.native }) as typeof original
      yield* Effect.acquireRelease(
        Effect.sync(() => {
          fs.realpathSync = counting
          syncBuiltinESMExports()
        }),
        () =>
          Effect.sync(() => {
            fs.realpathSync = original
            syncBuiltinESMExports()
          })
      )
      for (const cache of bothCaches) {
        for (const options of [{}, { jsonListing: true }, { richListing: true }]) {
          const server = yield* start({ directory: root, cache, followSymlinks: false, ...options })
          const port = server.address.port
          calls = 0
          const answer = yield* request(port, "GET", "/links/", ["Accept: application/json"])
          expect(answer.status).toBe(200)
          const text = answer.body.toString("utf8")
          const names = "jsonListing" in options
            ? (JSON.parse(text) as Array<{ name: string }>).map((e) => e.name)
            : [...text.matchAll(/<a href="(l\d\d)">/g)].map((m) => m[1])
          expect(names).toEqual(inside)
          // The request path's own check is one call; none per link (60 before).
          expect(calls, JSON.stringify({ cache, options })).toBeLessThanOrEqual(2)
        }
      }
    }))
})

describe("bidi controls in listings (issue 12, item 17)", () => {
  const names = ["\u202egpj.exe", "a\u2066b\u2069c.txt", "rtl\u200f\u200e\u061c.txt", "\u202a\u202b\u202c\u202d.txt", "plain.txt"]

  it("escapeDisplayed shows each bidi control as \\uXXXX after HTML escaping; other text is Python's", () => {
    expect(escapeDisplayed("\u202egpj.exe")).toBe("\\u202egpj.exe")
    expect(escapeDisplayed("<a>&\u2067")).toBe("&lt;a&gt;&amp;\\u2067")
    expect(escapeDisplayed("日本 é \u00ad")).toBe("日本 é \u00ad")
  })

  it("escapeDisplayed also shows invisible and line-breaking characters: zero-width, BOM, NEL, LS, PS", () => {
    for (const c of ["\u200b", "\u200c", "\u200d", "\ufeff", "\u0085", "\u2028", "\u2029"]) {
      expect(escapeDisplayed(`a${c}b`), c).toBe(`a\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}b`)
    }
  })

  it.scopedLive("HTML (Python's and rich) listings show them escaped, links stay exact, JSON keeps the name", () =>
    Effect.gen(function*() {
      const base = yield* tempDir
      const dir = Path.join(base, "\u202ertl-dir")
      NodeFs.mkdirSync(dir)
      for (const name of names) NodeFs.writeFileSync(Path.join(dir, name), "")
      const bidi = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/
      for (const cache of bothCaches) {
        for (const options of [{}, { richListing: true }]) {
          const server = yield* start({ directory: base, cache, jsonListing: true, ...options })
          const page = yield* request(server.address.port, "GET", "/%E2%80%AErtl-dir/")
          const text = page.body.toString("utf8")
          expect(page.status).toBe(200)
          expect(text).not.toMatch(bidi)
          expect(text).toContain("Directory listing for /\\u202ertl-dir/")
          // The rich page puts an icon before the name; its breadcrumbs (`../`) are not entries.
          const links = [...text.matchAll(/<a href="([^"?]*)">(?:<svg [\s\S]*?<\/svg><span>)?([^<]*)(?:<\/span>)?<\/a>/g)]
            .filter((m) => !m[1]!.startsWith("../"))
          expect(links.map((m) => decodeURIComponent(m[1]!)).sort()).toEqual([...names].sort())
          expect(links.map((m) => m[2]).sort()).toEqual(
            names.map((n) => n.replace(new RegExp(bidi, "g"), (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"))).sort()
          )
          const json = yield* request(server.address.port, "GET", "/%E2%80%AErtl-dir/?format=json")
          expect((JSON.parse(json.body.toString("utf8")) as Array<{ name: string }>).map((e) => e.name).sort())
            .toEqual([...names].sort())
        }
      }
    }))
})
