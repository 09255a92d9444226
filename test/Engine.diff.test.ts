/**
 * Differential test of the engine's outcomes: the same raw requests go to `python3 -m http.server` and to our
 * server; status line, headers (Date and Server values masked) and bodies must be equal byte for byte.
 *
 * Deliberate differences are not in this list; they are asserted in Decoder.test.ts and listed in the README:
 * control bytes in the request line, non-token methods, malformed header lines (obs-fold, no colon, space before
 * the colon), Content-Length/Transfer-Encoding framing, and unread request bodies (Python would parse them as the
 * next request).
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as AccessLog from "../src/AccessLog.js"
import * as Handler from "../src/Handler.js"
import * as Response from "../src/Response.js"
import * as Server from "../src/Server.js"
import { normalizeForDiff } from "./support/compare.js"
import { pythonHttpServer } from "./support/pythonServer.js"
import { sendRaw } from "./support/rawClient.js"

const manyHeaders = (n: number) => Array.from({ length: n }, (_, i) => `X-H${i}: v\r\n`).join("")

const CASES: ReadonlyArray<readonly [name: string, request: string]> = [
  ["bad version text", "GET / HTTP/1.x\r\n\r\n"],
  ["version with two dots", "GET / HTTP/1.1.1\r\n\r\n"],
  ["version with a long component", "GET / HTTP/1.12345678901\r\n\r\n"],
  ["version without HTTP/", "GET / FTP/1.0\r\n\r\n"],
  ["HTTP/2.0", "GET / HTTP/2.0\r\n\r\n"],
  ["HTTP/3.5", "GET / HTTP/3.5\r\n\r\n"],
  ["one word", "GET\r\n\r\n"],
  ["four words", "GET / a HTTP/1.0\r\n\r\n"],
  ["four words, bad version", "GET / a b\r\n\r\n"],
  ["HTTP/0.9 POST", "POST /\r\n\r\n"],
  ["HTTP/0.9 SPAM", "SPAM /x\r\n\r\n"],
  ["unsupported method SPAM", "SPAM / HTTP/1.1\r\nHost: localhost\r\n\r\n"],
  ["unsupported method POST", "POST / HTTP/1.0\r\n\r\n"],
  ["lower-case get is another method", "get / HTTP/1.0\r\n\r\n"],
  ["unsupported method, HEAD-like", "HEADX / HTTP/1.0\r\n\r\n"],
  ["request line too long", `GET /${"a".repeat(70000)} HTTP/1.0\r\n\r\n`],
  ["header line too long", `GET / HTTP/1.0\r\nX-Long: ${"b".repeat(70000)}\r\n\r\n`],
  ["header line too long (HEAD: no page)", `HEAD / HTTP/1.0\r\nX-Long: ${"b".repeat(70000)}\r\n\r\n`],
  ["too many headers", `GET / HTTP/1.0\r\n${manyHeaders(100)}\r\n`],
  ["too many headers, HTTP/0.9", `GET /\r\n${manyHeaders(120)}\r\n`],
  ["empty request line", "\r\n"],
  ["blank request line of spaces", "   \r\n"],
  ["Expect: 100-continue on an unsupported method", "SPAM / HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\n\r\n"],
  ["escaped quotes in messages", "GET / HTTP/'1\"\r\n\r\n"],
  ["latin-1 bytes in messages", "GET / HTTP/\xe9\xa0\x85\r\n\r\n"],
  ["tabs between words", "SPAM\t/\tHTTP/1.0\r\n\r\n"]
]

const ourServer = (protocolVersion: "HTTP/1.0" | "HTTP/1.1") =>
  Server.make({ port: 0, protocolVersion }).pipe(
    Effect.provide(Layer.merge(
      // Like SimpleHTTPRequestHandler, only GET and HEAD exist; the cases never reach them.
      Handler.layer({ GET: () => Effect.succeed(Response.text("")), HEAD: () => Effect.succeed(Response.text("")) }),
      AccessLog.layerSilent
    ))
  )

describe("Engine vs python3 -m http.server", () => {
  for (const protocol of ["HTTP/1.0", "HTTP/1.1"] as const) {
    it.scopedLive(`error outcomes match byte for byte (${protocol})`, () =>
      Effect.gen(function*() {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "engine-diff-"))
        yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))
        const python = yield* pythonHttpServer({ directory: dir, protocol })
        const ours = yield* ourServer(protocol)
        for (const [name, request] of CASES) {
          const headRequests = [request.startsWith("HEAD ")]
          const ask = (port: number) => sendRaw({ port, chunks: [request], timeoutMs: 5000, headRequests })
          const [theirs, mine] = yield* Effect.all([ask(python.port), ask(ours.address.port)], { concurrency: 2 })
          const view = (ex: typeof theirs) => ({
            closed: ex.closedByServer,
            responses: ex.responses.map((r) => normalizeForDiff(r)),
            rest: ex.rest.toString("latin1")
          })
          expect({ name, ...view(mine) }).toEqual({ name, ...view(theirs) })
        }
      }), 60_000)
  }
})
