/**
 * The directory listings of the static handler: Python's page, the JSON and the rich listing, through
 * `FileSystem` or (with the response cache) `node:fs` and the listing cache.
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { HeaderField } from "../Headers.js"
import { HttpError } from "../HttpError.js"
import * as Response from "../Response.js"
import { chunkedPage, LISTING_CONTENT_TYPE, listingHead, listingTailChunks, sortByNameYielding } from "./listing.js"
import { jsonResponse, toJsonEntry, truncatedHeader, VARY_ACCEPT, wantsJson } from "./jsonListing.js"
import * as ListingEntries from "./listingEntries.js"
import { encodeUtf8SurrogateEscape } from "./urlPath.js"
import { parseSort, type RichEntry, renderRichListing } from "./richListing.js"
import { PAGE_HEADERS } from "./richPage/csp.js"
import { type FileVersion, type ListingCache, sameVersion, statQuiet, versionOf } from "./fileCache.js"
import { fsFailure } from "./fsFailure.js"
import { type Opened, openVerified } from "./openVerified.js"
import { type StaticConfig, nameShown, linkShown, type StaticRequest, noListing } from "./staticConfig.js"

export const askedForJson = (config: StaticConfig, request: StaticRequest): boolean =>
  config.jsonListing && wantsJson(request.path, request.header("accept"))

/** The HTML listing's fields, with `Vary: Accept` when the JSON listing could have been chosen instead. */
const htmlListingHeaders = (config: StaticConfig, length: number): Array<HeaderField> => {
  const headers: Array<HeaderField> = [["Content-type", LISTING_CONTENT_TYPE], ["Content-Length", String(length)]]
  if (config.jsonListing) headers.push(VARY_ACCEPT)
  return headers
}

/** Python's `list_directory`, or the JSON listing when asked for. */
export const listing = (
  fs: FileSystem.FileSystem,
  config: StaticConfig,
  request: StaticRequest,
  directory: string
): Effect.Effect<Response.Response, HttpError, Scope.Scope> =>
  withVerifiedDirectory(config, directory, (directory) =>
    askedForJson(config, request) || config.richListing
      ? ListingEntries.withListingPermit(
        ListingEntries.readEntries(fs, directory, nameShown(config), linkShown(config), config.listingConcurrency)
      ).pipe(
        Effect.mapBoth({
          onFailure: (error) => fsFailure(error, noListing),
          onSuccess: (listed) => entriesResponse(config, request, listed)
        })
      )
      : htmlListing(fs, config, request, directory))

/**
 * Runs `list` on the directory's entries, read through the directory opened (non-blocking) and verified when there
 * is a verifier (`readFrom` is then `/proc/self/fd/N` on Linux, so a swap of the path after the check changes
 * nothing read).
 */
export const withVerifiedDirectory = <R>(
  config: StaticConfig,
  directory: string,
  list: (readFrom: string, opened: Opened) => Effect.Effect<Response.Response, HttpError, R>
): Effect.Effect<Response.Response, HttpError, R | Scope.Scope> =>
  Effect.flatMap(openVerified(config.verifier, directory, "Directory", noListing), (opened) => list(opened.readPath, opened))

/** The JSON or rich listing of entries already read (the caller checked one of them is wanted). */
const entriesResponse = (
  config: StaticConfig,
  request: StaticRequest,
  listed: ListingEntries.Listed<ListingEntries.ListedEntry>
): Response.Response =>
  askedForJson(config, request) ? jsonResponse(listed.entries.map(toJsonEntry), listed) : richResponse(config, request, listed)

const richResponse = (
  config: StaticConfig,
  request: StaticRequest,
  listed: ListingEntries.Listed<RichEntry>
): Response.Response => {
  const { order, sort } = parseSort(request.path)
  const page = renderRichListing(request.publicPath, listed, sort, order, {
    json: config.jsonListing,
    upload: config.upload,
    archives: config.archives !== undefined
  })
  const headers = [...htmlListingHeaders(config, page.length), ...PAGE_HEADERS]
  if (listed.truncated) headers.push(truncatedHeader(listed))
  return Response.make(200, { _tag: "Bytes", bytes: page }, { headers })
}

const htmlListing = (
  fs: FileSystem.FileSystem,
  config: StaticConfig,
  request: StaticRequest,
  directory: string
): Effect.Effect<Response.Response, HttpError> =>
  // Python lists the whole directory: no cap on this page.
  ListingEntries.withListingPermit(
    ListingEntries.readEntries(fs, directory, nameShown(config), linkShown(config), config.listingConcurrency, Infinity)
  ).pipe(
    Effect.mapBoth({
      onFailure: (error) => fsFailure(error, noListing),
      onSuccess: ({ entries }) => entries
    }),
    Effect.flatMap(listingTailChunks),
    Effect.map((tail) => listingResponse(config, request, tail))
  )

/**
 * `list_directory` from `readdir` with file types: one system call for the whole directory, plus a `stat` per
 * symbolic link (Python's `isdir` follows links). Through `FileSystem` each entry costs a `stat` and a `readLink`
 * (~130 µs together, measured): 1000 entries took ~200 ms per listing.
 */
export const fastListing = (
  config: StaticConfig,
  listings: ListingCache,
  request: StaticRequest,
  directory: string,
  version: FileVersion,
  readFrom: string = directory
): Effect.Effect<Response.Response, HttpError> => {
  if (askedForJson(config, request) || config.richListing) {
    return ListingEntries.withListingPermit(Effect.tryPromise({
      // Interrupted (the client gone), the signal stops the scan and the stats: the permit is free at once.
      try: (signal) =>
        ListingEntries.readEntriesNode(readFrom, nameShown(config), linkShown(config), undefined, signal),
      catch: (error) => fsFailure(error, noListing)
    })).pipe(Effect.map((listed) => entriesResponse(config, request, listed)))
  }
  const cached = listings.lookup(directory, version)
  if (cached !== undefined) return Effect.succeed(listingResponse(config, request, [cached]))
  // Read, sorted and rendered under the permit: what a burst of listings holds at once stays bounded.
  return ListingEntries.withListingPermit(
    Effect.tryPromise({
      try: (signal) => ListingEntries.readListingNode(readFrom, nameShown(config), linkShown(config), signal),
      catch: (error) => fsFailure(error, noListing)
    }).pipe(Effect.flatMap(({ entries, links }) =>
      sortByNameYielding(entries, (entry) => entry.name).pipe(
        Effect.flatMap(listingTailChunks),
        Effect.map((tail) => ({ tail, links }))
      )
    ))
  ).pipe(Effect.map(({ links, tail }) => {
    if (!links && listings.admits(version)) {
      const after = statQuiet(directory)
      const length = tail.reduce((sum, chunk) => sum + chunk.length, 0)
      if (after !== undefined && sameVersion(versionOf(after), version) && length <= listings.options.maxBytes) {
        listings.insert(directory, version, Buffer.concat(tail, length))
      }
    }
    return listingResponse(config, request, tail)
  }))
}

/** Python's listing page: its head (from the request path) and the tail's chunks. */
const listingResponse = (
  config: StaticConfig,
  request: StaticRequest,
  tail: ReadonlyArray<Uint8Array>
): Response.Response => {
  const head = encodeUtf8SurrogateEscape(listingHead(request.publicPath, config.colorScheme))
  const { body, length } = chunkedPage([head, ...tail])
  return Response.make(200, body, { headers: htmlListingHeaders(config, length) })
}
