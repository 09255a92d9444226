/**
 * Python's `SimpleHTTPRequestHandler.list_directory` page, byte for byte.
 */
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
    if (a.charCodeAt(i) !== b.charCodeAt(i)) return a.codePointAt(i)! - b.codePointAt(i)!
  }
  return a.length - b.length
}

/**
 * `names.sort(key=lambda a: a.lower())`: a stable sort on the lower-cased names by code point. Names equal once
 * lower-cased keep their input order: the directory's order as `opendir` reads it, which is `os.listdir`'s, so the
 * page is Python's (Node's `readdir`, used through `FileSystem`, sorts the names by bytes first).
 */
export const sortNames = (names: ReadonlyArray<string>): Array<string> => sortByName(names, (name) => name)

/** `sortNames` for items that carry a name (same order, same stability). */
export const sortByName = <T>(items: ReadonlyArray<T>, nameOf: (item: T) => string): Array<T> =>
  items
    .map((item, index) => ({ item, key: nameOf(item).toLowerCase(), index }))
    .sort((x, y) => compareCodePoints(x.key, y.key) || x.index - y.index)
    .map((x) => x.item)

/**
 * The bidirectional-text controls (embeddings, overrides, isolates, marks): in a name they reorder what is shown,
 * so `gpj.exe` with U+202E before `gpj` reads as `exe.jpg`. A numeric character reference would still be obeyed.
 */
const BIDI_CONTROLS = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g

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

const entryLine = (entry: ListingEntry): string => {
  let displayName = entry.name
  let linkName = entry.name
  if (entry.isDirectory) {
    displayName = entry.name + "/"
    linkName = entry.name + "/"
  }
  // A link to a directory shows "@" and links with "/".
  if (entry.isSymlink) displayName = entry.name + "@"
  return "<li><a href=\"" + quote(linkName) + "\">" + escapeDisplayed(displayName) + "</a></li>"
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

/** The rest of the page: the entries, already sorted, and the end (depends on the directory only). */
export const listingTail = (entries: ReadonlyArray<ListingEntry>): string => {
  const lines = [""]
  for (const entry of entries) lines.push(entryLine(entry))
  lines.push("</ul>\n<hr>\n</body>\n</html>\n")
  return lines.join("\n")
}

/**
 * The page for a directory whose entries are already sorted, encoded as Python encodes it (UTF-8 with
 * `surrogateescape`). Head and tail may be encoded apart (they split at a line break).
 */
export const renderListing = (
  requestPath: string,
  entries: ReadonlyArray<ListingEntry>,
  colorScheme = false
): Buffer => encodeUtf8SurrogateEscape(listingHead(requestPath, colorScheme) + listingTail(entries))

/** The listing's `Content-type` (Python: `sys.getfilesystemencoding()`, UTF-8 here). */
export const LISTING_CONTENT_TYPE = "text/html; charset=utf-8"
