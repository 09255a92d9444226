/**
 * Multi-core serving: the same server in N `node:cluster` worker processes sharing one listening socket.
 *
 * The primary forks the workers (each re-runs the program's entry script), and in each worker the program runs the
 * server as usual. Node's cluster hands out the listening socket from the primary, so `port: 0` yields one port
 * that every worker serves; on Linux the primary accepts and deals connections round-robin.
 *
 * Policy for a worker that exits on its own (crash, `kill -9`, the kernel's OOM killer): it is reported and a new one
 * is forked in its place after a back-off (100 ms, doubling to 10 s while workers keep dying; back to 100 ms once
 * none has died for 30 s), so a crash loop costs a fork every 10 seconds, not a core, and the port never stays dead.
 * The port stays bound meanwhile, even with every worker dead: the primary keeps the listening socket the cluster
 * would close (connections arriving then wait in its queue for the replacement), so no other process can take it
 * and the replacements serve the same port, `port: 0` included.
 * Nothing is restarted once the primary is stopping. With `restart: false` a dead worker is only reported: the
 * others keep serving, and once all are gone the primary fails with `ClusterError("WorkersDied")`.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import Cluster from "node:cluster"
import type { Worker } from "node:cluster"
import { makeBackoff } from "./internal/backoff.js"
import * as PortAnchor from "./internal/portAnchor.js"
import type { ServerAddress } from "./Server.js"

/**
 * Why the workers did not serve to the end.
 *
 * @since 0.1.0
 * @category errors
 */
export class ClusterError extends Data.TaggedError("ClusterError")<{
  /** `StartFailed`: a worker exited before listening (it printed why); `WorkersDied`: every worker is gone and some
   * exited on their own. */
  readonly reason: "StartFailed" | "WorkersDied"
  readonly message: string
  /** The exit status of the first worker that failed (1 when it was killed by a signal). */
  readonly exitCode: number
  /** The signal that killed that worker, if one did (then it printed nothing). */
  readonly signal: string | null
}> {}

/**
 * How a worker ended.
 *
 * @since 0.1.0
 * @category models
 */
export interface WorkerExit {
  readonly pid: number
  readonly code: number | null
  readonly signal: string | null
  /** Workers still running. */
  readonly remaining: number
  /** Milliseconds until a replacement is forked; `undefined` when none will be (`restart: false`). */
  readonly restartIn?: number | undefined
}

/**
 * When a dead worker is replaced: after `initialDelay` ms, doubled for each further death up to `maxDelay`, and
 * back to `initialDelay` once no worker has died for `resetAfter` ms.
 *
 * @since 0.1.0
 * @category options
 */
export interface RestartPolicy {
  /** Default 100. */
  readonly initialDelay?: number
  /** Default 10 000. */
  readonly maxDelay?: number
  /** Default 30 000. */
  readonly resetAfter?: number
}

/**
 * Cluster settings.
 *
 * @since 0.1.0
 * @category options
 */
export interface ClusterOptions {
  /** Worker processes, at least 1. */
  readonly workers: number
  /** In the primary, once every worker listens: where (as the first worker reported it). */
  readonly onListening?: (address: ServerAddress) => Effect.Effect<void>
  /** In the primary, when it is interrupted (a stop signal), before the workers are told to stop. */
  readonly onStop?: Effect.Effect<void>
  /** In the primary, when a worker exits on its own. Default: a line on standard error. */
  readonly onWorkerDied?: (exit: WorkerExit) => Effect.Effect<void>
  /** In the primary, when a replacement worker has been forked (its pid, and the pid of the one it replaces). */
  readonly onWorkerRestarted?: (pid: number, replaced: number) => Effect.Effect<void>
  /** Whether and when a worker that exits on its own is replaced (see the module). Default: replaced. */
  readonly restart?: false | RestartPolicy
  /** Node options of the worker processes (`node:cluster`'s `execArgv`). Default: this process's. */
  readonly execArgv?: ReadonlyArray<string>
  /** On stop, how long workers may take to exit before they are killed. Default 30 seconds. */
  readonly stopTimeout?: number
}

