/**
 * The current directory and command-line arguments as Python's `os.getcwd()` and `sys.argv` give them: Node
 * decodes both as UTF-8, each byte that is not UTF-8 becoming U+FFFD, so `effect-httpd` started in (or with
 * `-d`) a directory whose name is not UTF-8 served another directory (the one whose name holds U+FFFD itself)
 * or none, and `--tls-cert`, `--spa` or `--index-page` named another file. Python keeps the bytes
 * (`surrogateescape`); so do these, reading them again only when Node lost some.
 */
import * as NodeCluster from "node:cluster"
import * as NodeFs from "node:fs"
import { resolveLong } from "./cliArgv.js"
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

/** How an option is spelled on the command line: `--directory` and its short alias `-d` (all ASCII). */
export interface OptionSpelling {
  readonly long: string
  readonly short?: string
}

/**
 * The values given to the option in `args` (the process's arguments as bytes), in each way one is spelled, as
 * `cliArgv.ts` reads them: `--name value`, `--name=value` (the name or any prefix standing for it, `--dir`), and with
 * a short alias `-d value`, `-d=value`, `-dvalue`.
 */
const valuesOf = (args: ReadonlyArray<Buffer>, spelling: OptionSpelling): Array<Buffer> => {
  const long = spelling.long.slice(2)
  const values: Array<Buffer> = []
  for (let i = 0; i < args.length; i++) {
    const text = args[i]!.toString("latin1")
    if (text.startsWith("--")) {
      const eq = text.indexOf("=")
      if (resolveLong(eq < 0 ? text.slice(2) : text.slice(2, eq)) !== long) continue
      if (eq >= 0) values.push(args[i]!.subarray(eq + 1))
      else if (i + 1 < args.length) values.push(args[i + 1]!)
    } else if (spelling.short !== undefined && text.startsWith(spelling.short)) {
      const rest = args[i]!.subarray(spelling.short.length)
      if (rest.length === 0) {
        if (i + 1 < args.length) values.push(args[i + 1]!)
      } else values.push(rest[0] === 0x3d ? rest.subarray(1) : rest)
    }
  }
  return values
}

/** This process's arguments as bytes (Linux's `/proc/self/cmdline`), or `undefined` where they cannot be read. */
const cmdlineArguments = (): Array<Buffer> | undefined => {
  let cmdline: Buffer
  try {
    // A cluster worker was given its arguments as strings, already U+FFFD: its primary's (its parent's) are read.
    cmdline = NodeFs.readFileSync(NodeCluster.default.isWorker ? `/proc/${process.ppid}/cmdline` : "/proc/self/cmdline")
  } catch {
    return undefined
  }
  const args: Array<Buffer> = []
  let start = 0
  while (start < cmdline.length) {
    const nul = cmdline.indexOf(0, start)
    const end = nul < 0 ? cmdline.length : nul
    args.push(cmdline.subarray(start, end))
    start = end + 1
  }
  return args
}

/**
 * `arg`, a value of the option spelled `spelling` as Node decoded it, with the bytes it was given: `arg` itself
 * when nothing was lost, or when no value of that option (or more than one, with different bytes) decodes to it.
 */
export const osArgument = (arg: string, spelling: OptionSpelling): string => {
  if (!mayBeUndecodable(arg)) return arg
  const args = cmdlineArguments()
  if (args === undefined) return arg
  const found = new Set<string>()
  for (const value of valuesOf(args, spelling)) {
    if (value.toString("utf8") === arg) found.add(fsDecode(value))
  }
  return found.size === 1 ? [...found][0]! : arg
}
