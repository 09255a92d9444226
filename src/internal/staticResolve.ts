/**
 * The static-file handler's settings, resolved and checked once when the handler is built: `StaticFilesOptions`
 * into the `StaticConfig` that `staticFiles.ts` serves with, the caches, the extra fields, the SPA page, the
 * credentials and the upload settings. An invalid option is a defect.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { HeaderField } from "../Headers.js"
import { MimeTypes } from "../MimeTypes.js"
import type { StaticFilesOptions } from "../StaticFiles.js"
import * as Archive from "./archive.js"
import * as BasicAuth from "./basicAuth.js"
import * as Compress from "./compress.js"
import { extraHeaderProblem, type Extras as ExtrasConfig, fieldValueProblem, hasDotName, printable } from "./extras.js"
import { FileCache, ListingCache } from "./fileCache.js"
import { makeVerifier } from "./openVerified.js"
import { osCwd } from "./osArgs.js"
import { statInfo } from "./osPath.js"
import { fallbackNameProblem, fallbackPath } from "./spa.js"
import type { StaticConfig } from "./staticFiles.js"
import * as Upload from "./upload.js"
import * as UrlPath from "./urlPath.js"

// posixpath.splitext's extension: from the last dot of the last component, unless that component is all dots
// before it (".bashrc" has none).
const extensionOf = (path: string): string => {
  const dot = path.lastIndexOf(".")
  const slash = path.lastIndexOf("/")
  if (dot <= slash) return ""
  for (let i = slash + 1; i < dot; i++) if (path.charCodeAt(i) !== 0x2e) return path.slice(dot)
  return ""
}

export const resolveConfig = (options: StaticFilesOptions) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const mime = yield* MimeTypes
    const overrides = options.extensionsMap === undefined ? undefined : new Map(Object.entries(options.extensionsMap))
    const contentType = overrides === undefined ? mime.contentType : (file: string): string => {
      const ext = extensionOf(file)
      return overrides.get(ext) ?? overrides.get(ext.toLowerCase()) ?? mime.contentType(file)
    }
    const extended = options.pythonCompat !== true
    let config: StaticConfig = {
      // Resolved once, so a later chdir does not move the served tree (Python re-resolves a relative directory).
      root: path.resolve(osCwd(), options.directory ?? "."),
      contentType,
      indexPages: options.indexPages ?? ["index.html", "index.htm"],
      rangeRequests: options.rangeRequests ?? extended,
      etag: options.etag ?? extended,
      smallFileLimit: options.smallFileLimit ?? 64 * 1024,
      // 256 KiB: measured ~1.5x the throughput of 64 KiB on a 10 MiB file (fewer Stream steps per byte).
      chunkSize: options.chunkSize ?? 256 * 1024,
      listingConcurrency: 16,
      colorScheme: options.colorScheme ?? false,
      hideDotfiles: options.hideDotfiles ?? false,
      confine: undefined,
      verifier: undefined,
      jsonListing: options.jsonListing ?? false,
      precompressed: options.precompressed ?? false,
      compress: yield* validCompress(options.compress),
      richListing: options.richListing ?? false,
      upload: options.upload !== undefined && options.upload !== false,
      archives: yield* validArchives(options.archives),
      notServed: (options.notServed ?? []).map((dir) => UrlPath.translatePath(path.resolve(osCwd(), options.directory ?? "."), dir).replace(/\/+$/, ""))
    }
    const verifier = makeVerifier(config.root, {
      confine: options.followSymlinks === false,
      hideDotfiles: config.hideDotfiles,
      refuseUnder: config.notServed
    })
    if (verifier !== undefined) config = { ...config, confine: verifier.allowsPath, verifier }
    const dotIndex = config.hideDotfiles ? config.indexPages.find(hasDotName) : undefined
    if (dotIndex !== undefined) {
      return yield* Effect.dieMessage(`StaticFiles: indexPages '${printable(dotIndex)}' is a dot name, which hideDotfiles hides`)
    }
    const extras: ExtrasConfig = {
      headers: yield* validHeaders(options.headers ?? []),
      cacheControl: yield* validCacheControl(options.cacheControl),
      cors: options.cors ?? false
    }
    const cacheOptions = options.cache === undefined || options.cache === true ? {} : options.cache
    const cache = cacheOptions === false ? undefined : new FileCache({
      maxEntries: cacheOptions.maxEntries ?? 1000,
      maxBytes: cacheOptions.maxBytes ?? 32 * 1024 * 1024,
      maxFileSize: cacheOptions.maxFileSize ?? config.smallFileLimit,
      settleMs: cacheOptions.settleMs ?? 2000
    })
    // Listings cached besides: a 1000-entry page's entries are ~50 KB.
    const listings = cacheOptions === false ? undefined : new ListingCache({
      maxEntries: 100,
      maxBytes: 8 * 1024 * 1024,
      settleMs: cacheOptions.settleMs ?? 2000
    })
    const spa = options.spaFallback === undefined ? undefined : yield* validFallback(fs, config.root, options.spaFallback)
    const auth = options.basicAuth === undefined ? undefined : yield* validCredentials(options.basicAuth)
    const upload = options.upload === undefined || options.upload === false
      ? undefined
      : yield* validUpload(config.root, options.upload === true ? {} : options.upload)
    return { fs, config, cache, listings, extras, spa, auth, upload }
  })
/** `basicAuth` as a list, checked (a defect when invalid, as the other options). */
export const validCredentials = (
  value: BasicAuth.Credentials | ReadonlyArray<BasicAuth.Credentials>
): Effect.Effect<ReadonlyArray<BasicAuth.Credentials>> => {
  const list = BasicAuth.credentialsList(value)
  return typeof list === "string" ? Effect.dieMessage(`StaticFiles: basicAuth: ${list}`) : Effect.succeed(list)
}

