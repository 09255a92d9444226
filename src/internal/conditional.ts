/**
 * Validators and conditional requests for static files: Python's `If-Modified-Since` handling (with the exact
 * leniency of `email.utils.parsedate_to_datetime`), `Last-Modified` as `email.utils.formatdate(usegmt=True)`, and,
 * beyond Python, `ETag`, `If-None-Match` and `If-Range` (RFC 9110 §13).
 */
import { pySplit } from "./pythonText.js"
import { trimOws } from "./ows.js"

// ---------------------------------------------------------------------------------------------------------------
// email._parseaddr._parsedate_tz

const MONTH_NAMES = [
  "jan",
  "feb",
  "mar",
  "apr",
  "may",
  "jun",
  "jul",
  "aug",
  "sep",
  "oct",
  "nov",
  "dec",
  "january",
  "february",
  "march",
  "april",
  "may",
  "june",
  "july",
  "august",
  "september",
  "october",
  "november",
  "december"
]
const DAY_NAMES = new Set(["mon", "tue", "wed", "thu", "fri", "sat", "sun"])
const TIMEZONES: ReadonlyMap<string, number> = new Map([
  ["UT", 0],
  ["UTC", 0],
  ["GMT", 0],
  ["Z", 0],
  ["AST", -400],
  ["ADT", -300],
  ["EST", -500],
  ["EDT", -400],
  ["CST", -600],
  ["CDT", -500],
  ["MST", -700],
  ["MDT", -600],
  ["PST", -800],
  ["PDT", -700]
])

// Python's int(str) for a word without whitespace: a sign, ASCII digits, single underscores between digits.
// (Latin-1 has no other Unicode decimal digits, and header values are latin-1.)
const PY_INT = /^[+-]?[0-9]+(?:_[0-9]+)*$/

const pyInt = (s: string): number | undefined => PY_INT.test(s) ? Number(s.replace(/_/g, "")) : undefined

// str.isdigit() for latin-1: ASCII digits and the superscripts ¹ ² ³.
const isPyDigit = (ch: string | undefined): boolean =>
  ch !== undefined && ((ch >= "0" && ch <= "9") || ch === "\u00b2" || ch === "\u00b3" || ch === "\u00b9")

/** Python's `_parsedate_tz` result: the date-time fields and the offset in seconds (`undefined` for `-0000`). */
export interface ParsedDate {
  readonly year: number
  readonly month: number
  readonly day: number
  readonly hour: number
  readonly minute: number
  readonly second: number
  readonly offset: number | undefined
}

/**
 * `email._parseaddr._parsedate_tz(data)`: RFC 2822 dates and the many variants Python tolerates (RFC 850,
 * asctime-like word orders, two-digit years, `.` as a time separator, named US zones). `undefined` where Python
 * returns `None`.
 */
