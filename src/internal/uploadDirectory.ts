/**
 * The directory an upload writes into, opened once and verified, so that the temporary file and the rename land in
 * that directory even when a path component is swapped for a symbolic link meanwhile. Node has no `openat`; on
 * Linux `/proc/self/fd/N/name` resolves `name` inside the opened directory itself (the kernel follows the
 * descriptor, not a path), which is `openat(N, name)`'s effect.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as NodeFs from "node:fs"
import { HttpError } from "../HttpError.js"
import { fsDecode, fsPathOrThrow } from "./osPath.js"
import { belowRoot } from "./rootPath.js"
import { pyJoin } from "./urlPath.js"

/** An opened directory, verified to be the expected one below the root. */
export interface VerifiedDirectory {
  /** A path naming `name` inside the opened directory (whatever its path has become). */
  readonly pathOf: (name: string) => string
  /** Whether the opened directory still is, by its real path, the expected one (checked again before a rename). */
  readonly verify: () => boolean
}

// Synchronous, once at load: whether descriptors can be named by path (Linux). Elsewhere, paths are used and the
// real path is checked before writing, a narrower race than none.
const PROC_FD = NodeFs.existsSync("/proc/self/fd")

const refused = new HttpError({ status: 403, message: "Symbolic link in path" })

/**
 * Opens `directory` (below `root`, already checked link-free component by component) without following a link at
 * its last component, and checks that its real path is `root`'s real path plus the same components: a link
 * swapped in anywhere on the way makes it another directory (403). Closed with the scope.
 */
export const openVerified = (
  root: string,
  directory: string
): Effect.Effect<VerifiedDirectory, HttpError, Scope.Scope> =>
  Effect.flatMap(
    Effect.acquireRelease(
      Effect.try({
        try: () => NodeFs.openSync(fsPathOrThrow(directory), NodeFs.constants.O_RDONLY | NodeFs.constants.O_DIRECTORY | NodeFs.constants.O_NOFOLLOW),
        catch: () => refused
      }),
      (fd) => Effect.sync(() => NodeFs.closeSync(fd))
    ),
    (fd) => {
      const below = belowRoot(root, directory)
      const expected = below === "" ? realOr(root) : pyJoin(realOr(root), below)
      const self = `/proc/self/fd/${fd}`
      const verify = (): boolean => {
        try {
          // The kernel's name for the opened directory: its real path now (" (deleted)" appended once removed).
          // As bytes, decoded losslessly (see `osPath`): names that are not UTF-8 compare as themselves.
          return fsDecode(
            PROC_FD
              ? NodeFs.readlinkSync(self, { encoding: "buffer" })
              : NodeFs.realpathSync.native(fsPathOrThrow(directory), { encoding: "buffer" })
          ) === expected
        } catch {
          return false
        }
      }
      if (!verify()) return Effect.fail(refused)
      return Effect.succeed({ pathOf: (name) => PROC_FD ? `${self}/${name}` : `${directory}/${name}`, verify })
    }
  )

const realOr = (path: string): string => {
  try {
    return fsDecode(NodeFs.realpathSync.native(fsPathOrThrow(path), { encoding: "buffer" }))
  } catch {
    return path
  }
}
