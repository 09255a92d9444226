/**
 * The static handler's configuration, request and file metadata, shared by its modules (`staticFiles`,
 * `staticListing`, `fileAnswer`, `fileReads`).
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Data from "effect/Data"
import * as Option from "effect/Option"
import type * as NodeFs from "node:fs"
import { HttpError } from "../HttpError.js"
import { isUploadTemp } from "./upload.js"
import * as ListingEntries from "./listingEntries.js"
import type { ArchiveConfig } from "./archive.js"
import type { CompressConfig } from "./compress.js"
import type { Variant } from "./precompressed.js"
import type { FileCache, FileVersion } from "./fileCache.js"
import type { Verifier } from "./openVerified.js"

/** Everything a request needs, resolved once when the handler is built. */
export interface StaticConfig {
  /** The directory served, as Python's `self.directory`. */
  readonly root: string
  /** `guess_type(path)`. */
  readonly contentType: (path: string) => string
  readonly indexPages: ReadonlyArray<string>
  readonly rangeRequests: boolean
  readonly etag: boolean
  /** Files up to this size are read whole and written with their head in one go; larger ones are streamed. */
  readonly smallFileLimit: number
  /** Read size when streaming. */
  readonly chunkSize: number
  /** How many directory entries are examined at once when listing. */
  readonly listingConcurrency: number
  /** Python 3.14's `color-scheme: light dark` style in listings. */
  readonly colorScheme: boolean
  /** Names starting with `.` are not listed (requests for them are refused before `serve`). */
  readonly hideDotfiles: boolean
  /**
   * Whether a path, once its links are resolved, may be served: it stays under the root (`followSymlinks: false`)
   * and its resolved names below the root have no dot name (`hideDotfiles`); `undefined` with neither option (links
   * are followed anywhere, as Python does). Checked on the request path before `serve`, and here on index pages,
   * cache hits and listed links.
   */
  readonly confine: ((path: string) => boolean) | undefined
  /**
   * Set with `followSymlinks: false` or `hideDotfiles`: files and listed directories are opened first and served
   * only if what was opened passes the checks (`confine` alone is a pre-check that a swapped link could outrun).
   */
  readonly verifier: Verifier | undefined
  /** `?format=json` or an `Accept` preferring JSON gets the listing as JSON; listings then carry `Vary: Accept`. */
  readonly jsonListing: boolean
  /** A file's `.br` / `.gz` sibling is sent in its place when `Accept-Encoding` allows it. */
  readonly precompressed: boolean
  /** On-the-fly gzip / brotli of compressible files (`undefined`: off). */
  readonly compress: CompressConfig | undefined
  /** Listings as a sortable table with sizes and times (not cached). */
  readonly richListing: boolean
  /** `PUT` is served: the rich listing shows its upload section. */
  readonly upload: boolean
  /** `?download=tar.gz|zip` on a directory sends it as an archive (`undefined`: off). */
  readonly archives: ArchiveConfig | undefined
  /** Absolute directories nothing under which is served as a file (`Cgi`'s directories): archives leave them out. */
  readonly notServed: ReadonlyArray<string>
}

/** Whether a directory entry is listed by its name: dotfiles with `hideDotfiles`; an upload's temporary file never. */
export const nameShown = (config: StaticConfig): ListingEntries.NameShown => (name) =>
  !(config.hideDotfiles && name.startsWith(".")) && !isUploadTemp(name)

/**
 * With `followSymlinks: false`, `hideDotfiles` or CGI directories, a link is judged on what it opens (one open,
 * `fstat` and close per link, without blocking the event loop): refused, it is not listed; allowed, what is shown
 * is that object's size and time.
 */
export const linkShown = (config: StaticConfig): ListingEntries.LinkShown => config.verifier?.linkTarget

export const indexAllowed = (config: StaticConfig, candidate: string): boolean =>
  config.confine === undefined || config.confine(candidate)

/** What the static handler reads of a request. */
export interface StaticRequest {
  readonly method: string
  /** The path (with query) to look up under the root. */
  readonly path: string
  /**
   * The path the client asked for: the redirect's `Location` and the listing's title come from it. The same as
   * `path`, except when the files are mounted under a prefix (`toHttpApp`).
   */
  readonly publicPath: string
  readonly header: (name: string) => string | undefined
}

/** The file changed size under us while it was being sent: the response cannot be completed. */
export class FileShrunk extends Data.TaggedError("FileShrunk")<{ readonly path: string }> {}

// Failures are returned as `Exit.fail`, not `Effect.fail`: an Exit is answered without a fiber (Effect.fail of an
// object captures the current span through one), which made a 404 cost 3× a cached 200.
export const notFound = new HttpError({ status: 404, message: "File not found" })
export const noListing = new HttpError({ status: 404, message: "No permission to list directory" })

/** What the validators are made of. */
export interface FileMeta {
  readonly size: number
  /** Whole milliseconds, as `FileSystem` reports them (`Stats.mtime`, rounded). */
  readonly mtimeMs: number
  readonly ino: number | undefined
}

export const metaOfInfo = (info: FileSystem.File.Info): FileMeta => ({
  size: Number(info.size),
  mtimeMs: Option.match(info.mtime, { onNone: () => 0, onSome: (date) => date.getTime() }),
  ino: Option.getOrUndefined(info.ino)
})

export const metaOfStats = (stats: NodeFs.Stats): FileMeta => ({
  size: stats.size,
  mtimeMs: stats.mtime.getTime(),
  ino: stats.ino
})

/**
 * Where a small file's bytes come from besides `readFile`: the cache (answered synchronously), or `readFile` with
 * the result offered to the cache under `key` when the file is still `version` after the read.
 */
export type Source =
  | { readonly _tag: "Cached"; readonly bytes: Uint8Array }
  | {
    readonly _tag: "Populate"
    readonly cache: FileCache
    readonly key: string
    readonly version: FileVersion
    readonly variant: Variant | undefined
  }