export const parsedateTz = (data: string): ParsedDate | undefined => {
  if (data === "") return undefined
  let words = pySplit(data)
  if (words.length === 0) return undefined
  const first = words[0]!
  if (first.endsWith(",") || DAY_NAMES.has(first.toLowerCase())) {
    words.shift()
  } else {
    const comma = first.lastIndexOf(",")
    if (comma >= 0) words[0] = first.slice(comma + 1)
  }
  if (words.length === 3) {
    // RFC 850 date: dd-mon-yy
    const stuff = words[0]!.split("-")
    if (stuff.length === 3) words = [...stuff, ...words.slice(1)]
  }
  if (words.length === 4) {
    const s = words[3]!
    let i = s.indexOf("+")
    if (i === -1) i = s.indexOf("-")
    if (i > 0) words = [...words.slice(0, 3), s.slice(0, i), s.slice(i)]
    else words.push("")
  }
  if (words.length < 5) return undefined
  let [dd, mm, yy, tm, tz] = words as [string, string, string, string, string]
  if (dd === "" || mm === "" || yy === "") return undefined
  mm = mm.toLowerCase()
  if (!MONTH_NAMES.includes(mm)) {
    ;[dd, mm] = [mm, dd.toLowerCase()]
    if (!MONTH_NAMES.includes(mm)) return undefined
  }
  let month = MONTH_NAMES.indexOf(mm) + 1
  if (month > 12) month -= 12
  if (dd.endsWith(",")) dd = dd.slice(0, -1)
  if (yy.indexOf(":") > 0) [yy, tm] = [tm, yy]
  if (yy.endsWith(",")) {
    yy = yy.slice(0, -1)
    if (yy === "") return undefined
  }
  if (!isPyDigit(yy[0])) [yy, tz] = [tz, yy]
  if (tm.endsWith(",")) tm = tm.slice(0, -1)
  let parts = tm.split(":")
  let thh: string
  let tmm: string
  let tss: string
  if (parts.length === 2) {
    ;[thh, tmm] = parts as [string, string]
    tss = "0"
  } else if (parts.length === 3) {
    ;[thh, tmm, tss] = parts as [string, string, string]
  } else if (parts.length === 1 && parts[0]!.includes(".")) {
    parts = parts[0]!.split(".")
    if (parts.length === 2) {
      ;[thh, tmm] = parts as [string, string]
      tss = "0"
    } else if (parts.length === 3) {
      ;[thh, tmm, tss] = parts as [string, string, string]
    } else {
      return undefined
    }
  } else {
    return undefined
  }
  let year = pyInt(yy)
  const day = pyInt(dd)
  const hour = pyInt(thh)
  const minute = pyInt(tmm)
  const second = pyInt(tss)
  if (year === undefined || day === undefined || hour === undefined || minute === undefined || second === undefined) {
    return undefined
  }
  if (year < 100) year += year > 68 ? 1900 : 2000
  let offset: number | undefined
  const zone = tz.toUpperCase()
  const named = TIMEZONES.get(zone)
  if (named !== undefined) {
    offset = named
  } else {
    offset = pyInt(zone)
    if (offset === 0 && zone.startsWith("-")) offset = undefined
  }
  if (offset !== undefined && offset !== 0) {
    const sign = offset < 0 ? -1 : 1
    const abs = Math.abs(offset)
    offset = sign * (Math.floor(abs / 100) * 3600 + (abs % 100) * 60)
  }
  return { year, month, day, hour, minute, second, offset: offset === undefined ? undefined : offset + 0 }
}

const daysInMonth = (year: number, month: number): number =>
  month === 2
    ? (year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28)
    : [4, 6, 9, 11].includes(month)
    ? 30
    : 31

/**
 * The instant of an `If-Modified-Since` value as Python's `SimpleHTTPRequestHandler` uses it, in whole seconds
 * since the epoch, or `undefined` when Python ignores the header: unparsable, out of `datetime`'s range, or with
 * a non-zero UTC offset (Python then compares nothing: `ims.tzinfo is datetime.timezone.utc` is false). A date
 * without a zone, with `-0000` or an unknown zone name counts as UTC.
 */
export const pythonImsSeconds = (value: string): number | undefined => {
  const d = parsedateTz(value)
  if (d === undefined) return undefined
  // datetime(*fields): every field in range, else ValueError (ignored by the handler).
  if (d.year < 1 || d.year > 9999) return undefined
  if (d.day < 1 || d.day > daysInMonth(d.year, d.month)) return undefined
  if (d.hour < 0 || d.hour > 23 || d.minute < 0 || d.minute > 59 || d.second < 0 || d.second > 59) return undefined
  if (d.offset !== undefined) {
    // timezone(timedelta(seconds=offset)) must be strictly within a day, else ValueError.
    if (Math.abs(d.offset) >= 86400) return undefined
    if (d.offset !== 0) return undefined
  }
  const date = new Date(0)
  date.setUTCFullYear(d.year, d.month - 1, d.day)
  date.setUTCHours(d.hour, d.minute, d.second, 0)
  return date.getTime() / 1000
}

