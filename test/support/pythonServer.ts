/**
 * The reference implementation for differential tests: a real
 * `python3 -m http.server` child process, owned by a Scope.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as net from "node:net"
import { Duration, Effect, type Scope } from "effect"

/** Options for {@link pythonHttpServer}. */
export interface PythonServerOptions {
  /** The directory to serve (`-d`). */
  readonly directory: string
  /** `--protocol`; Python's default is HTTP/1.0. */
  readonly protocol?: "HTTP/1.0" | "HTTP/1.1"
  /** `--cgi`: use CGIHTTPRequestHandler. */
  readonly cgi?: boolean
  /** Inserted before the port argument. */
  readonly extraArgs?: ReadonlyArray<string>
}

/** A running Python server. */
export interface PythonServer {
  readonly port: number
  readonly pid: number
  /** The stderr (access log) written so far. */
  readonly stderr: () => string
  /**
   * Waits until the stderr collected so far satisfies `predicate`. Python logs
   * a request in its handler thread and the pipe is read independently of the
   * socket, so a test comparing logs must wait instead of reading right after
   * the response arrived.
   */
  readonly awaitStderr: (predicate: (stderr: string) => boolean, timeoutMs?: number) => Effect.Effect<string, Error>
}

const STARTUP_TIMEOUT_MS = 10_000
const KILL_GRACE_MS = 1_000

/**
 * Starts `python3 -u -m http.server --bind 127.0.0.1 -d DIR … 0`, reads the
 * kernel-chosen port from its banner ("Serving HTTP on 127.0.0.1 port N …")
 * and waits until the port accepts connections. Closing the scope sends
 * SIGTERM to that pid only, SIGKILL after 1 s, and waits for the exit.
 */
export const pythonHttpServer = (options: PythonServerOptions): Effect.Effect<PythonServer, Error, Scope.Scope> =>
  Effect.gen(function*() {
    const args = [
      "-u", // stdout is a pipe, not a tty: without -u the banner would sit in Python's buffer.
      "-m",
      "http.server",
      "--bind",
      "127.0.0.1",
      "-d",
      options.directory,
      ...(options.protocol === undefined ? [] : ["--protocol", options.protocol]),
      ...(options.cgi === true ? ["--cgi"] : []),
      ...(options.extraArgs ?? []),
      "0"
    ]
    const child = yield* Effect.acquireRelease(spawnPython(args), terminate)
    const stderrChunks: Array<Buffer> = []
    const stderrWaiters = new Set<() => void>()
    child.stderr!.on("data", (data: Buffer) => {
      stderrChunks.push(data)
      for (const wake of stderrWaiters) wake()
    })
    const stderr = () => Buffer.concat(stderrChunks).toString("utf8")

    const port = yield* readPort(child, stderr).pipe(
      Effect.timeoutFail({
        duration: Duration.millis(STARTUP_TIMEOUT_MS),
        onTimeout: () => new Error(`python http.server printed no banner within ${STARTUP_TIMEOUT_MS} ms; stderr: ${stderr()}`)
      })
    )
    // Python writes nothing else to stdout; keep the pipe drained regardless.
    child.stdout!.resume()
    yield* awaitListening(port).pipe(
      Effect.timeoutFail({
        duration: Duration.millis(STARTUP_TIMEOUT_MS),
        onTimeout: () => new Error(`python http.server port ${port} never accepted a connection`)
      })
    )

    const awaitStderr = (predicate: (text: string) => boolean, timeoutMs = 5_000) =>
      Effect.async<string>((resume) => {
        const check = () => {
          const text = stderr()
          if (!predicate(text)) return false
          stderrWaiters.delete(check)
          resume(Effect.succeed(text))
          return true
        }
        if (check()) return
        stderrWaiters.add(check)
        return Effect.sync(() => stderrWaiters.delete(check))
      }).pipe(
        Effect.timeoutFail({
          duration: Duration.millis(timeoutMs),
          onTimeout: () => new Error(`python stderr did not match within ${timeoutMs} ms; got: ${stderr()}`)
        })
      )

    return { port, pid: child.pid!, stderr, awaitStderr }
  })

const spawnPython = (args: ReadonlyArray<string>) =>
  Effect.async<ChildProcess, Error>((resume) => {
    const child = spawn("python3", args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, PYTHONUNBUFFERED: "1" }
    })
    const onError = (error: Error) => resume(Effect.fail(new Error(`cannot start python3: ${error.message}`, { cause: error })))
    child.once("error", onError)
    child.once("spawn", () => {
      child.off("error", onError)
      // Keep a listener: a later 'error' (e.g. a failed kill) must not crash the test process.
      child.on("error", () => {})
      resume(Effect.succeed(child))
    })
  })

const hasExited = (child: ChildProcess): boolean => child.exitCode !== null || child.signalCode !== null

/** Resolves on the child's exit; Node has reaped it by then, so the pid is really gone. */
const awaitExit = (child: ChildProcess) =>
  Effect.async<void>((resume) => {
    if (hasExited(child)) return resume(Effect.void)
    const onExit = () => resume(Effect.void)
    child.once("exit", onExit)
    return Effect.sync(() => child.off("exit", onExit))
  })

const terminate = (child: ChildProcess) =>
  Effect.gen(function*() {
    if (hasExited(child)) return
    child.kill("SIGTERM")
    const exited = yield* awaitExit(child).pipe(Effect.timeout(Duration.millis(KILL_GRACE_MS)), Effect.option)
    if (exited._tag === "Some") return
    child.kill("SIGKILL")
    yield* awaitExit(child)
  })

const readPort = (child: ChildProcess, stderr: () => string) =>
  Effect.async<number, Error>((resume) => {
    let stdout = ""
    const onData = (data: Buffer) => {
      stdout += data.toString("utf8")
      const match = /Serving HTTP on \S+ port (\d+)/.exec(stdout)
      if (match === null) return
      cleanup()
      resume(Effect.succeed(Number(match[1])))
    }
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
      cleanup()
      resume(Effect.fail(new Error(`python http.server exited (code ${code}, signal ${signal}) before serving; stderr: ${stderr()}`)))
    }
    const cleanup = () => {
      child.stdout!.off("data", onData)
      child.off("exit", onExit)
    }
    child.stdout!.on("data", onData)
    child.once("exit", onExit)
    return Effect.sync(cleanup)
  })

/** Polls with real connections: the banner is printed after listen(), but checking costs little. */
const awaitListening = (port: number): Effect.Effect<void> =>
  Effect.async<boolean>((resume) => {
    const socket = net.connect({ host: "127.0.0.1", port })
    socket.once("connect", () => {
      socket.destroy()
      resume(Effect.succeed(true))
    })
    socket.once("error", () => {
      socket.destroy()
      resume(Effect.succeed(false))
    })
    return Effect.sync(() => socket.destroy())
  }).pipe(
    Effect.flatMap((ok) => ok ? Effect.void : Effect.sleep(Duration.millis(20)).pipe(Effect.zipRight(Effect.suspend(() => awaitListening(port)))))
  )
