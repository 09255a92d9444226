/**
 * The JSON directory listing (`jsonListing`): the entries of the HTML listing, in its order, with type, size and
 * modification time, for scripts.
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as NodeFs from "node:fs"
import type { HeaderField } from "../Headers.js"
import * as Response from "../Response.js"
import { sortNames } from "./listing.js"
import { prefersJson } from "./negotiation.js"
import { pyJoin } from "./urlPath.js"

/** One entry of the JSON listing. */
export interface JsonEntry {
  readonly name: string
  /** `symlink` for any symbolic link (whatever it points to), else what it is (anything not a directory: `file`). */
  readonly type: "file" | "directory" | "symlink"
  /** Bytes, links followed; `null` for a link whose target is missing. */
  readonly size: number | null
  /** ISO 8601 (UTC), links followed; `null` for a link whose target is missing. */
  readonly mtime: string | null
}

/** The listing's `Content-Type`: JSON is UTF-8 by definition (RFC 8259), so no charset. */
export const JSON_CONTENT_TYPE = "application/json"

/** Sent with every listing (HTML or JSON) when the JSON one may be chosen, so caches keep them apart. */
export const VARY_ACCEPT: HeaderField = ["Vary", "Accept"]

/** Whether the query asks for `format=json` (`?format=json`, `?a=1&format=json`). */
const queryAsksJson = (path: string): boolean => {
  const query = path.indexOf("?")
  if (query < 0) return false
  const fragment = path.indexOf("#", query)
  const text = path.slice(query + 1, fragment < 0 ? undefined : fragment)
  return text.split("&").some((pair) => pair === "format=json")
}

/** `?format=json`, or an `Accept` that prefers `application/json` to `text/html`. */
export const wantsJson = (path: string, accept: string | undefined): boolean =>
  queryAsksJson(path) || prefersJson(accept)

const entry = (name: string, isLink: boolean, target: NodeFs.Stats | undefined): JsonEntry => ({
  name,
  type: isLink ? "symlink" : target?.isDirectory() === true ? "directory" : "file",
  size: target === undefined ? null : target.size,
  mtime: target === undefined ? null : target.mtime.toISOString()
})

/** The page: `JSON.stringify` escapes quotes, backslashes, control characters and lone surrogates. */
export const jsonResponse = (entries: ReadonlyArray<JsonEntry>): Response.Response => {
  const bytes = Buffer.from(JSON.stringify(entries), "utf8")
  return Response.make(200, { _tag: "Bytes", bytes }, {
    headers: [["Content-Type", JSON_CONTENT_TYPE], ["Content-Length", String(bytes.length)], VARY_ACCEPT]
  })
}

/** The entries through `node:fs` (the cache's fast path): `readdir` with types, a `stat` per entry. */
export const readJsonEntriesNode = async (
  directory: string,
  shown: (name: string, isSymlink: boolean) => boolean
): Promise<Array<JsonEntry>> => {
  const dirents = await NodeFs.promises.readdir(directory, { withFileTypes: true })
  const links = new Map(dirents.map((dirent) => [dirent.name, dirent.isSymbolicLink()]))
  const names = sortNames(dirents.map((dirent) => dirent.name)).filter((name) => shown(name, links.get(name)!))
  return Promise.all(names.map((name) =>
    NodeFs.promises.stat(pyJoin(directory, name)).then(
      (stats) => entry(name, links.get(name)!, stats),
      () => entry(name, links.get(name)!, undefined)
    )
  ))
}

/** The entries through `FileSystem` (`cache: false`): `stat` and `readLink` per entry. */
export const readJsonEntries = (
  fs: FileSystem.FileSystem,
  directory: string,
  shown: (name: string, isSymlink: boolean) => boolean,
  concurrency: number
) =>
  Effect.flatMap(fs.readDirectory(directory), (names) =>
    Effect.map(
      Effect.forEach(sortNames(names), (name) => {
        const full = pyJoin(directory, name)
        return Effect.map(
          Effect.all([
            Effect.option(fs.stat(full)),
            Effect.match(fs.readLink(full), { onFailure: () => false, onSuccess: () => true })
          ]),
          ([info, isLink]): JsonEntry | undefined => {
            if (!shown(name, isLink)) return undefined
            if (Option.isNone(info)) return { name, type: isLink ? "symlink" : "file", size: null, mtime: null }
            return {
              name,
              type: isLink ? "symlink" : info.value.type === "Directory" ? "directory" : "file",
              size: Number(info.value.size),
              mtime: Option.match(info.value.mtime, { onNone: () => null, onSome: (date) => date.toISOString() })
            }
          }
        )
      }, { concurrency }),
      (entries) => entries.filter((e): e is JsonEntry => e !== undefined)
    ))