/**
 * Whether this process is a cluster worker.
 *
 * @since 0.1.0
 * @category guards
 */
export const isWorker = (): boolean => Cluster.isWorker

/**
 * A worker exit as words: `exited with status 3`, `killed by SIGKILL`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const describeExit = (exit: Pick<WorkerExit, "code" | "signal">): string =>
  exit.signal !== null ? `killed by ${exit.signal}` : `exited with status ${exit.code ?? "?"}`

const defaultWorkerDied = (exit: WorkerExit) =>
  Effect.sync(() => {
    const restart = exit.restartIn === undefined ? "" : `; restarting it in ${exit.restartIn} ms`
    process.stderr.write(`worker ${exit.pid} ${describeExit(exit)}; ${exit.remaining} left${restart}\n`)
  })

const statusOf = (code: number | null, signal: string | null) => (signal !== null || code === null ? 1 : code)

/**
 * Runs `server` (an Effect that serves until interrupted) in `options.workers` cluster workers, or in this
 * process when `workers` is 1 or this process is already a worker.
 *
 * In the primary, the returned Effect forks the first worker, waits for it to listen (so a listen error is met
 * once, not N times), forks the rest, calls `onListening`, and then waits. Interrupting it (`NodeRuntime.runMain`
 * does on SIGINT/SIGTERM) sends SIGTERM to every worker and waits for them to exit (they stop gracefully: the
 * server's own shutdown); it succeeds when all exited with status 0. In a worker, SIGINT and SIGTERM stop the
 * server gracefully once; repeats are ignored there (a terminal's Ctrl-C reaches the workers too, beside the
 * primary's SIGTERM), so the primary alone decides when to give up.
 *
 * @since 0.1.0
 * @category running
 */
export const run = <A, E, R>(
  server: Effect.Effect<A, E, R>,
  options: ClusterOptions
): Effect.Effect<void, E | ClusterError, R> => {
  if (Cluster.isWorker) {
    return Effect.zipRight(
      Effect.sync(() => {
        // Permanent listeners: without them a second signal would kill the worker mid-shutdown.
        process.on("SIGINT", ignore)
        process.on("SIGTERM", ignore)
      }),
      Effect.asVoid(server)
    )
  }
  if (options.workers <= 1) return Effect.asVoid(server)
  return Effect.scoped(primary(options))
}

const ignore = () => {}

