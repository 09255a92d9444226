/**
 * Directory archives (`archives`): `GET /dir/?download=tar.gz` or `?download=zip` sends the directory's tree as one
 * file, built while it is sent. The tree is walked first (metadata only, up to the caps: over them the answer is a
 * 413 before any byte is sent), then each file is opened, checked and read as the client takes the bytes: a chunk
 * in flight per stage (file read → archive encoder → gzip → socket), so memory does not grow with the files' sizes.
 *
 * What goes in: directories, regular files, and symbolic links to regular files whose real path is under the root
 * (never a link leaving it, whatever `followSymlinks` says; links to directories are left out, so no cycle);
 * no dot names with `hideDotfiles`; no upload temporary file; nothing else (FIFOs, sockets, devices). Every file is
 * opened without following a final link and verified by its descriptor (`Verifier.verify`) before a byte is read.
 */
import type { PlatformError } from "@effect/platform/Error"
import { fromReadable } from "@effect/platform-node/NodeStream"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as NodeFs from "node:fs"
import { pipeline, Readable, Transform } from "node:stream"
import * as Zlib from "node:zlib"
import * as TarStream from "tar-stream"
import * as Yazl from "yazl"
import type { HeaderField } from "../Headers.js"
import { HttpError } from "../HttpError.js"
import * as Response from "../Response.js"
import { FLAGS, makeVerifier, type Verifier } from "./openVerified.js"
import { fsPath, fsPathOrThrow, listNames, lstatOf, readLinkOf, realPathOf, statOf } from "./osPath.js"
import { isUploadTemp } from "./upload.js"
import { hasLoneSurrogate, pyJoin } from "./urlPath.js"

/** The archive formats offered. */
export type ArchiveFormat = "tar.gz" | "zip"

/** Resolved settings. */
export interface ArchiveConfig {
  /** Entries (files and directories) an archive may hold; more: 413. */
  readonly maxEntries: number
  /** Bytes of file content an archive may hold; more: 413. */
  readonly maxBytes: number
  /** Archives being built at once (each costs a core while it is compressed); one more: 503. */
  readonly slots: Slots
}

/** A count of archives in progress, per handler (so per worker process). */
export class Slots {
  private running = 0
  constructor(readonly max: number) {}
  /** Takes a slot if one is free. */
  take(): boolean {
    if (this.running >= this.max) return false
    this.running++
    return true
  }
  give(): void {
    this.running--
  }
}

/** 2: the machine kind we measure on has two cores. */
export const DEFAULT_MAX_CONCURRENT = 2

/** 100 000 entries: the list walked first is ~200 bytes an entry, so ~20 MB at most. */
export const DEFAULT_MAX_ENTRIES = 100_000
/** 16 GiB of file content. */
export const DEFAULT_MAX_BYTES = 16 * 1024 * 1024 * 1024

/** `download=tar.gz` or `download=zip` in the query (the first `download` counts), else `undefined`. */
export const archiveFormat = (path: string): ArchiveFormat | undefined => {
  const fragment = path.indexOf("#")
  const target = fragment < 0 ? path : path.slice(0, fragment)
  const query = target.indexOf("?")
  if (query < 0) return undefined
  for (const pair of target.slice(query + 1).split("&")) {
    if (pair.startsWith("download=")) {
      const value = pair.slice("download=".length)
      return value === "tar.gz" || value === "zip" ? value : undefined
    }
  }
  return undefined
}

/** One entry of the archive, as walked. */
interface Item {
  /** Path inside the archive (`/`-separated, directories without the trailing `/`). */
  readonly name: string
  readonly directory: boolean
  /** Where to open it: the file itself, or a link's real path. */
  readonly source: string
  readonly size: number
  readonly mtime: Date
  readonly mode: number
}

type Walked =
  | { readonly _tag: "Ok"; readonly items: ReadonlyArray<Item>; readonly bytes: number }
  | { readonly _tag: "TooLarge" }