// ---------------------------------------------------------------------------------------------------------------
// formatdate

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
const pad2 = (n: number): string => n < 10 ? "0" + n : String(n)

/** `email.utils.formatdate(seconds, usegmt=True)`: `Sun, 06 Nov 1994 08:49:37 GMT`, seconds truncated. */
export const formatHttpDate = (seconds: number): string => {
  const d = new Date(Math.floor(seconds) * 1000)
  return DAYS[d.getUTCDay()] + ", " + pad2(d.getUTCDate()) + " " + MONTHS[d.getUTCMonth()] + " " +
    String(d.getUTCFullYear()).padStart(4, "0") + " " + pad2(d.getUTCHours()) + ":" + pad2(d.getUTCMinutes()) +
    ":" + pad2(d.getUTCSeconds()) + " GMT"
}

/**
 * Python's decision for `If-Modified-Since` (only consulted when `If-None-Match` is absent): not modified when the
 * file's modification time, truncated to the second, is at or before the header's instant.
 */
export const notModifiedSince = (header: string, mtimeSeconds: number): boolean => {
  const ims = pythonImsSeconds(header)
  return ims !== undefined && Math.floor(mtimeSeconds) <= ims
}

// ---------------------------------------------------------------------------------------------------------------
// ETag

/**
 * A strong entity tag from what `stat` tells: inode, size and modification time in milliseconds. Two versions of
 * a file get the same tag only if they have the same size and were written within the same millisecond on the
 * same inode, which is the usual "strong enough" trade-off of static servers (nginx uses size and seconds).
 */
export const makeEtag = (ino: number | undefined, size: number, mtimeMs: number): string =>
  "\"" + (ino === undefined ? "" : ino.toString(16) + "-") + size.toString(16) + "-" +
  Math.floor(mtimeMs).toString(16) + "\""

/** The opaque tag of `W/"x"` or `"x"`: the quoted part, quotes included. */
const opaque = (tag: string): string => tag.startsWith("W/") ? tag.slice(2) : tag

/**
 * Splits an `If-None-Match` list into entity-tags; a malformed member (`*` included, which is only valid alone)
 * ends the list, and what was read before it still counts.
 */
const entityTags = (value: string): Array<string> => {
  const tags: Array<string> = []
  let i = 0
  const n = value.length
  while (i < n) {
    const c = value[i]
    if (c === " " || c === "\t" || c === ",") {
      i++
      continue
    }
    const start = i
    if (value.startsWith("W/", i)) i += 2
    if (value[i] !== "\"") break
    const close = value.indexOf("\"", i + 1)
    if (close < 0) break
    tags.push(value.slice(start, close + 1))
    i = close + 1
  }
  return tags
}

/** Weak comparison (RFC 9110 §8.8.3.2), as `If-None-Match` uses: `*` or any tag with the same opaque part. */
export const ifNoneMatchMatches = (header: string, etag: string): boolean => {
  const trimmed = trimOws(header)
  if (trimmed === "*") return true
  const tags = entityTags(trimmed)
  const target = opaque(etag)
  return tags.some((tag) => opaque(tag) === target)
}

/**
 * Whether `If-Range` lets a `Range` apply (RFC 9110 §13.1.5): an entity-tag must match strongly (a weak tag never
 * does); a date must equal the `Last-Modified` second exactly. Anything else: serve the whole representation.
 */
export const ifRangeMatches = (header: string, etag: string | undefined, mtimeSeconds: number): boolean => {
  const value = trimOws(header)
  if (value.startsWith("\"") || value.startsWith("W/\"")) {
    return etag !== undefined && !value.startsWith("W/") && value === etag
  }
  const date = pythonImsSeconds(value)
  return date !== undefined && date === Math.floor(mtimeSeconds)
}
