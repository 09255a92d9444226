/**
 * Byte ranges (RFC 9110 §14): parsing `Range: bytes=…` against a representation's size, and the framing of a
 * `multipart/byteranges` body. Python's `http.server` has none of this.
 */

import { trimOws } from "./ows.js"

/** An inclusive byte range, already clamped to the representation. */
export interface ByteRange {
  readonly start: number
  readonly end: number
}

/**
 * What to do with a `Range` header:
 * - `Full`: no usable range (absent, another unit, malformed, or a multi-range request we decline): 200, whole body.
 * - `Unsatisfiable`: syntactically valid but no range overlaps the representation: 416.
 * - `Single`: 206 with `Content-Range`.
 * - `Multi`: 206 `multipart/byteranges`, parts in the order requested.
 */
export type RangeDecision =
  | { readonly _tag: "Full" }
  | { readonly _tag: "Unsatisfiable" }
  | { readonly _tag: "Single"; readonly range: ByteRange }
  | { readonly _tag: "Multi"; readonly ranges: ReadonlyArray<ByteRange> }

/** More satisfiable ranges than this in one request are answered with the whole representation. */
export const MAX_RANGES = 16

const FULL: RangeDecision = { _tag: "Full" }
const UNSATISFIABLE: RangeDecision = { _tag: "Unsatisfiable" }
const INT_RANGE = /^([0-9]+)-([0-9]*)$/
const SUFFIX_RANGE = /^-([0-9]+)$/

/**
 * Decides how to answer `Range: <value>` for a representation of `size` bytes.
 *
 * Policy (RFC 9110 lets a server ignore a `Range` it does not want to honour):
 * - a malformed header (bad syntax, `last < first`) is ignored, as RFC 9110 §14.2 requires;
 * - ranges starting at or beyond the end, and `-0`, are unsatisfiable; if all are, 416;
 * - for an empty representation every range is ignored (no `Content-Range` can describe a part of nothing);
 * - several satisfiable ranges become `multipart/byteranges` unless there are more than {@link MAX_RANGES} or two
 *   of them overlap (a cheap guard against amplification, RFC 9110 §14.3), in which case the whole body is sent.
 */
export const decideRange = (value: string, size: number): RangeDecision => {
  const eq = value.indexOf("=")
  if (eq < 0) return FULL
  if (trimOws(value.slice(0, eq)).toLowerCase() !== "bytes") return FULL
  const specs = value.slice(eq + 1).split(",")
  const ranges: Array<ByteRange> = []
  let seen = 0
  for (const raw of specs) {
    const spec = trimOws(raw)
    if (spec === "") continue
    seen++
    const int = INT_RANGE.exec(spec)
    if (int !== null) {
      const first = Number(int[1])
      const last = int[2] === "" ? undefined : Number(int[2])
      if (last !== undefined && last < first) return FULL
      if (first < size) ranges.push({ start: first, end: last === undefined || last >= size ? size - 1 : last })
      continue
    }
    const suffix = SUFFIX_RANGE.exec(spec)
    if (suffix !== null) {
      const length = Number(suffix[1])
      if (length > 0 && size > 0) ranges.push({ start: Math.max(0, size - length), end: size - 1 })
      continue
    }
    return FULL
  }
  if (seen === 0 || size === 0) return FULL
  if (ranges.length === 0) return UNSATISFIABLE
  if (ranges.length === 1) return { _tag: "Single", range: ranges[0]! }
  if (ranges.length > MAX_RANGES) return FULL
  const sorted = [...ranges].sort((a, b) => a.start - b.start)
  for (let i = 1; i < sorted.length; i++) if (sorted[i]!.start <= sorted[i - 1]!.end) return FULL
  return { _tag: "Multi", ranges }
}

/** `bytes a-b/size`. */
export const contentRange = (range: ByteRange, size: number): string => `bytes ${range.start}-${range.end}/${size}`

/** `bytes \*\/size` (an unsatisfied range), for a 416. */
export const unsatisfiedRange = (size: number): string => `bytes */${size}`

/** The framing of a `multipart/byteranges` body: a head before each part, a tail after the last, total length. */
export interface Multipart {
  readonly contentType: string
  readonly heads: ReadonlyArray<Buffer>
  readonly tail: Buffer
  readonly length: number
}

/** Lays out a `multipart/byteranges` body (RFC 9110 §14.6) for `ranges` of a `size`-byte body of `partType`. */
export const multipart = (
  ranges: ReadonlyArray<ByteRange>,
  size: number,
  partType: string,
  boundary: string
): Multipart => {
  let length = 0
  const heads = ranges.map((range, i) => {
    const head = Buffer.from(
      (i === 0 ? "" : "\r\n") + "--" + boundary + "\r\nContent-Type: " + partType + "\r\nContent-Range: " +
        contentRange(range, size) + "\r\n\r\n",
      "latin1"
    )
    length += head.length + (range.end - range.start + 1)
    return head
  })
  const tail = Buffer.from("\r\n--" + boundary + "--\r\n", "latin1")
  return { contentType: "multipart/byteranges; boundary=" + boundary, heads, tail, length: length + tail.length }
}
