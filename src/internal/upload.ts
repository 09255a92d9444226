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
import { hasLoneSurrogate, translatePath } from "./urlPath.js"

/** Resolved settings of the upload handler. */
export interface UploadConfig {
  readonly root: string
  readonly maxBytes: number
  readonly hideDotfiles: boolean
}

/** The default cap on a body: 100 MiB. */
export const DEFAULT_MAX_BYTES = 100 * 1024 * 1024

/** Prefix of the temporary files, so a listing or a clean-up can recognise one left by a crash. */
export const TEMP_PREFIX = ".effect-httpd-upload-"

const fail = (status: number, message?: string) =>
  Effect.fail(new HttpError(message === undefined ? { status } : { status, message }))

type Target =
  | { readonly _tag: "Refused"; readonly status: number; readonly message: string }
  | { readonly _tag: "Ok"; readonly path: string; readonly directory: string; readonly exists: boolean }

const lstatQuiet = (path: string): NodeFs.Stats | undefined => {
  try {
    return NodeFs.lstatSync(path, { throwIfNoEntry: false })
  } catch {
    return undefined
  }
}

/**
 * Where a request path may be written: below the root by `translatePath`'s rules, every component below the root
 * an existing directory that is not a symbolic link (lstat, one by one), the target itself absent or a regular
 * file that is not a link. Checked again just before the rename (a directory swapped for a link meanwhile is still
 * a race the server cannot close without `openat`; the window is the upload's duration at most).
 */
export const resolveTarget = (config: UploadConfig, requestPath: string): Target => {
  const path = translatePath(config.root, requestPath)
  if (path.includes("\0") || hasLoneSurrogate(path)) return { _tag: "Refused", status: 400, message: "Bad path" }
  if (path.endsWith("/") || path === config.root) {
    return { _tag: "Refused", status: 409, message: "Cannot write to a directory" }
  }
  if (config.hideDotfiles && hasDotComponent(config.root, path)) {
    return { _tag: "Refused", status: 403, message: "Forbidden" }
  }
  const components = path.slice(config.root.length + 1).split("/")
  let current = config.root
  for (let i = 0; i < components.length - 1; i++) {
    current = current + "/" + components[i]!
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
  return { _tag: "Ok", path, directory: current, exists: stats !== undefined }
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
    const temp = `${target.directory}/${TEMP_PREFIX}${randomBytes(8).toString("hex")}`
    let renamed = false
    const fd = yield* Effect.acquireRelease(
      Effect.try({
        try: () => NodeFs.openSync(temp, "wx", 0o644),
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
    yield* Effect.try({
      try: () => {
        NodeFs.fsyncSync(fd)
        NodeFs.renameSync(temp, target.path)
        renamed = true
      },
      catch: () => new HttpError({ status: 500, message: "Cannot write file" })
    })
    if (again.exists) return Response.make(204, Response.emptyBody)
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
