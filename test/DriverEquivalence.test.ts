/**
 * The two drivers of the connection core are one model: random request sequences (GET/HEAD of static files, POST
 * bodies with Content-Length or chunked, keep-alive and close, HTTP/1.0 and 1.1, 100-continue, malformed input),
 * cut into random chunks, get byte-identical responses and the same access-log lines from `Server.serveStream` and
 * from a real loopback socket of `Server.make`. Only the clock is normalised (`Date` fields and log timestamps).
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import fc from "fast-check"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as NodePath from "node:path"
import * as AccessLog from "../src/AccessLog.js"
import * as Handler from "../src/Handler.js"
import { MimeTypes } from "../src/MimeTypes.js"
import * as Server from "../src/Server.js"
import * as StaticFiles from "../src/StaticFiles.js"
import { echoRoutes } from "./support/echoRoutes.js"
import { sendRaw } from "./support/rawClient.js"

const RUNS = 200

const options: Server.ServerOptions = {
  protocolVersion: "HTTP/1.1",
  limits: { maxHeaderLine: 512, maxHeaderBytes: 2048, maxBodyBytes: 4096 }
}

const makeRoot = (): string => {
  const root = Fs.mkdtempSync(NodePath.join(Os.tmpdir(), "drivers-"))
  Fs.writeFileSync(NodePath.join(root, "a.txt"), "hello, file\n")
  // Larger than the output high-water mark and a file read: backpressure on both drivers' write paths.
  Fs.writeFileSync(NodePath.join(root, "big.bin"), Buffer.alloc(300 * 1024, "0123456789abcdef"))
  Fs.mkdirSync(NodePath.join(root, "dir"))
  Fs.writeFileSync(NodePath.join(root, "dir", "b.html"), "<p>b</p>\n")
  return root
}

/** The handlers both drivers run: static files for GET/HEAD, the echo route for POST. */
const handlersLayer = (root: string) =>
  Layer.effect(
    Handler.Handlers,
    Effect.zipWith(StaticFiles.make({ directory: root }), Handler.make(echoRoutes), (files, echo) =>
      Handler.combine(files, { byMethod: new Map([["POST", echo.byMethod.get("POST")!]]), expectContinue: undefined }))
  ).pipe(Layer.provide(Layer.merge(NodeContext.layer, MimeTypes.layerWithoutFiles())))

const connectionField = fc.constantFrom<ReadonlyArray<string>>([], ["Connection: close"], ["Connection: keep-alive"])
const version = fc.constantFrom("HTTP/1.1", "HTTP/1.1", "HTTP/1.0")
const host = (v: string) => (v === "HTTP/1.1" ? ["Host: localhost"] : [])
const head = (line: string, fields: ReadonlyArray<string>) => [line, ...fields, "", ""].join("\r\n")

const getRequest = fc.record({
  method: fc.constantFrom("GET", "HEAD"),
  path: fc.constantFrom("/", "/a.txt", "/big.bin", "/dir", "/dir/", "/dir/b.html", "/missing", "/a.txt?x=1", "/%2e%2e/"),
  version,
  connection: connectionField
}).map(({ connection, method, path, version }) => head(`${method} ${path} ${version}`, [...host(version), ...connection]))

const postRequest = fc.record({
  body: fc.string({ maxLength: 300 }),
  chunkedSizes: fc.option(fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 6 })),
  expect: fc.boolean(),
  connection: connectionField
}).map(({ body, chunkedSizes, connection, expect }) => {
  const fields = ["Host: localhost", ...connection, ...(expect ? ["Expect: 100-continue"] : [])]
  if (chunkedSizes === null) return head("POST /echo HTTP/1.1", [...fields, `Content-Length: ${Buffer.byteLength(body)}`]) + body
  const bytes = Buffer.from(body)
  let encoded = ""
  let at = 0
  for (let i = 0; at < bytes.length; i++) {
    const size = Math.min(chunkedSizes[i % chunkedSizes.length]!, bytes.length - at)
    encoded += `${size.toString(16)}\r\n${bytes.toString("latin1", at, at + size)}\r\n`
    at += size
  }
  return head("POST /echo HTTP/1.1", [...fields, "Transfer-Encoding: chunked"]) + encoded + "0\r\n\r\n"
})