/**
 * Which names are never archived: dot names with `hideDotfiles`, upload temporaries, and names that do not mean the
 * same path in every unpacker: a `\` (a separator on Windows: `..\\..\\x` would climb out of the target) or a
 * drive-like prefix (`C:x`, absolute on Windows). yazl refuses the latter and rewrites `\` as `/`, so both formats
 * leave them out alike and `X-Archive-Entries` counts what the archive holds.
 */
export const skipped = (name: string, hideDotfiles: boolean): boolean =>
  (hideDotfiles && name.startsWith(".")) || isUploadTemp(name) || name.includes("\\") || /^[A-Za-z]:/.test(name)

/** A byte that is not UTF-8 (`os.fsdecode`'s U+DC80–U+DCFF), or a `%` beside one. */
const ESCAPED_BYTE = /[\udc80-\udcff%]/g

/**
 * The name written for a name that is not UTF-8 (tar's PAX and zip's UTF-8 names must be UTF-8): each such byte as
 * `quote` writes it (`a\udcff` → `a%FF`), and `%` as `%25` so no two such names meet. A valid name is itself.
 */
export const archivedName = (name: string): string =>
  hasLoneSurrogate(name)
    ? name.replace(ESCAPED_BYTE, (c) => "%" + (c === "%" ? 0x25 : c.charCodeAt(0) - 0xdc00).toString(16).toUpperCase())
    : name

/**
 * The entry names of one directory's `names` (sorted): {@link archivedName}, and where that is a sibling's real name
 * (`a%FF` beside `a\xff`), `~2`, `~3`… after it, so no two entries share a name and unpacking loses neither file.
 */
export const archivedNames = (names: ReadonlyArray<string>): Map<string, string> => {
  const taken = new Set(names)
  const out = new Map<string, string>()
  for (const name of names) {
    const base = archivedName(name)
    let candidate = base
    for (let n = 2; candidate !== name && taken.has(candidate); n++) candidate = `${base}~${n}`
    taken.add(candidate)
    out.set(name, candidate)
  }
  return out
}

// `openVerified`'s flags (O_NONBLOCK: a FIFO swapped in does not block the open; O_NOCTTY), and no final link
// followed (a link's real path was resolved by the walk).
const OPEN_FLAGS = FLAGS | NodeFs.constants.O_NOFOLLOW

/**
 * The names in `path` when, opened (no final link followed), it is a directory the verifier allows by its
 * descriptor: the names are read through the verified descriptor (`/proc/self/fd/N`), so a link swapped in for the
 * directory between its `lstat` and its read never lists an outside (or CGI) directory. Returns the directory's
 * real path with them, to build its children's paths from; `undefined` when refused or unreadable.
 */
export const readVerifiedDir = async (
  verifier: Verifier,
  path: string
): Promise<{ readonly real: string; readonly names: Array<string> } | undefined> => {
  const os = fsPath(path)
  if (os === undefined) return undefined
  const handle = await NodeFs.promises.open(os, OPEN_FLAGS | (NodeFs.constants.O_DIRECTORY ?? 0))
  try {
    if (!(await handle.stat()).isDirectory()) return undefined
    const readPath = verifier.verify(handle.fd, path)
    if (readPath === undefined) return undefined
    // Names as Python's `os.listdir` gives them (see `osPath`): a name that is not UTF-8 is archived, not lost.
    const real = readPath.startsWith("/proc/self/fd/") ? await readLinkOf(readPath) : readPath
    return { real, names: (await listNames(readPath)).sort() }
  } finally {
    await handle.close()
  }
}

/**
 * The tree below `directory`, depth first, names in code point order, without reading a file. Stops as soon as a
 * cap is passed. Entries that cannot be read (vanished, no permission) or that the verifier refuses (outside the
 * root, under a CGI directory, a dot name with `hideDotfiles`) are left out.
 */
