/**
 * Content types exactly as Python 3.11's `SimpleHTTPRequestHandler.guess_type`
 * answers: Python's built-in `mimetypes` tables, overridden by the system's
 * mime.types files, behind the handler's own `extensions_map`.
 *
 * @since 0.1.0
 */
// Subpath imports: the package barrels load every module (tens of MB of RSS).
import * as FileSystem from "@effect/platform/FileSystem"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import {
  pythonCommonTypes,
  pythonEncodingsMap,
  pythonSuffixMap,
  pythonTypes
} from "./internal/pythonMimeTable.js"

/**
 * One `type extension` association read from a mime.types file.
 *
 * @since 0.1.0
 * @category models
 */
export interface MimeTypeEntry {
  readonly type: string
  /** With the leading dot, case preserved, e.g. `".html"`. */
  readonly extension: string
}

/**
 * The data behind Python's `mimetypes.MimeTypes` instance. Keys are stored
 * verbatim (case preserved) in insertion order, as Python's dicts hold them.
 *
 * @since 0.1.0
 * @category models
 */
export interface MimeTable {
  /** Strict table (`types_map[True]`): built-ins, then every file read. */
  readonly types: ReadonlyMap<string, string>
  /** Non-strict table (`types_map[False]`): Python's `common_types`. */
  readonly commonTypes: ReadonlyMap<string, string>
  /** Suffix rewrites applied before lookup (`.tgz` -> `.tar.gz`). */
  readonly suffixMap: ReadonlyMap<string, string>
  /** Case-sensitive suffixes naming a content encoding (`.gz` -> `gzip`). */
  readonly encodingsMap: ReadonlyMap<string, string>
}

/**
 * Result of {@link guessType}: Python's `(type, encoding)` tuple.
 *
 * @since 0.1.0
 * @category models
 */
export interface MimeGuess {
  readonly type: string | undefined
  readonly encoding: string | undefined
}

/**
 * Python 3.11's `mimetypes.knownfiles`, in Python's order (later files win).
 * Duplicated Apache path included because Python lists it twice.
 *
 * @since 0.1.0
 * @category constants
 */
export const knownFiles: ReadonlyArray<string> = [
  "/etc/mime.types",
  "/etc/httpd/mime.types",
  "/etc/httpd/conf/mime.types",
  "/etc/apache/mime.types",
  "/etc/apache2/mime.types",
  "/usr/local/etc/httpd/conf/mime.types",
  "/usr/local/lib/netscape/mime.types",
  "/usr/local/etc/httpd/conf/mime.types",
  "/usr/local/etc/mime.types"
]

/**
 * Python 3.11's `SimpleHTTPRequestHandler.extensions_map` class default.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultExtensionsMap: Readonly<Record<string, string>> = {
  ".gz": "application/gzip",
  ".Z": "application/octet-stream",
  ".bz2": "application/x-bzip2",
  ".xz": "application/x-xz"
}

const OCTET_STREAM = "application/octet-stream"

// Python's str.split() whitespace (str.isspace), which is not JS's \s:
// Python adds \x1c-\x1f and \x85, and does not count U+FEFF as a space.
const PYTHON_WHITESPACE = /[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/

// Python reads the file in text mode, i.e. with universal newlines: a lone
// "\r" ends a line too, which matters because "#" comments run to line end.
const LINE_BREAK = /\r\n|\r|\n/

/**
 * Parses a mime.types file with the rules of Python's `MimeTypes.readfp`:
 * the first word is the type, the rest are extensions (no case folding, no
 * validation); a word *starting* with `#` ends the line; lines with only a
 * type are ignored. Entries come back in file order; later ones win.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseMimeTypesFile = (text: string): ReadonlyArray<MimeTypeEntry> => {
  const entries: Array<MimeTypeEntry> = []
  for (const line of text.split(LINE_BREAK)) {
    const words = line.split(PYTHON_WHITESPACE)
    let type: string | undefined
    for (const word of words) {
      if (word === "") continue
      if (word.startsWith("#")) break
      if (type === undefined) type = word
      else entries.push({ type, extension: "." + word })
    }
  }
  return entries
}

/**
 * Builds the table Python's module-level `mimetypes` functions use: the
 * built-in tables (unless `includeBuiltin` is false), then each file's
 * entries in order, every entry overriding any earlier type for its
 * extension. `suffixMap` and `encodingsMap` are always Python's.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeMimeTable = (options?: {
  /** Contents (not paths) of mime.types files, in reading order. */
  readonly fileContents?: ReadonlyArray<string> | undefined
  /** Start from Python's built-in type tables; default `true`. */
  readonly includeBuiltin?: boolean | undefined
}): MimeTable => {
  const includeBuiltin = options?.includeBuiltin ?? true
  // Map.set on an existing key keeps its original position, like a Python
  // dict, so iteration order matches Python's types_map too.
  const types = new Map<string, string>(includeBuiltin ? pythonTypes : [])
  for (const text of options?.fileContents ?? []) {
    for (const { extension, type } of parseMimeTypesFile(text)) types.set(extension, type)
  }
  return {
    types,
    commonTypes: new Map(includeBuiltin ? pythonCommonTypes : []),
    suffixMap: new Map(pythonSuffixMap),
    encodingsMap: new Map(pythonEncodingsMap)
  }
}

