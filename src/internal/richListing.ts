/**
 * `richListing`: the directory listing as a table (name, size, modification time), directories first, sortable
 * with `?sort=name|size|time&order=asc|desc`. Names are escaped and linked exactly as in Python's listing.
 */
import { escapeDisplayed, listingHead } from "./listing.js"
import type { Listed, ListedEntry } from "./listingEntries.js"
import { encodeUtf8SurrogateEscape, quote } from "./urlPath.js"

/** One row of the table. */
export type RichEntry = ListedEntry

/** The sort keys offered. */
export type SortKey = "name" | "size" | "time"
/** The directions offered. */
export type SortOrder = "asc" | "desc"

/** `sort` and `order` from the query; anything else (missing, unknown, repeated: the first counts) is the default. */
export const parseSort = (path: string): { readonly sort: SortKey; readonly order: SortOrder } => {
  const query = path.indexOf("?")
  let sort: SortKey | undefined
  let order: SortOrder | undefined
  if (query >= 0) {
    const fragment = path.indexOf("#", query)
    for (const pair of path.slice(query + 1, fragment < 0 ? undefined : fragment).split("&")) {
      const eq = pair.indexOf("=")
      const key = eq < 0 ? pair : pair.slice(0, eq)
      const value = eq < 0 ? "" : pair.slice(eq + 1)
      if (key === "sort" && sort === undefined) {
        sort = value === "name" || value === "size" || value === "time" ? value : "name"
      } else if (key === "order" && order === undefined) {
        order = value === "asc" || value === "desc" ? value : "asc"
      }
    }
  }
  return { sort: sort ?? "name", order: order ?? "asc" }
}

/**
 * Directories first, then the rest; within each group by the key (ties and missing values: the listing's name
 * order, Python's case-insensitive one). `entries` come in that name order; `desc` reverses the key only.
 */
export const sortEntries = (
  entries: ReadonlyArray<RichEntry>,
  sort: SortKey,
  order: SortOrder
): Array<RichEntry> => {
  const sign = order === "desc" ? -1 : 1
  const value = (entry: RichEntry): number | undefined =>
    sort === "size" ? entry.size : sort === "time" ? entry.mtimeMs : undefined
  return entries
    .map((entry, index) => ({ entry, index }))
    .sort((a, b) => {
      if (a.entry.isDirectory !== b.entry.isDirectory) return a.entry.isDirectory ? -1 : 1
      if (sort === "name") return sign * (a.index - b.index)
      const x = value(a.entry)
      const y = value(b.entry)
      if (x !== undefined && y !== undefined && x !== y) return sign * (x - y)
      if (x === undefined && y !== undefined) return 1
      if (y === undefined && x !== undefined) return -1
      return a.index - b.index
    })
    .map(({ entry }) => entry)
}

/** Bytes in binary units, one decimal above 1 KiB (`532 B`, `1.5 KiB`, `12.0 MiB`). */
export const humanSize = (bytes: number): string => {
  if (bytes < 1024) return `${bytes} B`
  const units = ["KiB", "MiB", "GiB", "TiB", "PiB"]
  let value = bytes / 1024
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${value.toFixed(1)} ${units[unit]}`
}

const pad = (n: number): string => String(n).padStart(2, "0")

/** `YYYY-MM-DD HH:MM:SS` in UTC. */
const formatTime = (ms: number): string => {
  const d = new Date(ms)
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`
}

const STYLE = "<style type=\"text/css\">\n" +
  "table { border-collapse: collapse; }\n" +
  "th, td { padding: 0.15em 1em 0.15em 0; text-align: left; }\n" +
  "td.size, th.size { text-align: right; }\n" +
  "</style>"

const row = (entry: RichEntry): string => {
  // As Python's listing: a directory links with "/", a link shows "@".
  const linkName = entry.isDirectory ? entry.name + "/" : entry.name
  const displayName = entry.isSymlink ? entry.name + "@" : linkName
  const size = entry.isDirectory ? "-" : entry.size === undefined ? "?" : humanSize(entry.size)
  const time = entry.mtimeMs === undefined
    ? "-"
    : `<time datetime="${new Date(entry.mtimeMs).toISOString()}">${formatTime(entry.mtimeMs)}</time>`
  const title = entry.size === undefined || entry.isDirectory ? "" : ` title="${entry.size} bytes"`
  return `<tr><td><a href="${quote(linkName)}">${escapeDisplayed(displayName)}</a></td>` +
    `<td class="size"${title}>${size}</td><td>${time}</td></tr>`
}

const headerCell = (label: string, key: SortKey, sort: SortKey, order: SortOrder, className = ""): string => {
  // The current column toggles its order; another starts ascending.
  const next: SortOrder = key === sort && order === "asc" ? "desc" : "asc"
  const mark = key === sort ? (order === "asc" ? " &#9650;" : " &#9660;") : ""
  const cls = className === "" ? "" : ` class="${className}"`
  return `<th${cls}><a href="?sort=${key}&amp;order=${next}">${label}</a>${mark}</th>`
}

/** The page, UTF-8 with `surrogateescape` as Python's listing. The title is the path without its query. */
export const renderRichListing = (
  publicPath: string,
  listed: Listed<RichEntry>,
  sort: SortKey,
  order: SortOrder,
  colorScheme: boolean
): Buffer => {
  const query = publicPath.search(/[?#]/)
  const head = listingHead(query < 0 ? publicPath : publicPath.slice(0, query), colorScheme)
    .replace("\n<title>", "\n" + STYLE + "\n<title>")
    .replace(/<hr>\n<ul>$/, "<hr>")
  const lines = [
    head,
    ...(listed.truncated
      ? [`<p>The first ${listed.entries.length} of ${listed.total} entries (in name order; the sort applies to them).</p>`]
      : []),
    "<table>",
    "<thead><tr>" + headerCell("Name", "name", sort, order) + headerCell("Size", "size", sort, order, "size") +
    headerCell("Modified (UTC)", "time", sort, order) + "</tr></thead>",
    "<tbody>",
    ...sortEntries(listed.entries, sort, order).map(row),
    "</tbody>",
    "</table>\n<hr>\n</body>\n</html>\n"
  ]
  return encodeUtf8SurrogateEscape(lines.join("\n"))
}