const walk = async (
  verifier: Verifier,
  config: ArchiveConfig,
  hideDotfiles: boolean,
  directory: string,
  signal: AbortSignal
): Promise<Walked> => {
  const items: Array<Item> = []
  let bytes = 0
  const visit = async (dir: string, prefix: string): Promise<boolean> => {
    let listed: { readonly real: string; readonly names: Array<string> } | undefined
    try {
      listed = await readVerifiedDir(verifier, dir)
    } catch {
      listed = undefined
    }
    if (listed === undefined) return true
    const kept = listed.names.filter((name) => !skipped(name, hideDotfiles))
    const entryNames = archivedNames(kept)
    for (const name of kept) {
      if (signal.aborted) return false
      const full = pyJoin(listed.real, name)
      const entry = entryNames.get(name)!
      const inside = prefix === "" ? entry : prefix + "/" + entry
      let stats: NodeFs.Stats
      let source = full
      try {
        stats = await lstatOf(full)
        if (stats.isSymbolicLink()) {
          source = await realPathOf(full)
          stats = await statOf(source)
          if (!stats.isFile()) continue
        }
      } catch {
        continue
      }
      if (!verifier.allowsReal(source)) continue
      if (!stats.isFile() && !stats.isDirectory()) continue
      bytes += stats.isFile() ? stats.size : 0
      const item: Item = {
        name: inside,
        directory: stats.isDirectory(),
        source,
        size: stats.isFile() ? stats.size : 0,
        mtime: stats.mtime,
        mode: stats.mode & 0o777
      }
      items.push(item)
      if (items.length > config.maxEntries || bytes > config.maxBytes) return false
      if (item.directory && !(await visit(full, inside))) return false
    }
    return true
  }
  const complete = await visit(directory, "")
  return complete ? { _tag: "Ok", items, bytes } : { _tag: "TooLarge" }
}

/** A walked file opened for reading, its size taken from the descriptor at open time. */
interface OpenedItem {
  readonly stream: Readable
  readonly size: number
}

/**
 * Opens a walked file like `openVerified` does (non-blocking, so a FIFO swapped in cannot freeze the server;
 * `fstat` of the descriptor: a regular file only; the descriptor's real path allowed by the verifier), then reads
 * exactly the `fstat` size: bytes a writer appends are not read, and a file that shrinks fails the stream (the
 * download is cut off, never a header announcing bytes that do not follow). Anything else rejects: the archive
 * already announced the entry (zip) or counts it (`X-Archive-Entries`), so the download is aborted.
 */
const openItem = async (verifier: Verifier, item: Item): Promise<OpenedItem> => {
  const fd = await new Promise<number>((resolve, reject) =>
    NodeFs.open(fsPathOrThrow(item.source), OPEN_FLAGS, (error, fd) => (error === null ? resolve(fd) : reject(error)))
  )
  let stats: NodeFs.Stats
  try {
    stats = await new Promise<NodeFs.Stats>((resolve, reject) =>
      NodeFs.fstat(fd, (error, stats) => (error === null ? resolve(stats) : reject(error)))
    )
    if (!stats.isFile() || verifier.verify(fd, item.source) === undefined) throw new Error("not an archivable file")
  } catch (error) {
    NodeFs.close(fd, () => {})
    throw error
  }
  const size = stats.size
  if (size === 0) {
    NodeFs.close(fd, () => {})
    return { stream: Readable.from([]), size }
  }
  const file = NodeFs.createReadStream("", { fd, start: 0, end: size - 1, autoClose: true })
  let read = 0
  const exact = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      read += chunk.length
      callback(null, chunk)
    },
    flush(callback) {
      callback(read === size ? null : new Error(`file changed size while archived: ${item.name}`))
    }
  })
  // pipeline: an error on either side destroys both (the descriptor is closed) and surfaces on `exact`.
  pipeline(file, exact, () => {})
  return { stream: exact, size }
}

