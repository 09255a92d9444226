/**
 * `effect-httpd --stdio`: the built executable serving one connection on its standard input and output, as inetd,
 * systemd (`Accept=yes`) or an ssh forced command run it.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as NodePath from "node:path"
import { peerFromEnvironment } from "../src/internal/cliStdio.js"
import * as TestKit from "../src/TestKit.js"
import { ensureBuilt, runToExit, startStdio } from "./support/cliProcess.js"

const makeRoot = () => {
  const root = Fs.mkdtempSync(NodePath.join(Os.tmpdir(), "stdio-"))
  Fs.writeFileSync(NodePath.join(root, "a.txt"), "hello over stdio\n")
  return root
}

/** Polls until `check` holds (bounded: a broken server fails the test rather than hanging it). */
const waitUntil = (check: () => boolean) =>
  Effect.gen(function*() {
    for (let i = 0; i < 400 && !check(); i++) yield* Effect.sleep("25 millis")
    expect(check()).toBe(true)
  })

const exitOf = (exited: Promise<{ readonly code: number | null }>) =>
  Effect.promise(() => exited).pipe(Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => new Error("no exit") }))

describe("effect-httpd --stdio", () => {
  it.scopedLive("serves a keep-alive sequence on stdin/stdout, logs to stderr only, exits after Connection: close", () =>
    Effect.gen(function*() {
      ensureBuilt()
      const root = makeRoot()
      const server = yield* startStdio(["-p", "HTTP/1.1", "-d", root], { REMOTE_ADDR: "192.0.2.7", REMOTE_PORT: "5555" })
      server.child.stdin!.write("GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
      // One response at a time: the connection stays open between requests.
      yield* waitUntil(() => TestKit.parseResponses(server.stdout()).length === 1)
      server.child.stdin!.write("HEAD /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
      yield* waitUntil(() => TestKit.parseResponses(server.stdout(), [false, true]).length === 2)
      server.child.stdin!.write("GET /missing HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
      // The server ends the connection (and exits) while the client still holds its side open.
      const exit = yield* exitOf(server.exited)
      expect(exit.code).toBe(0)
      const raw = server.stdout()
      // Standard output is the wire: it starts with the first status line, no banner.
      expect(raw.toString("latin1")).toMatch(/^HTTP\/1\.1 200 OK\r\n/)
      const responses = TestKit.parseResponses(raw, [false, true, false])
      expect(responses.map((r) => r.status)).toEqual([200, 200, 404])
      expect(responses[0]!.body.toString()).toBe("hello over stdio\n")
      expect(responses[1]!.header("content-length")).toBe("17")
      expect(responses[2]!.header("connection")).toBe("close")
      const lines = server.stderr().trim().split("\n")
      expect(lines.filter((line) => line.startsWith("192.0.2.7 - - ["))).toHaveLength(4)
      expect(lines.some((line) => line.endsWith('"GET /missing HTTP/1.1" 404 -'))).toBe(true)
      Fs.rmSync(root, { recursive: true, force: true })
    }), 30_000)

  it.scopedLive("answers what came before the client's EOF, then exits 0; EOF inside a head just ends", () =>
    Effect.gen(function*() {
      ensureBuilt()
      const root = makeRoot()
      const whole = yield* startStdio(["-p", "HTTP/1.1", "-d", root])
      whole.child.stdin!.end("GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\nGET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
      expect((yield* exitOf(whole.exited)).code).toBe(0)
      expect(TestKit.parseResponses(whole.stdout()).map((r) => r.status)).toEqual([200, 200])
      const partial = yield* startStdio(["-p", "HTTP/1.1", "-d", root])
      partial.child.stdin!.end("GET /a.txt HTTP/1.1\r\nHo")
      expect((yield* exitOf(partial.exited)).code).toBe(0)
      expect(partial.stdout().toString("latin1")).not.toContain("200 OK")
      Fs.rmSync(root, { recursive: true, force: true })
    }), 30_000)

  it.scopedLive("refuses the listener's options", () =>
    Effect.gen(function*() {
      ensureBuilt()
      const exit = yield* runToExit(["--stdio", "--workers", "2"])
      expect(exit.code).toBe(2)
      expect(exit.stderr).toContain("argument --stdio: not allowed with argument --workers")
      expect(exit.stdout).toBe("")
      // A port would be silently ignored: there is no listener.
      const port = yield* runToExit(["--stdio", "8080"])
      expect(port.code).toBe(2)
      expect(port.stderr).toContain("argument --stdio: not allowed with argument port")
      expect(port.stdout).toBe("")
    }), 30_000)

  it("takes the client's address from the launcher's environment", () => {
    expect(peerFromEnvironment({ REMOTE_ADDR: "2001:db8::1", REMOTE_PORT: "4000" })).toEqual({ address: "2001:db8::1", port: 4000 })
    expect(peerFromEnvironment({ SSH_CLIENT: "198.51.100.2 52000 22" })).toEqual({ address: "198.51.100.2", port: 52000 })
    expect(peerFromEnvironment({})).toEqual({ address: "-", port: 0 })
  })
})
