/**
 * Python's `SimpleHTTPRequestHandler.list_directory` page, byte for byte.
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type * as Response from "../Response.js"
import { encodeUtf8SurrogateEscape, escapeHtml, quote, unquotePath } from "./urlPath.js"

/** One directory entry as the listing shows it. */
export interface ListingEntry {
  readonly name: string
  /** `os.path.isdir(fullname)`: follows symbolic links. */
  readonly isDirectory: boolean
  /** `os.path.islink(fullname)`. */
  readonly isSymlink: boolean
}

/** Python compares strings by code point; JavaScript's `<` compares UTF-16 code units (differs past U+FFFF). */
const compareCodePoints = (a: string, b: string): number => {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    if (a.charCodeAt(i) === b.charCodeAt(i)) continue
    // After the same high surrogate, one string may pair it (an astral code point) and the other not.
    const previous = i > 0 ? a.charCodeAt(i - 1) : 0
    if (previous >= 0xd800 && previous <= 0xdbff) {
      const pair = a.codePointAt(i - 1)! - b.codePointAt(i - 1)!
      if (pair !== 0) return pair
    }
    return a.codePointAt(i)! - b.codePointAt(i)!
  }
  return a.length - b.length
}

const SURROGATE = /[\ud800-\udfff]/

/** One turn of the event loop: the I/O of other clients runs. Interruptible (the client of a listing gone). */
export const yieldToEventLoop: Effect.Effect<void> = Effect.async<void>((resume) => {
  const immediate = setImmediate(() => resume(Effect.void))
  return Effect.sync(() => clearImmediate(immediate))
})

/**
 * `names.sort(key=lambda a: a.lower())`: a stable sort on the lower-cased names by code point. Names equal once
 * lower-cased keep their input order: the directory's order as `opendir` reads it, which is `os.listdir`'s, so the
 * page is Python's (Node's `readdir`, used through `FileSystem`, sorts the names by bytes first).
 */
export const sortNames = (names: ReadonlyArray<string>): Array<string> => sortByName(names, (name) => name)

interface Keyed<T> {
  readonly item: T
  readonly key: string
  readonly index: number
  readonly surrogates: boolean
}

const keyed = <T>(item: T, index: number, nameOf: (item: T) => string): Keyed<T> => {
  const key = nameOf(item).toLowerCase()
  return { item, key, index, surrogates: SURROGATE.test(key) }
}

/** By lower-cased name in code points, then input order: a total order, so any sort algorithm gives one result. */
const compareKeyed = <T>(x: Keyed<T>, y: Keyed<T>): number =>
  // Without surrogates code units order as code points: the engine's comparison, not a loop per character.
  (x.surrogates || y.surrogates ? compareCodePoints(x.key, y.key) : x.key < y.key ? -1 : x.key > y.key ? 1 : 0) ||
  x.index - y.index

/** `sortNames` for items that carry a name (same order, same stability). */
export const sortByName = <T>(items: ReadonlyArray<T>, nameOf: (item: T) => string): Array<T> =>
  items.map((item, index) => keyed(item, index, nameOf)).sort(compareKeyed).map((x) => x.item)

/** Items sorted or merged between two turns of the event loop by `sortByNameYielding` (~10 ms of long names). */
const SORT_STEP = 2048

/**
 * `sortByName` with a turn of the event loop every {@link SORT_STEP} items (runs sorted by the engine, then merged
 * pairwise): sorting 100,000 names of 255 bytes takes ~1 s, which must not stall every other client. Same result
 * (the order is total).
 */
export const sortByNameYielding = <T>(items: ReadonlyArray<T>, nameOf: (item: T) => string): Effect.Effect<Array<T>> =>
  Effect.gen(function*() {
    const n = items.length
    if (n <= SORT_STEP) return sortByName(items, nameOf)
    let source: Array<Keyed<T>> = new Array(n)
    for (let start = 0; start < n; start += SORT_STEP) {
      const end = Math.min(n, start + SORT_STEP)
      const run: Array<Keyed<T>> = []
      for (let i = start; i < end; i++) run.push(keyed(items[i]!, i, nameOf))
      run.sort(compareKeyed)
      for (let i = start; i < end; i++) source[i] = run[i - start]!
      yield* yieldToEventLoop
    }
    let target: Array<Keyed<T>> = new Array(n)
    let steps = 0
    for (let width = SORT_STEP; width < n; width *= 2) {
      for (let low = 0; low < n; low += 2 * width) {
        const middle = Math.min(n, low + width)
        const high = Math.min(n, low + 2 * width)
        let i = low
        let j = middle
        for (let k = low; k < high; k++) {
          target[k] = j >= high || (i < middle && compareKeyed(source[i]!, source[j]!) <= 0) ? source[i++]! : source[j++]!
          if (++steps === SORT_STEP) {
            steps = 0
            yield* yieldToEventLoop
          }
        }
      }
      const swap = source
      source = target
      target = swap
    }
    return source.map((x) => x.item)
  })

/**
 * The bidirectional-text controls (embeddings, overrides, isolates, marks): in a name they reorder what is shown,
 * so `gpj.exe` with U+202E before `gpj` reads as `exe.jpg`. A numeric character reference would still be obeyed.
 * With them the invisible ones (zero-width space, joiners, BOM: `a\u200bb` looks like `ab`) and the line breaks
 * NEL, LS and PS (a name that seems to be two lines).
 */
