/**
 * A directory's entries as the listings show them, in the HTML listing's order, read either through `node:fs` (the
 * cache's fast path) or through `FileSystem`, with bounded work: the JSON and rich listings keep only the first
 * {@link MAX_LISTED_ENTRIES} names, at most {@link STAT_CONCURRENCY} `stat`s of one listing are in flight, every
 * system call is asynchronous (none per entry on the event loop), and at most {@link LISTING_PERMITS} listings are
 * built at once in the process.
 */
import type { PlatformError } from "@effect/platform/Error"
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as NodeFs from "node:fs"
import { type ListingEntry, sortByName } from "./listing.js"
import { fsDecode, fsPath, fsPathOrThrow, lstatOf, mayBeUndecodable, statOf } from "./osPath.js"
import { pyJoin } from "./urlPath.js"

/**
 * The most entries a JSON or rich listing shows: the first ones in the listing's (name) order. A listing of
 * 10,000 short names is ~0.9 MB of JSON; the cap bounds what one request holds whatever the directory's size.
 */
export const MAX_LISTED_ENTRIES = 10_000

/** `stat`s of one listing in flight at once: more would only queue in libuv's 4 threads, ahead of other clients. */
export const STAT_CONCURRENCY = 16

/**
 * Listings built at once in the process (the others wait their turn): what a burst of listing requests can hold
 * and the CPU it can take, while files are still served.
 */
export const LISTING_PERMITS = 2

const permits = Effect.unsafeMakeSemaphore(LISTING_PERMITS)

/** Runs the building of a listing once one of the {@link LISTING_PERMITS} is free. */
export const withListingPermit: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R> = permits
  .withPermits(1)

/** One entry. Size and time follow links; both are `undefined` for a link whose target is missing. */
export interface ListedEntry {
  readonly name: string
  /** Links followed, as Python's `isdir`. */
  readonly isDirectory: boolean
  readonly isSymlink: boolean
  /** Bytes. */
  readonly size: number | undefined
  /** Milliseconds since the epoch. */
  readonly mtimeMs: number | undefined
}

/** The entries shown, and how many names there were to show (more than shown when the cap cut the list). */
export interface Listed<T> {
  readonly entries: ReadonlyArray<T>
  readonly total: number
  readonly truncated: boolean
}

/** Which names are listed (hidden dotfiles, upload temporary files…), decided on the name alone. */
export type NameShown = (name: string) => boolean

/**
 * With a rule on links (`followSymlinks: false`, `hideDotfiles`, CGI directories): what a symbolic link in the
 * directory shows, judged on the object opened through it (`Verifier.linkTarget`): its `fstat`, `"hidden"`, or
 * `"unknown"` (listed without size or time). `undefined`: every link is listed, its target `stat`ed by path.
 */
export type LinkShown = ((path: string) => Promise<NodeFs.Stats | "hidden" | "unknown">) | undefined

/**
 * The first `cap` items in the listing's name order, of items arriving in the directory's order, holding at most
 * 2 × `cap` of them at any time (sorted and cut whenever it holds that many). Ties keep their arrival order, as a
 * sort of the whole list would.
 */
