/**
 * The JSON directory listing (`jsonListing`): the entries of the HTML listing, in its order, with type, size and
 * modification time, for scripts.
 */
import type { HeaderField } from "../Headers.js"
import * as Response from "../Response.js"
import { entryHref } from "./listing.js"
import type { Listed, ListedEntry } from "./listingEntries.js"
import { prefersJson } from "./negotiation.js"

/** One entry of the JSON listing. */
export interface JsonEntry {
  /** The name as Python's string: a byte that is not UTF-8 is a lone surrogate (`"a\\udcff"`, escaped). */
  readonly name: string
  /** The entry's link relative to the listing, as the HTML listing's `href` (`a%ED%B3%BF`, `dir/`). */
  readonly href: string
  /** `symlink` for any symbolic link (whatever it points to), else what it is (anything not a directory: `file`). */
  readonly type: "file" | "directory" | "symlink"
  /** Bytes, links followed; `null` for a directory (its size says nothing of its content) and a missing target. */
  readonly size: number | null
  /** ISO 8601 (UTC), links followed; `null` for a link whose target is missing. */
  readonly mtime: string | null
}

/** The listing's `Content-Type`: JSON is UTF-8 by definition (RFC 8259), so no charset. */
export const JSON_CONTENT_TYPE = "application/json"

/** Sent with every listing (HTML or JSON) when the JSON one may be chosen, so caches keep them apart. */
export const VARY_ACCEPT: HeaderField = ["Vary", "Accept"]

/** Whether the query asks for `format=json` (`?format=json`, `?a=1&format=json`). */
const queryAsksJson = (path: string): boolean => {
  const query = path.indexOf("?")
  if (query < 0) return false
  const fragment = path.indexOf("#", query)
  const text = path.slice(query + 1, fragment < 0 ? undefined : fragment)
  return text.split("&").some((pair) => pair === "format=json")
}

/** `?format=json`, or an `Accept` that prefers `application/json` to `text/html`. */
export const wantsJson = (path: string, accept: string | undefined): boolean =>
  queryAsksJson(path) || prefersJson(accept)

/** What the JSON listing says of an entry. */
export const toJsonEntry = (entry: ListedEntry): JsonEntry => ({
  name: entry.name,
  href: entryHref(entry),
  type: entry.isSymlink ? "symlink" : entry.isDirectory ? "directory" : "file",
  size: entry.isDirectory ? null : entry.size ?? null,
  mtime: entry.mtimeMs === undefined ? null : new Date(entry.mtimeMs).toISOString()
})

/**
 * Sent with a listing cut at `MAX_LISTED_ENTRIES`: `shown/total` (the names there were to show, before links
 * leaving the root were dropped), so a script knows the array is not the whole directory.
 */
export const truncatedHeader = (listed: Listed<unknown>): HeaderField =>
  ["X-Listing-Truncated", `${listed.entries.length}/${listed.total}`]

/** The page: `JSON.stringify` escapes quotes, backslashes, control characters and lone surrogates. */
export const jsonResponse = (entries: ReadonlyArray<JsonEntry>, listed?: Listed<unknown>): Response.Response => {
  const bytes = Buffer.from(JSON.stringify(entries), "utf8")
  const headers: Array<HeaderField> = [
    ["Content-Type", JSON_CONTENT_TYPE],
    ["Content-Length", String(bytes.length)],
    VARY_ACCEPT
  ]
  if (listed?.truncated === true) headers.push(truncatedHeader(listed))
  return Response.make(200, { _tag: "Bytes", bytes }, { headers })
}
