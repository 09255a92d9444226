/**
 * The file part of `send_head`: validators, conditional requests, ranges, on-the-fly compression and the
 * body, from an opened descriptor or the response cache's bytes (offered to it after a read).
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { randomBytes } from "node:crypto"
import * as NodeFs from "node:fs"
import type { HeaderField } from "../Headers.js"
import { HttpError } from "../HttpError.js"
import * as Response from "../Response.js"
import { formatHttpDate, ifNoneMatchMatches, ifRangeMatches, makeEtag, notModifiedSince } from "./conditional.js"
import { type ByteRange, contentRange, decideRange, multipart, unsatisfiedRange } from "./ranges.js"
import { chooseCoding, compressBytes, compressedEtag, compressStream, eligible } from "./compress.js"
import { type Coding, type Variant, variantEtag } from "./precompressed.js"
import { type CacheEntry, type FileCache, sameVersion, statQuiet, versionOf } from "./fileCache.js"
import { type Opened, openVerified } from "./openVerified.js"
import {
  type StaticConfig,
  type StaticRequest,
  notFound,
  type FileMeta,
  metaOfStats,
  type Source
} from "./staticConfig.js"
import { directSlice, readWhole } from "./fileReads.js"
import { markShared } from "./sharedBytes.js"
import { sealFields } from "./wire.js"

export type Body =
  | { readonly _tag: "Full" }
  | { readonly _tag: "Single"; readonly range: ByteRange }
  | { readonly _tag: "Multi"; readonly ranges: ReadonlyArray<ByteRange>; readonly partType: string }

/**
 * The file part of `send_head`. The file is opened first (`openVerified`: non-blocking, so a FIFO swapped in
 * cannot hang a thread; checked by the verifier when there is one), and everything sent — validators, length,
 * bytes — comes from that descriptor and its `fstat`; cached bytes were read from such a descriptor. The `meta`
 * of the caller's earlier `stat` only serves cached answers.
 */
export const serveFile = (
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

/**
 * A cached answer's header list, sent with every hit, is checked and encoded once (`sealFields`). The answer and its
 * body are frozen too: every hit hands out the same object, and a handler writing over its fields (a cookie of its
 * own) would send them to every later client.
 */
const sealAnswer = <E, R>(
  answer: Effect.Effect<Response.Response, E, R>
): Effect.Effect<Response.Response, E, R> => {
  if (Exit.isExit(answer)) {
    const exit = answer as Exit.Exit<Response.Response, E>
    if (Exit.isSuccess(exit)) {
      sealFields(exit.value.headers)
      Object.freeze(exit.value.body)
      Object.freeze(exit.value)
    }
  }
  return answer
}

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
  // Sent to every later request: a Stream consumer gets a copy (`isShared`), so it cannot corrupt the cache.
  const kept = markShared(bytes)
  const cached: Source = { _tag: "Cached", bytes: kept }
  const entry: CacheEntry = {
    path,
    version,
    meta,
    bytes: kept,
    get: sealAnswer(serveFile(fs, config, PLAIN_GET, path, meta, cached, variant)),
    head: sealAnswer(serveFile(fs, config, PLAIN_HEAD, path, meta, cached, variant))
  }
  cache.insert(key, entry)
}

export const populate = (
  cache: FileCache,
  key: string,
  stats: NodeFs.Stats,
  variant?: Variant
): Source | undefined => {
  const version = versionOf(stats)
  return cache.admits(version) ? { _tag: "Populate", cache, key, version, variant } : undefined
}
