/**
 * Python's URL-path helpers as `SimpleHTTPRequestHandler` uses them, reproduced exactly: `urllib.parse.unquote`
 * (with `errors='surrogatepass'` and its `'replace'` fallback), `urllib.parse.quote`, `posixpath.normpath`,
 * `urlsplit`/`urlunsplit` (the directory redirect) and `translate_path`.
 *
 * Strings here are Python strings as JavaScript strings: a request target arrives latin-1 decoded (one char per
 * byte, as Python's `self.path`), and a lone surrogate stands for what Python's `surrogatepass` produces.
 */

import { encodeLocation } from "./headEncoder.js"

// ---------------------------------------------------------------------------------------------------------------
// Python's str.isspace / str.rstrip()

/** `str.isspace()` for one UTF-16 code unit (no whitespace character lies outside the BMP). */
const isPySpace = (code: number): boolean =>
  (code >= 0x09 && code <= 0x0d) || (code >= 0x1c && code <= 0x20) || code === 0x85 || code === 0xa0 ||
  code === 0x1680 || (code >= 0x2000 && code <= 0x200a) || code === 0x2028 || code === 0x2029 ||
  code === 0x202f || code === 0x205f || code === 0x3000

/** Python's `str.rstrip()` (no argument). */
export const pyRstrip = (s: string): string => {
  let end = s.length
  while (end > 0 && isPySpace(s.charCodeAt(end - 1))) end--
  return end === s.length ? s : s.slice(0, end)
}

// ---------------------------------------------------------------------------------------------------------------
// UTF-8 with Python's error handlers

/**
 * `bytes.decode('utf-8', 'surrogatepass')`: strict UTF-8, except that encoded surrogates (`ED A0 80`…`ED BF BF`)
 * decode to lone surrogates. `undefined` where Python raises `UnicodeDecodeError`. One departure, as a JavaScript
 * string cannot hold Python's result: a high surrogate decoded right before a low one gets a NUL between them.
 */
export const decodeUtf8SurrogatePass = (bytes: Uint8Array): string | undefined => {
  let out = ""
  const n = bytes.length
  let i = 0
  while (i < n) {
    const b0 = bytes[i]!
    if (b0 < 0x80) {
      out += String.fromCharCode(b0)
      i++
      continue
    }
    let need: number
    let lo = 0x80
    let hi = 0xbf
    let cp: number
    if (b0 >= 0xc2 && b0 <= 0xdf) {
      need = 1
      cp = b0 & 0x1f
    } else if (b0 >= 0xe0 && b0 <= 0xef) {
      need = 2
      cp = b0 & 0x0f
      if (b0 === 0xe0) lo = 0xa0
      // 0xED with A0..BF is a surrogate: refused by 'strict', accepted by 'surrogatepass'.
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
      need = 3
      cp = b0 & 0x07
      if (b0 === 0xf0) lo = 0x90
      else if (b0 === 0xf4) hi = 0x8f
    } else {
      return undefined
    }
    for (let k = 1; k <= need; k++) {
      const b = bytes[i + k]
      if (b === undefined) return undefined
      if (k === 1 ? b < lo || b > hi : b < 0x80 || b > 0xbf) return undefined
      cp = (cp << 6) | (b & 0x3f)
    }
    // Two encoded surrogates (CESU-8, `ED A0 80 ED B3 A9`) are two lone surrogates to Python, which no bytes name;
    // side by side in a JavaScript string they would be one pair, the astral U+100E9, and name its file. A NUL kept
    // between them keeps the high one lone, and no file name holds a NUL: the path names no file, as in Python.
    if (cp >= 0xdc00 && cp <= 0xdfff && isHighSurrogate(out.charCodeAt(out.length - 1))) out += "\0"
    out += String.fromCodePoint(cp)
    i += need + 1
  }
  return out
}

const isHighSurrogate = (code: number): boolean => code >= 0xd800 && code <= 0xdbff

/**
 * `str.encode('utf-8', 'surrogatepass')`: UTF-8, with a lone surrogate encoded as the three bytes it would be if
 * surrogates were characters (Node's own encoder would write U+FFFD instead).
 */
