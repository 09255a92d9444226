/**
 * The rich listing's markup: breadcrumbs, a filter box, sort links, a table of entries with type icons, human sizes
 * and times (exact values in `title`), a summary line, links to the JSON form and the archives, and the upload
 * section. Every name is written either `%`-encoded in an `href` (`quote`, as Python's listing: no `:` survives, so
 * no `javascript:` link) or as escaped text (`<`, `>`, `&`, bidi controls); none goes into another attribute.
 */
import type { ListedEntry } from "../listingEntries.js"
import { displayPath, entryHref, escapeDisplayed } from "../listing.js"
import { encodeUtf8SurrogateEscape, unquotePath } from "../urlPath.js"
import { formatTime, humanSize, plural } from "./format.js"
import { icon, iconKind, SPRITE } from "./icons.js"
import { SCRIPT } from "./script.js"
import { STYLE } from "./style.js"

/** The sort keys offered. */
export type SortKey = "name" | "size" | "time"
/** The directions offered. */
export type SortOrder = "asc" | "desc"

/** What the page offers besides the list, from the server's options. */
export interface PageFeatures {
  /** `jsonListing`: a link to `?format=json`. */
  readonly json: boolean
  /** `upload`: the drop zone and file picker (shown by the script). */
  readonly upload: boolean
  /** `archives`: links to `?download=tar.gz` and `?download=zip`. */
  readonly archives: boolean
}

/** Text content: HTML-escaped, bidi controls shown as `\u202e` (as in the plain listing). */
const text = escapeDisplayed

/**
 * The path as links, one per directory, each `../` steps up from the page (relative, so a mount prefix and the
 * request's own spelling never reach an attribute). The last directory is the page itself.
 */
export const breadcrumbs = (path: string): string => {
  const segments = path.split("/").slice(1)
  // The page's directory is everything up to the last "/": `depth` steps below the root.
  const depth = segments.length - 1
  const up = (k: number): string => k === 0 ? "./" : "../".repeat(k)
  const parts = [depth === 0 ? `<span aria-current="page">/</span>` : `<a href="${up(depth)}">/</a>`]
  for (let i = 0; i < depth; i++) {
    const label = text(unquotePath(segments[i]!))
    const last = i === depth - 1
    parts.push(
      (last ? `<span aria-current="page">${label}</span>` : `<a href="${up(depth - i - 1)}">${label}</a>`) +
        `<span class="sep">/</span>`
    )
  }
  return parts.join("")
}

const row = (entry: ListedEntry): string => {
  // As Python's listing: a directory links with "/", a link shows "@".
  const linkName = entry.isDirectory ? entry.name + "/" : entry.name
  const displayName = entry.isSymlink ? entry.name + "@" : linkName
  const size = entry.isDirectory ? "-" : entry.size === undefined ? "?" : humanSize(entry.size)
  const sizeTitle = entry.size === undefined || entry.isDirectory ? "" : ` title="${entry.size} bytes"`
  const time = entry.mtimeMs === undefined ? "-" : (() => {
    const iso = new Date(entry.mtimeMs).toISOString()
    return `<time datetime="${iso}" title="${iso}">${formatTime(entry.mtimeMs)}</time>`
  })()
  return `<tr${entry.isDirectory ? " class=\"dir\"" : ""}>` +
    `<td class="name"><a href="${entryHref(entry)}">${icon(iconKind(entry))}<span>${text(displayName)}</span></a></td>` +
    `<td class="size"${sizeTitle}>${size}</td><td class="time">${time}</td></tr>`
}

const headerCell = (label: string, key: SortKey, sort: SortKey, order: SortOrder, className: string): string => {
  // The current column toggles its order; another starts ascending.
  const next: SortOrder = key === sort && order === "asc" ? "desc" : "asc"
  const current = key === sort
  const aria = current ? ` aria-sort="${order === "asc" ? "ascending" : "descending"}"` : ""
  const mark = current ? ` <span class="mark" aria-hidden="true">${order === "asc" ? "&#9650;" : "&#9660;"}</span>` : ""
  return `<th class="${className}"${aria}><a href="?sort=${key}&amp;order=${next}">${label}</a>${mark}</th>`
}