const primary = (options: ClusterOptions) =>
  Effect.gen(function*() {
    const onWorkerDied = options.onWorkerDied ?? defaultWorkerDied
    const policy = options.restart === false ? undefined : options.restart ?? {}
    const backoff = policy === undefined
      ? undefined
      : makeBackoff(policy.initialDelay ?? 100, policy.maxDelay ?? 10_000, policy.resetAfter ?? 30_000)
    // Replacements waiting for their back-off: cancelled when the primary stops.
    const restartTimers = new Set<ReturnType<typeof setTimeout>>()
    const live = new Map<number, Worker>()
    let stopping = false
    let starting = true
    let failed: ClusterError | undefined
    let stopFailure: ClusterError | undefined
    let notifyEmpty: (() => void) | undefined
    const runtime = yield* Effect.runtime<never>()
    if (options.execArgv !== undefined) Cluster.setupPrimary({ execArgv: [...options.execArgv] })
    // The listening socket outlives its workers: with all of them dead at once, the cluster would close it and free
    // the port (for another process to take, or, with port 0, for the replacements to listen elsewhere).
    const anchor = PortAnchor.install()
    yield* Effect.addFinalizer(() => Effect.sync(anchor.release))

    const fork = () => {
      const worker = Cluster.fork()
      live.set(worker.id, worker)
      let listening = false
      worker.once("listening", () => (listening = true))
      worker.once("exit", (code: number | null, signal: string | null) => {
        live.delete(worker.id)
        const pid = worker.process.pid ?? 0
        if (!stopping && !starting) {
          const restartIn = backoff?.next(Date.now())
          if (restartIn === undefined) {
            failed ??= new ClusterError({
              reason: "WorkersDied",
              message: `worker ${pid} ${describeExit({ code, signal })}`,
              exitCode: statusOf(code, signal),
              signal
            })
          } else {
            const timer = setTimeout(() => {
              restartTimers.delete(timer)
              if (stopping) return
              const replacement = fork()
              const newPid = replacement.process.pid ?? 0
              if (options.onWorkerRestarted !== undefined) {
                Effect.runFork(options.onWorkerRestarted(newPid, pid).pipe(Effect.provide(runtime)))
              }
            }, restartIn)
            restartTimers.add(timer)
          }
          Effect.runFork(onWorkerDied({ pid, code, signal, remaining: live.size, restartIn }).pipe(Effect.provide(runtime)))
        } else if (stopping && (code !== 0 || signal !== null) && !(signal === "SIGTERM" && !listening)) {
          // A replacement still starting when the stop came has no server to stop yet: SIGTERM ends it plainly.
          stopFailure ??= new ClusterError({
            reason: "WorkersDied",
            message: `worker ${pid} ${describeExit({ code, signal })} while stopping`,
            exitCode: statusOf(code, signal),
            signal
          })
        }
        if (live.size === 0 && restartTimers.size === 0) notifyEmpty?.()
      })
      return worker
    }

    // From here on nothing is replaced: a replacement forked during `onStop` would only be stopped again.
    const stopRestarts = Effect.sync(() => {
      stopping = true
      for (const timer of restartTimers) clearTimeout(timer)
      restartTimers.clear()
    })

    const stopAll = Effect.async<void>((resume) => {
      notifyEmpty = () => resume(Effect.void)
      if (live.size === 0) return resume(Effect.void)
      for (const worker of live.values()) worker.process.kill("SIGTERM")
    }).pipe(
      Effect.interruptible,
      Effect.timeout(options.stopTimeout ?? 30_000),
      Effect.catchAll(() =>
        Effect.sync(() => {
          for (const worker of live.values()) worker.process.kill("SIGKILL")
        })
      )
    )

    // Released on interruption (a stop signal) and on the end of the run alike.
    yield* Effect.addFinalizer((exit) =>
      Effect.zipRight(
        Effect.zipRight(stopRestarts, Exit.isInterrupted(exit) && options.onStop !== undefined ? options.onStop : Effect.void),
        // A worker that failed to stop gracefully makes the exit status non-zero, even after a stop signal.
      Effect.flatMap(stopAll, () => (stopFailure !== undefined && failed === undefined ? Effect.die(stopFailure) : Effect.void))
      )
    )

    // The first worker alone, so that a listen error is printed once; the rest share its listening socket.
    const address = yield* Effect.async<ServerAddress, ClusterError>((resume) => {
      let listening = 0
      let first: ServerAddress | undefined
      const onListening = (_worker: Worker, where: { address: string; port: number; addressType: number | string }) => {
        listening++
        first ??= {
          hostname: where.address,
          port: where.port,
          family: where.addressType === 6 || where.addressType === "udp6" ? "IPv6" : "IPv4"
        }
        if (listening === 1) for (let i = 1; i < options.workers; i++) watch(fork())
        if (listening === options.workers) {
          cleanup()
          resume(Effect.succeed(first))
        }
      }
      const onEarlyExit = (code: number | null, signal: string | null) => {
        cleanup()
        resume(Effect.fail(
          new ClusterError({
            reason: "StartFailed",
            message: `a worker ${describeExit({ code, signal })} before listening`,
            exitCode: statusOf(code, signal),
            signal
          })
        ))
      }
      const watched: Array<Worker> = []
      const watch = (worker: Worker) => {
        watched.push(worker)
        worker.once("exit", onEarlyExit)
      }
      const cleanup = () => {
        Cluster.off("listening", onListening)
        for (const worker of watched) worker.off("exit", onEarlyExit)
      }
      Cluster.on("listening", onListening)
      watch(fork())
      return Effect.sync(cleanup)
    })
    starting = false
    if (options.onListening !== undefined) yield* options.onListening(address)

    yield* Effect.async<void>((resume) => {
      notifyEmpty = () => resume(Effect.void)
      if (live.size === 0 && restartTimers.size === 0) resume(Effect.void)
    })
    if (failed !== undefined) return yield* Effect.fail(failed)
  })
