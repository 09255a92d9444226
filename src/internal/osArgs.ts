/**
 * The current directory and command-line arguments as Python's `os.getcwd()` and `sys.argv` give them: Node
 * decodes both as UTF-8, each byte that is not UTF-8 becoming U+FFFD, so `effect-httpd` started in (or with
 * `-d`) a directory whose name is not UTF-8 served another directory (the one whose name holds U+FFFD itself)
 * or none, and `--tls-cert`, `--spa` or `--index-page` named another file. Python keeps the bytes
 * (`surrogateescape`); so do these, reading them again only when Node lost some.
 */
import * as NodeCluster from "node:cluster"
import * as NodeFs from "node:fs"
import { normalizeArgs } from "./cliArgv.js"
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
 * The values given to the option in `args` (the process's arguments as bytes), read as the command line reads them
 * (`cliArgv.ts`: `--name value`, `--name=value`, a prefix standing for the name, `-d value`, `-dvalue`, `-d=value`;
 * nothing in the place of another option's value). Read as latin-1, each byte one character: the names are ASCII,
 * and each value turns back into its bytes.
 */
const valuesOf = (args: ReadonlyArray<Buffer>, spelling: OptionSpelling): Array<Buffer> => {
  const read = normalizeArgs(args.map((arg) => arg.toString("latin1")))
  const values: Array<Buffer> = []
  for (let i = 0; i + 1 < read.length; i++) {
    if (read[i] === spelling.long || read[i] === spelling.short) values.push(Buffer.from(read[++i]!, "latin1"))
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
