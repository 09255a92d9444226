/**
 * `upload`: `PUT` writes the request body to a file under the root (RFC 9110 §9.3.4), atomically (a temporary file
 * in the target's directory, renamed over the target once the whole body is on disk), never through a symbolic
 * link and never outside the root.
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { randomBytes } from "node:crypto"
import * as NodeFs from "node:fs"
import type { Handler } from "../Handler.js"
import type { HeaderField } from "../Headers.js"
import { HttpError } from "../HttpError.js"
import type { Request } from "../Request.js"
import * as Response from "../Response.js"
import { hasDotComponent } from "./extras.js"
import { encodeLocation } from "./headEncoder.js"
import { belowRoot } from "./rootPath.js"
import { openVerified } from "./uploadDirectory.js"
import { fsPath, fsPathOrThrow, isEncodable } from "./osPath.js"
import { pyJoin, translatePath } from "./urlPath.js"

/** Resolved settings of the upload handler. */
export interface UploadConfig {
  readonly root: string
  readonly maxBytes: number
}

/** The default cap on a body: 100 MiB. */
export const DEFAULT_MAX_BYTES = 100 * 1024 * 1024

/** Prefix of the temporary files, so a listing or a clean-up can recognise one left by a crash. */
export const TEMP_PREFIX = ".effect-httpd-upload-"

/**
 * Whether a name is an upload's temporary file (in progress, or left by a crash): never listed nor served, with
 * or without `hideDotfiles`, so another client cannot read a body before it is complete.
 */
export const isUploadTemp = (name: string): boolean => name.startsWith(TEMP_PREFIX)

const fail = (status: number, message?: string) =>
  Effect.fail(new HttpError(message === undefined ? { status } : { status, message }))

/** Bytes of a path on disk (a surrogate-escaped byte is one byte, see `osPath`). */
const byteLength = (path: string): number => {
  const os = fsPath(path)
  return typeof os === "string" ? Buffer.byteLength(os) : os === undefined ? Infinity : os.length
}

/** Linux's `NAME_MAX`: bytes in one path component. */
export const NAME_MAX = 255
/** Linux's `PATH_MAX`, its terminating NUL excluded: bytes in a whole path. */
export const PATH_MAX = 4095

/**
 * Why a file name cannot be stored, or `undefined`: a control character, C0, DEL or C1 (CR/LF or NEL in a name
 * forge listings, logs and scripts' output; Python would store them), or a component or path longer than the file system takes (refused
 * before the body is read, not after it failed to rename).
 */
export const nameProblem = (root: string, path: string): { readonly status: number; readonly message: string } | undefined => {
  // A byte 0x80-0x9F that is not UTF-8 (`%ED%B2%9B`, its surrogate escape, see `osPath`) is the same C1 control
  // (0x9B: CSI) to a terminal in a Latin-1 locale.
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f-\x9f\udc80-\udc9f]/.test(path)) return { status: 400, message: "Control character in file name" }
  if (byteLength(path) > PATH_MAX) return { status: 414, message: "Path too long" }
  const components = belowRoot(root, path).split("/")
  if (components.some((c) => c.length > NAME_MAX / 3 && byteLength(c) > NAME_MAX)) {
    return { status: 414, message: "File name too long" }
  }
  return undefined
}

type Target =
  | { readonly _tag: "Refused"; readonly status: number; readonly message: string }
  | { readonly _tag: "Ok"; readonly path: string; readonly directory: string; readonly name: string }

const lstatQuiet = (path: string): NodeFs.Stats | undefined => {
  const os = fsPath(path)
  if (os === undefined) return undefined
  try {
    return NodeFs.lstatSync(os, { throwIfNoEntry: false })
  } catch {
    return undefined
  }
}

