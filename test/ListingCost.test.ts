/**
 * What made big listings costly, pinned down one rule at a time: `quote` gives the old byte-by-byte implementation's
 * output exactly (a property test), the page rendered in batches is the page rendered whole, the fast name sort is
 * the code-point sort, an aborted listing stops, and the file-system root `/` is cut off a path without eating a
 * character.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fc from "fast-check"
import * as NodeFs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import {
  type ListingEntry,
  listingTail,
  listingTailChunks,
  sortByName,
  sortByNameYielding
} from "../src/internal/listing.js"
import { readEntriesNode, readListingNode } from "../src/internal/listingEntries.js"
import { belowRoot } from "../src/internal/rootPath.js"
import { resolveTarget } from "../src/internal/upload.js"
import { encodeUtf8SurrogateEscape, encodeUtf8SurrogatePass, quote } from "../src/internal/urlPath.js"

/** The implementation `quote` had before (correct, but a rope of one piece per byte): the reference. */
const SAFE = new Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~/")
const oldQuote = (s: string): string => {
  const bytes = encodeUtf8SurrogatePass(s)
  let out = ""
  for (const b of bytes) {
    out += b < 0x80 && SAFE.has(String.fromCharCode(b)) ? String.fromCharCode(b) : "%" + b.toString(16).toUpperCase().padStart(2, "0")
  }
  return out
}

/** Any UTF-16 code unit: controls, ASCII marks (`!'()*%/`), lone surrogates, halves of astral pairs. */
const unit = fc.oneof(
  fc.integer({ min: 0, max: 0x7f }),
  fc.integer({ min: 0x80, max: 0xffff }),
  fc.integer({ min: 0xd800, max: 0xdfff })
).map((c) => String.fromCharCode(c))
const pythonString = fc.oneof(
  fc.array(unit, { maxLength: 40 }).map((units) => units.join("")),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({ unit: fc.constantFrom("é", "/", "!", "'", "(", ")", "*", "%", "2", "F", "\u202e", "😀", "\ud800", "\udc80"), maxLength: 20 })
)

describe("quote", () => {
  it("is byte for byte the old implementation (Python's quote) on random strings", () => {
    fc.assert(fc.property(pythonString, (s) => quote(s) === oldQuote(s)), { numRuns: 20_000 })
  })

  it("keeps Python's safe set: / and _.-~ unescaped, !'()* and %2F-looking input escaped", () => {
    expect(quote("/a b/!'()*~_.-%2F")).toBe("/a%20b/%21%27%28%29%2A~_.-%252F")
    expect(quote("é\ud800😀")).toBe("%C3%A9%ED%A0%80%F0%9F%98%80")
  })
})

const entry = (name: string, isDirectory = false, isSymlink = false): ListingEntry => ({ name, isDirectory, isSymlink })

describe("listing pages in batches", () => {
  it.effect("the chunks are the page rendered whole (1,000 entries, links, directories, surrogates)", () =>
    Effect.gen(function*() {
      const entries = Array.from({ length: 1000 }, (_, i) =>
        entry(i % 7 === 0 ? "d" + String.fromCharCode(0xdc80 + (i % 10)) + i : `é${i} <&>\u202e`, i % 3 === 0, i % 5 === 0))
      const chunks = yield* listingTailChunks(entries)
      expect(chunks.length).toBeGreaterThan(2)
      expect(Buffer.concat(chunks).equals(encodeUtf8SurrogateEscape(listingTail(entries)))).toBe(true)
      expect(Buffer.concat(yield* listingTailChunks([])).equals(encodeUtf8SurrogateEscape(listingTail([])))).toBe(true)
    }))

  it("the name sort orders by code point, ties in input order (astral against U+FFxx)", () => {
    fc.assert(
      fc.property(fc.array(pythonString, { maxLength: 30 }), (names) => {
        const expected = names
          .map((name, index) => ({ name, key: [...name.toLowerCase()].map((c) => c.codePointAt(0)!), index }))
          .sort((a, b) => {
            for (let i = 0; i < Math.min(a.key.length, b.key.length); i++) if (a.key[i] !== b.key[i]) return a.key[i]! - b.key[i]!
            return a.key.length - b.key.length || a.index - b.index
          })
          .map((x) => x.name)
        expect(sortByName(names, (n) => n)).toEqual(expected)
      }),
      { numRuns: 2000 }
    )
    expect(sortByName(["\uffff", "😀"], (n) => n)).toEqual(["\uffff", "😀"])
    // A lone high surrogate before U+E000 against the same high surrogate paired: U+D83D < U+1F600.
    expect(sortByName(["\ud83d\ude00", "\ud83d\ue000"], (n) => n)).toEqual(["\ud83d\ue000", "\ud83d\ude00"])
  })
})

describe("the yielding sort", () => {
  it.effect("is sortByName's order (9,000 names with ties, case, surrogates and astral characters)", () =>
    Effect.gen(function*() {
      const names = fc.sample(pythonString, { numRuns: 9000, seed: 12 })
      names.push(...names.slice(0, 500).map((n) => n.toUpperCase()))
      expect(yield* sortByNameYielding(names, (n) => n)).toEqual(sortByName(names, (n) => n))
      expect(yield* sortByNameYielding(names.slice(0, 10), (n) => n)).toEqual(sortByName(names.slice(0, 10), (n) => n))
    }))
})

describe("listings stop when their request is interrupted", () => {
  it.scoped("an aborted signal rejects the directory read instead of finishing it", () =>
    Effect.gen(function*() {
      const dir = yield* Effect.acquireRelease(
        Effect.sync(() => NodeFs.mkdtempSync(Path.join(Os.tmpdir(), "effect-httpd-abort-"))),
        (d) => Effect.sync(() => NodeFs.rmSync(d, { recursive: true, force: true }))
      )
      for (let i = 0; i < 600; i++) NodeFs.writeFileSync(Path.join(dir, `f${i}`), "")
      const aborted = AbortSignal.abort()
      const json = yield* Effect.promise(() => readEntriesNode(dir, () => true, undefined, 10_000, aborted).then(() => "done", (e: Error) => e.name))
      const html = yield* Effect.promise(() => readListingNode(dir, () => true, undefined, aborted).then(() => "done", (e: Error) => e.name))
      expect({ json, html }).toEqual({ json: "AbortError", html: "AbortError" })
      expect((yield* Effect.promise(() => readListingNode(dir, () => true, undefined))).entries.length).toBe(600)
    }))
})

describe("the root cut off a path", () => {
  it("works for the file-system root '/' as for any other", () => {
    expect(belowRoot("/", "/x.bashrc")).toBe("x.bashrc")
    expect(belowRoot("/", "/")).toBe("")
    expect(belowRoot("/srv", "/srv/a/b")).toBe("a/b")
    expect(belowRoot("/srv", "/srv")).toBe("")
  })

  it("an upload to root '/' targets the name asked for, in '/'", () => {
    const name = `x.effect-httpd-unit-${process.pid}-absent`
    expect(resolveTarget({ root: "/", maxBytes: 1 }, `/${name}`)).toEqual({ _tag: "Ok", path: `/${name}`, directory: "/", name })
    expect(resolveTarget({ root: "/", maxBytes: 1 }, `/.${name}`)).toMatchObject({ _tag: "Refused", status: 403 })
    const tmp = Os.tmpdir().split("/").filter(Boolean)[0]!
    expect(resolveTarget({ root: "/", maxBytes: 1 }, `/${tmp}/${name}`)).toMatchObject({ _tag: "Ok", directory: `/${tmp}`, name })
  })
})
