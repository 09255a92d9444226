/**
 * File names as Python's `os` module sees them on a UTF-8 system: `os.fsdecode` turns the bytes of a name into a
 * string, each byte that is not part of valid UTF-8 becoming a lone surrogate U+DC80–U+DCFF (`surrogateescape`),
 * and `os.fsencode` turns such a string back into the same bytes. Paths travel through the static handler as
 * these strings (what `translate_path` makes of `%ED%B3%A9` is `'\udce9'`, the name of the file whose byte is
 * 0xE9); {@link fsPath} gives `node:fs` the bytes only where a string cannot say them.
 *
 * Every valid UTF-8 name stays a plain string from end to end: no Buffer is made, no byte is decoded by hand, and
 * the response cache keeps its string keys. The cost of a name that is not UTF-8 falls on that name alone.
 */

import * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as NodeFs from "node:fs"
import { encodeUtf8SurrogateEscape, hasLoneSurrogate } from "./urlPath.js"

/** Any UTF-16 surrogate (lone or paired): a string without one is passed to `node:fs` as it is. */
const SURROGATE = /[\ud800-\udfff]/

/**
 * The path `node:fs` is given for a Python path string: the string itself when it holds no lone surrogate (every
 * path whose names are valid UTF-8: a regular-expression test, nothing more), otherwise `os.fsencode(path)` as a
 * Buffer, or `undefined` where Python raises `UnicodeEncodeError` (a lone surrogate that is not one of
 * surrogateescape's, U+D800–U+DC7F or U+DD00–U+DFFF: no byte string names it, so no file has that name).
 */
export const fsPath = (path: string): string | Buffer | undefined => {
  // Astral characters (paired surrogates) are UTF-8 as Node writes them.
  if (!SURROGATE.test(path) || !hasLoneSurrogate(path)) return path
  return UNENCODABLE.test(path) ? undefined : encodeUtf8SurrogateEscape(path)
}

/** A lone surrogate outside surrogateescape's U+DC80–U+DCFF. */
const UNENCODABLE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udc7f\udd00-\udfff]/

/** Whether `node:fs` can be given this path: no NUL, and bytes exist for it (see {@link fsPath}). */
export const isEncodable = (path: string): boolean => !path.includes("\0") && fsPath(path) !== undefined

/** Node writes U+FFFD for every byte sequence that is not UTF-8: only then is a name decoded by hand. */
const REPLACEMENT = "\ufffd"

/**
 * `os.fsdecode(bytes)`: strict UTF-8 (no encoded surrogates, no overlong forms), each byte of an invalid sequence
 * as U+DC00 + byte. A name that Node decodes without U+FFFD is returned as Node decoded it.
 */
export const fsDecode = (bytes: Uint8Array): string => {
  const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)
  const plain = buffer.toString("utf8")
  if (!plain.includes(REPLACEMENT)) return plain
  let out = ""
  let i = 0
  while (i < buffer.length) {
    const length = sequenceLength(buffer, i)
    if (length === 0) {
      out += String.fromCharCode(0xdc00 + buffer[i]!)
      i++
    } else {
      out += buffer.toString("utf8", i, i + length)
      i += length
    }
  }
  return out
}

/**
 * The length of the valid UTF-8 sequence at `i` (RFC 3629: no overlong forms, no surrogates, nothing past
 * U+10FFFF), or 0. Python's decoder reports an invalid sequence as its maximal valid prefix and surrogateescape
 * escapes each byte of it; escaping one byte and resuming gives the same string, since every byte of such a
 * prefix after its first is a continuation byte, invalid on its own.
 */
const sequenceLength = (bytes: Uint8Array, i: number): number => {
  const b0 = bytes[i]!
  if (b0 < 0x80) return 1
  let need: number
  let lo = 0x80
  let hi = 0xbf
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    need = 1
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    need = 2
    if (b0 === 0xe0) lo = 0xa0
    else if (b0 === 0xed) hi = 0x9f
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    need = 3
    if (b0 === 0xf0) lo = 0x90
    else if (b0 === 0xf4) hi = 0x8f
  } else {
    return 0
  }
  for (let k = 1; k <= need; k++) {
    const b = bytes[i + k]
    if (b === undefined) return 0
    if (k === 1 ? b < lo || b > hi : b < 0x80 || b > 0xbf) return 0
  }
  return need + 1
}

/** Whether a name read as a string (Node's UTF-8 decoding) may have lost bytes and must be read again as bytes. */
export const mayBeUndecodable = (name: string): boolean => name.includes(REPLACEMENT)