const BIDI_CONTROLS = /[\u0085\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g

/**
 * Text shown in a listing (not a link): HTML-escaped as Python does, and each bidi control shown as Python's
 * `repr` shows it (`\u202e`), so a name displays in its real order. Python shows them raw: a deliberate
 * difference, which only names containing one of them see.
 */
export const escapeDisplayed = (text: string): string =>
  escapeHtml(text).replace(BIDI_CONTROLS, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"))

/**
 * The listing's title path: `html.escape(unquote(self.path, errors='surrogatepass'), quote=False)` (the whole
 * request path, query included, as Python shows it), bidi controls shown as `\u202e` (see `escapeDisplayed`).
 */
export const displayPath = (requestPath: string): string => escapeDisplayed(unquotePath(requestPath))

/**
 * An entry's link, relative to its listing: `quote(name)`, and a `/` after a directory's (links followed, as
 * Python's). The one spelling every listing (HTML, rich, JSON `href`) gives; a name that is not UTF-8 is linked by
 * its surrogates' bytes (`a%ED%B3%BF`), which the server maps back to the file.
 */
export const entryHref = (entry: Pick<ListingEntry, "name" | "isDirectory">): string =>
  quote(entry.isDirectory ? entry.name + "/" : entry.name)

const entryLine = (entry: ListingEntry): string => {
  // A directory shows and links with "/"; a link shows "@" (a link to a directory: "@", linked with "/").
  const displayName = entry.isSymlink ? entry.name + "@" : entry.isDirectory ? entry.name + "/" : entry.name
  return "<li><a href=\"" + entryHref(entry) + "\">" + escapeDisplayed(displayName) + "</a></li>"
}

/** Python 3.14's style block (gh-123430), between the charset and the title of the listing. */
export const LISTING_COLOR_SCHEME = "<style type=\"text/css\">\n:root {\ncolor-scheme: light dark;\n}\n</style>"

/**
 * The page up to its list of entries: the title comes from the request path. `colorScheme` adds Python 3.14's
 * `color-scheme: light dark` style (3.11 has none).
 */
export const listingHead = (requestPath: string, colorScheme = false): string => {
  const title = "Directory listing for " + displayPath(requestPath)
  return [
    "<!DOCTYPE HTML>",
    "<html lang=\"en\">",
    "<head>",
    "<meta charset=\"utf-8\">",
    ...(colorScheme ? [LISTING_COLOR_SCHEME] : []),
    "<title>" + title + "</title>\n</head>",
    "<body>\n<h1>" + title + "</h1>",
    "<hr>\n<ul>"
  ].join("\n")
}

const LISTING_END = "\n</ul>\n<hr>\n</body>\n</html>\n"

/** Entries `start` to `end` of the list, each after its line break. */
const entryLines = (entries: ReadonlyArray<ListingEntry>, start: number, end: number): string => {
  const lines: Array<string> = []
  for (let i = start; i < end; i++) lines.push("\n", entryLine(entries[i]!))
  // One flat string per batch: `join`, not `+=` (a rope of millions of pieces is what a big listing cost).
  return lines.join("")
}

/** The rest of the page: the entries, already sorted, and the end (depends on the directory only). */
export const listingTail = (entries: ReadonlyArray<ListingEntry>): string =>
  entryLines(entries, 0, entries.length) + LISTING_END

/** Entries of a listing rendered between two turns of the event loop (~0.5 ms of work for 255-byte names). */
export const LISTING_BATCH = 256

/**
 * `listingTail`, encoded as Python encodes it, in chunks of {@link LISTING_BATCH} entries with a turn of the event
 * loop between them: a listing of 100,000 entries neither stalls the other clients nor holds more than its bytes
 * (chunks split at line breaks, so never inside a surrogate pair).
 */
export const listingTailChunks = (entries: ReadonlyArray<ListingEntry>): Effect.Effect<Array<Buffer>> =>
  Effect.gen(function*() {
    const chunks: Array<Buffer> = []
    for (let start = 0; start < entries.length; start += LISTING_BATCH) {
      if (start > 0) yield* yieldToEventLoop
      chunks.push(encodeUtf8SurrogateEscape(entryLines(entries, start, Math.min(entries.length, start + LISTING_BATCH))))
    }
    chunks.push(Buffer.from(LISTING_END, "utf8"))
    return chunks
  })

/**
 * The page for a directory whose entries are already sorted, encoded as Python encodes it (UTF-8 with
 * `surrogateescape`). Head and tail may be encoded apart (they split at a line break).
 */
export const renderListing = (
  requestPath: string,
  entries: ReadonlyArray<ListingEntry>,
  colorScheme = false
): Buffer => encodeUtf8SurrogateEscape(listingHead(requestPath, colorScheme) + listingTail(entries))

/** Pages up to this size are sent as one buffer; bigger ones as their chunks, written as the socket takes them. */
const ONE_BUFFER_MAX = 64 * 1024

/** A page made of chunks as a body, and its length (for `Content-Length`). */
export const chunkedPage = (
  chunks: ReadonlyArray<Uint8Array>
): { readonly body: Response.Body; readonly length: number } => {
  let length = 0
  for (const chunk of chunks) length += chunk.length
  return length <= ONE_BUFFER_MAX
    ? { body: { _tag: "Bytes", bytes: Buffer.concat(chunks, length) }, length }
    : { body: { _tag: "Stream", stream: Stream.fromIterable(chunks) }, length }
}

/** The listing's `Content-type` (Python: `sys.getfilesystemencoding()`, UTF-8 here). */
export const LISTING_CONTENT_TYPE = "text/html; charset=utf-8"
