/**
 * Test kit for the CGI handler: a document root with scripts in a temp dir, a server on a free port, a raw HTTP
 * client that reads until the server closes, and process probes over /proc.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { Effect, Layer, type Scope } from "effect"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import * as AccessLog from "../../src/AccessLog.js"
import * as Cgi from "../../src/Cgi.js"
import { MimeTypes } from "../../src/MimeTypes.js"
import * as Server from "../../src/Server.js"

/** A file to create under the document root: content and mode (default 0o755). */
export interface FileSpec {
  readonly content: string
  readonly mode?: number
}

/**
 * A temp document root readable by `nobody` (scripts run as nobody when the tests run as root), removed when the
 * scope closes.
 */
export const docRoot = (files: Record<string, FileSpec | "dir">): Effect.Effect<string, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const root = Fs.mkdtempSync(Path.join(Os.tmpdir(), "cgi-test-"))
      Fs.chmodSync(root, 0o755)
      for (const [name, spec] of Object.entries(files)) {
        const file = Path.join(root, name)
        Fs.mkdirSync(Path.dirname(file), { recursive: true, mode: 0o755 })
        if (spec === "dir") Fs.mkdirSync(file, { recursive: true, mode: 0o755 })
        else {
          Fs.writeFileSync(file, spec.content)
          Fs.chmodSync(file, spec.mode ?? 0o755)
        }
      }
      // mkdirSync's mode is filtered by the umask; make every directory traversable for nobody.
      const walk = (dir: string): void => {
        Fs.chmodSync(dir, 0o755)
        for (const entry of Fs.readdirSync(dir, { withFileTypes: true })) {
          if (entry.isDirectory()) walk(Path.join(dir, entry.name))
        }
      }
      walk(root)
      return root
    }),
    (root) => Effect.sync(() => Fs.rmSync(root, { recursive: true, force: true }))
  )

/** A scratch directory writable by everyone (scripts running as nobody report their pid there). */
export const scratchDir = (): Effect.Effect<string, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "cgi-scratch-"))
      Fs.chmodSync(dir, 0o777)
      return dir
    }),
    (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
  )

/** A running CGI server and its collected log lines. */
export interface TestServer {
  readonly server: Server.Server
  readonly port: number
  readonly log: Array<string>
}

/** Starts a server with the CGI handler in the current scope. */
export const cgiServer = (
  options: Cgi.CgiOptions,
  serverOptions: Server.ServerOptions = {}
): Effect.Effect<TestServer, Server.ServeError, Scope.Scope> =>
  Effect.gen(function*() {
    const log: Array<string> = []
    const handlers = Cgi.layer(options).pipe(
      Layer.provide(Layer.merge(NodeContext.layer, MimeTypes.layerWithoutFiles()))
    )
    const server = yield* Server.make({ port: 0, ...serverOptions }).pipe(
      Effect.provide(Layer.merge(handlers, AccessLog.layerCollect(log)))
    )
    return { server, port: server.address.port, log }
  })

/** A response read until the server closed the connection. */
export interface RawResponse {
  readonly raw: Buffer
  readonly head: string
  readonly statusLine: string
  readonly status: number
  readonly headers: Array<[string, string]>
  readonly body: Buffer
}

/** Splits a raw response at the first blank line (CRLF CRLF or LF LF, as scripts may write either). */
export const parseRaw = (raw: Buffer): RawResponse => {
  const text = raw.toString("latin1")
  let end = text.indexOf("\r\n\r\n")
  let sep = 4
  const lf = text.indexOf("\n\n")
  if (end < 0 || (lf >= 0 && lf < end)) {
    end = lf
    sep = 2
  }
  const head = end < 0 ? text : text.slice(0, end)
  const lines = head.split(/\r?\n/)
  const statusLine = lines[0] ?? ""
  const headers = lines.slice(1).filter((l) => l !== "").map((l) => {
    const i = l.indexOf(":")
    return [l.slice(0, i), l.slice(i + 1).trim()] as [string, string]
  })
  return {
    raw,
    head,
    statusLine,
    status: Number(statusLine.split(" ")[1]),
    headers,
    body: end < 0 ? Buffer.alloc(0) : raw.subarray(end + sep)
  }
}

