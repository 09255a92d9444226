/**
 * How a script is run: by its interpreter or itself (execute permission), and as `nobody` through `setpriv`.
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"

export const isPython = (path: string): boolean => /\.pyw?$/i.test(path)

/** `os.access(path, os.X_OK)` from the file's mode, as the server's user. */
export const isExecutable = (info: FileSystem.File.Info): boolean => {
  const mode = info.mode
  const uid = process.getuid?.() ?? -1
  if (uid === 0) return (mode & 0o111) !== 0
  if (Option.getOrUndefined(info.uid) === uid) return (mode & 0o100) !== 0
  const gid = Option.getOrUndefined(info.gid)
  const groups = [process.getgid?.() ?? -1, ...(process.getgroups?.() ?? [])]
  if (gid !== undefined && groups.includes(gid)) return (mode & 0o010) !== 0
  return (mode & 0o001) !== 0
}

/** `nobody`'s uid and gid from the password file (Python's `nobody_uid`), 65534 when it has none. */
export const nobodyIds = (fs: FileSystem.FileSystem) =>
  fs.readFileString("/etc/passwd").pipe(
    Effect.map((text) => {
      const fields = text.split("\n").map((line) => line.split(":")).find((f) => f[0] === "nobody")
      const uid = Number(fields?.[2])
      const gid = Number(fields?.[3])
      return { uid: Number.isInteger(uid) ? uid : 65534, gid: Number.isInteger(gid) ? gid : 65534 }
    }),
    Effect.orElseSucceed(() => ({ uid: 65534, gid: 65534 }))
  )

export const findSetpriv = (fs: FileSystem.FileSystem) =>
  Effect.findFirst(
    ["/usr/bin/setpriv", "/bin/setpriv", "/usr/sbin/setpriv", "/sbin/setpriv"],
    (p) => Effect.orElseSucceed(fs.exists(p), () => false)
  )
