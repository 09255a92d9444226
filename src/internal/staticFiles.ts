/**
 * The body of `SimpleHTTPRequestHandler.send_head` / `list_directory`, plus ranges and entity tags, written against
 * `@effect/platform`'s `FileSystem` and independent of the engine's request type, so the same code serves the
 * engine's handlers and an `HttpApp`. Files sent and directories listed are opened with `node:fs` (`openVerified`)
 * whatever `FileSystem` is provided: only a descriptor of this process can be opened non-blocking and judged by
 * its `fstat` and its `/proc/self/fd` name, which is what makes a swapped FIFO, device or link harmless.
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { randomBytes } from "node:crypto"
import * as NodeFs from "node:fs"
import type { HeaderField } from "../Headers.js"
import { HttpError } from "../HttpError.js"
import * as Response from "../Response.js"
import { formatHttpDate, ifNoneMatchMatches, ifRangeMatches, makeEtag, notModifiedSince } from "./conditional.js"
import {
  chunkedPage,
  LISTING_CONTENT_TYPE,
  listingHead,
  listingTailChunks,
  sortByNameYielding
} from "./listing.js"
import { jsonResponse, toJsonEntry, truncatedHeader, VARY_ACCEPT, wantsJson } from "./jsonListing.js"
import { isUploadTemp } from "./upload.js"
import * as ListingEntries from "./listingEntries.js"
import { type ByteRange, contentRange, decideRange, multipart, unsatisfiedRange } from "./ranges.js"
import { directoryRedirect, encodeUtf8SurrogateEscape, hasLoneSurrogate, pyJoin, translatePath } from "./urlPath.js"
import { parseSort, type RichEntry, renderRichListing } from "./richListing.js"
import { PAGE_HEADERS } from "./richPage/csp.js"
import { type ArchiveConfig, archiveFormat, archiveResponse } from "./archive.js"
import { compressListing } from "./compressListing.js"
import { chooseCoding, compressBytes, type CompressConfig, compressedEtag, compressStream, eligible } from "./compress.js"
import { choose, type Coding, CODINGS, siblingsSync, type Variant, variantEtag, variantKey } from "./precompressed.js"
import {
  type CacheEntry,
  type FileCache,
  type FileVersion,
  type ListingCache,
  sameVersion,
  statQuiet,
  versionOf
} from "./fileCache.js"
import { fsFailure, statOrFailure } from "./fsFailure.js"
import { type Opened, openVerified, type Verifier } from "./openVerified.js"

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
}

/** Whether a directory entry is listed by its name: dotfiles with `hideDotfiles`; an upload's temporary file never. */
const nameShown = (config: StaticConfig): ListingEntries.NameShown => (name) =>
  !(config.hideDotfiles && name.startsWith(".")) && !isUploadTemp(name)

/**
 * With `followSymlinks: false`, `hideDotfiles` or CGI directories, a link is judged on what it opens (one open,
 * `fstat` and close per link, without blocking the event loop): refused, it is not listed; allowed, what is shown
 * is that object's size and time.
 */
const linkShown = (config: StaticConfig): ListingEntries.LinkShown => config.verifier?.linkTarget

const indexAllowed = (config: StaticConfig, candidate: string): boolean =>
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
const notFound = new HttpError({ status: 404, message: "File not found" })
const noListing = new HttpError({ status: 404, message: "No permission to list directory" })

/**
 * Python's `send_head` for GET and HEAD. Files are opened in the request's `Scope`, so the handle is released once
 * the response is written, when the client goes away, or when the server stops.
 */