// posixpath.splitext: index of the extension's dot, or -1. The last dot
// after the last "/" starts the extension unless the basename is only dots
// up to it (".bashrc", "..x" have none). Indexing UTF-16 units is safe as
// only ASCII "/" and "." are compared.
const extensionStart = (path: string): number => {
  const dot = path.lastIndexOf(".")
  const sep = path.lastIndexOf("/")
  if (dot > sep) {
    for (let i = sep + 1; i < dot; i++) {
      if (path.charCodeAt(i) !== 0x2e) return dot
    }
  }
  return -1
}

// urllib.parse._splittype's `([^/:]+):` prefix: index of the scheme's colon,
// or -1 when there is no scheme (empty, or a "/" comes first).
const schemeEnd = (url: string): number => {
  for (let i = 0; i < url.length; i++) {
    const c = url.charCodeAt(i)
    if (c === 0x3a) return i > 0 ? i : -1
    if (c === 0x2f) return -1
  }
  return -1
}

const NO_GUESS: MimeGuess = { type: undefined, encoding: undefined }

// data: URLs: "type/subtype" up to the first ";" or ",", defaulting to
// text/plain when it has no "/" or looks like a parameter. Returned raw,
// no case folding or trimming, like Python.
const guessDataUrl = (rest: string): MimeGuess => {
  const comma = rest.indexOf(",")
  if (comma < 0) return NO_GUESS
  const semi = rest.indexOf(";")
  const type = rest.slice(0, semi >= 0 && semi < comma ? semi : comma)
  return {
    type: type.includes("=") || !type.includes("/") ? "text/plain" : type,
    encoding: undefined
  }
}

/**
 * Python's `mimetypes.guess_type(url, strict)` (strict by default) over
 * `table`: data: URLs; any other `scheme:` prefix is dropped first; suffix
 * rewrites are chained (matched lower-cased); one encoding suffix is peeled
 * (case-sensitive); the remaining extension is looked up lower-cased only.
 *
 * @since 0.1.0
 * @category guessing
 */
export const guessType = (
  table: MimeTable,
  url: string,
  options?: { readonly strict?: boolean | undefined }
): MimeGuess => {
  const colon = schemeEnd(url)
  let rest = url
  if (colon >= 0) {
    rest = url.slice(colon + 1)
    if (url.slice(0, colon).toLowerCase() === "data") return guessDataUrl(rest)
  }
  let dot = extensionStart(rest)
  let base = dot < 0 ? rest : rest.slice(0, dot)
  let ext = dot < 0 ? "" : rest.slice(dot)
  let lower = ext.toLowerCase()
  for (let next = table.suffixMap.get(lower); next !== undefined; next = table.suffixMap.get(lower)) {
    const joined = base + next
    dot = extensionStart(joined)
    base = dot < 0 ? joined : joined.slice(0, dot)
    ext = dot < 0 ? "" : joined.slice(dot)
    lower = ext.toLowerCase()
  }
  const encoding = table.encodingsMap.get(ext)
  if (encoding !== undefined) {
    dot = extensionStart(base)
    lower = dot < 0 ? "" : base.slice(dot).toLowerCase()
  }
  const strict = options?.strict ?? true
  const type = table.types.get(lower) ?? (strict ? undefined : table.commonTypes.get(lower))
  return { type, encoding }
}

/**
 * Builds Python's `SimpleHTTPRequestHandler.guess_type` for a table and an
 * `extensions_map`; the maps are prepared once so each call is a few Map
 * lookups. Prefer this over {@link guessContentType} on hot paths.
 *
 * @since 0.1.0
 * @category guessing
 */
export const makeContentType = (
  table: MimeTable,
  extensionsMap: Readonly<Record<string, string>> = defaultExtensionsMap
): (path: string) => string => {
  // A Map, not the record: `"constructor" in {}` would be true.
  const handlerMap = new Map(Object.entries(extensionsMap))
  const { encodingsMap, suffixMap, types } = table
  return (path) => {
    const dot = extensionStart(path)
    const ext = dot < 0 ? "" : path.slice(dot)
    const exact = handlerMap.get(ext)
    if (exact !== undefined) return exact
    const lower = ext.toLowerCase()
    const folded = handlerMap.get(lower)
    if (folded !== undefined) return folded
    // Only a scheme, a suffix rewrite or an encoding suffix makes
    // mimetypes look past this extension; otherwise answer directly.
    if (path.includes(":") || suffixMap.has(lower) || encodingsMap.has(ext)) {
      return guessType(table, path).type ?? OCTET_STREAM
    }
    return types.get(lower) ?? OCTET_STREAM
  }
}

