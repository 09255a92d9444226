/**
 * The default path's wire rules over raw sockets: the `Connection` field a client is told (close to a keep-alive
 * asker we close, keep-alive to an HTTP/1.0 client we keep), and Python's body-only answer to an explicit
 * `HTTP/0.9` request line, compared byte for byte with `python3 -m http.server`.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as NodePath from "node:path"
import { connectionOptions } from "../src/internal/connectionOptions.js"
import { bodyOnly, connectionField } from "../src/internal/persistence.js"
import { HTTP_0_9 } from "../src/Request.js"
import { pythonHttpServer } from "./support/pythonServer.js"
import { sendRaw } from "./support/rawClient.js"
import { headerValues, startStatic } from "./support/staticServer.js"

const root = Fs.mkdtempSync(NodePath.join(Os.tmpdir(), "effect-httpd-default-"))
Fs.writeFileSync(NodePath.join(root, "hello.txt"), "hello\n")
Fs.mkdirSync(NodePath.join(root, "dir"))

const v = (major: number, minor: number) => ({ major, minor, text: `HTTP/${major}.${minor}` })

describe("persistence rules", () => {
  it("connectionField: close to a keep-alive asker we close; keep-alive to an HTTP/1.0 client we keep", () => {
    for (const protocol11 of [false, true]) {
      expect(connectionField(v(1, 1), connectionOptions(["Keep-Alive"]), false, protocol11)).toEqual(["Connection", "close"])
      expect(connectionField(v(1, 0), connectionOptions(["keep-alive"]), false, protocol11)).toEqual(["Connection", "close"])
      expect(connectionField(v(1, 0), undefined, false, protocol11)).toBeUndefined()
      expect(connectionField(v(1, 0), connectionOptions(["keep-alive"]), true, protocol11)).toEqual(["Connection", "keep-alive"])
      expect(connectionField(v(1, 1), undefined, true, protocol11)).toBeUndefined()
    }
    // An HTTP/1.1 status line promises persistence to an HTTP/1.1 client: closing says so.
    expect(connectionField(v(1, 1), connectionOptions(["close"]), false, true)).toEqual(["Connection", "close"])
    expect(connectionField(v(1, 1), undefined, false, true)).toEqual(["Connection", "close"])
    expect(connectionField(v(1, 1), connectionOptions(["close"]), false, false)).toBeUndefined()
    // `close` wins: a client that listed both asked to close, and is not told again.
    expect(connectionField(v(1, 0), connectionOptions(["keep-alive, close"]), false, false)).toBeUndefined()
    expect(connectionField(v(1, 0), connectionOptions(["TE", "Keep-Alive"]), false, false)).toEqual(["Connection", "close"])
  })
  it("bodyOnly: the two-word line and an explicit HTTP/0.9, compared as text", () => {
    expect(bodyOnly(HTTP_0_9)).toBe(true)
    expect(bodyOnly(v(0, 9))).toBe(true)
    expect(bodyOnly({ major: 0, minor: 9, text: "HTTP/00.9" })).toBe(false)
    expect(bodyOnly(v(1, 0))).toBe(false)
    expect(bodyOnly(undefined)).toBe(false)
  })
})

const raw = (port: number, request: string, headRequests: ReadonlyArray<boolean> = [false]) =>
  sendRaw({ port, chunks: [request], headRequests, timeoutMs: 5_000 })

describe("Connection field over real sockets", () => {
  it.scopedLive("default mode: a keep-alive asker is told close, and the connection closes", () =>
    Effect.gen(function*() {
      const server = yield* startStatic({ directory: root })
      const port = server.address.port
      for (const version of ["HTTP/1.1", "HTTP/1.0"]) {
        const exchange = yield* raw(port, `GET /hello.txt ${version}\r\nHost: localhost\r\nConnection: Keep-Alive\r\n\r\n`)
        expect(exchange.closedByServer).toBe(true)
        expect(exchange.responses.length).toBe(1)
        expect(headerValues(exchange.responses[0]!, "connection")).toEqual(["close"])
      }
      // A client that asked nothing is told nothing (Python's bytes).
      const plain = yield* raw(port, "GET /hello.txt HTTP/1.0\r\n\r\n")
      expect(headerValues(plain.responses[0]!, "connection")).toEqual([])
      // A listing (answered by a fiber) and a 404 too.
      const listing = yield* raw(port, "GET /dir/ HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n")
      expect(headerValues(listing.responses[0]!, "connection")).toEqual(["close"])
      const missing = yield* raw(port, "GET /nope HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n")
      expect(headerValues(missing.responses[0]!, "connection")).toEqual(["close"])
    }))

  it.scopedLive("-p HTTP/1.1: an HTTP/1.0 keep-alive client is told keep-alive and gets both answers on one connection", () =>
    Effect.gen(function*() {
      const server = yield* startStatic({ directory: root }, { protocolVersion: "HTTP/1.1" })
      const request = "GET /hello.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
      const exchange = yield* sendRaw({
        port: server.address.port,
        chunks: [request + request],
        until: { responses: 2 },
        timeoutMs: 5_000
      })
      expect(exchange.closedByServer).toBe(false)
      expect(exchange.responses.length).toBe(2)
      for (const response of exchange.responses) expect(headerValues(response, "connection")).toEqual(["keep-alive"])
      // An HTTP/1.1 client keeps its default without being told.
      const eleven = yield* sendRaw({
        port: server.address.port,
        chunks: ["GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"],
        until: { responses: 1 },
        timeoutMs: 5_000
      })
      expect(headerValues(eleven.responses[0]!, "connection")).toEqual([])
      // One that asked to close is told it is closed (wrk otherwise writes its next request into the closing socket).
      const closing = yield* raw(server.address.port, "GET /hello.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
      expect(closing.closedByServer).toBe(true)
      expect(headerValues(closing.responses[0]!, "connection")).toEqual(["close"])
    }))
})

describe("an explicit HTTP/0.9 request line", () => {
  it.scopedLive("is answered with the body alone, byte for byte as Python", () =>
    Effect.gen(function*() {
      const python = yield* pythonHttpServer({ directory: root })
      const server = yield* startStatic({ directory: root, pythonCompat: true })
      for (const request of ["GET /hello.txt HTTP/0.9\r\n\r\n", "GET /nope HTTP/0.9\r\n\r\n", "HEAD /hello.txt HTTP/0.9\r\n\r\n"]) {
        const theirs = yield* raw(python.port, request)
        const ours = yield* raw(server.address.port, request)
        expect(theirs.closedByServer).toBe(true)
        expect(ours.closedByServer).toBe(true)
        expect(ours.bytes.toString("latin1")).toBe(theirs.bytes.toString("latin1"))
      }
      const body = yield* raw(server.address.port, "GET /hello.txt HTTP/0.9\r\n\r\n")
      expect(body.bytes.toString("latin1")).toBe("hello\n")
    }))
})
