/**
 * `effect-httpd --workers N` as a user runs it (`node bin/effect-httpd.js`): N worker processes share one port
 * (port 0 too), the banner and farewell are printed once by the primary, access lines stay whole, stop signals
 * stop every worker gracefully, and a worker that dies is reported. Loopback only; only processes started here
 * are signalled.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { execFileSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as NodePath from "node:path"
import { makeBackoff } from "../src/internal/backoff.js"
import { chunkLines } from "../src/internal/lineLog.js"
import { ensureBuilt, get, refused, slowDownload, start } from "./support/cliProcess.js"

const BIG = 32 * 1024 * 1024
const tmp = Fs.mkdtempSync(NodePath.join(Os.tmpdir(), "effect-httpd-cluster-"))
const FAREWELL = "\nKeyboard interrupt received, exiting.\n"
const ACCESS_LINE = /^127\.0\.0\.1 - - \[\d\d\/\w{3}\/\d{4} \d\d:\d\d:\d\d\] "GET \/hello\.txt\?n=\d+ HTTP\/1\.1" 200 -$/

beforeAll(() => {
  ensureBuilt()
  Fs.chmodSync(tmp, 0o755)
  Fs.writeFileSync(NodePath.join(tmp, "hello.txt"), "hello\n", { mode: 0o644 })
  Fs.writeFileSync(NodePath.join(tmp, "big.bin"), Buffer.alloc(BIG, 0x61), { mode: 0o644 })
}, 60_000)

afterAll(() => {
  Fs.rmSync(tmp, { recursive: true, force: true })
})

const eventually = (what: string, check: () => boolean, timeoutMs = 5_000) =>
  Effect.gen(function*() {
    const deadline = Date.now() + timeoutMs
    while (!check()) {
      if (Date.now() > deadline) return yield* Effect.die(new Error(`timed out waiting for: ${what}`))
      yield* Effect.sleep("25 millis")
    }
  })

const childrenOf = (pid: number): Array<number> => {
  try {
    return execFileSync("ps", ["--ppid", String(pid), "-o", "pid="], { encoding: "utf8" }).split("\n")
      .map((line) => Number(line.trim())).filter((n) => n > 0)
  } catch {
    return [] // ps exits 1 when there are none
  }
}

/** Established IPv4 connections on local `port` whose socket `pid` holds (from /proc: fd inodes × /proc/net/tcp). */
const connectionsHeldBy = (pid: number, port: number): number => {
  const inodes = new Set<string>()
  for (const fd of Fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(Fs.readlinkSync(`/proc/${pid}/fd/${fd}`))
      if (match !== null) inodes.add(match[1]!)
    } catch {
      // closed meanwhile
    }
  }
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0")
  return Fs.readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1).filter((line) => {
    const fields = line.trim().split(/\s+/)
    return fields.length > 9 && fields[1]!.endsWith(`:${hexPort}`) && fields[3] === "01" && inodes.has(fields[9]!)
  }).length
}

/** A keep-alive connection that has had one response to `GET /hello.txt?n=…`. */
const keepAlive = (port: number, n: number) =>
  Effect.acquireRelease(
    Effect.async<Net.Socket, Error>((resume) => {
      const socket = Net.connect({ host: "127.0.0.1", port })
      let got = ""
      socket.setEncoding("latin1")
      socket.on("data", (chunk: string) => {
        got += chunk
        if (got.endsWith("\r\n\r\nhello\n")) resume(Effect.succeed(socket))
      })
      socket.once("error", (error) => resume(Effect.fail(error)))
      socket.write(`GET /hello.txt?n=${n} HTTP/1.1\r\nHost: localhost\r\n\r\n`)
    }),
    (socket) => Effect.sync(() => socket.destroy())
  )

const args = (...extra: Array<string>) => ["--workers", "2", "-b", "127.0.0.1", "-d", tmp, "-p", "HTTP/1.1", ...extra, "0"]

describe("makeBackoff", () => {
  it("doubles from the initial delay up to the cap, and starts over after a quiet period", () => {
    const backoff = makeBackoff(100, 1000, 30_000)
    const delays = [0, 1, 2, 3, 4, 5].map((i) => backoff.next(i * 1000))
    expect(delays).toEqual([100, 200, 400, 800, 1000, 1000])
    expect(backoff.next(5000 + 30_000)).toBe(100)
    expect(backoff.next(5000 + 30_001)).toBe(200)
  })
})

