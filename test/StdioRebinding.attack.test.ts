/**
 * `--stdio` under socket activation (systemd `Accept=yes`, inetd): standard input and output are the accepted TCP
 * socket. Bound to a loopback address (`ListenStream=127.0.0.1:8080`, the usual local-only unit), the connection
 * is as exposed to DNS rebinding as the listener on 127.0.0.1 (a page on evil.example whose name now resolves to
 * 127.0.0.1), but the Host rule was never applied: the driver was given no local address, though the socket knows
 * it. A listener on the same address answers 403.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as NodePath from "node:path"
import * as TestKit from "../src/TestKit.js"
import { bin, ensureBuilt, root } from "./support/cliProcess.js"

/** One request over a loopback connection whose accepted socket is handed to `effect-httpd --stdio`, as inetd does. */
const activated = (dir: string, request: string) =>
  Effect.async<Buffer, Error>((resume) => {
    const server = Net.createServer({ pauseOnConnect: true }, (socket) => {
      const child = spawn(process.execPath, [bin, "--stdio", "-p", "HTTP/1.1", "-d", dir], {
        cwd: root,
        stdio: [socket, socket, "ignore"]
      })
      socket.destroy()
      child.once("error", (error) => resume(Effect.fail(error)))
      cleanups.push(() => child.exitCode === null && child.kill("SIGKILL"))
    })
    const cleanups: Array<() => void> = [() => server.close()]
    server.listen(0, "127.0.0.1", () => {
      const client = Net.connect((server.address() as Net.AddressInfo).port, "127.0.0.1")
      const chunks: Array<Buffer> = []
      cleanups.push(() => client.destroy())
      client.on("data", (chunk: Buffer) => chunks.push(chunk))
      client.on("error", () => {})
      client.on("close", () => resume(Effect.succeed(Buffer.concat(chunks))))
      client.write(request)
    })
    return Effect.sync(() => cleanups.forEach((cleanup) => cleanup()))
  }).pipe(Effect.timeoutFail({ duration: "15 seconds", onTimeout: () => new Error("no answer") }))

describe("--stdio on a socket-activated loopback connection", () => {
  it.live("applies the DNS-rebinding Host rule of its loopback address", () =>
    Effect.gen(function*() {
      ensureBuilt()
      const dir = Fs.mkdtempSync(NodePath.join(Os.tmpdir(), "stdio-rebind-"))
      Fs.writeFileSync(NodePath.join(dir, "secret.txt"), "secret\n")
      const rebound = yield* activated(dir, "GET /secret.txt HTTP/1.1\r\nHost: evil.example:8080\r\nConnection: close\r\n\r\n")
      expect(TestKit.parseResponses(rebound)[0]?.status).toBe(403)
      expect(rebound.toString("latin1")).not.toContain("secret\n")
      const local = yield* activated(dir, "GET /secret.txt HTTP/1.1\r\nHost: localhost:8080\r\nConnection: close\r\n\r\n")
      expect(TestKit.parseResponses(local)[0]?.status).toBe(200)
      Fs.rmSync(dir, { recursive: true, force: true })
    }), 40_000)
})
