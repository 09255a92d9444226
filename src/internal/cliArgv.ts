/**
 * The command line as Python's `argparse` reads it, rewritten into the spelling `@effect/cli` parses:
 * `python -m http.server -d/srv -b127.0.0.1 --dir /srv --prot HTTP/1.1` works, so the same must work here.
 *
 * - A short option's value may be attached (`-d/srv`, `-d=/srv`): split off.
 * - A long option's value may follow `=` (`--index-page=x`, which `@effect/cli` refuses for repeatable options):
 *   split off.
 * - A long option may be shortened to any unambiguous prefix (`--dir`, argparse's `allow_abbrev`). A prefix
 *   matching several of ours but only one of Python's four (`--p`: `--protocol`, `--precompressed`) means
 *   Python's: a command line written for Python means what it meant there. Any other ambiguous prefix is left as
 *   typed, and refused as argparse refuses it (`readArguments`).
 * - A flag without a value becomes `--flag=true`: given alone, `@effect/cli` would take a following `0` or `off`
 *   as its value (`--cgi 0` means CGI on a free port, not "no CGI").
 *
 * After `--`, and in the place of an option's value, nothing is rewritten.
 */

/** Options that take a value, by long name, with their one-letter alias. */
const VALUE_OPTIONS: ReadonlyMap<string, string | undefined> = new Map([
  ["bind", "b"],
  ["allowed-host", undefined],
  ["directory", "d"],
  ["cgi-max-processes", undefined],
  ["cgi-timeout", undefined],
  ["protocol", "p"],
  ["tls-cert", undefined],
  ["tls-key", undefined],
  ["tls-password-file", undefined],
  ["index-page", undefined],
  ["header", "H"],
  ["cache-control", undefined],
  ["spa", undefined],
  ["basic-auth", undefined],
  ["workers", undefined],
  ["max-connections", undefined],
  ["upload-max-bytes", undefined],
  ["compress-min-bytes", undefined],
  ["compress-max-bytes", undefined],
  // @effect/cli's own.
  ["completions", undefined],
  ["log-level", undefined]
])

/** Options that take no value. */
export const FLAGS: ReadonlySet<string> = new Set([
  "cgi",
  "color-scheme",
  "cors",
  "no-dotfiles",
  "no-follow-symlinks",
  "json-listing",
  "basic-auth-insecure",
  "precompressed",
  "upload",
  "compress",
  "rich-listing",
  "archives",
  "keep-alive-on-error",
  "stdio"
])

/** @effect/cli's own options that take no value: passed as typed (`=true` would not be understood). */
const BUILT_IN_FLAGS: ReadonlySet<string> = new Set(["help", "version", "wizard"])

/** `python -m http.server`'s long options (3.11): they win an ambiguous prefix. */
const PYTHON_LONG = ["cgi", "bind", "directory", "protocol", "help"]

const LONG = [...VALUE_OPTIONS.keys(), ...FLAGS, ...BUILT_IN_FLAGS]
const SHORT_VALUE = new Map(
  [...VALUE_OPTIONS].flatMap(([long, short]) => (short === undefined ? [] : [[short, long] as const]))
)

/** Every long option's name (without `--`), for tests that compare it with the command's own list. */
export const longOptionNames: ReadonlyArray<string> = LONG

/** The long option a name (without `--`) stands for, as argparse resolves it; `undefined`: unknown or ambiguous. */
export const resolveLong = (name: string): string | undefined => {
  if (LONG.includes(name)) return name
  if (name === "") return undefined
  const python = PYTHON_LONG.filter((long) => long.startsWith(name))
  if (python.length === 1) return python[0]
  const ours = LONG.filter((long) => long.startsWith(name))
  return ours.length === 1 ? ours[0] : undefined
}

/** The arguments after the script, rewritten as the module comment says. */
export const normalizeArgs = (args: ReadonlyArray<string>): ReadonlyArray<string> => readArguments(args).args

/**
 * The arguments rewritten (`normalizeArgs`), and argparse's refusal of a long option shortened to a prefix of several
 * (`--comp`): "ambiguous option: --comp could match --compress, --compress-min-bytes, …", if one is there.
 */
export const readArguments = (
  args: ReadonlyArray<string>
): { readonly args: ReadonlyArray<string>; readonly ambiguous: string | undefined } => {
  const out: Array<string> = []
  let ambiguous: string | undefined
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (arg === "--") {
      out.push(...args.slice(i))
      break
    }
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=")
      const typed = eq < 0 ? arg.slice(2) : arg.slice(2, eq)
      const long = resolveLong(typed)
      if (long === undefined) {
        const matches = typed === "" ? [] : LONG.filter((name) => name.startsWith(typed))
        if (matches.length > 1 && ambiguous === undefined) {
          ambiguous = `ambiguous option: --${typed} could match ${matches.map((name) => `--${name}`).join(", ")}`
        }
        out.push(arg)
      } else if (VALUE_OPTIONS.has(long)) {
        if (eq < 0) {
          out.push(`--${long}`)
          // Its value, as typed, whatever it looks like.
          if (i + 1 < args.length) out.push(args[++i]!)
        } else out.push(`--${long}`, arg.slice(eq + 1))
      } else if (FLAGS.has(long)) out.push(eq < 0 ? `--${long}=true` : `--${long}${arg.slice(eq)}`)
      else out.push(eq < 0 ? `--${long}` : `--${long}${arg.slice(eq)}`)
      continue
    }
    const short = arg.length >= 2 && arg[0] === "-" ? SHORT_VALUE.get(arg[1]!) : undefined
    if (short !== undefined) {
      if (arg.length === 2) {
        out.push(arg)
        if (i + 1 < args.length) out.push(args[++i]!)
      } else out.push(arg.slice(0, 2), arg[2] === "=" ? arg.slice(3) : arg.slice(2))
      continue
    }
    out.push(arg)
  }
  return { args: out, ambiguous }
}