const malformed = fc.constantFrom(
  "GARBAGE\r\n\r\n",
  "GET / HTTP/2.0\r\n\r\n",
  "GET / HTTP/1.1\r\n\r\n",
  "GET /\x01 HTTP/1.1\r\nHost: localhost\r\n\r\n",
  "GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length: abc\r\n\r\n",
  `GET / HTTP/1.1\r\nHost: localhost\r\nX-Long: ${"x".repeat(600)}\r\n\r\n`,
  "POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
  "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5000\r\n\r\n" + "y".repeat(5000),
  "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
  "PUT /a.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n",
  "GET / HTTP/1.1\r\nHost: localhost\r\n bad: folding\r\n\r\n"
)

/** A connection's input: requests, optionally cut short, split at random points. */
const connectionInput = fc.record({
  requests: fc.array(fc.oneof({ weight: 4, arbitrary: getRequest }, { weight: 3, arbitrary: postRequest }, {
    weight: 1,
    arbitrary: malformed
  }), { minLength: 1, maxLength: 5 }),
  truncate: fc.option(fc.integer({ min: 1, max: 40 }), { freq: 5 }),
  cuts: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 8 })
}).map(({ cuts, requests, truncate }) => {
  let bytes = Buffer.from(requests.join(""), "latin1")
  if (truncate !== null) bytes = bytes.subarray(0, Math.max(1, bytes.length - truncate))
  const points = [...new Set(cuts.map((c) => Math.floor(c * bytes.length)))].filter((p) => p > 0).sort((a, b) => a - b)
  const chunks: Array<Buffer> = []
  let at = 0
  for (const point of [...points, bytes.length]) {
    if (point > at) chunks.push(bytes.subarray(at, point))
    at = point
  }
  return chunks
})

/** The clock is the one thing that may differ between two runs. */
const undated = (raw: string) => raw.replace(/\r\nDate: [^\r]*/g, "\r\nDate: -")
const unstamped = (lines: ReadonlyArray<string>) => lines.map((line) => line.replace(/\[[^\]]*\]/, "[-]"))

describe("the Stream driver and the socket driver", () => {
  it.live(`produce the same bytes and log lines for random request sequences (fast-check, ${RUNS} runs)`, () =>
    Effect.gen(function*() {
      const root = makeRoot()
      yield* Effect.addFinalizer(() => Effect.sync(() => Fs.rmSync(root, { recursive: true, force: true })))
      const lines: Array<string> = []
      const services = Layer.merge(handlersLayer(root), AccessLog.layerCollect(lines))
      const context = yield* Layer.build(services)
      const server = yield* Server.make({ ...options, port: 0 }).pipe(Effect.provide(context))

      const viaStream = (chunks: ReadonlyArray<Buffer>) =>
        Stream.runCollect(
          Server.serveStream(Stream.fromIterable(chunks.map((c) => new Uint8Array(c))), {
            ...options,
            remoteAddress: "127.0.0.1",
            localAddress: "127.0.0.1"
          })
        ).pipe(
          Effect.map((out) => Buffer.concat(Chunk.toReadonlyArray(out)).toString("latin1")),
          Effect.provide(context)
        )
      const viaSocket = (chunks: ReadonlyArray<Buffer>) =>
        Effect.gen(function*() {
          const exchange = yield* sendRaw({ port: server.address.port, chunks, halfClose: true, timeoutMs: 10_000 })
          expect(exchange.timedOut).toBe(false)
          // The log's last line may follow the close by a turn.
          for (let i = 0; i < 100 && server.activeConnections() > 0; i++) yield* Effect.sleep("5 millis")
          return exchange.bytes.toString("latin1")
        })
      const collect = <A, E>(effect: Effect.Effect<A, E>) =>
        Effect.gen(function*() {
          lines.length = 0
          const result = yield* effect
          return { result, lines: unstamped(lines) }
        })

      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(connectionInput, (chunks) =>
            Effect.runPromise(Effect.gen(function*() {
              const stream = yield* collect(viaStream(chunks))
              const socket = yield* collect(viaSocket(chunks))
              expect(undated(stream.result)).toBe(undated(socket.result))
              expect(stream.lines).toEqual(socket.lines)
            }))
          ),
          { numRuns: RUNS }
        )
      )
    }).pipe(Effect.scoped), 60_000)
})
