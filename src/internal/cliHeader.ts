/**
 * The `-H` arguments as the user typed them, checked before the command-line parser sees them: @effect/cli trims
 * each value with JavaScript's `trim`, which also takes U+2028, NBSP and every Unicode space off its ends, so
 * `-H $'X: \u2028'` would silently become an empty `X:`. A value the parser would change is refused instead, and
 * so are hop-by-hop fields, which describe one connection and are the server's to send (RFC 9110 §7.6.1).
 */
import { printable } from "./extras.js"
import { trimOws } from "./ows.js"
import { pyRepr } from "./pythonText.js"

/** Fields about the connection, not the response: never from `-H`. */
const HOP_BY_HOP = new Set(["connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade"])

/** Why one raw `-H` argument is refused here, or `undefined` (the rest is `parseHeaderLine`'s). */
export const rawHeaderProblem = (raw: string): string | undefined => {
  if (raw.trim() !== trimOws(raw)) {
    return `${pyRepr(raw)} starts or ends with whitespace other than space and tab`
  }
  const colon = raw.indexOf(":")
  if (colon < 0) return undefined
  const name = trimOws(raw.slice(0, colon)).toLowerCase()
  if (HOP_BY_HOP.has(name) || name.startsWith("proxy-")) {
    return `header '${printable(trimOws(raw.slice(0, colon)))}' is hop-by-hop (about the connection, set by the server)`
  }
  return undefined
}

/**
 * The first refused `-H` argument in `args` (the arguments after the script), as `-H V`, `-H=V`, `--header V` or
 * `--header=V`, up to a `--`; `undefined` when there is none.
 */
export const headerArgumentsProblem = (args: ReadonlyArray<string>): string | undefined => {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (arg === "--") return undefined
    let value: string | undefined
    if (arg === "-H" || arg === "--header") value = args[++i]
    else if (arg.startsWith("-H=")) value = arg.slice(3)
    else if (arg.startsWith("--header=")) value = arg.slice(9)
    const problem = value === undefined ? undefined : rawHeaderProblem(value)
    if (problem !== undefined) return problem
  }
  return undefined
}
