/**
 * A directory's entries with what the JSON and rich listings show of each (type, size, modification time), in the
 * HTML listing's order, read either through `node:fs` (the cache's fast path) or through `FileSystem`.
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as NodeFs from "node:fs"
import { sortNames } from "./listing.js"
import { pyJoin } from "./urlPath.js"

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

/** Which entries are listed (hidden dotfiles, links leaving the root…). */
export type Shown = (name: string, isSymlink: boolean) => boolean

const missing = (name: string, isSymlink: boolean): ListedEntry => ({
  name,
  isDirectory: false,
  isSymlink,
  size: undefined,
  mtimeMs: undefined
})

/** Through `node:fs`: `readdir` with types, a `stat` per entry. */
export const readEntriesNode = async (directory: string, shown: Shown): Promise<Array<ListedEntry>> => {
  const dirents = await NodeFs.promises.readdir(directory, { withFileTypes: true })
  const links = new Map(dirents.map((dirent) => [dirent.name, dirent.isSymbolicLink()]))
  const names = sortNames(dirents.map((dirent) => dirent.name)).filter((name) => shown(name, links.get(name)!))
  return Promise.all(names.map((name) =>
    NodeFs.promises.stat(pyJoin(directory, name)).then(
      (stats): ListedEntry => ({
        name,
        isDirectory: stats.isDirectory(),
        isSymlink: links.get(name)!,
        size: stats.size,
        mtimeMs: stats.mtimeMs
      }),
      () => missing(name, links.get(name)!)
    )
  ))
}

/** Through `FileSystem` (`cache: false`): `stat` and `readLink` per entry. */
export const readEntries = (fs: FileSystem.FileSystem, directory: string, shown: Shown, concurrency: number) =>
  Effect.flatMap(fs.readDirectory(directory), (names) =>
    Effect.map(
      Effect.forEach(sortNames(names), (name) => {
        const full = pyJoin(directory, name)
        return Effect.map(
          Effect.all([
            Effect.option(fs.stat(full)),
            Effect.match(fs.readLink(full), { onFailure: () => false, onSuccess: () => true })
          ]),
          ([info, isSymlink]): ListedEntry | undefined => {
            if (!shown(name, isSymlink)) return undefined
            if (Option.isNone(info)) return missing(name, isSymlink)
            return {
              name,
              isDirectory: info.value.type === "Directory",
              isSymlink,
              size: Number(info.value.size),
              mtimeMs: Option.match(info.value.mtime, { onNone: () => undefined, onSome: (date) => date.getTime() })
            }
          }
        )
      }, { concurrency }),
      (entries) => entries.filter((e): e is ListedEntry => e !== undefined)
    ))