export const encodeUtf8SurrogatePass = (s: string): Uint8Array => {
  if (!hasLoneSurrogate(s)) return Buffer.from(s, "utf8")
  const out: Array<number> = []
  for (let i = 0; i < s.length; i++) {
    let cp = s.charCodeAt(i)
    if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < s.length) {
      const next = s.charCodeAt(i + 1)
      if (next >= 0xdc00 && next <= 0xdfff) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (next - 0xdc00)
        i++
      }
    }
    if (cp < 0x80) out.push(cp)
    else if (cp < 0x800) out.push(0xc0 | (cp >> 6), 0x80 | (cp & 0x3f))
    else if (cp < 0x10000) out.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f))
    else out.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3f), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f))
  }
  return Uint8Array.from(out)
}

/** Whether `s` holds a surrogate that is not half of a pair. */
export const hasLoneSurrogate = (s: string): boolean => {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0xd800 || c > 0xdfff) continue
    if (c <= 0xdbff && i + 1 < s.length) {
      const next = s.charCodeAt(i + 1)
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++
        continue
      }
    }
    return true
  }
  return false
}

const REPLACEMENT = [0xef, 0xbf, 0xbd] as const

/**
 * `str.encode('utf-8', 'surrogateescape')`, as Python encodes the listing page: a lone surrogate U+DC80–U+DCFF
 * becomes the byte it escapes. Python raises `UnicodeEncodeError` on any other lone surrogate (and the request
 * dies without a response); we write U+FFFD for it instead.
 */
export const encodeUtf8SurrogateEscape = (s: string): Buffer => {
  if (!hasLoneSurrogate(s)) return Buffer.from(s, "utf8")
  const out: Array<number> = []
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c >= 0xd800 && c <= 0xdfff) {
      const next = i + 1 < s.length ? s.charCodeAt(i + 1) : 0
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        for (const b of Buffer.from(s.slice(i, i + 2), "utf8")) out.push(b)
        i++
      } else if (c >= 0xdc80 && c <= 0xdcff) {
        out.push(c - 0xdc00)
      } else {
        out.push(...REPLACEMENT)
      }
      continue
    }
    if (c < 0x80) out.push(c)
    else for (const b of Buffer.from(s[i]!, "utf8")) out.push(b)
  }
  return Buffer.from(out)
}

// ---------------------------------------------------------------------------------------------------------------
// unquote / quote

const hexValue = (code: number): number => {
  if (code >= 0x30 && code <= 0x39) return code - 0x30
  if (code >= 0x41 && code <= 0x46) return code - 0x37
  if (code >= 0x61 && code <= 0x66) return code - 0x57
  return -1
}

/** `unquote_to_bytes` of an ASCII run: `%XX` (either case) becomes its byte, anything else stays as it is. */
const unquoteAsciiRun = (run: string): Uint8Array => {
  const out = new Uint8Array(run.length)
  let n = 0
  for (let i = 0; i < run.length; i++) {
    const c = run.charCodeAt(i)
    if (c === 0x25 && i + 2 < run.length) {
      const h = hexValue(run.charCodeAt(i + 1))
      const l = hexValue(run.charCodeAt(i + 2))
      if (h >= 0 && l >= 0) {
        out[n++] = (h << 4) | l
        i += 2
        continue
      }
    }
    out[n++] = c
  }
  return out.subarray(0, n)
}

/**
 * `urllib.parse.unquote(s, errors=mode)`. Python splits the string into runs of ASCII and non-ASCII characters:
 * non-ASCII characters are kept as they are and each ASCII run is percent-decoded to bytes and then decoded as
 * UTF-8 on its own. With `"surrogatepass"`, `undefined` means Python raised `UnicodeDecodeError`.
 */
export const unquote = (s: string, mode: "surrogatepass" | "replace"): string | undefined => {
  if (!s.includes("%")) return s
  let out = ""
  let i = 0
  const n = s.length
  while (i < n) {
    const start = i
    if (s.charCodeAt(i) < 0x80) {
      while (i < n && s.charCodeAt(i) < 0x80) i++
      const run = s.slice(start, i)
      if (!run.includes("%")) {
        out += run
        continue
      }
      const bytes = unquoteAsciiRun(run)
      if (mode === "replace") {
        out += Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("utf8")
      } else {
        const decoded = decodeUtf8SurrogatePass(bytes)
        if (decoded === undefined) return undefined
        out += decoded
      }
    } else {
      while (i < n && s.charCodeAt(i) >= 0x80) i++
      out += s.slice(start, i)
    }
  }
  return out
}

