/**
 * `precompressed`: a file's `.br` / `.gz` sibling served in its place when `Accept-Encoding` allows it (RFC 9110
 * §12.5.3), with the original's content type, `Content-Encoding`, `Vary: Accept-Encoding` and its own entity tag.
 * zstd (`.zst`) is not offered: Node 20's `zlib` has no zstd, so the server could not even check such a file.
 */
import type * as NodeFs from "node:fs"
import { statQuiet } from "./fileCache.js"
import { weightedElements } from "./negotiation.js"

/** The codings looked for, in the order preferred at equal quality, with their file suffix. */
export const CODINGS = [["br", ".br"], ["gzip", ".gz"]] as const

/** A coding name as sent in `Content-Encoding`. */
export type Coding = typeof CODINGS[number][0]

/** The quality of each coding named in `Accept-Encoding` (`x-gzip` is gzip, RFC 9110 §8.4.1.3); `*` as "*". */
export const parseAcceptEncoding = (value: string): Map<string, number> => {
  const qualities = new Map<string, number>()
  for (const element of weightedElements(value)) {
    let coding = element.value.toLowerCase()
    if (coding === "") continue
    if (coding === "x-gzip") coding = "gzip"
    // A repeated coding keeps its first quality.
    if (!qualities.has(coding)) qualities.set(coding, element.q)
  }
  return qualities
}

/**
 * Which available coding to send, or `undefined` for the file itself. Without `Accept-Encoding` the file itself
 * is sent (RFC 9110 allows any coding then, but a client that names none may not decode one). Otherwise the
 * highest quality wins; identity competes only when the field rates it (its own entry, else `*`'s), since a
 * client listing `gzip;q=0.5` asks for gzip even if identity stays acceptable by default; at equal quality a
 * coding beats identity and br beats gzip. A coding of quality 0 is never chosen. When nothing is acceptable
 * (`identity;q=0` and no acceptable sibling), the file itself is sent: RFC 9110 §12.5.3 lets the server disregard
 * the field rather than answer 406, and the unencoded bytes are what the server has.
 */
export const choose = (
  acceptEncoding: string | undefined,
  available: ReadonlyArray<Coding>
): Coding | undefined => {
  if (acceptEncoding === undefined || available.length === 0) return undefined
  const qualities = parseAcceptEncoding(acceptEncoding)
  const star = qualities.get("*")
  const identity = qualities.get("identity") ?? star ?? 0
  let best: Coding | undefined
  let bestQ = 0
  for (const [coding] of CODINGS) {
    if (!available.includes(coding)) continue
    const q = qualities.get(coding) ?? star ?? 0
    if (q > bestQ) {
      best = coding
      bestQ = q
    }
  }
  return best !== undefined && bestQ >= identity ? best : undefined
}

/** The entity tag of an encoded variant: the sibling's own tag, suffixed (`"…-br"`), so no two variants share one. */
export const variantEtag = (etag: string, coding: Coding): string => etag.slice(0, -1) + "-" + coding + "\""

/** What an answer for a file is, once the siblings are known. */
export interface Variant {
  /** The coding sent, or `undefined` for the file itself. */
  readonly coding: Coding | undefined
  /** Whether a sibling exists, so the answer depends on `Accept-Encoding`. */
  readonly vary: boolean
  /** The original file's content type. */
  readonly contentType: string
  /** The file whose bytes are sent: the original or its sibling. */
  readonly path: string
  /** Its stat (only set by the synchronous lookup). */
  readonly stats: NodeFs.Stats | undefined
}

/** Cache-key suffix: the answer differs by coding and by whether it carries `Vary`. */
export const variantKey = (variant: Variant | undefined): string =>
  variant === undefined ? "" : "\0" + (variant.coding ?? "identity") + (variant.vary ? "+vary" : "")

/** The siblings that are regular files (links followed; `allowed` refuses those the options hide). */
export const siblingsSync = (
  path: string,
  allowed: (path: string) => boolean
): Array<readonly [Coding, string, NodeFs.Stats]> => {
  const found: Array<readonly [Coding, string, NodeFs.Stats]> = []
  for (const [coding, suffix] of CODINGS) {
    const sibling = path + suffix
    const stats = statQuiet(sibling)
    if (stats !== undefined && stats.isFile() && allowed(sibling)) found.push([coding, sibling, stats])
  }
  return found
}
