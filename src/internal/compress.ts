/**
 * `compress`: files of compressible types gzip- or brotli-encoded on the fly when `Accept-Encoding` allows it.
 * Small files are compressed in memory and sent with a length (keep-alive holds); larger ones stream through
 * `zlib` without a length (the connection then closes after the body).
 */
import * as Stream from "effect/Stream"
import * as Effect from "effect/Effect"
import { pipeThroughDuplex } from "@effect/platform-node/NodeStream"
import * as Zlib from "node:zlib"
import { choose, type Coding } from "./precompressed.js"

/** The resolved option. */
export interface CompressConfig {
  /** Files smaller than this are sent as they are. */
  readonly minBytes: number
  /** Files larger than this are sent as they are: compressing them would cost seconds of CPU per request. */
  readonly maxBytes: number
}

/** The default threshold: below ~1 KiB the coding's overhead eats the gain. */
export const DEFAULT_MIN_BYTES = 1024

/**
 * The default cap, 10 MiB: larger than any sensible text asset (big JavaScript bundles and JSON are a few MiB),
 * and bounded in cost: gzip -6 / brotli 4 run at 50-400 MB/s on one core depending on the data, so a request
 * costs at most ~0.2 s of CPU, where a 2 GiB file cost 5-12 s. Log files and dumps above it go out as they are
 * (ranges and `sendfile`-like writes keep working for them).
 */
export const DEFAULT_MAX_BYTES = 10 * 1024 * 1024

const COMPRESSIBLE = new Set([
  "application/json",
  "application/javascript",
  "application/xml",
  "image/svg+xml"
])

/** `text/*`, JSON, JavaScript, XML, SVG and the `+json` / `+xml` suffixes (parameters ignored). */
export const isCompressible = (contentType: string): boolean => {
  const semi = contentType.indexOf(";")
  const type = (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase()
  return type.startsWith("text/") || COMPRESSIBLE.has(type) || type.endsWith("+json") || type.endsWith("+xml")
}

/** Whether the answer for this file depends on `Accept-Encoding` (so it carries `Vary`). */
export const eligible = (config: CompressConfig, contentType: string, size: number): boolean =>
  size >= config.minBytes && size <= config.maxBytes && isCompressible(contentType)

/** The coding to apply, the same negotiation as `precompressed` (br before gzip at equal quality). */
export const chooseCoding = (acceptEncoding: string | undefined): Coding | undefined =>
  choose(acceptEncoding, ["br", "gzip"])

// Brotli's default quality (11) costs ~100x gzip's time: on the fly, quality 4 compresses better than gzip -6
// at a similar speed.
const BROTLI_OPTIONS: Zlib.BrotliOptions = {
  params: { [Zlib.constants.BROTLI_PARAM_QUALITY]: 4 }
}

/** The whole body compressed, off the event loop (zlib's thread pool). */
export const compressBytes = (coding: Coding, bytes: Uint8Array): Effect.Effect<Buffer, unknown> =>
  Effect.async<Buffer, unknown>((resume) => {
    const done = (error: Error | null, result: Buffer) =>
      resume(error === null ? Effect.succeed(result) : Effect.fail(error))
    if (coding === "br") Zlib.brotliCompress(bytes, BROTLI_OPTIONS, done)
    else Zlib.gzip(bytes, done)
  })

/** A byte stream compressed as it flows (backpressure through the zlib transform). */
export const compressStream = <E, R>(
  coding: Coding,
  stream: Stream.Stream<Uint8Array, E, R>
): Stream.Stream<Uint8Array, unknown, R> =>
  pipeThroughDuplex(
    stream,
    () => coding === "br" ? Zlib.createBrotliCompress(BROTLI_OPTIONS) : Zlib.createGzip(),
    (error) => error
  )

/** The weak tag of a compressed answer: zlib's output is not promised byte-identical across versions. */
export const compressedEtag = (etag: string, coding: Coding): string =>
  "W/" + etag.slice(0, -1) + "-" + coding + "\""
