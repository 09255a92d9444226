/**
 * The current directory and command-line arguments as Python's `os.getcwd()` and `sys.argv` give them: Node
 * decodes both as UTF-8, each byte that is not UTF-8 becoming U+FFFD, so `effect-httpd` started in (or with
 * `-d`) a directory whose name is not UTF-8 served another directory (the one whose name holds U+FFFD itself)
 * or none. Python keeps the bytes (`surrogateescape`); so do these, reading them again only when Node lost some.
 */
import * as NodeCluster from "node:cluster"
import * as NodeFs from "node:fs"
import { fsDecode, mayBeUndecodable } from "./osPath.js"

/** `os.getcwd()`: `getcwd` is the directory's real path, so `realpath(".")` read as bytes is the same path. */
export const osCwd = (): string => {
  const cwd = process.cwd()
  if (!mayBeUndecodable(cwd)) return cwd
  try {
    return fsDecode(NodeFs.realpathSync.native(".", { encoding: "buffer" }))
  } catch {
    return cwd
  }
}

/** How an option's value may share an argument with its name (`--directory=x`, `-dx`), all ASCII. */
const PREFIXES = ["", "--directory=", "-d=", "-d"]

/**
 * `arg`, one of this process's arguments as Node decoded it, with the bytes it was given (Linux's
 * `/proc/self/cmdline`): `arg` itself when nothing was lost, or when no argument (or more than one, with
 * different bytes) decodes to it. A cluster worker was given its arguments as strings, already U+FFFD: its
 * primary's (its parent's) are read instead.
 */
export const osArgument = (arg: string): string => {
  if (!mayBeUndecodable(arg)) return arg
  let cmdline: Buffer
  try {
    cmdline = NodeFs.readFileSync(NodeCluster.default.isWorker ? `/proc/${process.ppid}/cmdline` : "/proc/self/cmdline")
  } catch {
    return arg
  }
  const found = new Set<string>()
  let start = 0
  while (start < cmdline.length) {
    const end = cmdline.indexOf(0, start) < 0 ? cmdline.length : cmdline.indexOf(0, start)
    const bytes = cmdline.subarray(start, end)
    for (const prefix of PREFIXES) {
      const value = bytes.subarray(prefix.length)
      if (bytes.subarray(0, prefix.length).toString("latin1") === prefix && value.toString("utf8") === arg) {
        found.add(fsDecode(value))
      }
    }
    start = end + 1
  }
  return found.size === 1 ? [...found][0]! : arg
}