/** `2 directories, 5 files, 1.4 MiB`: the totals of what is listed (files of unknown size count, add nothing). */
export const summary = (entries: ReadonlyArray<ListedEntry>): string => {
  let directories = 0
  let files = 0
  let bytes = 0
  for (const entry of entries) {
    if (entry.isDirectory) {
      directories++
    } else {
      files++
      bytes += entry.size ?? 0
    }
  }
  return `${plural(directories, "directory", "directories")}, ${plural(files, "file", "files")}, ` +
    `<span title="${bytes} bytes">${humanSize(bytes)}</span>`
}

const toolLinks = (features: PageFeatures): string => {
  const links: Array<string> = []
  if (features.json) links.push(`<a href="?format=json" type="application/json">JSON</a>`)
  if (features.archives) {
    links.push(`<a href="?download=tar.gz" download>Download .tar.gz</a>`)
    links.push(`<a href="?download=zip" download>Download .zip</a>`)
  }
  return links.length === 0 ? "" : `<span class="links">${links.join("")}</span>`
}

const UPLOAD_SECTION = [
  // Hidden until the script runs: without it, a browser has no way to send a PUT.
  "<section id=\"upload\" hidden aria-label=\"Upload\">",
  "<label class=\"drop\" id=\"drop\">Drop files here, or choose them, to upload them to this directory",
  "<input type=\"file\" id=\"files\" multiple></label>",
  "<ul id=\"progress\" aria-live=\"polite\"></ul>",
  "</section>"
].join("\n")

/** A folder, as the tab's icon. */
const FAVICON = "data:image/svg+xml," + encodeURIComponent(
  "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 24 24'><path fill='#54aeff' " +
    "d='M3 6a2 2 0 0 1 2-2h4l2 2h8a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2z'/></svg>"
)

/** Sorted entries as the page, UTF-8 with `surrogateescape` as Python's listing. */
export const renderPage = (
  publicPath: string,
  sorted: ReadonlyArray<ListedEntry>,
  sort: SortKey,
  order: SortOrder,
  features: PageFeatures,
  notes: ReadonlyArray<string> = []
): Buffer => {
  const query = publicPath.search(/[?#]/)
  const path = query < 0 ? publicPath : publicPath.slice(0, query)
  const title = "Directory listing for " + displayPath(path)
  const lines = [
    "<!DOCTYPE HTML>",
    "<html lang=\"en\">",
    "<head>",
    "<meta charset=\"utf-8\">",
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
    "<meta name=\"color-scheme\" content=\"light dark\">",
    `<link rel="icon" href="${FAVICON}">`,
    `<style>${STYLE}</style>`,
    `<title>${title}</title>`,
    "</head>",
    "<body>",
    SPRITE,
    `<h1><span class="lead">Directory listing for</span> <nav aria-label="Path">${breadcrumbs(path)}</nav></h1>`,
    "<div class=\"bar\">",
    "<input type=\"search\" id=\"filter\" placeholder=\"Filter (press /)\" aria-label=\"Filter entries by name\" " +
    "autocomplete=\"off\" spellcheck=\"false\" hidden>",
    toolLinks(features),
    "</div>",
    `<p class="summary"><span id="summary">${summary(sorted)}</span><span id="shown"></span></p>`,
    ...notes.map((note) => `<p class="note">${note}</p>`),
    "<table>",
    "<thead><tr>" + headerCell("Name", "name", sort, order, "name") + headerCell("Size", "size", sort, order, "size") +
    headerCell("Modified (UTC)", "time", sort, order, "time") + "</tr></thead>",
    "<tbody id=\"entries\">",
    ...sorted.map(row),
    "</tbody>",
    "</table>",
    `<p class="empty" id="empty"${sorted.length === 0 ? "" : " hidden"}>This directory is empty.</p>`,
    ...(features.upload ? [UPLOAD_SECTION] : []),
    `<script>${SCRIPT}</script>`,
    "</body>",
    "</html>",
    ""
  ]
  return encodeUtf8SurrogateEscape(lines.join("\n"))
}