/**
 * `stat` of a Python path through `FileSystem`, which takes strings only: a name that is not UTF-8 (its bytes a
 * Buffer) is stat'ed with `node:fs` and reported as the platform's `NodeFileSystem` reports a `stat` (its
 * `makeFileInfo`, which it does not export); a path no bytes name fails as a missing file does.
 */
export const statInfo = (fs: FileSystem.FileSystem, path: string): Effect.Effect<FileSystem.File.Info, unknown> => {
  const os = fsPath(path)
  if (typeof os === "string") return fs.stat(os)
  if (os === undefined) return Effect.fail({ code: "ENOENT" })
  return Effect.tryPromise({ try: () => NodeFs.promises.stat(os), catch: (error) => error }).pipe(Effect.map(infoOfStats))
}

/**
 * `open(path, "rb").read()` of a Python path (a few small files named on the command line: TLS certificate, key,
 * password) through `FileSystem`, whose `readFile` takes a string only: a name that is not UTF-8 is read with
 * `node:fs` by its bytes (a Buffer path); a path no bytes name fails as a missing file does.
 */
export const readFileOf = (fs: FileSystem.FileSystem, path: string): Effect.Effect<Uint8Array, unknown> => {
  const os = fsPath(path)
  if (typeof os === "string") return fs.readFile(os)
  if (os === undefined) return Effect.fail({ code: "ENOENT" })
  return Effect.tryPromise({ try: () => NodeFs.promises.readFile(os), catch: (error) => error })
}

const infoOfStats = (stat: NodeFs.Stats): FileSystem.File.Info => ({
  type: stat.isFile()
    ? "File"
    : stat.isDirectory()
    ? "Directory"
    : stat.isSymbolicLink()
    ? "SymbolicLink"
    : stat.isBlockDevice()
    ? "BlockDevice"
    : stat.isCharacterDevice()
    ? "CharacterDevice"
    : stat.isFIFO()
    ? "FIFO"
    : stat.isSocket()
    ? "Socket"
    : "Unknown",
  mtime: Option.fromNullable(stat.mtime),
  atime: Option.fromNullable(stat.atime),
  birthtime: Option.fromNullable(stat.birthtime),
  dev: stat.dev,
  rdev: Option.fromNullable(stat.rdev),
  ino: Option.fromNullable(stat.ino),
  mode: stat.mode,
  nlink: Option.fromNullable(stat.nlink),
  uid: Option.fromNullable(stat.uid),
  gid: Option.fromNullable(stat.gid),
  size: FileSystem.Size(stat.size),
  blksize: Option.map(Option.fromNullable(stat.blksize), FileSystem.Size),
  blocks: Option.fromNullable(stat.blocks)
})

/**
 * {@link fsPath} for code inside a `try` or a promise (where a failed system call throws too): a path no bytes name
 * fails as a missing file does (`ENOENT`). Request paths are checked with {@link isEncodable} before any of them.
 */
export const fsPathOrThrow = (path: string): string | Buffer => {
  const os = fsPath(path)
  if (os === undefined) throw Object.assign(new Error(`ENOENT: no bytes name this path`), { code: "ENOENT" })
  return os
}

const osOrMissing = (path: string): Promise<string | Buffer> => new Promise((resolve) => resolve(fsPathOrThrow(path)))

/** `os.listdir(path)`: names as strings, read again as bytes only when one may have lost some (see `fsDecode`). */
export const listNames = async (path: string): Promise<Array<string>> => {
  const os = await osOrMissing(path)
  const names = await NodeFs.promises.readdir(os)
  if (!names.some(mayBeUndecodable)) return names
  return (await NodeFs.promises.readdir(os, { encoding: "buffer" })).map(fsDecode)
}

/** `os.path.realpath`, strict, of a path as Python names it: read as bytes, decoded losslessly. */
export const realPathOf = (path: string): Promise<string> =>
  osOrMissing(path).then((os) => NodeFs.promises.realpath(os, { encoding: "buffer" })).then(fsDecode)

/** `readlink`, as {@link realPathOf}. */
export const readLinkOf = (path: string): Promise<string> =>
  osOrMissing(path).then((os) => NodeFs.promises.readlink(os, { encoding: "buffer" })).then(fsDecode)

/** `lstat` / `stat` of a path as Python names it. */
export const lstatOf = (path: string): Promise<NodeFs.Stats> => osOrMissing(path).then((os) => NodeFs.promises.lstat(os))
export const statOf = (path: string): Promise<NodeFs.Stats> => osOrMissing(path).then((os) => NodeFs.promises.stat(os))