/**
 * What `SimpleHTTPRequestHandler` does twice (`translate_path` and the listing's title):
 * `unquote(path, errors='surrogatepass')`, and on `UnicodeDecodeError` plain `unquote(path)` (`'replace'`).
 */
export const unquotePath = (s: string): string => unquote(s, "surrogatepass") ?? unquote(s, "replace")!

// `_ALWAYS_SAFE` plus quote()'s default safe='/'.
const SAFE = new Uint8Array(128)
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~/") SAFE[c.charCodeAt(0)] = 1
const HEX = "0123456789ABCDEF"

const isAllSafe = (s: string): boolean => {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c >= 0x80 || SAFE[c] === 0) return false
  }
  return true
}

/** What `encodeURIComponent` leaves as it is but `quote` escapes (Python's safe set has no `!'()*`). */
const UNSAFE_MARKS = /[!'()*]/g
const escapeMark = (c: string): string => "%" + c.charCodeAt(0).toString(16).toUpperCase()
const SLASH = /%2F/g

/**
 * `urllib.parse.quote(s, errors='surrogatepass')` with the default `safe='/'`; hex digits upper-case. A listing
 * quotes every name: the engine's `encodeURIComponent` (flat strings, UTF-8, upper-case hex) with Python's safe set
 * restored, and a byte-by-byte path only for a lone surrogate (which it refuses). Building the result one escape at
 * a time with `+=` left a rope of ~750 nodes per 255-byte name: 1.6 GiB for one listing of 100,000 such names.
 */
export const quote = (s: string): string => {
  if (isAllSafe(s)) return s
  let encoded: string
  try {
    encoded = encodeURIComponent(s)
  } catch {
    return quoteBytes(encodeUtf8SurrogatePass(s))
  }
  // Every `%` of the result starts an escape, so `%2F` is only ever the escape of `/`.
  return encoded.replace(UNSAFE_MARKS, escapeMark).replace(SLASH, "/")
}

/** `quote` of bytes, into one flat string. */
const quoteBytes = (bytes: Uint8Array): string => {
  const out = Buffer.allocUnsafe(bytes.length * 3)
  let n = 0
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!
    if (b < 0x80 && SAFE[b] === 1) {
      out[n++] = b
    } else {
      out[n++] = 0x25
      out[n++] = HEX.charCodeAt(b >> 4)
      out[n++] = HEX.charCodeAt(b & 15)
    }
  }
  return out.toString("latin1", 0, n)
}

/** `html.escape(s, quote=False)`. */
export const escapeHtml = (s: string): string => {
  if (!/[&<>]/.test(s)) return s
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
}

// ---------------------------------------------------------------------------------------------------------------
// Paths

/** `posixpath.normpath`: `.`, empty and `..` components folded; two leading slashes kept, three become one. */
export const normpath = (path: string): string => {
  if (path === "") return "."
  let initialSlashes = path.startsWith("/") ? 1 : 0
  if (initialSlashes === 1 && path.startsWith("//") && !path.startsWith("///")) initialSlashes = 2
  const comps: Array<string> = []
  for (const comp of path.split("/")) {
    if (comp === "" || comp === ".") continue
    const keep = comp !== ".." || (initialSlashes === 0 && comps.length === 0) ||
      (comps.length > 0 && comps[comps.length - 1] === "..")
    if (keep) {
      comps.push(comp)
    } else if (comps.length > 0) {
      comps.pop()
    }
  }
  const joined = comps.join("/")
  const result = (initialSlashes === 2 ? "//" : initialSlashes === 1 ? "/" : "") + joined
  return result === "" ? "." : result
}

/** `posixpath.join(a, b)` for a `b` without slashes (so never absolute). */
export const pyJoin = (a: string, b: string): string => a === "" || a.endsWith("/") ? a + b : a + "/" + b

/**
 * Python's `SimpleHTTPRequestHandler.translate_path`: the file-system path for a request path under `root`.
 * Query and fragment are dropped, `%`-escapes decoded, the path normalised, and empty, `.` and `..` components
 * skipped, so the result never leaves `root`; an explicit trailing slash is kept.
 */