/** Looks a header up case-insensitively. */
export const header = (res: RawResponse, name: string): string | undefined =>
  res.headers.find(([n]) => n.toLowerCase() === name.toLowerCase())?.[1]

/** Sends bytes, half-closes nothing, and collects everything until the server closes the connection. */
export const request = (
  port: number,
  data: string | Buffer,
  timeoutMs = 10_000
): Effect.Effect<RawResponse, Error> =>
  Effect.async<RawResponse, Error>((resume) => {
    const socket = Net.connect({ host: "127.0.0.1", port })
    const chunks: Array<Buffer> = []
    const timer = setTimeout(() => {
      socket.destroy()
      resume(Effect.fail(new Error(`no close within ${timeoutMs} ms; got ${Buffer.concat(chunks).toString("latin1")}`)))
    }, timeoutMs)
    socket.on("connect", () => socket.write(data))
    socket.on("data", (c) => chunks.push(c))
    socket.on("error", () => {})
    socket.on("close", () => {
      clearTimeout(timer)
      resume(Effect.succeed(parseRaw(Buffer.concat(chunks))))
    })
    return Effect.sync(() => {
      clearTimeout(timer)
      socket.destroy()
    })
  })

/** `GET path HTTP/1.0` with optional extra header lines. */
export const get = (port: number, path: string, headers: ReadonlyArray<string> = [], method = "GET") =>
  request(port, `${method} ${path} HTTP/1.0\r\n${headers.map((h) => h + "\r\n").join("")}\r\n`)

/** The state of a process from /proc (`undefined` when it is gone; "Z" for a zombie). */
export const processState = (pid: number): string | undefined => {
  try {
    const stat = Fs.readFileSync(`/proc/${pid}/stat`, "latin1")
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0]
  } catch {
    return undefined
  }
}

/** Whether a process exists and is not a zombie. */
export const isAlive = (pid: number): boolean => {
  const state = processState(pid)
  return state !== undefined && state !== "Z"
}

/** Pids whose parent is this (test) process, zombies included. */
export const childPids = (): Array<number> => {
  const out: Array<number> = []
  for (const entry of Fs.readdirSync("/proc")) {
    if (!/^[0-9]+$/.test(entry)) continue
    try {
      const stat = Fs.readFileSync(`/proc/${entry}/stat`, "latin1")
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
      if (Number(fields[1]) === process.pid) out.push(Number(entry))
    } catch {
      // Gone meanwhile.
    }
  }
  return out
}

/** Polls until `predicate` holds, failing after `timeoutMs`. */
export const waitFor = (what: string, predicate: () => boolean, timeoutMs = 5_000): Effect.Effect<void, Error> =>
  Effect.gen(function*() {
    const start = Date.now()
    while (!predicate()) {
      if (Date.now() - start > timeoutMs) return yield* Effect.fail(new Error(`timed out waiting for ${what}`))
      yield* Effect.sleep("10 millis")
    }
  })

/** Reads a pid a script wrote to a file, waiting until it is there. */
export const readPid = (file: string, timeoutMs = 5_000): Effect.Effect<number, Error> =>
  Effect.gen(function*() {
    yield* waitFor(`pid file ${file}`, () => Fs.existsSync(file) && Fs.readFileSync(file, "utf8").endsWith("\n"), timeoutMs)
    return Number(Fs.readFileSync(file, "utf8").trim())
  })

/** Parses `KEY=value` lines (what `env` prints) into a record. */
export const parseEnv = (text: string): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const line of text.split("\n")) {
    const i = line.indexOf("=")
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1)
  }
  return out
}