/** Every stream opened for the archive, destroyed together when the client goes away. */
class Streams {
  private readonly open = new Set<{ destroy(error?: Error): unknown }>()
  private closed = false
  add<S extends { destroy(error?: Error): unknown; once(event: "close", f: () => void): unknown }>(stream: S): S {
    // A file whose open completes after the client left: closed at once, not left open.
    if (this.closed) {
      stream.destroy()
      return stream
    }
    this.open.add(stream)
    stream.once("close", () => this.open.delete(stream))
    return stream
  }
  destroyAll(): void {
    this.closed = true
    for (const stream of this.open) stream.destroy()
    this.open.clear()
  }
}

type TarHeader = Pick<TarStream.Header, "name" | "mtime" | "mode" | "type"> & { readonly size?: number }

/**
 * Writes `source` into a tar entry, pausing while the entry does not drain (the pack's backpressure); settles when
 * the pack has taken the entry; rejects on an error of either side (the caller aborts the download).
 */
const copy = (source: Readable, pack: TarStream.Pack, header: TarHeader) =>
  new Promise<void>((resolve, reject) => {
    // @types/tar-stream describes every header field as required; the library fills in what is missing.
    const sink = pack.entry(header as TarStream.Header, (error) => error ? reject(error) : resolve()) as
      NodeJS.WritableStream & { on(event: "error", f: (error: Error) => void): unknown }
    // tar-stream emits "Size mismatch" on the entry: unheard, that error would end the process.
    sink.on("error", reject)
    source.on("data", (chunk) => {
      if (!sink.write(chunk as Buffer)) {
        source.pause()
        sink.once("drain", () => source.resume())
      }
    })
    source.once("error", reject)
    let ended = false
    source.once("end", () => {
      ended = true
      sink.end()
    })
    source.once("close", () => ended || reject(new Error("archive source closed")))
  })

const tarGz = (verifier: Verifier, items: ReadonlyArray<Item>, streams: Streams, signal: AbortSignal) => {
  const pack = streams.add(TarStream.pack())
  const gzip = streams.add(Zlib.createGzip())
  // Any error of the pipeline aborts this download only: the output fails, the response stream fails with it.
  const abort = (error: unknown) => gzip.destroy(error instanceof Error ? error : new Error(String(error)))
  pack.on("error", abort)
  pack.pipe(gzip)
  const run = async () => {
    for (const item of items) {
      if (signal.aborted) return
      const header = { name: item.name, mtime: item.mtime, mode: item.mode }
      if (item.directory) {
        pack.entry({ ...header, type: "directory" } satisfies TarHeader as TarStream.Header)
        continue
      }
      // The header is written after the open, with the size of what was opened.
      const opened = await openItem(verifier, item)
      await copy(streams.add(opened.stream), pack, { ...header, type: "file", size: opened.size })
    }
    pack.finalize()
  }
  run().catch(abort)
  return gzip
}

const zip = (verifier: Verifier, items: ReadonlyArray<Item>, streams: Streams) => {
  const file = new Yazl.ZipFile()
  const output = streams.add(file.outputStream as NodeJS.ReadableStream as import("node:stream").PassThrough)
  const abort = (error: Error) => output.destroy(error)
  file.on("error", abort)
  for (const item of items) {
    const options = { mtime: item.mtime, mode: item.mode }
    if (item.directory) {
      file.addEmptyDirectory(item.name, options)
    } else {
      // No size given: yazl counts what is read (exactly the size `fstat` gave at open time).
      file.addReadStreamLazy(item.name, options, (done) => {
        openItem(verifier, item).then(
          (opened) => {
            opened.stream.on("error", abort)
            done(null, streams.add(opened.stream))
          },
          (error: unknown) => done(error instanceof Error ? error : new Error(String(error)), undefined as never)
        )
      })
    }
  }
  file.end()
  return output
}