export class FirstByName<T> {
  #kept: Array<T> = []
  #total = 0
  constructor(readonly cap: number, readonly nameOf: (item: T) => string) {}
  add(item: T): void {
    this.#total++
    this.#kept.push(item)
    if (this.#kept.length >= 2 * this.cap) this.#kept = sortByName(this.#kept, this.nameOf).slice(0, this.cap)
  }
  result(): Listed<T> {
    const entries = sortByName(this.#kept, this.nameOf).slice(0, this.cap)
    return { entries, total: this.#total, truncated: this.#total > this.cap }
  }
}

/**
 * `f` over `items`, at most `limit` at once, results in order; stops (rejects) once `signal` is aborted, so a
 * listing whose request was interrupted (its client gone) stops taking libuv's threads from everyone else.
 */
const mapLimit = async <A, B>(
  items: ReadonlyArray<A>,
  limit: number,
  f: (a: A) => Promise<B>,
  signal: AbortSignal | undefined
): Promise<Array<B>> => {
  const results = new Array<B>(items.length)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      signal?.throwIfAborted()
      const i = next++
      results[i] = await f(items[i]!)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return results
}

/** A directory entry: its name as Python's `os.listdir` gives it (see `osPath`) and its type from `readdir`. */
export interface Scanned {
  readonly name: string
  readonly dirent: { isDirectory(): boolean; isSymbolicLink(): boolean }
}

/**
 * Streams the directory's entries (`opendir`, 256 per read) into a fresh state. Names are read as strings; when
 * one may have lost bytes (Node decodes what is not UTF-8 as U+FFFD), the scan starts over with a fresh state,
 * reading every name as bytes (`os.fsdecode`): a directory of UTF-8 names pays nothing for the others.
 */
export const scanDirectory = async <S>(
  directory: string,
  fresh: () => S,
  visit: (state: S, entry: Scanned) => void,
  signal?: AbortSignal
): Promise<S> => {
  const os = fsPathOrThrow(directory)
  let state = fresh()
  let undecodable = false
  // `for await` closes the directory when the loop ends, throws or returns.
  for await (const dirent of await NodeFs.promises.opendir(os, { bufferSize: 256 })) {
    signal?.throwIfAborted()
    if (mayBeUndecodable(dirent.name)) {
      undecodable = true
      break
    }
    visit(state, { name: dirent.name, dirent })
  }
  if (!undecodable) return state
  state = fresh()
  // Node's `opendir` honours `encoding: "buffer"` (names as Buffers); @types/node 20 does not declare it.
  const bytes = { bufferSize: 256, encoding: "buffer" as BufferEncoding }
  for await (const dirent of await NodeFs.promises.opendir(os, bytes)) {
    signal?.throwIfAborted()
    visit(state, { name: fsDecode(dirent.name as unknown as Buffer), dirent })
  }
  return state
}

/**
 * The directory's entries whose names are shown, the first `cap` in name order, with their types, streamed from
 * the directory so that only 2 × `cap` of them are held.
 */
const scanNode = (
  directory: string,
  nameShown: NameShown,
  cap: number,
  signal: AbortSignal | undefined
): Promise<Listed<Scanned>> =>
  scanDirectory(
    directory,
    () => new FirstByName<Scanned>(cap, (entry) => entry.name),
    (first, entry) => {
      if (nameShown(entry.name)) first.add(entry)
    },
    signal
  ).then((first) => first.result())


const missing = (name: string, isSymlink: boolean): ListedEntry => ({
  name,
  isDirectory: false,
  isSymlink,
  size: undefined,
  mtimeMs: undefined
})

const entryOf = (name: string, isSymlink: boolean, stats: NodeFs.Stats): ListedEntry => ({
  name,
  isDirectory: stats.isDirectory(),
  isSymlink,
  size: stats.size,
  mtimeMs: stats.mtimeMs
})

/**
 * One entry under a rule on links: `lstat` first (the name may have become a link since `readdir`), and a link
 * shows what `linkShown` opened and checked, never a second look by path (a link re-pointed between a check and
 * a `stat` showed an outside file's size).
 */
const checkedEntry = async (
  full: string,
  name: string,
  linkShown: NonNullable<LinkShown>
): Promise<ListedEntry | undefined> => {
  const own = await lstatOf(full).catch(() => undefined)
  if (own === undefined) return missing(name, false)
  if (!own.isSymbolicLink()) return entryOf(name, false, own)
  const target = await linkShown(full)
  return target === "hidden" ? undefined : target === "unknown" ? missing(name, true) : entryOf(name, true, target)
}

/** Through `node:fs`, for the JSON and rich listings: a `stat` per entry kept (links: and the link check). */
export const readEntriesNode = async (
  directory: string,
  nameShown: NameShown,
  linkShown: LinkShown,
  cap: number = MAX_LISTED_ENTRIES,
  signal?: AbortSignal
): Promise<Listed<ListedEntry>> => {
  const scanned = await scanNode(directory, nameShown, cap, signal)
  const entries = await mapLimit(scanned.entries, STAT_CONCURRENCY, async ({ dirent, name }) => {
    const full = pyJoin(directory, name)
    if (linkShown !== undefined) return checkedEntry(full, name, linkShown)
    const isSymlink = dirent.isSymbolicLink()
    return statOf(full).then((stats) => entryOf(name, isSymlink, stats), () => missing(name, isSymlink))
  }, signal)
  return { ...scanned, entries: entries.filter((e): e is ListedEntry => e !== undefined) }
}

/**
 * Through `node:fs`, for Python's listing: every entry (Python lists the whole directory), types from `readdir`,
 * a `stat` only per symbolic link (Python's `isdir` follows links), in the directory's order (the caller sorts,
 * yielding: `sortByNameYielding`). `links`: the listing has a link (shown or not), so it may change unseen and is
 * not cached.
 */
export const readListingNode = async (
  directory: string,
  nameShown: NameShown,
  linkShown: LinkShown,
  signal?: AbortSignal
): Promise<{ readonly entries: ReadonlyArray<ListingEntry>; readonly links: boolean }> => {
  const scanned = await scanDirectory(directory, (): Array<Scanned> => [], (list, entry) => {
    if (nameShown(entry.name)) list.push(entry)
  }, signal)
  let links = false
  const entries = await mapLimit(scanned, STAT_CONCURRENCY, async ({ dirent, name }): Promise<ListingEntry | undefined> => {
    if (!dirent.isSymbolicLink()) return { name, isDirectory: dirent.isDirectory(), isSymlink: false }
    links = true
    const full = pyJoin(directory, name)
    if (linkShown !== undefined) {
      const target = await linkShown(full)
      return target === "hidden" ? undefined : { name, isDirectory: target !== "unknown" && target.isDirectory(), isSymlink: true }
    }
    return statOf(full).then(
      (target) => ({ name, isDirectory: target.isDirectory(), isSymlink: true }),
      () => ({ name, isDirectory: false, isSymlink: true })
    )
  }, signal)
  return { entries: entries.filter((e): e is ListingEntry => e !== undefined), links }
}

/**
 * Through `FileSystem` (`cache: false`): `stat` and `readLink` per entry kept. `FileSystem` reads the names whole
 * (no streaming), but only the first `cap` are examined and kept. With a rule on links, through `node:fs` as
 * {@link readEntriesNode} (the directory is then a verified descriptor's path, and links are judged on what they
 * open, which `FileSystem` cannot do).
 */
export const readEntries = (
  fs: FileSystem.FileSystem,
  directory: string,
  nameShown: NameShown,
  linkShown: LinkShown,
  concurrency: number = STAT_CONCURRENCY,
  cap: number = MAX_LISTED_ENTRIES
): Effect.Effect<Listed<ListedEntry>, unknown> => {
  const node = Effect.tryPromise({
    try: () => readEntriesNode(directory, nameShown, linkShown, cap),
    catch: (error) => error
  })
  // `FileSystem` names files by strings only: a directory whose own path or any name is not UTF-8 is read as
  // bytes through `node:fs` (see `osPath`).
  return linkShown !== undefined || typeof fsPath(directory) !== "string"
    ? node
    : readEntriesFs(fs, directory, nameShown, concurrency, cap, node)
}

const readEntriesFs = (
  fs: FileSystem.FileSystem,
  directory: string,
  nameShown: NameShown,
  concurrency: number,
  cap: number,
  asBytes: Effect.Effect<Listed<ListedEntry>, unknown>
): Effect.Effect<Listed<ListedEntry>, PlatformError | unknown> =>
  Effect.flatMap(fs.readDirectory(directory), (names) => {
    if (names.some(mayBeUndecodable)) return asBytes
    const first = new FirstByName<string>(cap, (name) => name)
    for (const name of names) if (nameShown(name)) first.add(name)
    const scanned = first.result()
    return Effect.map(
      Effect.forEach(scanned.entries, (name) => {
        const full = pyJoin(directory, name)
        return Effect.flatMap(
          Effect.match(fs.readLink(full), { onFailure: () => false, onSuccess: () => true }),
          (isSymlink): Effect.Effect<ListedEntry | undefined> => statEntry(fs, full, name, isSymlink)
        )
      }, { concurrency }),
      (entries) => ({ ...scanned, entries: entries.filter((e): e is ListedEntry => e !== undefined) })
    )
  })

const statEntry = (
  fs: FileSystem.FileSystem,
  full: string,
  name: string,
  isSymlink: boolean
): Effect.Effect<ListedEntry> =>
  Effect.map(Effect.option(fs.stat(full)), (info) =>
    Option.match(info, {
      onNone: () => missing(name, isSymlink),
      onSome: (value) => ({
        name,
        isDirectory: value.type === "Directory",
        isSymlink,
        size: Number(value.size),
        mtimeMs: Option.match(value.mtime, { onNone: () => undefined, onSome: (date) => date.getTime() })
      })
    }))