/**
 * Python's `SimpleHTTPRequestHandler.guess_type(path)`: the handler's
 * `extensions_map` by exact extension, then by lower-cased extension, then
 * `mimetypes.guess_type(path)[0]`, else `application/octet-stream`.
 *
 * @since 0.1.0
 * @category guessing
 */
export const guessContentType = (
  table: MimeTable,
  extensionsMap: Readonly<Record<string, string>>,
  path: string
): string => makeContentType(table, extensionsMap)(path)

/**
 * The operations the {@link MimeTypes} service offers.
 *
 * @since 0.1.0
 * @category models
 */
export interface MimeTypesService {
  /** The table in use (built-ins plus any mime.types files read). */
  readonly table: MimeTable
  /** `Content-Type` for a file path, as `SimpleHTTPRequestHandler` picks it. */
  readonly contentType: (path: string) => string
  /** `mimetypes.guess_type(path)` (strict): type and encoding. */
  readonly guess: (path: string) => MimeGuess
}

/**
 * Options shared by the {@link MimeTypes} layers.
 *
 * @since 0.1.0
 * @category options
 */
export interface MimeTypesOptions {
  /** Replaces the handler's `extensions_map`; default {@link defaultExtensionsMap}. */
  readonly extensionsMap?: Readonly<Record<string, string>> | undefined
}

// Internal: a known file that exists but cannot be decoded as UTF-8.
class MimeFileDecodeError extends Data.TaggedError("MimeFileDecodeError")<{
  readonly cause: unknown
}> {}

// Python opens the files with encoding="utf-8": strict decoding, and a BOM
// is kept as a character (it then becomes part of the first word).
const decodeUtf8 = (bytes: Uint8Array) =>
  Effect.try({
    try: () => new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes),
    catch: (cause) => new MimeFileDecodeError({ cause })
  })

// Python reads a known file only if os.path.isfile() holds, so missing
// paths and directories are skipped silently. Python would raise on an
// unreadable or non-UTF-8 file; a server should not fail on that, so we
// skip it with a warning instead.
const readKnownFile = (fs: FileSystem.FileSystem, path: string): Effect.Effect<Option.Option<string>> =>
  fs.stat(path).pipe(
    Effect.option,
    Effect.flatMap((info) =>
      Option.isNone(info) || info.value.type !== "File"
        ? Effect.succeedNone
        : fs.readFile(path).pipe(
          Effect.flatMap(decodeUtf8),
          Effect.asSome,
          Effect.catchAll((error) =>
            Effect.logWarning(`MimeTypes: skipping unreadable ${path}`, error).pipe(Effect.as(Option.none()))
          )
        )
    )
  )

/**
 * Content-type guessing as Python's `http.server` does it. Use
 * {@link MimeTypes.layer} in production (reads the system mime.types files)
 * and {@link MimeTypes.layerWithoutFiles} or {@link MimeTypes.make} in tests.
 *
 * @since 0.1.0
 * @category tags
 */
export class MimeTypes extends Context.Tag("effect-httpd/MimeTypes")<MimeTypes, MimeTypesService>() {
  /** Builds the service from an already-built table. */
  static make(table: MimeTable, options?: MimeTypesOptions): MimeTypesService {
    return {
      table,
      contentType: makeContentType(table, options?.extensionsMap ?? defaultExtensionsMap),
      guess: (path) => guessType(table, path)
    }
  }

  /**
   * Python's built-in tables overridden by `knownFiles` (default: Python's
   * `mimetypes.knownfiles`), read in order through `FileSystem`; files that
   * are missing or unreadable are skipped.
   */
  static layer(
    options?: MimeTypesOptions & { readonly knownFiles?: ReadonlyArray<string> | undefined }
  ): Layer.Layer<MimeTypes, never, FileSystem.FileSystem> {
    return Layer.effect(
      MimeTypes,
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const contents = yield* Effect.forEach(options?.knownFiles ?? knownFiles, (path) => readKnownFile(fs, path))
        return MimeTypes.make(makeMimeTable({ fileContents: contents.flatMap(Option.toArray) }), options)
      })
    )
  }

  /** Python's built-in tables only: no file system access, deterministic. */
  static layerWithoutFiles(options?: MimeTypesOptions): Layer.Layer<MimeTypes> {
    return Layer.succeed(MimeTypes, MimeTypes.make(makeMimeTable(), options))
  }
}