export const serve = (
  fs: FileSystem.FileSystem,
  config: StaticConfig,
  request: StaticRequest
): Effect.Effect<Response.Response, HttpError, Scope.Scope> => {
  const path = translatePath(config.root, request.path)
  // Python: os.path.isdir() is False for a NUL or an unencodable surrogate, and open() then raises an exception
  // that is not an OSError, so the connection closes without a response. We answer 404 instead.
  if (path.includes("\0") || hasLoneSurrogate(path)) return Exit.fail(notFound)
  return Effect.flatMap(statOption(fs, path), (info) => {
    if (Option.isSome(info) && info.value.type === "Directory") {
      const location = directoryRedirect(request.publicPath)
      if (location !== undefined) {
        return Effect.succeed(Response.make(301, Response.emptyBody, {
          headers: [["Location", location], ["Content-Length", "0"]]
        }))
      }
      return indexOrListing(fs, config, request, path)
    }
    // A trailing slash on a file is a 404 (bpo-17324); stat already failed with ENOTDIR for it.
    if (Option.isNone(info) || info.value.type !== "File" || path.endsWith("/")) return Exit.fail(notFound)
    if (!config.precompressed) return serveFile(fs, config, request, path, metaOfInfo(info.value))
    const original = info.value
    return Effect.flatMap(siblings(fs, config, path), (found) => {
      const coding = choose(request.header("accept-encoding"), found.map(([c]) => c))
      const chosen = found.find(([c]) => c === coding)
      const variant: Variant = {
        coding,
        vary: found.length > 0,
        contentType: config.contentType(path),
        path: chosen?.[1] ?? path,
        stats: undefined
      }
      return serveFile(fs, config, request, variant.path, metaOfInfo(chosen?.[2] ?? original), undefined, variant)
    })
  })
}

/** `stat`, with "not there" as `None` and the server's own trouble (EMFILE, EIO...) as its error answer. */
const statOption = (fs: FileSystem.FileSystem, path: string): Effect.Effect<Option.Option<FileSystem.File.Info>, HttpError> =>
  Effect.catchAll(Effect.map(fs.stat(path), Option.some), (error) => {
    const failure = fsFailure(error, notFound)
    return failure === notFound ? Effect.succeed(Option.none()) : Effect.fail(failure)
  })

/** The `.br` / `.gz` siblings of `path` that are regular files (and inside the root, with `followSymlinks: false`). */
const siblings = (
  fs: FileSystem.FileSystem,
  config: StaticConfig,
  path: string
): Effect.Effect<Array<readonly [Coding, string, FileSystem.File.Info]>> =>
  Effect.map(
    Effect.forEach(CODINGS, ([coding, suffix]) =>
      Effect.map(Effect.option(fs.stat(path + suffix)), (info) =>
        Option.isSome(info) && info.value.type === "File" && indexAllowed(config, path + suffix)
          ? [[coding, path + suffix, info.value] as const]
          : [])),
    (lists) => lists.flat()
  )

/**
 * The variant a request gets for `requestPath` when it names a file (synchronously, for the response cache):
 * `undefined` when it does not name a file or the file has no sibling (the answer is then the plain one).
 */
const variantSync = (config: StaticConfig, request: StaticRequest): Variant | undefined => {
  const path = translatePath(config.root, request.path)
  if (path.endsWith("/") || path.includes("\0") || hasLoneSurrogate(path)) return undefined
  const stats = statQuiet(path)
  if (stats === undefined || !stats.isFile()) return undefined
  const found = siblingsSync(path, (sibling) => indexAllowed(config, sibling))
  if (found.length === 0) return undefined
  const coding = choose(request.header("accept-encoding"), found.map(([c]) => c))
  const chosen = found.find(([c]) => c === coding)
  return {
    coding,
    vary: true,
    contentType: config.contentType(path),
    path: chosen?.[1] ?? path,
    stats: chosen?.[2] ?? stats
  }
}

const indexOrListing = (
  fs: FileSystem.FileSystem,
  config: StaticConfig,
  request: StaticRequest,
  directory: string
): Effect.Effect<Response.Response, HttpError, Scope.Scope> => {
  const archive = archiveOf(config, request, directory)
  if (archive !== undefined) return archive
  const tryIndex = (i: number): Effect.Effect<Response.Response, HttpError, Scope.Scope> => {
    if (i >= config.indexPages.length) {
      return compressListing(config.compress, request.header("accept-encoding"), listing(fs, config, request, directory))
    }
    const candidate = pyJoin(directory, config.indexPages[i]!)
    return Effect.flatMap(Effect.option(fs.stat(candidate)), (info) =>
      Option.isSome(info) && info.value.type === "File" && indexAllowed(config, candidate)
        ? serveFile(fs, config, request, candidate, metaOfInfo(info.value))
        : tryIndex(i + 1))
  }
  return tryIndex(0)
}

