/**
 * A deliberately independent HTTP/1.x response parser for tests.
 *
 * It must not share code with the server under test: a bug shared by both
 * would make every differential test agree with itself.
 */

/** One HTTP header as it appeared on the wire: original name case, trimmed value. */
export type Header = readonly [name: string, value: string]

/** A response cut out of a byte stream, as a test wants to inspect it. */
export interface ParsedResponse {
  /** The first line without its line ending, or `undefined` for a non-HTTP (HTTP/0.9-style) reply. */
  readonly statusLine: string | undefined
  /** `HTTP/1.0`, `HTTP/1.1`, … when the status line has one. */
  readonly version?: string
  /** The three-digit code, or `undefined` for a non-HTTP reply or a malformed status line. */
  readonly status: number | undefined
  /** Everything after the code (may be empty or contain any characters), or `undefined` without a code. */
  readonly reason: string | undefined
  /** Header fields in wire order, duplicates kept. */
  readonly headers: ReadonlyArray<Header>
  /** Trailer fields of a chunked body (empty otherwise). */
  readonly trailers: ReadonlyArray<Header>
  /** Case-insensitive lookup; repeated fields are joined with ", " as RFC 9110 allows. */
  readonly header: (name: string) => string | undefined
  /** The payload: chunked encoding already removed. */
  readonly body: Buffer
  /** The exact bytes of this response on the wire (head and framed body). */
  readonly raw: Buffer
}

/** Options for {@link parseResponses}. */
export interface ParseOptions {
  /**
   * Per request, in order: was it a HEAD request (so its response has no
   * body whatever its headers say). Interim 1xx responses do not consume an
   * entry, so index `i` is the i-th request of the connection.
   */
  readonly headRequests?: ReadonlyArray<boolean>
  /**
   * Whether `bytes` is the whole stream (the peer closed). Default `true`.
   * With `false`, responses whose end is only known at connection close
   * (close-delimited bodies, non-HTTP replies) stay in `rest`, which is what an
   * incremental reader needs.
   */
  readonly complete?: boolean
}

/** The result of {@link parseResponses}: complete responses and the unconsumed tail. */
export interface ParseResult {
  readonly responses: Array<ParsedResponse>
  /** Bytes after the last complete response (a truncated or malformed one, or nothing). */
  readonly rest: Buffer
}

const HTTP_PREFIX = Buffer.from("HTTP/", "latin1")

/**
 * Splits a byte stream received on one connection into HTTP/1.x responses.
 *
 * Framing follows RFC 9112 §6.3: no body for HEAD/1xx/204/304, then chunked
 * Transfer-Encoding, then Content-Length, else the body runs to the end of
 * the data. A reply that does not start with `HTTP/` (Python's bare HTML for
 * HTTP/0.9-style errors) becomes one response with `status: undefined` that
 * takes all the remaining bytes. Never throws: what cannot be framed is left
 * in `rest`.
 */
export const parseResponses = (bytes: Buffer, opts: ParseOptions = {}): ParseResult => {
  const complete = opts.complete ?? true
  const heads = opts.headRequests ?? []
  const responses: Array<ParsedResponse> = []
  let offset = 0
  let requestIndex = 0
  while (offset < bytes.length) {
    const parsed = parseOne(bytes, offset, heads[requestIndex] ?? false, complete)
    if (parsed === undefined) break
    responses.push(parsed.response)
    offset = parsed.end
    if (!isInterim(parsed.response.status)) requestIndex++
  }
  return { responses, rest: bytes.subarray(offset) }
}

const isInterim = (status: number | undefined): boolean =>
  status !== undefined && status >= 100 && status < 200

const parseOne = (
  bytes: Buffer,
  start: number,
  isHead: boolean,
  complete: boolean
): { response: ParsedResponse; end: number } | undefined => {
  const available = bytes.length - start
  const prefixLength = Math.min(available, HTTP_PREFIX.length)
  const looksLikeHttp = bytes.compare(HTTP_PREFIX, 0, prefixLength, start, start + prefixLength) === 0
  if (!looksLikeHttp || (available < HTTP_PREFIX.length && complete)) {
    // An HTTP/0.9-style reply has no framing at all: only the close ends it.
    if (!complete) return undefined
    const raw = bytes.subarray(start)
    return {
      response: makeResponse(undefined, [], [], raw, raw),
      end: bytes.length
    }
  }
  if (available < HTTP_PREFIX.length) return undefined

  const head = readHead(bytes, start)
  if (head === undefined) return undefined
  const { statusLine, headers, bodyStart } = head
  const status = parseStatusLine(statusLine)
  const find = headerLookup(headers)

  const noBody = isHead ||
    (status.status !== undefined &&
      (isInterim(status.status) || status.status === 204 || status.status === 304))
  if (noBody) {
    return {
      response: makeResponse(status, headers, [], Buffer.alloc(0), bytes.subarray(start, bodyStart)),
      end: bodyStart
    }
  }

  const transferEncoding = find("transfer-encoding")
  if (transferEncoding !== undefined) {
    const codings = transferEncoding.split(",").map((c) => c.trim().toLowerCase())
    if (codings[codings.length - 1] === "chunked") {
      const chunked = decodeChunked(bytes, bodyStart)
      if (chunked === undefined) return undefined
      return {
        response: makeResponse(status, headers, chunked.trailers, chunked.body, bytes.subarray(start, chunked.end)),
        end: chunked.end
      }
    }
    return closeDelimited(bytes, start, bodyStart, status, headers, complete)
  }

  const contentLength = find("content-length")
  if (contentLength !== undefined && /^\s*\d+\s*$/.test(contentLength)) {
    const end = bodyStart + Number(contentLength.trim())
    if (end > bytes.length) return undefined
    return {
      response: makeResponse(status, headers, [], bytes.subarray(bodyStart, end), bytes.subarray(start, end)),
      end
    }
  }
  return closeDelimited(bytes, start, bodyStart, status, headers, complete)
}

