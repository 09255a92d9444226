/**
 * `followSymlinks: false` and `hideDotfiles` judged on what is actually opened, not on what a path named a moment
 * before. Checking `realpath(path)` and then opening `path` loses a race to a local writer who swaps a file for a
 * link between the two calls (measured: the outside file was served 819 times in 20,000 requests). Here the file
 * or directory is opened first, and the descriptor's own path is checked: on Linux `/proc/self/fd/N` names the
 * opened inode's canonical path (the kernel's `d_path`, no links left in it), so whatever the writer does after
 * the open, the bytes sent come from the object that passed the check.
 *
 * Why `node:fs` and not `FileSystem`: the check needs a real descriptor number of this process (a virtual
 * `FileSystem`'s descriptor means nothing to `/proc`), as the path checks before it used `node:fs` too.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as NodeFs from "node:fs"
import type { HttpError } from "../HttpError.js"
import { fsFailure } from "./fsFailure.js"
import { fsDecode, fsPath, fsPathOrThrow, realPathOf } from "./osPath.js"

/** Which resolved paths may be served. */
export interface Policy {
  /** `followSymlinks: false`: the real path must be the root or below it. */
  readonly confine: boolean
  /** `hideDotfiles`: no component of the real path (below the root, or anywhere when outside it) starts with `.`. */
  readonly hideDotfiles: boolean
  /**
   * Absolute directories nothing in or below which is served (`Cgi`: its CGI directories, so a script's source is
   * never sent as a file, whichever link or spelling led to it). Compared with their real paths, resolved at each
   * check (a directory created or re-pointed later counts), without regard to case as the CGI gate does.
   */
  readonly refuseUnder?: ReadonlyArray<string>
}

/** The checks of one served root. */
export interface Verifier {
  /** Whether a canonical (link-free) path may be served. */
  readonly allowsReal: (real: string) => boolean
  /** Whether `path`, its links resolved now, may be served (a pre-check: the open is verified again). */
  readonly allowsPath: (path: string) => boolean
  /** `allowsPath` without blocking the event loop, for listings, which check every link of a directory. */
  readonly allowsPathAsync: (path: string) => Promise<boolean>
  /**
   * What a listing shows for the link `path`: the `fstat` of the object opened through it when that object's own
   * path is allowed (so the size and time shown are those of what was checked, whatever the link points to a
   * moment later); `"hidden"` when refused; `"unknown"` when it cannot be opened (dangling, no permission) but
   * its target, resolved now, is allowed: listed without size or time, as a dangling link is.
   */
  readonly linkTarget: (path: string) => Promise<NodeFs.Stats | "hidden" | "unknown">
  /**
   * Whether the open descriptor `fd`, opened from `path`, may be served; and the path to read a directory's
   * entries through (`/proc/self/fd/N` on Linux, so later reads stay on the verified directory).
   */
  readonly verify: (fd: number, path: string) => string | undefined
}

const PROC_FD = "/proc/self/fd/"

/** Whether this system names descriptors under `/proc/self/fd` (Linux), probed once. */
const hasProcFd = (() => {
  let known: boolean | undefined
  return (): boolean => {
    if (known === undefined) {
      try {
        known = NodeFs.statSync(PROC_FD).isDirectory()
      } catch {
        known = false
      }
    }
    return known
  }
})()

/** Whether `path` is `directory` or below it, both absolute and canonical, compared without regard to case. */
const within = (path: string, directory: string): boolean => {
  const p = path.toLowerCase()
  const d = directory.toLowerCase()
  return p === d || p.startsWith(d.endsWith("/") ? d : d + "/")
}

/**
 * `realpath(3)` of a path as Python names it (see `osPath`): read as bytes and decoded losslessly, so two names
 * that differ only in bytes that are not UTF-8 never compare equal (Node's string form would make both U+FFFD).
 * `realpathSync.native`: the JavaScript `realpathSync` walks the path as a string and cannot follow such names.
 */
const realPath = (path: string): string =>
  fsDecode(NodeFs.realpathSync.native(fsPathOrThrow(path), { encoding: "buffer" }))

/** The real path of `directory` now, or its spelling when it cannot be resolved (missing: nothing to serve there). */
const realOrSpelled = (directory: string): string => {
  try {
    return realPath(directory)
  } catch {
    return directory
  }
}

/**
 * The checks for `root` under `policy`, or `undefined` when no rule is on (links are then followed anywhere and
 * dot names served, as Python does; files are still opened with `openVerified`, which then only checks the type).
 */
