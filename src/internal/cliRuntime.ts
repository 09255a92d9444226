/**
 * Process-facing helpers of the command line: a console without ANSI escapes, and which stop signal arrived.
 */
import type * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

// CSI sequences (colours, styles): what @effect/printer-ansi emits.
const ANSI = /\x1b\[[0-?]*[ -/]*[@-~]/g

/** Removes ANSI escape sequences. */
export const stripAnsi = (text: string): string => text.replace(ANSI, "")

// Help and version text end in blank lines of their own, on top of log's newline.
const tidy = (strip: boolean) => (args: ReadonlyArray<unknown>): Array<unknown> =>
  args.map((arg) => (typeof arg === "string" ? (strip ? stripAnsi(arg) : arg).replace(/\s+$/, "") : arg))

/**
 * A console over `original` for @effect/cli's output: `log` without trailing blank lines and, unless `colors`,
 * without ANSI escapes; `error` dropped when `dropErrors` (@effect/cli prints its usage errors there, as
 * multi-line text; we print our own line instead).
 */
export const makeConsole = (
  original: Console.Console,
  options: { readonly colors: boolean; readonly dropErrors: boolean }
): Console.Console => {
  const clean = tidy(!options.colors)
  const log = (...args: ReadonlyArray<unknown>) => original.unsafe.log(...clean(args))
  const error = options.dropErrors ? () => {} : original.unsafe.error
  return {
    ...original,
    log: (...args) => Effect.sync(() => log(...args)),
    error: (...args) => Effect.sync(() => error(...args)),
    unsafe: { ...original.unsafe, log, error }
  }
}

/** Whether standard output should get colours: a terminal, and `NO_COLOR` unset (https://no-color.org). */
export const stdoutColors = (): boolean => process.stdout.isTTY === true && (process.env["NO_COLOR"] ?? "") === ""

/**
 * Records the first SIGINT or SIGTERM while the scope is open. The listeners are `once` and both go at the first
 * signal, so a second Ctrl-C during the graceful stop gets Node's default (immediate exit), as runMain's own
 * listeners are gone by then too.
 */
export const trackStopSignal: Effect.Effect<() => NodeJS.Signals | undefined, never, Scope.Scope> = Effect.map(
  Effect.acquireRelease(
    Effect.sync(() => {
      const state: { signal: NodeJS.Signals | undefined; remove: () => void } = { signal: undefined, remove: () => {} }
      const onSignal = (signal: NodeJS.Signals) => {
        state.signal ??= signal
        state.remove()
      }
      process.once("SIGINT", onSignal)
      process.once("SIGTERM", onSignal)
      state.remove = () => {
        process.off("SIGINT", onSignal)
        process.off("SIGTERM", onSignal)
      }
      return state
    }),
    (state) => Effect.sync(state.remove)
  ),
  (state) => () => state.signal
)