export const translatePath = (root: string, path: string): string => {
  const q = path.indexOf("?")
  if (q >= 0) path = path.slice(0, q)
  const h = path.indexOf("#")
  if (h >= 0) path = path.slice(0, h)
  const trailingSlash = pyRstrip(path).endsWith("/")
  path = normpath(unquotePath(path))
  let out = root
  for (const word of path.split("/")) {
    // Python also skips a word whose os.path.dirname() is non-empty: impossible once split on "/".
    if (word === "" || word === "." || word === "..") continue
    out = pyJoin(out, word)
  }
  return trailingSlash ? out + "/" : out
}

// ---------------------------------------------------------------------------------------------------------------
// urlsplit / urlunsplit (the directory redirect)

const SCHEME_CHARS = /^[A-Za-z][A-Za-z0-9+\-.]*$/
const USES_NETLOC = new Set([
  "",
  "ftp",
  "http",
  "gopher",
  "nntp",
  "telnet",
  "imap",
  "wais",
  "file",
  "mms",
  "https",
  "shttp",
  "snews",
  "prospero",
  "rtsp",
  "rtsps",
  "rtspu",
  "rsync",
  "svn",
  "svn+ssh",
  "sftp",
  "nfs",
  "git",
  "git+ssh",
  "ws",
  "wss"
])

/** Python's `SplitResult`. */
export interface SplitUrl {
  readonly scheme: string
  readonly netloc: string
  readonly path: string
  readonly query: string
  readonly fragment: string
}

/**
 * `urllib.parse.urlsplit(url)`. Python's extra validation (unbalanced IPv6 brackets, NFKC-unsafe netlocs) raises
 * `ValueError` and kills the request; here the parts are returned as found.
 */
export const urlsplit = (url: string): SplitUrl => {
  // Python strips leading C0 controls and spaces and removes tab, CR and LF; a request target has none of them
  // (the decoder refuses control characters), but `urlsplit` is pure and may get anything.
  url = url.replace(/^[\x00-\x20]+/, "").replace(/[\t\r\n]/g, "")
  let scheme = ""
  let netloc = ""
  let query = ""
  let fragment = ""
  const colon = url.indexOf(":")
  if (colon > 0 && SCHEME_CHARS.test(url.slice(0, colon))) {
    scheme = url.slice(0, colon).toLowerCase()
    url = url.slice(colon + 1)
  }
  if (url.startsWith("//")) {
    let delim = url.length
    for (const c of "/?#") {
      const at = url.indexOf(c, 2)
      if (at >= 0 && at < delim) delim = at
    }
    netloc = url.slice(2, delim)
    url = url.slice(delim)
  }
  const hash = url.indexOf("#")
  if (hash >= 0) {
    fragment = url.slice(hash + 1)
    url = url.slice(0, hash)
  }
  const mark = url.indexOf("?")
  if (mark >= 0) {
    query = url.slice(mark + 1)
    url = url.slice(0, mark)
  }
  return { scheme, netloc, path: url, query, fragment }
}

/** `urllib.parse.urlunsplit(parts)`: an empty query or fragment is dropped with its `?` or `#`. */
export const urlunsplit = (parts: SplitUrl): string => {
  let url = parts.path
  if (parts.netloc !== "" || (parts.scheme !== "" && USES_NETLOC.has(parts.scheme) && !url.startsWith("//"))) {
    if (url !== "" && !url.startsWith("/")) url = "/" + url
    url = "//" + parts.netloc + url
  }
  if (parts.scheme !== "") url = parts.scheme + ":" + url
  if (parts.query !== "") url = url + "?" + parts.query
  if (parts.fragment !== "") url = url + "#" + parts.fragment
  return url
}

/**
 * The `Location` of Python's directory redirect for a request path, or `undefined` when the path already ends in
 * a slash (no redirect): `urlunsplit` of `urlsplit(path)` with `/` appended to the path part, %-encoded where it
 * is not a URI (`encodeLocation`).
 */
export const directoryRedirect = (path: string): string | undefined => {
  const parts = urlsplit(path)
  if (parts.path.endsWith("/")) return undefined
  // Python sends the URL as the client spelled it; we %-encode what a URI cannot hold, `\` included (browsers read
  // `/\evil.example/…` as `//evil.example/…`, an open redirect in Python 3.11), so the field is always in grammar.
  return encodeLocation(urlunsplit({ ...parts, path: parts.path + "/" }))
}