describe("chunkLines", () => {
  it("keeps lines whole and chunks at most the limit, but for a longer line alone", () => {
    const lines = ["a".repeat(10), "b".repeat(10), "c".repeat(30), "d".repeat(5)].map((l) => l + "\n")
    const chunks = chunkLines(lines.join(""), 24)
    expect(chunks).toEqual([lines[0]! + lines[1]!, lines[2]!, lines[3]!])
    expect(chunkLines("", 24)).toEqual([])
  })
})

describe.concurrent("effect-httpd --workers 2", () => {
  it.scopedLive("two workers serve one port; banner once; every access line whole; SIGINT stops all, exit 0", () =>
    Effect.gen(function*() {
      const server = yield* start(args())
      const workers = childrenOf(server.pid)
      expect(workers).toHaveLength(2)
      // Round-robin hands connections to both workers: each holds some of eight open connections.
      yield* Effect.forEach(Array.from({ length: 8 }, (_, i) => i), (i) => keepAlive(server.port, i), { discard: true })
      for (const worker of workers) expect(connectionsHeldBy(worker, server.port)).toBeGreaterThan(0)
      expect(connectionsHeldBy(server.pid, server.port)).toBe(0)
      // Many concurrent requests: their lines from both workers must not be cut into each other.
      yield* Effect.forEach(
        Array.from({ length: 200 }, (_, i) => i + 8),
        (n) => get(`http://127.0.0.1:${server.port}/hello.txt?n=${n}`),
        { concurrency: 20, discard: true }
      )
      yield* eventually("208 access lines", () => server.stderr().split("\n").length > 208)
      const lines = server.stderr().trimEnd().split("\n")
      expect(lines).toHaveLength(208)
      for (const line of lines) expect(line).toMatch(ACCESS_LINE)
      expect(new Set(lines.map((line) => /n=(\d+)/.exec(line)![1])).size).toBe(208)
      server.child.kill("SIGINT")
      const exit = yield* Effect.promise(() => server.exited)
      expect(exit).toMatchObject({ code: 0, signal: null, stdout: server.banner + FAREWELL })
      expect(childrenOf(server.pid)).toEqual([])
      for (const worker of workers) expect(() => process.kill(worker, 0)).toThrow()
    }), 30_000)

  it.scopedLive("SIGINT with a download in flight: the response completes, then exit 0", () =>
    Effect.gen(function*() {
      const server = yield* start(args())
      const download = slowDownload(server.port)
      const socket = download.socket
      yield* Effect.addFinalizer(() => Effect.sync(() => socket.destroy()))
      yield* eventually("the response head", download.started)
      socket.pause()
      yield* Effect.sleep("200 millis")
      server.child.kill("SIGINT")
      yield* eventually("the farewell line", () => server.stdout().endsWith(FAREWELL))
      yield* Effect.sleep("300 millis")
      expect(server.child.exitCode).toBe(null)
      expect(download.bodyBytes()).toBeLessThan(BIG)
      socket.resume()
      yield* Effect.promise(() => download.closed)
      expect(download.head()).toMatch(/^HTTP\/1\.1 200 OK\r\n/)
      expect(download.bodyBytes()).toBe(BIG)
      const exit = yield* Effect.promise(() => server.exited)
      expect(exit).toMatchObject({ code: 0, signal: null, stdout: server.banner + FAREWELL })
      expect(exit.stderr).toMatch(/^127\.0\.0\.1 - - \[[^\]]+\] "GET \/big\.bin HTTP\/1\.0" 200 -\n$/)
      expect(yield* refused("127.0.0.1", server.port)).toBe(true)
    }), 30_000)

  it.scopedLive("a worker killed is reported and replaced; the port serves throughout; SIGTERM stops all, exit 0", () =>
    Effect.gen(function*() {
      const server = yield* start(args())
      const [first, second] = childrenOf(server.pid)
      process.kill(first!, "SIGKILL")
      yield* eventually("the report", () => server.stderr().includes(`worker ${first} killed by SIGKILL`))
      // The other worker serves while the replacement waits for its back-off.
      for (let i = 0; i < 4; i++) {
        expect((yield* get(`http://127.0.0.1:${server.port}/hello.txt`)).body).toBe("hello\n")
      }
      yield* eventually("a replacement", () => childrenOf(server.pid).length === 2 && /started in place/.test(server.stderr()))
      const replacement = childrenOf(server.pid).find((pid) => pid !== second)!
      expect(replacement).not.toBe(first)
      // Access lines aside, the primary's report.
      expect(server.stderr().split("\n").filter((line) => line.startsWith("effect-httpd:"))).toEqual([
        `effect-httpd: worker ${first} killed by SIGKILL; 1 still serving; restarting it in 100 ms`,
        `effect-httpd: worker ${replacement} started in place of ${first}`
      ])
      // The replacement takes its share of connections (round-robin) once it listens, and answers them.
      let held = 0
      for (let round = 0; round < 50 && held === 0; round++) {
        held = yield* Effect.scoped(Effect.zipRight(
          Effect.forEach([0, 1, 2, 3], (i) => keepAlive(server.port, i), { discard: true }),
          Effect.sync(() => connectionsHeldBy(replacement, server.port))
        ))
        if (held === 0) yield* Effect.sleep("100 millis")
      }
      expect(held).toBeGreaterThan(0)
      server.child.kill("SIGTERM")
      const exit = yield* Effect.promise(() => server.exited)
      expect(exit).toMatchObject({ code: 0, signal: null })
      expect(childrenOf(server.pid)).toEqual([])
      for (const worker of [second!, replacement]) expect(() => process.kill(worker, 0)).toThrow()
    }), 30_000)

  it.scopedLive("a worker killed again and again is replaced after a growing back-off; none during shutdown", () =>
    Effect.gen(function*() {
      const server = yield* start(args())
      const delays: Array<string> = []
      for (let round = 0; round < 3; round++) {
        const [victim] = childrenOf(server.pid)
        process.kill(victim!, "SIGKILL")
        yield* eventually("the report", () => server.stderr().includes(`worker ${victim} killed by SIGKILL`))
        delays.push(/worker \d+ killed by SIGKILL; 1 still serving; restarting it in (\d+) ms\n$/m.exec(
          server.stderr().split("\n").filter((line) => line.includes(`worker ${victim} `)).join("\n") + "\n"
        )?.[1] ?? "?")
        yield* eventually("a replacement", () => childrenOf(server.pid).length === 2, 10_000)
      }
      expect(delays).toEqual(["100", "200", "400"])
      // Killed while the primary is stopping: not replaced, and the stop still succeeds.
      const [victim] = childrenOf(server.pid)
      process.kill(victim!, "SIGKILL")
      yield* eventually("the report", () => server.stderr().includes(`worker ${victim} killed by SIGKILL`))
      server.child.kill("SIGTERM")
      const exit = yield* Effect.promise(() => server.exited)
      expect([exit.code, exit.stderr]).toEqual([0, expect.any(String)])
      expect(exit.stderr.match(/started in place of/g)).toHaveLength(3)
      expect(childrenOf(server.pid)).toEqual([])
    }), 30_000)

  it.scopedLive("a failure to listen is printed once, with the worker's status", () =>
    Effect.gen(function*() {
      const blocker = Net.createServer()
      yield* Effect.addFinalizer(() => Effect.sync(() => blocker.close()))
      const port = yield* Effect.async<number>((resume) => {
        blocker.listen({ host: "127.0.0.1", port: 0 }, () => resume(Effect.succeed((blocker.address() as Net.AddressInfo).port)))
      })
      const failed = yield* start(["--workers", "2", "-b", "127.0.0.1", "-d", tmp, String(port)]).pipe(Effect.flip)
      expect(failed.message).toContain(
        `effect-httpd: error: cannot listen on 127.0.0.1:${port}: address already in use (try another port, or 0 for a free one)\n`
      )
      expect(failed.message.match(/address already in use/g)).toHaveLength(1)
      expect(failed.message).toContain("exited (1) before serving")
    }), 30_000)
})
