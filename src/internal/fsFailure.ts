/**
 * What a failed file-system call means to the client. Python's `send_head` answers every `OSError` with
 * `404 File not found`; that is right for a name that is not there or not readable, and wrong when the server
 * itself is short of something: a 404 tells a cache the file is gone (RFC 9111 §4.2.2 lets it store a 404
 * heuristically), and a busy server would then have its files "deleted" downstream.
 */
import * as NodeFs from "node:fs"
import { HttpError } from "../HttpError.js"
import { fsPath } from "./osPath.js"

/** The errno code of a `node:fs` error, or of a `FileSystem` `SystemError` wrapping one (its `cause`). */
export const errnoOf = (error: unknown): string | undefined => {
  if (typeof error !== "object" || error === null) return undefined
  const code = (error as { readonly code?: unknown }).code
  if (typeof code === "string") return code
  return "cause" in error ? errnoOf((error as { readonly cause?: unknown }).cause) : undefined
}

/**
 * Failures that say "no such readable file here", as Python maps them (404): missing, a file used as a directory,
 * no permission, a link loop, a name too long, or something that cannot be opened for reading (a socket, a device
 * without a driver). `FileSystem` errors without an errno are judged by their `reason`.
 */
const ABSENT = new Set(["ENOENT", "ENOTDIR", "EACCES", "EPERM", "ELOOP", "ENAMETOOLONG", "ENXIO", "ENODEV", "EISDIR"])

/** Out of descriptors or memory: the file exists for all we know; try again shortly. */
const EXHAUSTED = new Set(["EMFILE", "ENFILE", "ENOMEM", "EAGAIN"])

/** How long a client should wait after a 503 for exhausted resources (seconds). */
export const RETRY_AFTER_SECONDS = "1"

/** `503 Service Unavailable` with `Retry-After`: never cached (RFC 9111: 503 is not heuristically cacheable). */
export const unavailable = new HttpError({
  status: 503,
  explain: "The server is short of file descriptors or memory; try again shortly.",
  headers: [["Retry-After", RETRY_AFTER_SECONDS]]
})

/** `500`: an I/O error or anything else unexpected; not a statement about the file's existence. */
export const ioFailure = new HttpError({ status: 500, explain: "The file could not be read." })

/**
 * The answer for a failed `open` / `stat` / `readdir` / read: `absent` (the caller's 404, whose message differs
 * between files and listings) for the "not there" family, 503 for exhaustion, 500 for the rest (EIO...).
 */
export const fsFailure = (error: unknown, absent: HttpError): HttpError => {
  const code = errnoOf(error)
  if (code !== undefined) return ABSENT.has(code) ? absent : EXHAUSTED.has(code) ? unavailable : ioFailure
  const reason = typeof error === "object" && error !== null ? (error as { readonly reason?: unknown }).reason : undefined
  return reason === "NotFound" || reason === "PermissionDenied" || reason === "BadResource" ? absent : ioFailure
}

/** `statSync`: the stats, or `absent` for "not there", the error answer for the server's own trouble (EIO, ENOMEM...). */
export const statOrFailure = (path: string, absent: HttpError): NodeFs.Stats | HttpError => {
  const os = fsPath(path)
  if (os === undefined) return absent
  try {
    return NodeFs.statSync(os, { throwIfNoEntry: false }) ?? absent
  } catch (error) {
    return fsFailure(error, absent)
  }
}
