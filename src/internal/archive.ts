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
import * as Zlib from "node:zlib"
import * as TarStream from "tar-stream"
import * as Yazl from "yazl"
import type { HeaderField } from "../Headers.js"
import { HttpError } from "../HttpError.js"
import * as Response from "../Response.js"
import { makeVerifier, type Verifier } from "./openVerified.js"
import { isUploadTemp } from "./upload.js"
import { pyJoin } from "./urlPath.js"

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

/** Which names are never archived. */
const skipped = (name: string, hideDotfiles: boolean): boolean =>
  (hideDotfiles && name.startsWith(".")) || isUploadTemp(name)

/**
 * The tree below `directory`, depth first, names in code point order, without reading a file. Stops as soon as a
 * cap is passed. Entries that cannot be read (vanished, no permission) are left out.
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
    let names: Array<string>
    try {
      names = (await NodeFs.promises.readdir(dir)).sort()
    } catch {
      return true
    }
    for (const name of names) {
      if (signal.aborted) return false
      if (skipped(name, hideDotfiles)) continue
      const full = pyJoin(dir, name)
      const inside = prefix === "" ? name : prefix + "/" + name
      let stats: NodeFs.Stats
      let source = full
      try {
        stats = await NodeFs.promises.lstat(full)
        if (stats.isSymbolicLink()) {
          source = await NodeFs.promises.realpath(full)
          if (!verifier.allowsReal(source)) continue
          stats = await NodeFs.promises.stat(source)
          if (!stats.isFile()) continue
        }
      } catch {
        continue
      }
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

/**
 * Opens a walked file for reading: no final link followed (a link's real path was resolved by the walk), a regular
 * file still, still the size walked, and verified by its descriptor to lie under the root.
 */
const openItem = (verifier: Verifier, item: Item): NodeFs.ReadStream => {
  const fd = NodeFs.openSync(item.source, NodeFs.constants.O_RDONLY | NodeFs.constants.O_NOFOLLOW)
  try {
    const stats = NodeFs.fstatSync(fd)
    if (!stats.isFile() || verifier.verify(fd, item.source) === undefined) throw new Error("not an archivable file")
  } catch (error) {
    NodeFs.closeSync(fd)
    throw error
  }
  // `end` bounds a file that grew; one that shrank fails the archive (the encoders check the size announced).
  return NodeFs.createReadStream("", { fd, start: 0, end: Math.max(0, item.size - 1), autoClose: true })
}

/** Every stream opened for the archive, destroyed together when the client goes away. */
class Streams {
  private readonly open = new Set<{ destroy(error?: Error): unknown }>()
  add<S extends { destroy(error?: Error): unknown; once(event: "close", f: () => void): unknown }>(stream: S): S {
    this.open.add(stream)
    stream.once("close", () => this.open.delete(stream))
    return stream
  }
  destroyAll(): void {
    for (const stream of this.open) stream.destroy()
    this.open.clear()
  }
}

type TarHeader = Pick<TarStream.Header, "name" | "mtime" | "mode" | "type"> & { readonly size?: number }

/**
 * Writes `source` into a tar entry, pausing while the entry does not drain (the pack's backpressure); settles when
 * the pack has taken the entry, or when either side is destroyed (the client went away).
 */
const copy = (source: NodeFs.ReadStream, pack: TarStream.Pack, header: TarHeader) =>
  new Promise<void>((resolve, reject) => {
    // @types/tar-stream describes every header field as required; the library fills in what is missing.
    const sink: NodeJS.WritableStream = pack.entry(header as TarStream.Header, (error) => error ? reject(error) : resolve())
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
    source.once("close", () => ended || resolve())
  })

const tarGz = (verifier: Verifier, items: ReadonlyArray<Item>, streams: Streams, signal: AbortSignal) => {
  const pack = streams.add(TarStream.pack())
  const gzip = streams.add(Zlib.createGzip())
  pack.on("error", (error: Error) => gzip.destroy(error))
  pack.pipe(gzip)
  const run = async () => {
    for (const item of items) {
      if (signal.aborted) return
      const header = { name: item.name, mtime: item.mtime, mode: item.mode }
      if (item.directory) {
        pack.entry({ ...header, type: "directory" } satisfies TarHeader as TarStream.Header)
        continue
      }
      await copy(streams.add(openItem(verifier, item)), pack, { ...header, type: "file", size: item.size })
    }
    pack.finalize()
  }
  run().catch((error: unknown) => gzip.destroy(error instanceof Error ? error : new Error(String(error))))
  return gzip
}

const zip = (verifier: Verifier, items: ReadonlyArray<Item>, streams: Streams) => {
  const file = new Yazl.ZipFile()
  const output = streams.add(file.outputStream as NodeJS.ReadableStream as import("node:stream").PassThrough)
  file.on("error", (error: Error) => output.destroy(error))
  for (const item of items) {
    const options = { mtime: item.mtime, mode: item.mode }
    try {
      if (item.directory) {
        file.addEmptyDirectory(item.name, options)
      } else {
        file.addReadStreamLazy(item.name, { ...options, size: item.size }, (done) => {
          try {
            done(null, streams.add(openItem(verifier, item)))
          } catch (error) {
            done(error, undefined as never)
          }
        })
      }
    } catch {
      // A name zip cannot hold (a Windows drive prefix such as `C:x`): left out.
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
  const full = `${name}.${format}`
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
  readonly head: boolean
}): Effect.Effect<Response.Response, HttpError, Scope.Scope> => {
  // Confined always: an archive never follows a link out of the root.
  const verifier = makeVerifier(options.root, { confine: true, hideDotfiles: options.hideDotfiles })!
  return Effect.flatMap(
    Effect.zipRight(slot(options.config.slots), Effect.tryPromise({
      try: async (signal) => {
        const real = await NodeFs.promises.realpath(options.directory)
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