/**
 * Where a request path may be written: below the root by `translatePath`'s rules, every component below the root
 * an existing directory that is not a symbolic link (lstat, one by one), the target itself absent or a regular
 * file that is not a link; no control character, no dot component, no name too long. Checked again just before
 * the rename. The writes themselves go through the opened directory (`openVerified`), so a component swapped for
 * a link between the checks and the writes sends nothing outside the root.
 */
export const resolveTarget = (config: UploadConfig, requestPath: string): Target => {
  const path = translatePath(config.root, requestPath)
  // The file written is the one GET of the same URL reads: `%ED%B3%A9` is the byte 0xE9 (see `osPath`); a
  // surrogate no byte stands for, or a NUL, names no file.
  if (!isEncodable(path)) return { _tag: "Refused", status: 400, message: "Bad path" }
  const problem = nameProblem(config.root, path)
  if (problem !== undefined) return { _tag: "Refused", ...problem }
  if (path.endsWith("/") || path === config.root) {
    return { _tag: "Refused", status: 409, message: "Cannot write to a directory" }
  }
  // Always, whatever `hideDotfiles` says: `.git/config`, `.htaccess`, `.bashrc`, `.ssh/authorized_keys` are how a
  // written file becomes code execution; the upload's own temporary files are dot names too.
  if (hasDotComponent(config.root, path)) return { _tag: "Refused", status: 403, message: "Forbidden" }
  const components = belowRoot(config.root, path).split("/")
  let current = config.root
  for (let i = 0; i < components.length - 1; i++) {
    current = pyJoin(current, components[i]!)
    const stats = lstatQuiet(current)
    if (stats === undefined) return { _tag: "Refused", status: 409, message: "Parent directory does not exist" }
    if (stats.isSymbolicLink()) return { _tag: "Refused", status: 403, message: "Symbolic link in path" }
    if (!stats.isDirectory()) return { _tag: "Refused", status: 409, message: "Parent is not a directory" }
  }
  const stats = lstatQuiet(path)
  if (stats !== undefined) {
    if (stats.isSymbolicLink()) return { _tag: "Refused", status: 403, message: "Symbolic link in path" }
    if (stats.isDirectory()) return { _tag: "Refused", status: 409, message: "Cannot write to a directory" }
    if (!stats.isFile()) return { _tag: "Refused", status: 409, message: "Not a regular file" }
  }
  return { _tag: "Ok", path, directory: current, name: components[components.length - 1]! }
}

/** The checks that need no body: framing, length, target (also run by the `Expect: 100-continue` hook). */
const precheck = (config: UploadConfig, request: Request): Effect.Effect<Extract<Target, { _tag: "Ok" }>, HttpError> => {
  // `Content-Length: 0` is framed as "none" too: only a missing field is refused.
  if (request.framing === "none" && !request.headers.has("content-length")) return fail(411)
  if (request.framing === "length" && request.contentLength > config.maxBytes) return fail(413)
  const target = resolveTarget(config, request.path)
  return target._tag === "Refused" ? fail(target.status, target.message) : Effect.succeed(target)
}

const tooLarge = new HttpError({ status: 413 })

// Only root may give a file away; anyone else's replaced files are theirs already (or not theirs to give).
const RUNS_AS_ROOT = process.getuid?.() === 0

// A new file only, never through a link (the name is ours, but a link planted under it must not be followed).
const CREATE_FLAGS = NodeFs.constants.O_WRONLY | NodeFs.constants.O_CREAT | NodeFs.constants.O_EXCL |
  NodeFs.constants.O_NOFOLLOW

/** Writes `chunk` whole at the descriptor's position (a short write is continued). */
const writeAll = (fd: number, chunk: Uint8Array): Effect.Effect<void, HttpError> =>
  Effect.async<void, HttpError>((resume) => {
    const step = (offset: number) =>
      NodeFs.write(fd, chunk, offset, chunk.length - offset, null, (error, written) => {
        if (error !== null) return resume(Effect.fail(new HttpError({ status: 500, message: "Write failed" })))
        if (offset + written < chunk.length) return step(offset + written)
        resume(Effect.void)
      })
    step(0)
  })

