/**
 * The CGI handler's confinement rules, each one small function:
 *
 * - {@link underCgiDirectory}: whether the file the static handler would serve for a request path lies in a CGI
 *   directory (a script's source is never sent as a file, however the path is spelled: Python's `is_cgi` looks at
 *   the collapsed URL, its `translate_path` at another reading of the same URL, so `/cgi-bin/x.sh#/../..` slips
 *   between them);
 * - {@link verifyScript}: `hideDotfiles` and `followSymlinks: false` applied to a script before it runs, on the
 *   resolved path, returning the path to execute (the resolved one).
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import { hasDotComponent } from "./extras.js"
import { makeVerifier } from "./openVerified.js"
import { fsPath, realPathOf, statInfo } from "./osPath.js"
import { translatePath } from "./urlPath.js"

/** Whether `path` is `directory` or below it (both absolute, without a trailing slash). */
const within = (path: string, directory: string): boolean =>
  path === directory || path.startsWith(directory.endsWith("/") ? directory : directory + "/")

const withoutTrailingSlash = (path: string): string => (path.length > 1 ? path.replace(/\/+$/, "") : path)

const realPathOrUndefined = (fs: FileSystem.FileSystem, path: string): Effect.Effect<string | undefined> =>
  // `FileSystem` takes strings only: a name that is not UTF-8 is resolved by its bytes (see `osPath`).
  typeof fsPath(path) === "string"
    ? Effect.orElseSucceed(fs.realPath(path), () => undefined)
    : Effect.orElseSucceed(Effect.tryPromise(() => realPathOf(path)), () => undefined)

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
          Effect.orElseSucceed(Effect.map(statInfo(fs, real), (info) => info.type === "Directory"), () => false),
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
 * `path` with its links resolved as far as it exists: the real path of its longest existing prefix, then the rest
 * as spelled (`PATH_TRANSLATED` usually names nothing; through `g -> .git` it names the repository's files).
 */
const realOfExistingPrefix = (fs: FileSystem.FileSystem, path: string): Effect.Effect<string> =>
  Effect.gen(function*() {
    let prefix = withoutTrailingSlash(path)
    let rest = ""
    for (;;) {
      const real = yield* realPathOrUndefined(fs, prefix)
      if (real !== undefined) return rest === "" ? real : withoutTrailingSlash(real) + "/" + rest
      const slash = prefix.lastIndexOf("/")
      if (slash <= 0) return path
      rest = rest === "" ? prefix.slice(slash + 1) : prefix.slice(slash + 1) + "/" + rest
      prefix = prefix.slice(0, slash)
    }
  })

/**
 * The path to execute for `scriptFile` (translated, under `gate.root`), or `undefined` when the options refuse it
 * or it does not exist (the caller answers as for a missing script). The rules are the static handler's
 * (`makeVerifier`), judged on the script's real path: with `hideDotfiles`, a dot component in the script's path or
 * its real path (below the root; anywhere outside it) refuses it, and so does one in `pathInfo`, spelled or in the
 * real path of `pathTranslated` (a script that reads `PATH_TRANSLATED` would serve `/cgi-bin/show/.git/config`, or
 * `/cgi-bin/show/g/config` with `g -> .git`); with `followSymlinks: false` the real path must be inside the root's.
 * With either option the verified real path is what runs, not the link, so a link re-pointed after the check cannot
 * change what runs; that path is resolved once more after the checks and must not have changed. Left open: a
 * writer who can replace a directory on that real path itself between this check and the `execve` (the kernel
 * resolves the path again; Node cannot `fexecve` an opened descriptor, and `/proc/self/fd/N` does not survive
 * close-on-exec for an interpreted script).
 */
export const verifyScript = (
  fs: FileSystem.FileSystem,
  gate: ScriptGate,
  scriptFile: string,
  pathInfo: string,
  pathTranslated?: string
): Effect.Effect<string | undefined> =>
  Effect.gen(function*() {
    if (gate.hideDotfiles && (hasDotComponent(gate.root, scriptFile) || hasDotSegment(pathInfo))) return undefined
    if (gate.followSymlinks && !gate.hideDotfiles) return scriptFile
    const verifier = makeVerifier(gate.root, { confine: !gate.followSymlinks, hideDotfiles: gate.hideDotfiles })!
    const real = yield* realPathOrUndefined(fs, scriptFile)
    if (real === undefined || !verifier.allowsReal(real)) return undefined
    if (gate.hideDotfiles && pathTranslated !== undefined && pathInfo !== "") {
      // Only the dot rule: PATH_INFO is a string handed to the script, not a file the server opens.
      const dots = makeVerifier(gate.root, { confine: false, hideDotfiles: true })!
      if (!dots.allowsReal(yield* realOfExistingPrefix(fs, pathTranslated))) return undefined
    }
    return (yield* realPathOrUndefined(fs, real)) === real ? real : undefined
  })