const CONTENT_TYPE: Readonly<Record<ArchiveFormat, string>> = { "tar.gz": "application/gzip", zip: "application/zip" }

/**
 * `Content-Disposition` for `name.format`: an ASCII `filename` (anything else as `_`) and the exact name as
 * `filename*` (RFC 6266 / RFC 8187), so no quote, control or non-ASCII character reaches the head unencoded.
 */
export const disposition = (name: string, format: ArchiveFormat): string => {
  // A name that is not UTF-8 (lone surrogates, see `osPath`) is offered as its entries are named (`archivedName`).
  const full = archivedName(`${name}.${format}`)
  const ascii = full.replace(/[^A-Za-z0-9._ -]/g, "_")
  const encoded = encodeURIComponent(full).replace(/['()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase())
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`
}

const tooLarge = new HttpError({ status: 413, message: "Directory too large to archive" })
const busy = new HttpError({ status: 503, message: "Too many archives being built", headers: [["Retry-After", "1"]] })

/** A slot for the request's lifetime: given back when its scope closes (response written, client gone). */
const slot = (slots: Slots): Effect.Effect<void, HttpError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.suspend(() => slots.take() ? Effect.void : Effect.fail(busy)),
    () => Effect.sync(() => slots.give())
  )
const unreadable = new HttpError({ status: 404, message: "No permission to list directory" })

/**
 * The archive of `directory` (already resolved under `root`) as a response. `name` names the download. HEAD walks
 * the tree too (so it answers 413 as GET would) and sends the fields only. A slot is held in the request's scope
 * from the walk until the body is sent or the client is gone; none free: 503.
 */
export const archiveResponse = (options: {
  readonly root: string
  readonly directory: string
  readonly name: string
  readonly format: ArchiveFormat
  readonly config: ArchiveConfig
  readonly hideDotfiles: boolean
  /** Directories nothing under which is archived (the CGI directories: a script is run, never sent). */
  readonly refuseUnder: ReadonlyArray<string>
  readonly head: boolean
}): Effect.Effect<Response.Response, HttpError, Scope.Scope> => {
  // Confined always: an archive never follows a link out of the root.
  const verifier = makeVerifier(options.root, {
    confine: true,
    hideDotfiles: options.hideDotfiles,
    refuseUnder: options.refuseUnder
  })!
  return Effect.flatMap(
    Effect.zipRight(slot(options.config.slots), Effect.tryPromise({
      try: async (signal) => {
        const real = await realPathOf(options.directory)
        return verifier.allowsReal(real)
          ? walk(verifier, options.config, options.hideDotfiles, real, signal)
          : Promise.reject(new Error("outside"))
      },
      catch: () => unreadable
    })),
    (walked): Effect.Effect<Response.Response, HttpError> => {
      if (walked._tag === "TooLarge") return Effect.fail(tooLarge)
      const headers: ReadonlyArray<HeaderField> = [
        ["Content-Type", CONTENT_TYPE[options.format]],
        ["Content-Disposition", disposition(options.name, options.format)],
        ["X-Archive-Entries", String(walked.items.length)]
      ]
      if (options.head) return Effect.succeed(Response.make(200, Response.emptyBody, { headers }))
      const body: Stream.Stream<Uint8Array, PlatformError | Error> = Stream.suspend(() => {
        const streams = new Streams()
        const abort = new AbortController()
        const output = options.format === "zip"
          ? zip(verifier, walked.items, streams)
          : tarGz(verifier, walked.items, streams, abort.signal)
        return fromReadable<Error, Uint8Array>(() => output, (error) => error instanceof Error ? error : new Error(String(error))).pipe(
          // Done, failed or interrupted (the client went away): every file and encoder is closed.
          Stream.ensuring(Effect.sync(() => {
            abort.abort()
            streams.destroyAll()
          }))
        )
      })
      return Effect.succeed(Response.make(200, { _tag: "Stream", stream: body }, { headers }))
    }
  )
}
