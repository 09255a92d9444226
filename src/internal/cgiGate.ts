/**
 * The CGI handler's confinement rules, each one small function:
 *
 * - {@link underCgiDirectory}: whether the file the static handler would serve for a request path lies in a CGI
 *   directory (a script's source is never sent as a file, however the path is spelled: Python's `is_cgi` looks at
 *   the collapsed URL, its `translate_path` at another reading of the same URL, so `/cgi-bin/x.sh#/../..` slips
 *   between them);
 * - {@link verifyScript}: `hideDotfiles` and `followSymlinks: false` applied to a script before it runs, on the
 *   resolved path, returning the path to execute.
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import { hasDotComponent } from "./extras.js"
import { translatePath } from "./urlPath.js"

/** Whether `path` is `directory` or below it (both absolute, without a trailing slash). */
const within = (path: string, directory: string): boolean =>
  path === directory || path.startsWith(directory.endsWith("/") ? directory : directory + "/")

const withoutTrailingSlash = (path: string): string => (path.length > 1 ? path.replace(/\/+$/, "") : path)

const realPathOrUndefined = (fs: FileSystem.FileSystem, path: string): Effect.Effect<string | undefined> =>
  Effect.orElseSucceed(fs.realPath(path), () => undefined)

/**
 * Whether the static handler's file for `requestPath` (under `root`, absolute) is a CGI directory or inside one.
 * Decided on the translated path (query, fragment, escapes, `.`/`..`, doubled slashes and a trailing slash all
 * gone), compared without regard to case (a case-insensitive file system serves `/CGI-BIN/x.sh` from `cgi-bin`),
 * and again on the real paths, so a link to a script or to a CGI directory does not expose it either. For a
 * directory, the index pages the static handler would send in its place (`indexPages`) are checked the same way.
 */
export const underCgiDirectory = (
  fs: FileSystem.FileSystem,
  root: string,
  cgiDirectories: ReadonlyArray<string>,
  requestPath: string,
  indexPages: ReadonlyArray<string> = []
): Effect.Effect<boolean> => {
  const path = withoutTrailingSlash(translatePath(root, requestPath))
  const directories = cgiDirectories.map((dir) => withoutTrailingSlash(translatePath(root, dir)))
  if (directories.some((dir) => within(path.toLowerCase(), dir.toLowerCase()))) return Effect.succeed(true)
  const realInside = (real: string) =>
    Effect.map(
      Effect.forEach(directories, (dir) => realPathOrUndefined(fs, dir)),
      (reals) => reals.some((dir) => dir !== undefined && within(real.toLowerCase(), dir.toLowerCase()))
    )
  return Effect.flatMap(realPathOrUndefined(fs, path), (real) => {
    if (real === undefined) return Effect.succeed(false)
    return Effect.flatMap(realInside(real), (inside) =>
      inside || indexPages.length === 0
        ? Effect.succeed(inside)
        : Effect.flatMap(
          Effect.orElseSucceed(Effect.map(fs.stat(real), (info) => info.type === "Directory"), () => false),
          (isDirectory) =>
            isDirectory
              ? Effect.exists(indexPages, (page) =>
                Effect.flatMap(
                  realPathOrUndefined(fs, real + "/" + page),
                  (index) => (index === undefined ? Effect.succeed(false) : realInside(index))
                ))
              : Effect.succeed(false)
        ))
  })
}

/** What a script's verification needs. */
export interface ScriptGate {
  /** The document root as the script's path was translated against. */
  readonly root: string
  /** No path component below the root may start with `.`. */
  readonly hideDotfiles: boolean
  /** `false`: the script's real path must be inside the root's, and the real path is what runs. */
  readonly followSymlinks: boolean
}

/** Whether a component of a URL path (as the script reads `PATH_INFO`) starts with `.`. */
const hasDotSegment = (urlPath: string): boolean => urlPath.split("/").some((segment) => segment.startsWith("."))

/**
 * The path to execute for `scriptFile` (translated, under `gate.root`), or `undefined` when the options refuse it
 * or it does not exist (the caller answers as for a missing script). With `hideDotfiles`, a dot component in the
 * script's path, in its real path below the root, or in `pathInfo` (a script that reads `PATH_TRANSLATED` would
 * serve `/cgi-bin/show/.git/config`) refuses it. With `followSymlinks: false` the script's real path must be inside
 * the root's, and that verified path is run rather than the link (a link re-pointed after the check cannot change
 * what runs).
 */
export const verifyScript = (
  fs: FileSystem.FileSystem,
  gate: ScriptGate,
  scriptFile: string,
  pathInfo: string
): Effect.Effect<string | undefined> =>
  Effect.gen(function*() {
    if (gate.hideDotfiles && (hasDotComponent(gate.root, scriptFile) || hasDotSegment(pathInfo))) return undefined
    if (gate.followSymlinks && !gate.hideDotfiles) return scriptFile
    const real = yield* realPathOrUndefined(fs, scriptFile)
    const realRoot = yield* realPathOrUndefined(fs, gate.root)
    if (real === undefined || realRoot === undefined) return undefined
    const inside = within(real, withoutTrailingSlash(realRoot))
    if (!gate.followSymlinks && !inside) return undefined
    if (gate.hideDotfiles && inside && hasDotComponent(withoutTrailingSlash(realRoot), real)) return undefined
    return gate.followSymlinks ? scriptFile : real
  })
