/**
 * `spaFallback`: the page of a single-page application answers the paths its client-side router owns, while a
 * missing asset (or a request from a script) keeps its 404.
 */
import * as NodeFs from "node:fs"
import type { HttpError } from "../HttpError.js"
import { acceptsHtml } from "./negotiation.js"
import { fsDecode, fsPathOrThrow } from "./osPath.js"
import { quote, unquotePath } from "./urlPath.js"

/**
 * Why `file` cannot name the fallback page under the root, from its spelling alone: it must be relative and must not
 * climb out (`..`), nor hold NUL or a backslash (taken literally by the file system, but a mistake).
 */
export const fallbackNameProblem = (file: string): string | undefined => {
  if (file === "" || file.endsWith("/")) return "is not a file name"
  if (file.startsWith("/")) return "must be relative to the served directory"
  if (file.includes("\0")) return "contains NUL"
  if (file.split("/").some((segment) => segment === "..")) return "must not leave the served directory ('..')"
  return undefined
}

/**
 * The full check made at start-up: the name, then the file itself, which must be a regular file whose real path
 * (links resolved) is inside the root's.
 */
export const fallbackFileProblem = (root: string, file: string): string | undefined => {
  const named = fallbackNameProblem(file)
  if (named !== undefined) return named
  const full = root.endsWith("/") ? root + file : root + "/" + file
  let real: string
  let realRoot: string
  try {
    // By bytes: the root or the name may not be UTF-8 (see osPath.ts); `realpathSync` (not `.native`) would turn a
    // Buffer path back into a string.
    realRoot = fsDecode(NodeFs.realpathSync.native(fsPathOrThrow(root), { encoding: "buffer" }))
    const realBytes = NodeFs.realpathSync.native(fsPathOrThrow(full), { encoding: "buffer" })
    if (!NodeFs.statSync(realBytes).isFile()) return "is not a regular file"
    real = fsDecode(realBytes)
  } catch {
    return "does not exist"
  }
  return real.startsWith(realRoot.endsWith("/") ? realRoot : realRoot + "/") ? undefined : "is outside the served directory"
}

/**
 * The request path that serves `file` (each segment `%`-quoted, so `#`, `?` and `%` in names stay literal; a byte
 * that is not UTF-8 as a listing links it, `%ED%B3%A9`).
 */
export const fallbackPath = (file: string): string =>
  "/" + file.split("/").filter((segment) => segment !== "" && segment !== ".").map(quote).join("/")

/**
 * The last non-empty segment of the decoded path (query and fragment dropped) has an extension, as
 * `posixpath.splitext` sees one (`/users/` has none, `/app.js/` has one).
 */
const hasExtension = (path: string): boolean => {
  const end = path.search(/[?#]/)
  const decoded = unquotePath(end < 0 ? path : path.slice(0, end)).replace(/\/+$/, "")
  const last = decoded.slice(decoded.lastIndexOf("/") + 1)
  const dot = last.lastIndexOf(".")
  if (dot <= 0) return false
  for (let i = 0; i < dot; i++) if (last.charCodeAt(i) !== 0x2e) return true
  return false
}

/** Python's 404 for a missing file (an unlistable directory's 404 says otherwise and is kept). */
export const isMissing = (error: HttpError): boolean => error.status === 404 && error.message === "File not found"

/** Whether a request that found nothing gets the fallback page. */
export const wantsFallback = (method: string, path: string, accept: string | undefined): boolean =>
  (method === "GET" || method === "HEAD") && !hasExtension(path) && acceptsHtml(accept)
