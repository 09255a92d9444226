/**
 * Nagle's algorithm is turned off lazily (`ResponseWriter.noDelay`): a connection whose only write is one whole
 * response followed by its FIN (the default mode) skips the `setsockopt`; every other connection turns it off
 * before its second write, so no small segment ever waits behind unacknowledged data for the client's delayed ACK.
 * Checked on the server's own sockets (in this process) by recording the order of their writes to the kernel and
 * their `setNoDelay` calls, over real sockets.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as NodePath from "node:path"
import { sendRaw } from "./support/rawClient.js"
import { startStatic } from "./support/staticServer.js"

const root = Fs.mkdtempSync(NodePath.join(Os.tmpdir(), "effect-httpd-nagle-"))
Fs.writeFileSync(NodePath.join(root, "small.txt"), "hello\n")
Fs.writeFileSync(NodePath.join(root, "big.bin"), Buffer.alloc(300 * 1024, 0x61))
Fs.mkdirSync(NodePath.join(root, "dir"))

type Event = "write" | "nodelay"
/** Per server-side socket (its local port is a server's), its writes to the kernel and `setNoDelay(true)` calls. */
const events = new Map<Net.Socket, Array<Event>>()
const serverPorts = new Set<number>()
const proto = Net.Socket.prototype as unknown as {
  _writeGeneric: (...args: Array<unknown>) => unknown
  setNoDelay: (noDelay?: boolean) => Net.Socket
}
const originalWrite = proto._writeGeneric
const originalNoDelay = proto.setNoDelay
const record = (socket: Net.Socket, event: Event) => {
  if (socket.localPort === undefined || !serverPorts.has(socket.localPort)) return
  const list = events.get(socket) ?? []
  list.push(event)
  events.set(socket, list)
}

beforeAll(() => {
  proto._writeGeneric = function(this: Net.Socket, ...args: Array<unknown>) {
    record(this, "write")
    return originalWrite.apply(this, args)
  }
  proto.setNoDelay = function(this: Net.Socket, noDelay?: boolean) {
    if (noDelay !== false) record(this, "nodelay")
    return originalNoDelay.call(this, noDelay)
  }
})
afterAll(() => {
  proto._writeGeneric = originalWrite
  proto.setNoDelay = originalNoDelay
  Fs.rmSync(root, { recursive: true, force: true })
})

/** Sends `request` on a fresh connection and returns the server socket's events once the exchange is over. */
const exchange = (port: number, request: string, responses = 1) =>
  Effect.gen(function*() {
    events.clear()
    const result = yield* sendRaw({
      port,
      chunks: [request],
      headRequests: Array.from({ length: responses }, () => false),
      timeoutMs: 5_000
    })
    expect(result.responses.length).toBe(responses)
    const all = [...events.values()]
    expect(all.length).toBe(1)
    return all[0]!
  })

/** No second write before Nagle is off. */
const nagleOffBeforeSecondWrite = (list: ReadonlyArray<Event>) => {
  const second = list.indexOf("write", list.indexOf("write") + 1)
  if (second >= 0) expect(list.slice(0, second)).toContain("nodelay")
}

describe("Nagle's algorithm off before a second write, and only then", () => {
  it.scopedLive("default mode: a small file, a listing, a 404 are one write each and no setsockopt", () =>
    Effect.gen(function*() {
      const server = yield* startStatic({ directory: root })
      const port = server.address.port
      serverPorts.add(port)
      for (const target of ["/small.txt", "/dir/", "/nope"]) {
        const list = yield* exchange(port, `GET ${target} HTTP/1.1\r\nHost: localhost\r\n\r\n`)
        expect(list, target).toEqual(["write"])
      }
    }))

  it.scopedLive("default mode: a body written in pieces (300 KiB file) turns Nagle off before its second write", () =>
    Effect.gen(function*() {
      const server = yield* startStatic({ directory: root })
      const port = server.address.port
      serverPorts.add(port)
      const list = yield* exchange(port, "GET /big.bin HTTP/1.0\r\n\r\n")
      expect(list.filter((event) => event === "write").length).toBeGreaterThan(1)
      nagleOffBeforeSecondWrite(list)
    }))

  it.scopedLive("-p HTTP/1.1: keep-alive answers, pipelined or with 100 Continue, turn it off before the second", () =>
    Effect.gen(function*() {
      const server = yield* startStatic({ directory: root }, { protocolVersion: "HTTP/1.1" })
      const port = server.address.port
      serverPorts.add(port)
      const get = "GET /small.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"
      const last = "GET /small.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
      const pipelined = yield* exchange(port, get + get + last, 3)
      expect(pipelined.filter((event) => event === "write").length).toBe(3)
      nagleOffBeforeSecondWrite(pipelined)
      const continued = yield* exchange(
        port,
        "GET /small.txt HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\nContent-Length: 2\r\nConnection: close\r\n\r\nab",
        2
      )
      nagleOffBeforeSecondWrite(continued)
      expect(continued.filter((event) => event === "write").length).toBe(2)
    }))
})
