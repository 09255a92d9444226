/**
 * Runs the real `effect-httpd` executable (`node bin/effect-httpd.js`, which imports the bundle `dist/effect-httpd.mjs`) for
 * tests, builds `dist/` first when it is missing or older than `src/`, and talks to it over loopback only.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Https from "node:https"
import * as Net from "node:net"
import * as NodePath from "node:path"
import { fileURLToPath } from "node:url"

export const root = NodePath.resolve(NodePath.dirname(fileURLToPath(import.meta.url)), "..", "..")
export const bin = NodePath.join(root, "bin", "effect-httpd.js")

const newestMtime = (dir: string): number =>
  Fs.readdirSync(dir, { withFileTypes: true }).reduce((newest, entry) => {
    const path = NodePath.join(dir, entry.name)
    const mtime = entry.isDirectory() ? newestMtime(path) : Fs.statSync(path).mtimeMs
    return Math.max(newest, mtime)
  }, 0)

/**
 * Builds dist/ and the bundled executable (as `npm ci`'s `prepare` does) unless the bundle is newer than every
 * source file.
 */
export const ensureBuilt = (): void => {
  const built = NodePath.join(root, "dist", "effect-httpd.mjs")
  const fresh = () => Fs.existsSync(built) && Fs.statSync(built).mtimeMs >= newestMtime(NodePath.join(root, "src"))
  if (fresh()) return
  // Test files run in parallel processes: one builds while the others wait (two tsc runs writing the same dist/
  // files would let a test load a half-written one). mkdir is atomic; a lock older than 5 minutes is a crashed build.
  const lock = NodePath.join(root, ".build-lock")
  for (;;) {
    try {
      Fs.mkdirSync(lock)
      break
    } catch {
      if (Date.now() - (Fs.statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now()) > 300_000) {
        Fs.rmSync(lock, { recursive: true, force: true })
      }
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200)
    }
  }
  try {
    // package.json's build script is the one recipe (tsc, then the bundle).
    if (!fresh()) execFileSync("npm", ["run", "--silent", "build"], { cwd: root, stdio: "inherit" })
  } finally {
    Fs.rmSync(lock, { recursive: true, force: true })
  }
}

export interface SpawnOptions {
  readonly cwd?: string
  /**
   * Run as root without capabilities (through `setpriv`), so a test running as root meets permission errors while
   * still reading the checkout wherever it lies (`nobody` cannot enter a private clone directory).
   */
  readonly dropCapabilities?: boolean
  /** Run under `prlimit --nofile=N`, so a test can exhaust the server's descriptors with a few connections. */
  readonly maxDescriptors?: number
  /**
   * A command that runs the server's command line (`"$@"`), for what `spawn` cannot say: a working directory or an
   * argument whose bytes are not UTF-8 (`["sh", "-c", 'cd "$(printf "%b" "$0")" && exec "$@"', "\\0351"]`).
   */
  readonly wrapper?: ReadonlyArray<string>
}

/**
 * A `wrapper` that appends `args` to the server's command line byte for byte: `spawn` writes strings as UTF-8, so
 * each argument is spelled octal-escaped and made by `printf '%b'` in `sh` (a trailing newline would be lost).
 */
export const withRawArguments = (args: ReadonlyArray<string | Uint8Array>): ReadonlyArray<string> => {
  const spelled = args.map((arg) => {
    let escaped = ""
    for (const b of typeof arg === "string" ? Buffer.from(arg) : arg) {
      escaped += b >= 0x20 && b < 0x7f && b !== 0x27 && b !== 0x5c
        ? String.fromCharCode(b)
        : `\\0${b.toString(8).padStart(3, "0")}`
    }
    return `"$(printf '%b' '${escaped}')"`
  })
  return ["sh", "-c", `exec "$@" ${spelled.join(" ")}`, "sh"]
}

