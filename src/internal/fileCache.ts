/**
 * The static handler's response cache: small files held in memory with their ready-made responses, validated on
 * every request against a synchronous `stat`.
 *
 * Why `node:fs` here and not `FileSystem`: the cache only pays off when a hit is answered synchronously (the engine
 * then writes the response without forking a fiber, ~3.6 µs per request); an Effect `fs.stat` goes through the
 * libuv thread pool and a fiber (~48 µs measured). `fs.statSync` of a cached inode costs ~2 µs. Everything else
 * (reads, directories) still goes through `FileSystem`.
 */
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as NodeFs from "node:fs"
import type { HttpError } from "../HttpError.js"
import type * as Response from "../Response.js"
import { fsPath } from "./osPath.js"

/** What identifies one version of a file: a write, a rename over it, `utimes` or a `chmod` changes one of these. */
export interface FileVersion {
  readonly dev: number
  readonly ino: number
  readonly size: number
  readonly mtimeMs: number
  readonly ctimeMs: number
}

/** One cached file, under the request path that led to it. */
export interface CacheEntry {
  /** The file-system path the request path translated to. */
  readonly path: string
  readonly version: FileVersion
  /** The validators' inputs, as the uncached path computes them. */
  readonly meta: { readonly size: number; readonly mtimeMs: number; readonly ino: number | undefined }
  readonly bytes: Uint8Array
  /** The answers to a GET and a HEAD without conditional or range headers, as Exits (no fiber needed). */
  readonly get: Effect.Effect<Response.Response, HttpError, Scope.Scope>
  readonly head: Effect.Effect<Response.Response, HttpError, Scope.Scope>
}

/** Bounds and policy of the cache. */
export interface FileCacheOptions {
  readonly maxEntries: number
  readonly maxBytes: number
  /** Larger files are never cached. */
  readonly maxFileSize: number
  /**
   * A file changed less than this long ago is not cached: file-system timestamps are coarse (a kernel tick; a
   * second on ext3 and some network file systems, two on FAT), so a second write within the same tick could leave
   * (mtime, ctime, size) unchanged and the cached copy stale ("racy git"). Once a file is older than this, any
   * later write gets a later timestamp.
   */
  readonly settleMs: number
}

// What an entry costs beyond its bytes (the key, the path, two responses with their headers), roughly.
const ENTRY_OVERHEAD = 1024

/**
 * `stat` that answers `undefined` for a path that cannot be stat'ed (missing, ENOTDIR, EACCES, too long, no bytes
 * name it...). `path` is a Python path string (see `osPath`).
 */
export const statQuiet = (path: string): NodeFs.Stats | undefined => {
  const os = fsPath(path)
  if (os === undefined) return undefined
  try {
    return NodeFs.statSync(os, { throwIfNoEntry: false })
  } catch {
    return undefined
  }
}

/** The version of a file as `stat` sees it. */
export const versionOf = (stats: NodeFs.Stats): FileVersion => ({
  dev: stats.dev,
  ino: stats.ino,
  size: stats.size,
  mtimeMs: stats.mtimeMs,
  ctimeMs: stats.ctimeMs
})

/** Same file, same contents (as far as `stat` can tell). */
export const sameVersion = (a: FileVersion, b: FileVersion): boolean =>
  a.mtimeMs === b.mtimeMs && a.size === b.size && a.ino === b.ino && a.ctimeMs === b.ctimeMs && a.dev === b.dev

/** An LRU map from request path to cached file, bounded in entries and bytes. */
export class FileCache {
  readonly #entries = new Map<string, CacheEntry>()
  #bytes = 0

  constructor(readonly options: FileCacheOptions) {}

  get size(): number {
    return this.#entries.size
  }

  get bytes(): number {
    return this.#bytes
  }

  /**
   * The entry for `key` if its file is still the version cached (one `stat`); a stale entry is dropped. A hit
   * becomes the most recently used.
   */
  lookup(key: string): CacheEntry | undefined {
    const entry = this.#entries.get(key)
    if (entry === undefined) return undefined
    const stats = statQuiet(entry.path)
    // Compared field by field: no version object per hit.
    if (stats === undefined || !stats.isFile() || !sameVersion(stats, entry.version)) {
      this.delete(key)
      return undefined
    }
    this.#entries.delete(key)
    this.#entries.set(key, entry)
    return entry
  }

  /** Whether a file of this version may be cached at all (size bound, settled timestamps). */
  admits(version: FileVersion, now: number = Date.now()): boolean {
    const { maxBytes, maxFileSize, settleMs } = this.options
    return version.size <= maxFileSize && version.size + ENTRY_OVERHEAD <= maxBytes &&
      now - Math.max(version.mtimeMs, version.ctimeMs) >= settleMs
  }

  /** Adds (or replaces) an entry, evicting the least recently used ones beyond the bounds. */
  insert(key: string, entry: CacheEntry): void {
    this.delete(key)
    this.#entries.set(key, entry)
    this.#bytes += entry.bytes.length + ENTRY_OVERHEAD
    const { maxBytes, maxEntries } = this.options
    for (const oldest of this.#entries.keys()) {
      if (this.#entries.size <= maxEntries && this.#bytes <= maxBytes) break
      this.delete(oldest)
    }
  }

  delete(key: string): void {
    const entry = this.#entries.get(key)
    if (entry === undefined) return
    this.#entries.delete(key)
    this.#bytes -= entry.bytes.length + ENTRY_OVERHEAD
  }
}

/** A directory's rendered entries (the listing without its title), valid while the directory is this version. */
export interface ListingEntryCache {
  readonly version: FileVersion
  readonly tail: Uint8Array
}

/**
 * Rendered listings by directory path, LRU-bounded in entries and bytes. A directory's version (mtime, ctime) moves
 * with every entry created, removed or renamed in it, and an entry's type cannot change without that; only what a
 * symbolic link points to can, so listings with links are never cached. Looked up with the directory's `stat`
 * that the request already made.
 */
export class ListingCache {
  readonly #entries = new Map<string, ListingEntryCache>()
  #bytes = 0

  constructor(readonly options: { readonly maxEntries: number; readonly maxBytes: number; readonly settleMs: number }) {}

  get size(): number {
    return this.#entries.size
  }

  lookup(directory: string, version: FileVersion): Uint8Array | undefined {
    const entry = this.#entries.get(directory)
    if (entry === undefined) return undefined
    this.#entries.delete(directory)
    if (!sameVersion(entry.version, version)) {
      this.#bytes -= entry.tail.length
      return undefined
    }
    this.#entries.set(directory, entry)
    return entry.tail
  }

  admits(version: FileVersion, now: number = Date.now()): boolean {
    return now - Math.max(version.mtimeMs, version.ctimeMs) >= this.options.settleMs
  }

  insert(directory: string, version: FileVersion, tail: Uint8Array): void {
    if (tail.length > this.options.maxBytes) return
    const old = this.#entries.get(directory)
    if (old !== undefined) {
      this.#entries.delete(directory)
      this.#bytes -= old.tail.length
    }
    this.#entries.set(directory, { version, tail })
    this.#bytes += tail.length
    for (const [key, entry] of this.#entries) {
      if (this.#entries.size <= this.options.maxEntries && this.#bytes <= this.options.maxBytes) break
      this.#entries.delete(key)
      this.#bytes -= entry.tail.length
    }
  }
}
