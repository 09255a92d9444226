/**
 * `richListing`: the directory listing as a browsable page (`richPage/`), directories first, sortable with
 * `?sort=name|size|time&order=asc|desc`. Names are escaped and linked exactly as in Python's listing.
 */
import type { Listed, ListedEntry } from "./listingEntries.js"
import { type PageFeatures, renderPage, type SortKey, type SortOrder } from "./richPage/html.js"

/** One row of the table. */
export type RichEntry = ListedEntry

export type { SortKey, SortOrder }

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

export { humanSize } from "./richPage/format.js"
export type { PageFeatures } from "./richPage/html.js"

/** The page (see `richPage/html.ts`), UTF-8 with `surrogateescape` as Python's listing. */
export const renderRichListing = (
  publicPath: string,
  listed: Listed<RichEntry>,
  sort: SortKey,
  order: SortOrder,
  features: PageFeatures
): Buffer =>
  renderPage(
    publicPath,
    sortEntries(listed.entries, sort, order),
    sort,
    order,
    features,
    listed.truncated
      ? [`The first ${listed.entries.length} of ${listed.total} entries (in name order; the sort applies to them).`]
      : []
  )