export interface Exited {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

export interface Running {
  readonly child: ChildProcess
  readonly pid: number
  /** From the banner. */
  readonly scheme: "HTTP" | "HTTPS"
  readonly host: string
  readonly port: number
  readonly banner: string
  readonly stdout: () => string
  readonly stderr: () => string
  /** Resolves when the process has exited. */
  readonly exited: Promise<Exited>
}

const BANNER = /^Serving (HTTPS?) on (\S+) port (\d+) \((https?):\/\/(\S+):(\d+)\/\) \.\.\.\n/

const launch = (args: ReadonlyArray<string>, options: SpawnOptions) => {
  const node = options.maxDescriptors === undefined
    ? [...(options.wrapper ?? []), process.execPath, bin, ...args]
    : ["prlimit", `--nofile=${options.maxDescriptors}`, "--", ...(options.wrapper ?? []), process.execPath, bin, ...args]
  const [command, argv] = options.dropCapabilities === true
    ? ["setpriv", ["--inh-caps=-all", "--bounding-set=-all", "--", ...node]] as const
    : [node[0]!, node.slice(1)] as const
  const child = spawn(command, argv, { cwd: options.cwd ?? root, stdio: ["ignore", "pipe", "pipe"] })
  let stdout = ""
  let stderr = ""
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk))
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
  const exited = new Promise<Exited>((resolve) => {
    child.once("close", (code, signal) => resolve({ code, signal, stdout, stderr }))
  })
  return { child, exited, stdout: () => stdout, stderr: () => stderr }
}

/** Runs to completion (help, version, start-up failures). */
export const runToExit = (
  args: ReadonlyArray<string>,
  options: SpawnOptions = {}
): Effect.Effect<Exited, Error, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => launch(args, options)),
    ({ child }) => Effect.sync(() => child.exitCode === null && child.signalCode === null && child.kill("SIGKILL"))
  ).pipe(
    Effect.flatMap(({ exited }) => Effect.promise(() => exited)),
    Effect.timeoutFail({ duration: "20 seconds", onTimeout: () => new Error(`effect-httpd ${args.join(" ")} did not exit`) })
  )

/** Starts a server and waits for its banner; the process is killed (SIGKILL) when the scope closes, if still alive. */
export const start = (
  args: ReadonlyArray<string>,
  options: SpawnOptions = {}
): Effect.Effect<Running, Error, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => launch(args, options)),
    ({ child }) => Effect.sync(() => child.exitCode === null && child.signalCode === null && child.kill("SIGKILL"))
  ).pipe(
    Effect.flatMap(({ child, exited, stderr, stdout }) =>
      Effect.async<Running, Error>((resume) => {
        let done = false
        const check = () => {
          const match = BANNER.exec(stdout())
          if (match === null || done) return
          done = true
          child.stdout!.off("data", check)
          resume(Effect.succeed({
            child,
            pid: child.pid!,
            scheme: match[1] as "HTTP" | "HTTPS",
            host: match[2]!,
            port: Number(match[3]),
            banner: match[0],
            stdout,
            stderr,
            exited
          }))
        }
        child.stdout!.on("data", check)
        void exited.then((exit) => {
          if (done) return
          done = true
          resume(Effect.fail(new Error(`effect-httpd exited (${exit.code ?? exit.signal}) before serving: ${exit.stderr}`)))
        })
      })
    ),
    Effect.timeoutFail({ duration: "20 seconds", onTimeout: () => new Error(`effect-httpd ${args.join(" ")}: no banner`) })
  )

/** Sends a signal and waits for the exit. */
export const stop = (server: Running, signal: NodeJS.Signals = "SIGINT"): Effect.Effect<Exited, Error> =>
  Effect.sync(() => server.child.kill(signal)).pipe(
    Effect.zipRight(Effect.promise(() => server.exited)),
    Effect.timeoutFail({ duration: "15 seconds", onTimeout: () => new Error(`effect-httpd did not stop on ${signal}`) })
  )

export interface Reply {
  readonly status: number
  readonly headers: Http.IncomingHttpHeaders
  readonly body: string
}