/**
 * An option's counts, each the value given or its default, checked in order: a safe integer of at least its minimum
 * (0 or 1), else a defect naming the first that is not. The one rule for compress, archives and upload.
 */
const validCounts = <K extends string>(
  owner: string,
  given: { readonly [key in K]?: number | undefined },
  rules: { readonly [key in K]: readonly [fallback: number, min: 0 | 1] }
): Effect.Effect<{ readonly [key in K]: number }> => {
  const counts = {} as Record<K, number>
  for (const key of Object.keys(rules) as Array<K>) {
    const [fallback, min] = rules[key]
    const value = given[key] ?? fallback
    if (!(Number.isSafeInteger(value) && value >= min)) {
      const kind = min === 0 ? "non-negative" : "positive"
      return Effect.dieMessage(`StaticFiles: ${owner}.${key} must be a ${kind} integer, not ${value}`)
    }
    counts[key] = value
  }
  return Effect.succeed(counts)
}

const validCompress = (
  option: StaticFilesOptions["compress"]
): Effect.Effect<Compress.CompressConfig | undefined> =>
  option === undefined || option === false
    ? Effect.succeed(undefined)
    : validCounts("compress", option === true ? {} : option, {
      minBytes: [Compress.DEFAULT_MIN_BYTES, 0],
      maxBytes: [Compress.DEFAULT_MAX_BYTES, 0]
    })

const validArchives = (
  option: StaticFilesOptions["archives"]
): Effect.Effect<Archive.ArchiveConfig | undefined> =>
  option === undefined || option === false
    ? Effect.succeed(undefined)
    : Effect.map(
      validCounts("archives", option === true ? {} : option, {
        maxEntries: [Archive.DEFAULT_MAX_ENTRIES, 0],
        maxBytes: [Archive.DEFAULT_MAX_BYTES, 0],
        maxConcurrent: [Archive.DEFAULT_MAX_CONCURRENT, 1]
      }),
      ({ maxBytes, maxConcurrent, maxEntries }) => ({ maxEntries, maxBytes, slots: new Archive.Slots(maxConcurrent) })
    )

const validUpload = (
  root: string,
  options: { readonly maxBytes?: number }
): Effect.Effect<Upload.UploadConfig> =>
  Effect.map(
    validCounts("upload", options, { maxBytes: [Upload.DEFAULT_MAX_BYTES, 0] }),
    ({ maxBytes }) => ({ root, maxBytes })
  )

/** The fallback's request path, once its name and its file are checked. */
const validFallback = (fs: FileSystem.FileSystem, root: string, file: string): Effect.Effect<string> => {
  const problem = fallbackNameProblem(file)
  if (problem !== undefined) return Effect.dieMessage(`StaticFiles: spaFallback '${printable(file)}' ${problem}`)
  const path = fallbackPath(file)
  return Effect.flatMap(Effect.option(statInfo(fs, UrlPath.translatePath(root, path))), (info) =>
    Option.isSome(info) && info.value.type === "File"
      ? Effect.succeed(path)
      : Effect.dieMessage(`StaticFiles: spaFallback '${printable(file)}' is not a file in ${printable(root)}`))
}

const validCacheControl = (value: string | undefined): Effect.Effect<string | undefined> => {
  if (value === undefined) return Effect.succeed(undefined)
  const problem = value.trim() === "" ? "is empty" : fieldValueProblem(value)
  return problem === undefined ? Effect.succeed(value) : Effect.dieMessage(`StaticFiles: cacheControl ${problem}`)
}

const validHeaders = (headers: ReadonlyArray<HeaderField>): Effect.Effect<ReadonlyArray<HeaderField>> => {
  for (const [name, value] of headers) {
    const problem = extraHeaderProblem(name, value)
    if (problem !== undefined) return Effect.dieMessage(`StaticFiles: headers: ${problem}`)
  }
  return Effect.succeed(headers.map(([name, value]): HeaderField => [name, value]))
}