/** With `archives`, a directory asked for with `?download=tar.gz|zip` (before its index page: the query asks). */
const archiveOf = (
  config: StaticConfig,
  request: StaticRequest,
  directory: string
): Effect.Effect<Response.Response, HttpError, Scope.Scope> | undefined => {
  const format = config.archives === undefined ? undefined : archiveFormat(request.path)
  if (format === undefined || config.archives === undefined) return undefined
  const base = directory.replace(/\/+$/, "")
  const name = base === config.root.replace(/\/+$/, "") ? "archive" : base.slice(base.lastIndexOf("/") + 1)
  return archiveResponse({
    root: config.root,
    directory,
    name: name === "" ? "archive" : name,
    format,
    config: config.archives,
    hideDotfiles: config.hideDotfiles,
    head: request.method === "HEAD"
  })
}

const askedForJson = (config: StaticConfig, request: StaticRequest): boolean =>
  config.jsonListing && wantsJson(request.path, request.header("accept"))

/** The HTML listing's fields, with `Vary: Accept` when the JSON listing could have been chosen instead. */
const htmlListingHeaders = (config: StaticConfig, length: number): Array<HeaderField> => {
  const headers: Array<HeaderField> = [["Content-type", LISTING_CONTENT_TYPE], ["Content-Length", String(length)]]
  if (config.jsonListing) headers.push(VARY_ACCEPT)
  return headers
}

