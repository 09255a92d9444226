/**
 * A CGI script as a child process owned by a `Scope`, through `@effect/platform`'s `Command`.
 *
 * `Command.start` already sends SIGTERM to the process group on scope close and waits for the exit. What it lacks,
 * and this module adds:
 * - SIGKILL when SIGTERM is ignored for `killGrace`, then SIGKILL to whatever is left in the group;
 * - a stdin pump with real backpressure that is still listening for `EPIPE` while the script dies (an unheard
 *   `error` on the child's stdin would crash the server);
 * - stderr drained line by line to the log, so a chatty script never blocks on a full pipe;
 * - the exit status as Python reports it (`os.waitstatus_to_exitcode`: the code, or minus the signal number).
 */
import * as Command from "@effect/platform/Command"
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import type { PlatformError } from "@effect/platform/Error"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Os from "node:os"

/** What to run and how. */
export interface ScriptSpec {
  readonly command: string
  readonly args: ReadonlyArray<string>
  /** The complete environment (nothing is inherited beyond it). */
  readonly env: Record<string, string>
  /** The request body, written to the script's stdin; stdin is closed when it ends. */
  readonly stdin: Stream.Stream<Uint8Array, unknown>
  /** How long SIGTERM may take before SIGKILL. */
  readonly killGrace: Duration.Duration
  /** One line of the script's stderr. */
  readonly onStderrLine: (line: string) => void
}

/** A running script. */
export interface ScriptProcess {
  readonly pid: number
  /** The script's stdout, pulled on demand (a slow client slows the script down, nothing piles up). */
  readonly stdout: Stream.Stream<Uint8Array, PlatformError>
  /** Waits for the exit: the exit code, or minus the number of the signal that ended it. */
  readonly status: Effect.Effect<number>
}

/** The longest stderr line logged as one; longer ones are cut into pieces. */
const MAX_STDERR_LINE = 8 * 1024

/** `os.waitstatus_to_exitcode` from what Command reports: a code, or a failure naming the signal. */
const statusOf = (proc: CommandExecutor.Process): Effect.Effect<number> =>
  proc.exitCode.pipe(
    Effect.map(Number),
    Effect.catchAll((error) => {
      const name = /signal: (SIG[A-Z0-9]+)/.exec(String(error))?.[1]
      const number = name === undefined ? undefined : Os.constants.signals[name as NodeJS.Signals]
      return Effect.succeed(number === undefined ? -1 : -number)
    })
  )

/** Signals a whole process group, ignoring "no such process". */
const signalGroup = (pid: number, signal: NodeJS.Signals): Effect.Effect<void> =>
  Effect.sync(() => {
    try {
      process.kill(-pid, signal)
    } catch {
      // ESRCH: the group is already gone.
    }
  })

/**
 * `writeEffect` in platform-node waits for `drain` between the elements of a chunk but not after the last one, so a
 * stream of one-element chunks would never wait. Splitting off the last byte makes every chunk's real data wait for
 * `drain` first: the writable never holds more than its high-water mark plus one byte.
 */
const waitForDrain = (chunk: Chunk.Chunk<Uint8Array>): Chunk.Chunk<Uint8Array> => {
  const items = Chunk.toReadonlyArray(chunk).filter((c) => c.length > 0)
  const last = items.pop()
  if (last === undefined) return Chunk.empty()
  if (last.length > 1) items.push(last.subarray(0, last.length - 1), last.subarray(last.length - 1))
  else items.push(last)
  return Chunk.unsafeFromArray(items)
}

/** Cuts a byte stream into lines (LF, optional CR), at most `MAX_STDERR_LINE` bytes each. */
const forEachLine = (
  bytes: Stream.Stream<Uint8Array, PlatformError>,
  onLine: (line: string) => void
): Effect.Effect<void> => {
  let pending = Buffer.alloc(0)
  const emit = (line: Buffer) => onLine(line.toString("utf8").replace(/\r$/, ""))
  return bytes.pipe(
    Stream.runForEach((chunk) =>
      Effect.sync(() => {
        pending = pending.length === 0 ? Buffer.from(chunk) : Buffer.concat([pending, chunk])
        let nl: number
        while ((nl = pending.indexOf(10)) >= 0) {
          emit(pending.subarray(0, nl))
          pending = pending.subarray(nl + 1)
        }
        while (pending.length >= MAX_STDERR_LINE) {
          emit(pending.subarray(0, MAX_STDERR_LINE))
          pending = pending.subarray(MAX_STDERR_LINE)
        }
      })
    ),
    Effect.ignore,
    Effect.ensuring(Effect.sync(() => {
      if (pending.length > 0) emit(pending)
      pending = Buffer.alloc(0)
    }))
  )
}

/**
 * Starts the script in the current scope. When the scope closes, in this order: the script's group gets SIGTERM,
 * then SIGKILL after `killGrace` if the script is still there, then SIGKILL again for anything left in the group;
 * only then is the stdin pump stopped (see the module comment) and stderr's reader interrupted.
 */
export const start = (
  spec: ScriptSpec
): Effect.Effect<ScriptProcess, PlatformError, CommandExecutor.CommandExecutor | Scope.Scope> =>
  Effect.gen(function*() {
    const stopFeeding = yield* Deferred.make<void>()
    let feeder: Fiber.RuntimeFiber<void> | undefined
    // Added before the process so that it runs after the kill below (finalizers run last-in, first-out).
    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        const fiber = feeder
        if (fiber === undefined) return Effect.void
        return Deferred.succeed(stopFeeding, undefined).pipe(
          Effect.zipRight(Fiber.await(fiber).pipe(Effect.interruptible, Effect.timeout(spec.killGrace), Effect.ignore)),
          Effect.zipRight(Fiber.interrupt(fiber))
        )
      })
    )

    const command = Command.make(spec.command, ...spec.args).pipe(Command.env(spec.env, { extendEnv: false }))
    const proc = yield* Command.start(command)
    const pid = proc.pid as number
    const status = statusOf(proc)

    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        if (yield* Effect.orElseSucceed(proc.isRunning, () => false)) {
          yield* proc.kill("SIGTERM").pipe(
            Effect.interruptible,
            Effect.timeout(spec.killGrace),
            Effect.catchAll(() => proc.kill("SIGKILL")),
            Effect.ignore
          )
        }
        yield* signalGroup(pid, "SIGKILL")
      })
    )

    // The pump is a daemon so that scope closing does not interrupt it mid-write; the first finalizer ends it.
    feeder = yield* spec.stdin.pipe(
      Stream.interruptWhen(Deferred.await(stopFeeding)),
      Stream.mapChunks(waitForDrain),
      Stream.run(proc.stdin),
      Effect.ignore,
      Effect.forkDaemon
    )
    yield* Effect.forkScoped(forEachLine(proc.stderr, spec.onStderrLine))
    // Once the script has exited, what it left running in its group (a `cmd &` still holding stdout) would keep
    // the response open forever: Python's client sees the end when the script exits, ours when stdout closes.
    yield* Effect.forkScoped(Effect.zipRight(status, signalGroup(pid, "SIGTERM")))

    return { pid, stdout: proc.stdout, status }
  })