/** A GET over loopback with Node's client (`https` without certificate checks for our self-signed ones). */
export const get = (url: string): Effect.Effect<Reply, Error> =>
  Effect.async<Reply, Error>((resume) => {
    const client = url.startsWith("https:") ? Https : Http
    const request = client.get(url, { rejectUnauthorized: false, agent: false }, (response) => {
      let body = ""
      response.setEncoding("utf8")
      response.on("data", (chunk: string) => (body += chunk))
      response.on("end", () => resume(Effect.succeed({ status: response.statusCode!, headers: response.headers, body })))
      response.on("error", (error) => resume(Effect.fail(error)))
    })
    request.on("error", (error) => resume(Effect.fail(error)))
    return Effect.sync(() => request.destroy())
  }).pipe(Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => new Error(`GET ${url} timed out`) }))

/** Whether a TCP connection to host:port is refused (the listener is closed). */
export const refused = (host: string, port: number): Effect.Effect<boolean> =>
  Effect.async<boolean>((resume) => {
    const socket = Net.connect({ host, port })
    socket.once("connect", () => {
      socket.destroy()
      resume(Effect.succeed(false))
    })
    socket.once("error", (error: NodeJS.ErrnoException) => resume(Effect.succeed(error.code === "ECONNREFUSED")))
    return Effect.sync(() => socket.destroy())
  })

/** Whether this machine can listen on the IPv6 loopback. */
export const hasIpv6Loopback = (): Promise<boolean> =>
  new Promise((resolve) => {
    const server = Net.createServer()
    server.once("error", () => resolve(false))
    server.listen({ host: "::1", port: 0 }, () => server.close(() => resolve(true)))
  })

/**
 * Whether a new connection to 127.0.0.1:port goes unanswered: refused, or accepted and closed without a byte of
 * response (a stopping server may still hold its listening socket).
 */
export const notServed = (port: number): Effect.Effect<boolean> =>
  Effect.async<boolean>((resume) => {
    const socket = Net.connect({ host: "127.0.0.1", port })
    let answered = false
    socket.once("connect", () => socket.write("GET / HTTP/1.0\r\n\r\n"))
    socket.on("data", () => (answered = true))
    socket.once("error", () => {})
    socket.once("close", () => resume(Effect.succeed(!answered)))
    return Effect.sync(() => socket.destroy())
  })

/** A GET of `/big.bin` whose reader can be paused, counting body bytes. */
export const slowDownload = (port: number) => {
  const socket = Net.connect({ host: "127.0.0.1", port })
  let head = ""
  let headLength = -1
  let received = 0
  socket.on("data", (chunk: Buffer) => {
    received += chunk.length
    if (headLength < 0) {
      head += chunk.toString("latin1")
      const end = head.indexOf("\r\n\r\n")
      if (end >= 0) headLength = end + 4
    }
  })
  socket.on("error", () => {})
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()))
  socket.write("GET /big.bin HTTP/1.0\r\n\r\n")
  return {
    socket,
    head: () => head,
    started: () => headLength >= 0,
    bodyBytes: () => received - Math.max(headLength, 0),
    closed
  }
}

/** An `effect-httpd --stdio` process: its standard input to write to, its standard output as raw bytes. */
export interface StdioProcess {
  readonly child: ChildProcess
  readonly stdout: () => Buffer
  readonly stderr: () => string
  readonly exited: Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>
}

/** Starts `effect-httpd --stdio ARGS` with piped standard streams; killed when the scope closes if still running. */
export const startStdio = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv = {}): Effect.Effect<StdioProcess, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const child = spawn(process.execPath, [bin, "--stdio", ...args], {
        cwd: root,
        stdio: ["pipe", "pipe", "pipe"],
        env: { ...process.env, ...env }
      })
      const out: Array<Buffer> = []
      let stderr = ""
      child.stdout!.on("data", (chunk: Buffer) => out.push(chunk))
      child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
      // The server may exit (Connection: close) before the test stops writing.
      child.stdin!.on("error", () => {})
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
        child.once("close", (code, signal) => resolve({ code, signal }))
      })
      return { child, stdout: () => Buffer.concat(out), stderr: () => stderr, exited }
    }),
    ({ child }) => Effect.sync(() => child.exitCode === null && child.signalCode === null && child.kill("SIGKILL"))
  )