/** Python's `list_directory`, or the JSON listing when asked for. */
const listing = (
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
const withVerifiedDirectory = <R>(
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

/** A read of the file failed (EIO and the like) after it was opened. */
export class FileReadFailed extends Data.TaggedError("FileReadFailed")<{ readonly path: string; readonly cause: unknown }> {}

interface PendingRead {
  /** Set when the read has completed. */
  result: { readonly error: Error | null; readonly chunk: Buffer; readonly short: boolean } | undefined
  /** Who waits for it. */
  waiter: (() => void) | undefined
}

/**
 `length` bytes from `start` of the opened file, with `node:fs` reads on its descriptor, keeping one read in flight
 * ahead of the consumer, so the disk read of chunk n+1 overlaps the socket write of chunk n (as
 * `createReadStream().pipe()` does). Measured on a 10 MiB file: ~390 MB/s with `FileSystem`'s `readAlloc`, one
 * chunk at a time. The descriptor stays owned
 * by the request's scope: the stream's finalizer waits for the read in flight before that scope may close it (a
 * read on a closed, reused descriptor would read someone else's file or socket).
 */
const directSlice = (
  fd: number,
  path: string,
  start: number,
  length: number,
  chunkSize: number
): Stream.Stream<Uint8Array, FileShrunk | FileReadFailed> =>
  Stream.suspend(() => {
    let position = start
    let remaining = length
    let shrunk = false
    let ahead: PendingRead | undefined
    let inFlight: PendingRead | undefined
    const issue = (): PendingRead | undefined => {
      if (remaining <= 0) return undefined
      const size = Math.min(chunkSize, remaining)
      const buffer = Buffer.allocUnsafe(size)
      const read: PendingRead = { result: undefined, waiter: undefined }
      inFlight = read
      NodeFs.read(fd, buffer, 0, size, position, (error, n) => {
        if (inFlight === read) inFlight = undefined
        read.result = { error, chunk: n === size ? buffer : buffer.subarray(0, n), short: n < size }
        read.waiter?.()
      })
      position += size
      remaining -= size
      return read
    }
    const next = Effect.async<Uint8Array, Option.Option<FileShrunk | FileReadFailed>>((resume) => {
      if (shrunk) return resume(Effect.fail(Option.some(new FileShrunk({ path }))))
      const read = ahead ?? issue()
      ahead = undefined
      if (read === undefined) return resume(Effect.fail(Option.none()))
      const deliver = () => {
        const { chunk, error, short } = read.result!
        if (error !== null) return resume(Effect.fail(Option.some(new FileReadFailed({ path, cause: error }))))
        if (chunk.length === 0) return resume(Effect.fail(Option.some(new FileShrunk({ path }))))
        // Shorter than asked: the file shrank; send what was read, then fail.
        if (short) shrunk = true
        else ahead = issue()
        resume(Effect.succeed(chunk))
      }
      if (read.result !== undefined) deliver()
      else read.waiter = deliver
    })
    const settled = Effect.async<void>((resume) => {
      const read = inFlight
      if (read === undefined || read.result !== undefined) return resume(Effect.void)
      read.waiter = () => resume(Effect.void)
    })
    return Stream.ensuring(Stream.repeatEffectOption(next), settled)
  })

type Body =
  | { readonly _tag: "Full" }
  | { readonly _tag: "Single"; readonly range: ByteRange }
  | { readonly _tag: "Multi"; readonly ranges: ReadonlyArray<ByteRange>; readonly partType: string }

/** What the validators are made of. */
export interface FileMeta {
  readonly size: number
  /** Whole milliseconds, as `FileSystem` reports them (`Stats.mtime`, rounded). */
  readonly mtimeMs: number
  readonly ino: number | undefined
}

const metaOfInfo = (info: FileSystem.File.Info): FileMeta => ({
  size: Number(info.size),
  mtimeMs: Option.match(info.mtime, { onNone: () => 0, onSome: (date) => date.getTime() }),
  ino: Option.getOrUndefined(info.ino)
})

const metaOfStats = (stats: NodeFs.Stats): FileMeta => ({
  size: stats.size,
  mtimeMs: stats.mtime.getTime(),
  ino: stats.ino
})

/**
 * Where a small file's bytes come from besides `readFile`: the cache (answered synchronously), or `readFile` with
 * the result offered to the cache under `key` when the file is still `version` after the read.
 */
type Source =
  | { readonly _tag: "Cached"; readonly bytes: Uint8Array }
  | {
    readonly _tag: "Populate"
    readonly cache: FileCache
    readonly key: string
    readonly version: FileVersion
    readonly variant: Variant | undefined
  }

/**
 * The file part of `send_head`. The file is opened first (`openVerified`: non-blocking, so a FIFO swapped in
 * cannot hang a thread; checked by the verifier when there is one), and everything sent — validators, length,
 * bytes — comes from that descriptor and its `fstat`; cached bytes were read from such a descriptor. The `meta`
 * of the caller's earlier `stat` only serves cached answers.
 */
const serveFile = (
  fs: FileSystem.FileSystem,
  config: StaticConfig,
  request: StaticRequest,
  path: string,
  meta: FileMeta,
  source?: Source,
  variant?: Variant
): Effect.Effect<Response.Response, HttpError, Scope.Scope> =>
  source?._tag === "Cached"
    ? serveFileFrom(fs, config, request, path, meta, source, variant, undefined)
    : Effect.flatMap(openVerified(config.verifier, path, "File", notFound), (opened) =>
      serveFileFrom(
        fs,
        config,
        request,
        path,
        metaOfStats(opened.stats),
        source === undefined ? undefined : populate(source.cache, source.key, opened.stats, source.variant),
        variant,
        opened
      ))

let wholeReads = 0

/**
 * How many files this process has read whole to answer (a response-cache hit reads none, HEAD reads none): what
 * the cache's tests observe now that the bytes are read from descriptors, not through `FileSystem`.
 */
export const wholeReadCount = (): number => wholeReads

/**
 * The whole file, from the opened descriptor: at most `opened.stats.size` bytes, never to end of file (a device
 * swapped in is refused by its `fstat`; a regular file that grew is cut at the size its validators describe; what
 * was read is sent with its true length if it shrank). Uninterruptible: the request's scope must not close the
 * descriptor under a read in flight (a reused number would be read instead, another client's socket even).
 */
const readWhole = (opened: Opened): Effect.Effect<Uint8Array, HttpError> =>
  Effect.uninterruptible(Effect.async((resume) => {
    wholeReads++
    const buffer = Buffer.allocUnsafe(opened.stats.size)
    const next = (filled: number): void => {
      if (filled === buffer.length) return resume(Effect.succeed(buffer))
      NodeFs.read(opened.fd, buffer, filled, buffer.length - filled, filled, (error, n) => {
        if (error !== null) return resume(Effect.fail(fsFailure(error, notFound)))
        if (n === 0) return resume(Effect.succeed(buffer.subarray(0, filled)))
        next(filled + n)
      })
    }
    next(0)
  }))

/** A reader of the open file's slices (each bounded by its length, so never past the `fstat` size). */
const sliceOf = (config: StaticConfig, path: string, opened: Opened): Slice => (start, length) =>
  directSlice(opened.fd, path, start, length, config.chunkSize)

/** The descriptor of a file that is not cached (only a `Cached` source comes without one). */
const openedOrMissing = (opened: Opened | undefined): Effect.Effect<Opened, HttpError> =>
  opened === undefined ? Exit.fail(notFound) : Effect.succeed(opened)

/** The file part of `send_head`: validators, conditional requests, ranges, then the body. */
const serveFileFrom = (
  fs: FileSystem.FileSystem,
  config: StaticConfig,
  request: StaticRequest,
  path: string,
  meta: FileMeta,
  source: Source | undefined,
  variant: Variant | undefined,
  opened: Opened | undefined
): Effect.Effect<Response.Response, HttpError, Scope.Scope> => {
  const size = meta.size
  const mtimeMs = meta.mtimeMs
  const mtimeSeconds = Math.floor(mtimeMs / 1000)
  const coding = variant?.coding
  const contentType = variant?.contentType ?? config.contentType(path)
  // On-the-fly compression: never over a precompressed sibling, never for a Range (identity bytes, as ranges
  // of a compressed stream would not be reproducible).
  const compressible = config.compress !== undefined && coding === undefined &&
    eligible(config.compress, contentType, size)
  const dynamic = compressible && request.header("range") === undefined
    ? chooseCoding(request.header("accept-encoding"))
    : undefined
  const plainEtag = config.etag ? makeEtag(meta.ino, size, mtimeMs) : undefined
  const etag = plainEtag === undefined
    ? undefined
    : coding !== undefined
    ? variantEtag(plainEtag, coding)
    : dynamic !== undefined
    ? compressedEtag(plainEtag, dynamic)
    : plainEtag
  // RFC 9110 §12.5.5: a 304 carries the Vary its 200 would.
  const vary: ReadonlyArray<HeaderField> = variant?.vary === true || compressible
    ? [["Vary", "Accept-Encoding"]]
    : []

  // Python consults If-Modified-Since only without If-None-Match; with ETags on, If-None-Match decides.
  const ifNoneMatch = request.header("if-none-match")
  let notModified = false
  if (ifNoneMatch !== undefined) {
    notModified = etag !== undefined && ifNoneMatchMatches(ifNoneMatch, etag)
  } else {
    const ims = request.header("if-modified-since")
    notModified = ims !== undefined && notModifiedSince(ims, mtimeMs / 1000)
  }
  if (notModified) {
    const headers: ReadonlyArray<HeaderField> = etag === undefined ? vary : [["ETag", etag], ...vary]
    return Effect.succeed(Response.make(304, Response.emptyBody, { headers }))
  }

  const lastModified = formatHttpDate(mtimeSeconds)
  const extra: Array<HeaderField> = []
  if (config.rangeRequests) extra.push(["Accept-Ranges", "bytes"])
  if (etag !== undefined) extra.push(["ETag", etag])
  if (coding !== undefined || dynamic !== undefined) extra.push(["Content-Encoding", (coding ?? dynamic)!])
  extra.push(...vary)

  if (dynamic !== undefined) {
    return compressedAnswer(fs, config, request, path, meta, source, opened, dynamic, [
      ["Content-type", contentType],
      ["Last-Modified", lastModified],
      ...extra
    ])
  }

  let body: Body = { _tag: "Full" }
  const range = config.rangeRequests && request.method === "GET" ? request.header("range") : undefined
  if (range !== undefined) {
    const ifRange = request.header("if-range")
    if (ifRange === undefined || ifRangeMatches(ifRange, etag, mtimeSeconds)) {
      const decision = decideRange(range, size)
      switch (decision._tag) {
        case "Unsatisfiable":
          return Exit.fail(new HttpError({ status: 416, headers: [["Content-Range", unsatisfiedRange(size)]] }))
        case "Single":
          body = decision
          break
        case "Multi":
          body = { _tag: "Multi", ranges: decision.ranges, partType: contentType }
          break
      }
    }
  }

  const headersFor = (type: string, length: number, rangeHeader: string | undefined): Array<HeaderField> => {
    // Python's order and spelling: Content-type, Content-Length, Last-Modified.
    const headers: Array<HeaderField> = [
      ["Content-type", type],
      ["Content-Length", String(length)],
      ["Last-Modified", lastModified]
    ]
    if (rangeHeader !== undefined) headers.push(["Content-Range", rangeHeader])
    return headers.concat(extra)
  }

  const plan = planResponse(body, size)
  const headers = headersFor(plan.contentType ?? contentType, plan.length, plan.contentRange)
  if (request.method === "HEAD") return Effect.succeed(Response.make(200, Response.emptyBody, { headers }))

  if (source?._tag === "Cached") {
    const bytes = source.bytes
    const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)
    return Effect.succeed(Response.make(plan.status, { _tag: "Bytes", bytes: plan.fromBuffer(buffer) }, { headers }))
  }
  if (size <= config.smallFileLimit) {
    return openedOrMissing(opened).pipe(
      Effect.flatMap(readWhole),
      Effect.map((bytes) => {
        if (source !== undefined && bytes.length === size) offer(fs, config, source, path, meta, bytes)
        if (bytes.length !== size) {
          // Changed since stat: send what was read, whole, with its true length.
          const fresh = headersFor(contentType, bytes.length, undefined)
          return Response.make(200, { _tag: "Bytes", bytes }, { headers: fresh })
        }
        const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)
        return Response.make(plan.status, { _tag: "Bytes", bytes: plan.fromBuffer(buffer) }, { headers })
      })
    )
  }
  return openedOrMissing(opened).pipe(
    Effect.map((descriptor) => {
      const { fd } = descriptor
      const slice = sliceOf(config, path, descriptor)
      // One contiguous piece: the engine writes it from the descriptor itself.
      if (plan.span !== undefined) {
        const [start, length] = plan.span
        return Response.make(plan.status, {
          _tag: "File",
          fd,
          start,
          length,
          stream: slice(start, length)
        }, { headers })
      }
      return Response.make(plan.status, { _tag: "Stream", stream: plan.fromFile(slice) }, { headers })
    })
  )
}

