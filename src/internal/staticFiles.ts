/**
 * The body of `SimpleHTTPRequestHandler.send_head` / `list_directory`, plus ranges and entity tags, written against
 * `@effect/platform`'s `FileSystem` and independent of the engine's request type, so the same code serves the
 * engine's handlers and an `HttpApp`. Files sent and directories listed are opened with `node:fs` (`openVerified`)
 * whatever `FileSystem` is provided: only a descriptor of this process can be opened non-blocking and judged by
 * its `fstat` and its `/proc/self/fd` name, which is what makes a swapped FIFO, device or link harmless.
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import { HttpError } from "../HttpError.js"
import * as Response from "../Response.js"
import { directoryRedirect, pyJoin, translatePath } from "./urlPath.js"
import { isEncodable, statInfo } from "./osPath.js"
import { archiveFormat, archiveResponse } from "./archive.js"
import { compressListing } from "./compressListing.js"
import { chooseCoding } from "./compress.js"
import { choose, type Coding, CODINGS, siblingsSync, type Variant, variantKey } from "./precompressed.js"
import { type FileCache, type ListingCache, statQuiet, versionOf } from "./fileCache.js"
import { fsFailure, statOrFailure } from "./fsFailure.js"
import {
  type StaticConfig,
  indexAllowed,
  type StaticRequest,
  notFound,
  metaOfInfo,
  metaOfStats
} from "./staticConfig.js"
import { populate, serveFile } from "./fileAnswer.js"
import { fastListing, listing, withVerifiedDirectory } from "./staticListing.js"

export type { StaticConfig, StaticRequest } from "./staticConfig.js"

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
  // Python: os.path.isdir() is False for a NUL or a surrogate no byte stands for (`'\ud800'`: not one of
  // surrogateescape's), and open() then raises an exception that is not an OSError, so the connection closes
  // without a response. We answer 404 instead. `'\udce9'` is the name whose byte is 0xE9 (see `osPath`).
  if (!isEncodable(path)) return Exit.fail(notFound)
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
  Effect.catchAll(Effect.map(statInfo(fs, path), Option.some), (error) => {
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
      Effect.map(Effect.option(statInfo(fs, path + suffix)), (info) =>
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
  if (path.endsWith("/") || !isEncodable(path)) return undefined
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
    return Effect.flatMap(Effect.option(statInfo(fs, candidate)), (info) =>
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
    refuseUnder: config.notServed,
    head: request.method === "HEAD"
  })
}

// ---------------------------------------------------------------------------------------------------------------
// The fast path: the response cache, a synchronous stat, and listings from readdir's file types. Only used with
// the cache on, and only valid over the real file system (`node:fs`); `cache: false` keeps stats and listings on
// `FileSystem`.


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
  if (!isEncodable(path)) return Exit.fail(notFound)
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