export const makeVerifier = (root: string, policy: Policy): Verifier | undefined => {
  const refuseUnder = policy.refuseUnder ?? []
  if (!policy.confine && !policy.hideDotfiles && refuseUnder.length === 0) return undefined
  let realRoot = root
  try {
    realRoot = realPath(root)
  } catch {
    // The root does not exist (yet): every request answers 404 until it does, then the check uses its path.
  }
  const prefix = realRoot.endsWith("/") ? realRoot : realRoot + "/"
  const allowsReal = (real: string): boolean => {
    const inside = real === realRoot || real.startsWith(prefix)
    if (policy.confine && !inside) return false
    // A realpath per CGI directory (~2 µs each, dentries cached): only with `Cgi`, and it follows later changes.
    if (refuseUnder.some((directory) => within(real, realOrSpelled(directory)))) return false
    if (!policy.hideDotfiles) return true
    const shown = inside ? real.slice(prefix.length) : real
    return !shown.split("/").some((component) => component.startsWith("."))
  }
  const allowsPath = (path: string): boolean => {
    try {
      return allowsReal(realPath(path))
    } catch {
      // Missing, dangling, ENOTDIR, no permission: a request answers 404 anyway; confined, a listing leaves such a
      // link out, while with `hideDotfiles` alone it is listed as Python lists it.
      return !policy.confine
    }
  }
  // 20,000 links checked with `realpathSync` blocked the event loop ~8 s; through libuv's threads, not at all.
  const allowsPathAsync = (path: string): Promise<boolean> =>
    realPathOf(path).then(allowsReal, () => !policy.confine)
  const verify = (fd: number, path: string): string | undefined => {
    if (hasProcFd()) {
      // A readlink in procfs reads no disk: cheap enough on the event loop (~2 µs). Read as bytes: a name that is
      // not UTF-8 must be compared as itself, not as U+FFFD.
      let real: string
      try {
        real = fsDecode(NodeFs.readlinkSync(PROC_FD + fd, { encoding: "buffer" }))
      } catch {
        return undefined
      }
      return allowsReal(real) ? PROC_FD + fd : undefined
    }
    // Elsewhere (macOS, BSD): the descriptor's inode must be the one at the path's real location, checked
    // after the open. Weaker than the kernel's name of the descriptor; documented as such.
    try {
      const real = realPath(path)
      if (!allowsReal(real)) return undefined
      const opened = NodeFs.fstatSync(fd)
      const there = NodeFs.lstatSync(fsPathOrThrow(real))
      return opened.dev === there.dev && opened.ino === there.ino ? real : undefined
    } catch {
      return undefined
    }
  }
  const linkTarget = (path: string): Promise<NodeFs.Stats | "hidden" | "unknown"> => {
    const os = fsPath(path)
    // No bytes name it (listed names always have them): nothing to show.
    if (os === undefined) return Promise.resolve("hidden")
    return NodeFs.promises.open(os, FLAGS).then(
      (handle) =>
        handle.stat().then(
          (stats) => (verify(handle.fd, path) === undefined ? "hidden" as const : stats),
          () => "unknown" as const
        ).finally(() => handle.close()),
      () => allowsPathAsync(path).then((allowed) => (allowed ? "unknown" as const : "hidden" as const))
    )
  }
  return { allowsReal, allowsPath, allowsPathAsync, verify, linkTarget }
}

/** A descriptor opened and verified, with its `fstat` and the path to read a directory's entries through. */
export interface Opened {
  readonly fd: number
  readonly stats: NodeFs.Stats
  readonly readPath: string
}

// O_NONBLOCK: opening a FIFO swapped in for a file must not wait for a writer. O_NOCTTY: a terminal swapped in
// must not become ours. Neither changes reads of regular files.
export const FLAGS = NodeFs.constants.O_RDONLY | (NodeFs.constants.O_NONBLOCK ?? 0) | (NodeFs.constants.O_NOCTTY ?? 0)

/**
 * Opens `path` in the scope (closed when the scope closes, whatever happens), then checks that it is a `kind`
 * (from `fstat` of the descriptor: every decision about what is sent — type, size, validators — is made on what
 * was opened, never on an earlier `stat` of the path) and that the verifier, when there is one, allows what was
 * opened. Refused, missing or another kind (a FIFO, a device): `absent` (the caller's 404). Out of descriptors:
 * 503; I/O errors: 500 (see `fsFailure`). Every served file and listed directory is opened here, whatever the
 * options: a FIFO swapped in for a file after its `stat` would otherwise block the open in a libuv thread until a
 * writer came (four such opens stopped the server for good).
 */
export const openVerified = (
  verifier: Verifier | undefined,
  path: string,
  kind: "File" | "Directory",
  absent: HttpError
): Effect.Effect<Opened, HttpError, Scope.Scope> =>
  Effect.flatMap(
    Effect.acquireRelease(
      Effect.async<number, HttpError>((resume) => {
        const os = fsPath(path)
        if (os === undefined) return resume(Effect.fail(absent))
        NodeFs.open(os, FLAGS, (error, fd) => resume(error === null ? Effect.succeed(fd) : Effect.fail(fsFailure(error, absent))))
      }),
      (fd) => Effect.async<void>((resume) => NodeFs.close(fd, () => resume(Effect.void)))
    ),
    (fd) =>
      Effect.async<Opened, HttpError>((resume) => {
        NodeFs.fstat(fd, (error, stats) => {
          if (error !== null) return resume(Effect.fail(fsFailure(error, absent)))
          if (kind === "File" ? !stats.isFile() : !stats.isDirectory()) return resume(Effect.fail(absent))
          const readPath = verifier === undefined ? (hasProcFd() ? PROC_FD + fd : path) : verifier.verify(fd, path)
          resume(readPath === undefined ? Effect.fail(absent) : Effect.succeed({ fd, stats, readPath }))
        })
      })
  )
