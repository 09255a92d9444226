/**
 * The path arithmetic of Python's `CGIHTTPRequestHandler`, ported literally: `urllib.parse.unquote`,
 * `_url_collapse_path`, `is_cgi`, `translate_path` and the part of `run_cgi` that splits a path into script, extra
 * path and query. Literal on purpose: the differential tests compare against Python, and the quirks (a path is
 * unquoted twice before it becomes `PATH_INFO`) are part of what scripts see.
 */
import * as Effect from "effect/Effect"

const utf8 = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true })
const HEX_PAIR = /^[0-9A-Fa-f]{2}/

/** `urllib.parse.unquote_to_bytes` for an ASCII string: valid `%XX` become bytes, anything else stays literal. */
const unquoteAsciiToBytes = (s: string): Uint8Array => {
  const parts = s.split("%")
  const out: Array<number> = []
  const pushText = (text: string) => {
    for (let i = 0; i < text.length; i++) out.push(text.charCodeAt(i))
  }
  pushText(parts[0]!)
  for (let i = 1; i < parts.length; i++) {
    const item = parts[i]!
    if (HEX_PAIR.test(item)) {
      out.push(parseInt(item.slice(0, 2), 16))
      pushText(item.slice(2))
    } else {
      out.push(0x25)
      pushText(item)
    }
  }
  return Uint8Array.from(out)
}

const ASCII_RUNS = /([\x00-\x7f]+)/

/**
 * Python's `urllib.parse.unquote(s)` (UTF-8, errors="replace"): only ASCII runs are unquoted and decoded; other
 * characters (a latin-1 decoded request byte such as `é`) are kept as they are.
 */
export const unquote = (s: string): string => {
  if (!s.includes("%")) return s
  const bits = s.split(ASCII_RUNS)
  let out = bits[0]!
  for (let i = 1; i < bits.length; i += 2) {
    out += utf8.decode(unquoteAsciiToBytes(bits[i]!))
    out += bits[i + 1] ?? ""
  }
  return out
}

/**
 * Python's `_url_collapse_path`: unquotes the path (not the query), removes empty and `.` segments and resolves
 * `..`. Returns `undefined` where Python raises `IndexError` (more `..` than segments before them).
 */
export const urlCollapsePath = (rawPath: string): string | undefined => {
  const q = rawPath.indexOf("?")
  const query = q < 0 ? "" : rawPath.slice(q + 1)
  const path = unquote(q < 0 ? rawPath : rawPath.slice(0, q))
  const pathParts = path.split("/")
  const headParts: Array<string> = []
  for (const part of pathParts.slice(0, -1)) {
    if (part === "..") {
      if (headParts.length === 0) return undefined
      headParts.pop()
    } else if (part !== "" && part !== ".") {
      headParts.push(part)
    }
  }
  let tailPart = pathParts.pop() ?? ""
  if (tailPart === "..") {
    if (headParts.length === 0) return undefined
    headParts.pop()
    tailPart = ""
  } else if (tailPart === ".") {
    tailPart = ""
  }
  if (query !== "") tailPart = tailPart + "?" + query
  return "/" + headParts.join("/") + "/" + tailPart
}

/**
 * Where a request lands for `is_cgi`: `Cgi` with Python's `cgi_info` (`dir`, `rest`; `rest` still carries the
 * query), `NotCgi`, or `Invalid` for a path Python cannot collapse (it raises, and the client gets no answer).
 */
export type CgiMatch =
  | { readonly _tag: "Cgi"; readonly dir: string; readonly rest: string }
  | { readonly _tag: "NotCgi" }
  | { readonly _tag: "Invalid" }

/** Python's `is_cgi`: the first prefix of the collapsed path, ending at a `/`, that is a CGI directory. */
export const isCgi = (path: string, cgiDirectories: ReadonlyArray<string>): CgiMatch => {
  const collapsed = urlCollapsePath(path)
  if (collapsed === undefined) return { _tag: "Invalid" }
  let dirSep = collapsed.indexOf("/", 1)
  while (dirSep > 0 && !cgiDirectories.includes(collapsed.slice(0, dirSep))) {
    dirSep = collapsed.indexOf("/", dirSep + 1)
  }
  if (dirSep > 0) return { _tag: "Cgi", dir: collapsed.slice(0, dirSep), rest: collapsed.slice(dirSep + 1) }
  return { _tag: "NotCgi" }
}

/** `posixpath.normpath`'s segment handling: `.` and empty segments go, `..` pops (or stays when relative). */
const normSegments = (path: string): Array<string> => {
  const absolute = path.startsWith("/")
  const out: Array<string> = []
  for (const comp of path.split("/")) {
    if (comp === "" || comp === ".") continue
    if (comp !== ".." || (!absolute && out.length === 0) || (out.length > 0 && out[out.length - 1] === "..")) {
      out.push(comp)
    } else if (out.length > 0) {
      out.pop()
    }
  }
  return out
}

/** `os.path.join(a, b)` for a `b` without slashes. */
const joinPath = (a: string, b: string): string => (a === "" || a.endsWith("/") ? a + b : a + "/" + b)

/**
 * `SimpleHTTPRequestHandler.translate_path`: drops query and fragment, unquotes, normalizes, and joins the
 * remaining words (never `.` or `..`) to `directory`, keeping a trailing slash.
 */
export const translatePath = (directory: string, urlPath: string): string => {
  let path = urlPath.split("?", 1)[0]!.split("#", 1)[0]!
  const trailingSlash = path.trimEnd().endsWith("/")
  path = unquote(path)
  let result = directory
  for (const word of normSegments(path)) {
    if (word === "." || word === "..") continue
    result = joinPath(result, word)
  }
  return trailingSlash ? result + "/" : result
}

/** What `run_cgi` makes of `cgi_info` once it knows which prefixes are directories. */
export interface ScriptLocation {
  /** The directory part of the script's URL (`/cgi-bin`, or a sub-directory). */
  readonly dir: string
  /** The script's file name within `dir`. */
  readonly script: string
  /** `dir + "/" + script`: `SCRIPT_NAME`. */
  readonly scriptName: string
  /** What follows the script name, still quoted once (Python unquotes it again for `PATH_INFO`). */
  readonly pathInfo: string
  /** After the first `?`, as received. */
  readonly query: string
}

/**
 * The loop at the top of `run_cgi`: walk `dir/rest` while the next prefix is a directory (`isDir` on translated
 * paths), then split what is left into script, extra path and query.
 */
export const locateScript = <E, R>(
  dir0: string,
  rest0: string,
  isDirectory: (urlPath: string) => Effect.Effect<boolean, E, R>
): Effect.Effect<ScriptLocation, E, R> =>
  Effect.gen(function*() {
    let dir = dir0
    let rest = rest0
    const path = dir + "/" + rest
    let i = path.indexOf("/", dir.length + 1)
    while (i >= 0) {
      const nextDir = path.slice(0, i)
      if (!(yield* isDirectory(nextDir))) break
      dir = nextDir
      rest = path.slice(i + 1)
      i = path.indexOf("/", dir.length + 1)
    }
    const q = rest.indexOf("?")
    const query = q < 0 ? "" : rest.slice(q + 1)
    if (q >= 0) rest = rest.slice(0, q)
    const slash = rest.indexOf("/")
    const script = slash < 0 ? rest : rest.slice(0, slash)
    const pathInfo = slash < 0 ? "" : rest.slice(slash)
    return { dir, script, scriptName: dir + "/" + script, pathInfo, query }
  })