/**
 * A file compressed on the fly: in memory with its length when it is small (or cached), streamed through zlib
 * without a length otherwise (the engine then closes the connection after the body). HEAD gets no length: it
 * would cost the compression.
 */
const compressedAnswer = (
  fs: FileSystem.FileSystem,
  config: StaticConfig,
  request: StaticRequest,
  path: string,
  meta: FileMeta,
  source: Source | undefined,
  opened: Opened | undefined,
  coding: Coding,
  fields: ReadonlyArray<HeaderField>
): Effect.Effect<Response.Response, HttpError, Scope.Scope> => {
  if (request.method === "HEAD") return Effect.succeed(Response.make(200, Response.emptyBody, { headers: fields }))
  const whole = (bytes: Uint8Array) =>
    Effect.map(Effect.orDie(compressBytes(coding, bytes)), (compressed) =>
      Response.make(200, { _tag: "Bytes", bytes: compressed }, {
        headers: [fields[0]!, ["Content-Length", String(compressed.length)], ...fields.slice(1)]
      }))
  if (source?._tag === "Cached") return whole(source.bytes)
  if (meta.size <= config.smallFileLimit) {
    return openedOrMissing(opened).pipe(
      Effect.flatMap(readWhole),
      Effect.tap((bytes) => {
        if (source !== undefined && bytes.length === meta.size) offer(fs, config, source, path, meta, bytes)
      }),
      Effect.flatMap(whole)
    )
  }
  return openedOrMissing(opened).pipe(
    Effect.map((opened) => {
      const raw = sliceOf(config, path, opened)(0, meta.size)
      return Response.make(200, { _tag: "Stream", stream: compressStream(coding, raw) }, { headers: fields })
    })
  )
}