const closeDelimited = (
  bytes: Buffer,
  start: number,
  bodyStart: number,
  status: StatusLine,
  headers: ReadonlyArray<Header>,
  complete: boolean
): { response: ParsedResponse; end: number } | undefined =>
  complete
    ? {
      response: makeResponse(status, headers, [], bytes.subarray(bodyStart), bytes.subarray(start)),
      end: bytes.length
    }
    : undefined

interface StatusLine {
  readonly line: string
  readonly version: string | undefined
  readonly status: number | undefined
  readonly reason: string | undefined
}

const parseStatusLine = (line: string): StatusLine => {
  const match = /^(HTTP\/[^ ]*) (\d{3})(?: (.*))?$/s.exec(line)
  if (match === null) {
    const version = /^HTTP\/[^ ]*/.exec(line)?.[0]
    return { line, version, status: undefined, reason: undefined }
  }
  return { line, version: match[1], status: Number(match[2]), reason: match[3] ?? "" }
}

/** Reads one line ending in LF (CR optional) from `at`; `undefined` if no LF yet. */
const readLine = (bytes: Buffer, at: number): { line: string; next: number } | undefined => {
  const lf = bytes.indexOf(0x0a, at)
  if (lf === -1) return undefined
  const end = lf > at && bytes[lf - 1] === 0x0d ? lf - 1 : lf
  return { line: bytes.toString("latin1", at, end), next: lf + 1 }
}

const readHead = (
  bytes: Buffer,
  start: number
): { statusLine: string; headers: Array<Header>; bodyStart: number } | undefined => {
  const first = readLine(bytes, start)
  if (first === undefined) return undefined
  const headers: Array<Header> = []
  let at = first.next
  for (;;) {
    const next = readLine(bytes, at)
    if (next === undefined) return undefined
    at = next.next
    if (next.line === "") return { statusLine: first.line, headers, bodyStart: at }
    const last = headers[headers.length - 1]
    if (/^[ \t]/.test(next.line) && last !== undefined) {
      // obs-fold: a continuation line belongs to the previous field's value.
      headers[headers.length - 1] = [last[0], `${last[1]} ${next.line.trim()}`]
      continue
    }
    headers.push(splitField(next.line))
  }
}

const splitField = (line: string): Header => {
  const colon = line.indexOf(":")
  // A line without a colon is kept whole so a test can still see it.
  return colon === -1 ? [line.trim(), ""] : [line.slice(0, colon), line.slice(colon + 1).trim()]
}

const headerLookup = (headers: ReadonlyArray<Header>) => (name: string): string | undefined => {
  const wanted = name.toLowerCase()
  const values = headers.filter(([n]) => n.toLowerCase() === wanted).map(([, v]) => v)
  return values.length === 0 ? undefined : values.join(", ")
}

const decodeChunked = (
  bytes: Buffer,
  start: number
): { body: Buffer; trailers: Array<Header>; end: number } | undefined => {
  const parts: Array<Buffer> = []
  let at = start
  for (;;) {
    const sizeLine = readLine(bytes, at)
    if (sizeLine === undefined) return undefined
    const sizeText = sizeLine.line.split(";")[0]!.trim()
    if (!/^[0-9a-fA-F]+$/.test(sizeText)) return undefined
    const size = parseInt(sizeText, 16)
    at = sizeLine.next
    if (size === 0) break
    if (at + size > bytes.length) return undefined
    parts.push(bytes.subarray(at, at + size))
    const terminator = readLine(bytes, at + size)
    if (terminator === undefined || terminator.line !== "") return undefined
    at = terminator.next
  }
  const trailers: Array<Header> = []
  for (;;) {
    const line = readLine(bytes, at)
    if (line === undefined) return undefined
    at = line.next
    if (line.line === "") return { body: Buffer.concat(parts), trailers, end: at }
    trailers.push(splitField(line.line))
  }
}

const makeResponse = (
  status: StatusLine | undefined,
  headers: ReadonlyArray<Header>,
  trailers: ReadonlyArray<Header>,
  body: Buffer,
  raw: Buffer
): ParsedResponse => ({
  statusLine: status?.line,
  // exactOptionalPropertyTypes: omit `version` rather than set it to undefined.
  ...(status?.version === undefined ? {} : { version: status.version }),
  status: status?.status,
  reason: status?.reason,
  headers,
  trailers,
  header: headerLookup(headers),
  // Copies, so a caller keeping a response does not pin (or see changes to) the whole receive buffer.
  body: Buffer.from(body),
  raw: Buffer.from(raw)
})