/**
 * `PUT`: streams the body into a temporary file beside the target (one chunk in flight: the next is pulled from
 * the socket only once the previous one is written), then renames it over the target. On any failure, a body over
 * the cap, or a client gone mid-body (the request's scope closes), the temporary file is removed and the target is
 * left as it was. 201 with `Location` for a new file, 204 for a replaced one.
 */
export const makePut = (config: UploadConfig): Handler => (request) =>
  Effect.gen(function*() {
    const target = yield* precheck(config, request)
    // Temporary file and rename through the opened, verified directory: a component swapped for a link during
    // the upload cannot move them outside the root.
    const directory = yield* openVerified(config.root, target.directory)
    const name = target.name
    const temp = directory.pathOf(`${TEMP_PREFIX}${randomBytes(8).toString("hex")}`)
    // Replacing a file: the new contents are readable by the owner only until they get the file's own mode.
    const mode = lstatQuiet(directory.pathOf(name)) === undefined ? 0o644 : 0o600
    let renamed = false
    const fd = yield* Effect.acquireRelease(
      Effect.try({
        try: () => NodeFs.openSync(temp, CREATE_FLAGS, mode),
        catch: () => new HttpError({ status: 500, message: "Cannot create file" })
      }),
      (fd) =>
        Effect.sync(() => {
          NodeFs.closeSync(fd)
          if (!renamed) NodeFs.rmSync(temp, { force: true })
        })
    )
    let received = 0
    yield* request.body.pipe(
      Stream.mapError(() => new HttpError({ status: 400, message: "Incomplete request body" })),
      Stream.runForEach((chunk) => {
        received += chunk.length
        return received > config.maxBytes ? Effect.fail(tooLarge) : writeAll(fd, chunk)
      })
    )
    // The tree may have changed during the upload: check again, then rename (which never follows a link at the
    // destination: a link put there meanwhile would be replaced, not written through).
    const again = resolveTarget(config, request.path)
    if (again._tag === "Refused") return yield* fail(again.status, again.message)
    if (!directory.verify()) return yield* fail(403, "Symbolic link in path")
    const replaced = lstatQuiet(directory.pathOf(name))
    if (replaced !== undefined && !replaced.isFile()) return yield* fail(409, "Not a regular file")
    yield* Effect.try({
      try: () => {
        // A replaced file keeps its permissions (a 0600 secret stays 0600); set-id and sticky bits are not carried
        // over to new contents.
        if (replaced !== undefined) {
          // As root, the new contents would be root's: the replaced file's owner keeps it (and can still edit it).
          if (RUNS_AS_ROOT) NodeFs.fchownSync(fd, replaced.uid, replaced.gid)
          NodeFs.fchmodSync(fd, replaced.mode & 0o777)
        }
        NodeFs.fsyncSync(fd)
        NodeFs.renameSync(temp, fsPathOrThrow(directory.pathOf(name)))
        renamed = true
      },
      catch: () => new HttpError({ status: 500, message: "Cannot write file" })
    })
    if (replaced !== undefined) return Response.make(204, Response.emptyBody)
    const headers: ReadonlyArray<HeaderField> = [["Location", locationOf(request.path)], ["Content-Length", "0"]]
    return Response.make(201, Response.emptyBody, { headers })
  })

// The request's path without query or fragment, as the client spelled it, %-encoded where it is not a URI.
const locationOf = (path: string): string => {
  const end = path.search(/[?#]/)
  return encodeLocation(end < 0 ? path : path.slice(0, end))
}

/** The `Expect: 100-continue` hook: a PUT that would be refused is refused before the client sends its body. */
export const expectContinue = (config: UploadConfig) => (request: Request): Effect.Effect<"continue", HttpError> =>
  request.method === "PUT"
    ? Effect.as(precheck(config, request), "continue" as const)
    : Effect.succeed("continue" as const)