/** `length` bytes of the open file from `start`, as a stream. */
type Slice = (start: number, length: number) => Stream.Stream<Uint8Array, unknown>

interface Plan {
  readonly status: number
  readonly length: number
  readonly contentType: string | undefined
  readonly contentRange: string | undefined
  readonly fromBuffer: (bytes: Buffer) => Uint8Array
  readonly fromFile: (slice: Slice) => Stream.Stream<Uint8Array, unknown>
  /** Start and length of the file's bytes when the body is one contiguous piece of it. */
  readonly span: readonly [start: number, length: number] | undefined
}

/** Status, length and body readers for the chosen body shape. */
const planResponse = (body: Body, size: number): Plan => {
  switch (body._tag) {
    case "Full":
      return {
        status: 200,
        length: size,
        contentType: undefined,
        contentRange: undefined,
        fromBuffer: (bytes) => bytes,
        fromFile: (slice) => slice(0, size),
        span: [0, size]
      }
    case "Single": {
      const { end, start } = body.range
      return {
        status: 206,
        length: end - start + 1,
        contentType: undefined,
        contentRange: contentRange(body.range, size),
        fromBuffer: (bytes) => bytes.subarray(start, end + 1),
        fromFile: (slice) => slice(start, end - start + 1),
        span: [start, end - start + 1]
      }
    }
    case "Multi": {
      const layout = multipart(body.ranges, size, body.partType, randomBytes(12).toString("hex"))
      return {
        status: 206,
        length: layout.length,
        contentType: layout.contentType,
        contentRange: undefined,
        fromBuffer: (bytes) =>
          Buffer.concat([
            ...body.ranges.flatMap((range, i) => [layout.heads[i]!, bytes.subarray(range.start, range.end + 1)]),
            layout.tail
          ]),
        fromFile: (slice) => {
          let stream: Stream.Stream<Uint8Array, unknown> = Stream.empty
          body.ranges.forEach((range, i) => {
            stream = Stream.concat(stream, Stream.succeed<Uint8Array>(layout.heads[i]!))
            stream = Stream.concat(stream, slice(range.start, range.end - range.start + 1))
          })
          return Stream.concat(stream, Stream.succeed<Uint8Array>(layout.tail))
        },
        span: undefined
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The fast path: the response cache, a synchronous stat, and listings from readdir's file types. Only used with
// the cache on, and only valid over the real file system (`node:fs`); `cache: false` keeps stats and listings on
// `FileSystem`.

const PLAIN_GET: StaticRequest = { method: "GET", path: "", publicPath: "", header: () => undefined }
const PLAIN_HEAD: StaticRequest = { ...PLAIN_GET, method: "HEAD" }

/** Caches `bytes` if the file is, after the read, still the version stat'ed before it (and old enough). */
const offer = (
  fs: FileSystem.FileSystem,
  config: StaticConfig,
  source: Extract<Source, { _tag: "Populate" }>,
  path: string,
  meta: FileMeta,
  bytes: Uint8Array
): void => {
  const { cache, key, variant, version } = source
  if (!cache.admits(version)) return
  const after = statQuiet(path)
  if (after === undefined || !after.isFile() || !sameVersion(versionOf(after), version)) return
  const cached: Source = { _tag: "Cached", bytes }
  const entry: CacheEntry = {
    path,
    version,
    meta,
    bytes,
    get: serveFile(fs, config, PLAIN_GET, path, meta, cached, variant),
    head: serveFile(fs, config, PLAIN_HEAD, path, meta, cached, variant)
  }
  cache.insert(key, entry)
}

const populate = (
  cache: FileCache,
  key: string,
  stats: NodeFs.Stats,
  variant?: Variant
): Source | undefined => {
  const version = versionOf(stats)
  return cache.admits(version) ? { _tag: "Populate", cache, key, version, variant } : undefined
}

/**
 * What `translatePath` reads of a request path: the part before `?` and `#` (a query does not change the file, so
 * `/a?x=1` and `/a?x=2` share one entry).
 */
const cacheKey = (path: string): string => {
  const query = path.indexOf("?")
  const fragment = path.indexOf("#")
  const end = query < 0 ? fragment : fragment < 0 ? query : Math.min(query, fragment)
  return end < 0 ? path : path.slice(0, end)
}

/**
 * `serve` with the response cache. A hit (one `statSync` showing the same file version) without
 * `If-None-Match`, `If-Modified-Since` or `Range` returns the ready-made Exit; with them, the answer is computed
 * from the cached metadata and bytes, still synchronously. A miss takes the same steps as `serve`, with a
 * synchronous stat (so a 404 or a redirect is an Exit too), and offers what it reads to the cache.
 */
export const serveWithCache = (
  fs: FileSystem.FileSystem,
  config: StaticConfig,
  cache: FileCache,
  listings: ListingCache,
  request: StaticRequest
): Effect.Effect<Response.Response, HttpError, Scope.Scope> => {
  // With `precompressed`, the coding chosen (and whether the answer varies) is part of the key: one entry per
  // variant, each validated by the stat of the file it was read from.
  const variant = config.precompressed ? variantSync(config, request) : undefined
  const key = cacheKey(request.path) + variantKey(variant)
  const hit = cache.lookup(key)
  // A link re-pointed out of the root after the answer was cached must not be served from the cache.
  if (hit !== undefined && (config.confine === undefined || config.confine(hit.path))) {
    if (
      request.header("if-none-match") === undefined && request.header("if-modified-since") === undefined &&
      request.header("range") === undefined &&
      // The ready-made answers are the identity ones (built without Accept-Encoding).
      (config.compress === undefined || chooseCoding(request.header("accept-encoding")) === undefined)
    ) {
      return request.method === "HEAD" ? hit.head : hit.get
    }
    return serveFile(fs, config, request, hit.path, hit.meta, { _tag: "Cached", bytes: hit.bytes }, variant)
  }
  const path = translatePath(config.root, request.path)
  if (path.includes("\0") || hasLoneSurrogate(path)) return Exit.fail(notFound)
  const stats = statOrFailure(path, notFound)
  if (stats instanceof HttpError) return Exit.fail(stats)
  if (stats.isDirectory()) {
    const location = directoryRedirect(request.publicPath)
    if (location !== undefined) {
      return Effect.succeed(Response.make(301, Response.emptyBody, {
        headers: [["Location", location], ["Content-Length", "0"]]
      }))
    }
    const archive = archiveOf(config, request, path)
    if (archive !== undefined) return archive
    for (const page of config.indexPages) {
      const candidate = pyJoin(path, page)
      const info = statQuiet(candidate)
      if (info !== undefined && info.isFile() && indexAllowed(config, candidate)) {
        return serveFile(fs, config, request, candidate, metaOfStats(info), populate(cache, key, info))
      }
    }
    return compressListing(
      config.compress,
      request.header("accept-encoding"),
      withVerifiedDirectory(config, path, (readFrom, opened) =>
        fastListing(config, listings, request, path, versionOf(opened.stats), readFrom))
    )
  }
  if (!stats.isFile() || path.endsWith("/")) return Exit.fail(notFound)
  if (variant !== undefined) {
    const served = variant.stats!
    return serveFile(fs, config, request, variant.path, metaOfStats(served), populate(cache, key, served, variant), variant)
  }
  return serveFile(fs, config, request, path, metaOfStats(stats), populate(cache, key, stats))
}

/**
 * `list_directory` from `readdir` with file types: one system call for the whole directory, plus a `stat` per
 * symbolic link (Python's `isdir` follows links). Through `FileSystem` each entry costs a `stat` and a `readLink`
 * (~130 µs together, measured): 1000 entries took ~200 ms per listing.
 */
const fastListing = (
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
