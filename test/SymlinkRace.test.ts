/**
 * `followSymlinks: false` against a local writer who keeps swapping names between an inside file and a link to
 * an outside one (issue 12, item 3). A check of the path before the open loses this race; the server must verify
 * what it opened. The writer is a real child process flipping with atomic renames while requests arrive over real
 * sockets, for plain files (small and streamed), an index page, a precompressed sibling and a listed directory.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { spawn } from "node:child_process"
import * as NodeFs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { sendRaw } from "./support/rawClient.js"
import { startStatic } from "./support/staticServer.js"

const BIG = 100 * 1024

const makeRaceTree = Effect.acquireRelease(
  Effect.sync(() => {
    const base = NodeFs.realpathSync(NodeFs.mkdtempSync(Path.join(Os.tmpdir(), "effect-httpd-race-")))
    const outside = Path.join(base, "outside")
    const root = Path.join(base, "public")
    NodeFs.mkdirSync(Path.join(outside, "dir"), { recursive: true })
    NodeFs.mkdirSync(Path.join(root, "dir.real"), { recursive: true })
    NodeFs.mkdirSync(Path.join(root, "idx"))
    NodeFs.writeFileSync(Path.join(outside, "small.txt"), "OUTSIDE-SECRET\n")
    NodeFs.writeFileSync(Path.join(outside, "big.txt"), "OUTSIDE-".repeat(BIG / 8))
    NodeFs.writeFileSync(Path.join(outside, "dir", "OUTSIDE-NAME.txt"), "x")
    NodeFs.writeFileSync(Path.join(outside, "dir", "inner.txt"), "OUTSIDE-INNER\n")
    NodeFs.writeFileSync(Path.join(root, "small.keep"), "inside\n")
    NodeFs.writeFileSync(Path.join(root, "big.keep"), "i".repeat(BIG))
    NodeFs.writeFileSync(Path.join(root, "idx.keep"), "inside index\n")
    NodeFs.writeFileSync(Path.join(root, "pc.txt"), "plain\n")
    NodeFs.writeFileSync(Path.join(root, "pc.keep"), "inside-gz")
    NodeFs.writeFileSync(Path.join(root, "dir.real", "inner.txt"), "inner\n")
    return { base, outside, root }
  }),
  ({ base }) => Effect.sync(() => NodeFs.rmSync(base, { recursive: true, force: true }))
)

/**
 * The writer: each round puts the inside version of every name in place (a hard link of the kept file, or a link
 * to the inside directory), then a link to the outside one, each by an atomic rename. Bounded: it stops by itself
 * after 300,000 rounds or 60 s, and the test kills it when done.
 */
const FLIPPER = `
const fs = require("node:fs"), path = require("node:path")
const [root, outside] = process.argv.slice(1)
const pairs = [
  ["small.txt", "small.keep", path.join(outside, "small.txt")],
  ["big.txt", "big.keep", path.join(outside, "big.txt")],
  ["idx/index.html", "idx.keep", path.join(outside, "small.txt")],
  ["pc.txt.gz", "pc.keep", path.join(outside, "small.txt")]
]
const tmp = path.join(root, "flip.tmp")
const put = (make, name) => { try { fs.rmSync(tmp, { force: true }); make(); fs.renameSync(tmp, path.join(root, name)) } catch {} }
const end = Date.now() + 60000
for (let round = 0; round < 300000 && Date.now() < end; round++) {
  for (const [name, keep, out] of pairs) {
    put(() => fs.linkSync(path.join(root, keep), tmp), name)
    put(() => fs.symlinkSync(out, tmp), name)
  }
  put(() => fs.symlinkSync("dir.real", tmp), "dir")
  put(() => fs.symlinkSync(path.join(outside, "dir"), tmp), "dir")
}
`

const startFlipper = (root: string, outside: string) =>
  Effect.acquireRelease(
    Effect.async<ReturnType<typeof spawn>>((resume) => {
      const child = spawn(process.execPath, ["-e", FLIPPER, root, outside], { stdio: "ignore" })
      // Started once the first round has put the names in place.
      const wait = () => NodeFs.existsSync(Path.join(root, "dir")) ? resume(Effect.succeed(child)) : setTimeout(wait, 5)
      wait()
    }),
    (child) => Effect.sync(() => child.exitCode === null && child.signalCode === null && child.kill("SIGKILL"))
  )

const TARGETS: ReadonlyArray<readonly [target: string, headers: string]> = [
  ["/small.txt", ""],
  ["/big.txt", ""],
  ["/idx/", ""],
  ["/pc.txt", "Accept-Encoding: gzip\r\n"],
  ["/dir/", ""],
  ["/dir/?format=json", "Accept: application/json\r\n"],
  // A directory on the way swapped, not the file itself.
  ["/dir/inner.txt", ""]
]

describe("--no-follow-symlinks against a writer swapping links (race)", () => {
  it.scopedLive("what was opened is what is checked: the outside content is never served, cache on and off", () =>
    Effect.gen(function*() {
      const { outside, root } = yield* makeRaceTree
      yield* startFlipper(root, outside)
      for (const cache of [{ settleMs: 0 }, false] as const) {
        const server = yield* startStatic({
          directory: root,
          cache,
          followSymlinks: false,
          precompressed: true,
          jsonListing: true
        }, { protocolVersion: "HTTP/1.1", keepAliveOnError: true })
        const port = server.address.port
        let served = 0
        let answered = 0
        // 2,100 requests per cache setting: 42 connections of 50 pipelined requests, 3 at a time.
        yield* Effect.forEach(Array.from({ length: 42 }, (_, i) => i), (connection) => {
          const requests = Array.from({ length: 50 }, (_, i) => TARGETS[(connection + i) % TARGETS.length]!)
          return Effect.map(
            sendRaw({
              port,
              chunks: [
                requests.map(([target, headers]) => `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n${headers}\r\n`)
                  .join("")
              ],
              until: { responses: requests.length },
              timeoutMs: 30_000
            }),
            (exchange) => {
              expect(exchange.bytes.toString("latin1")).not.toContain("OUTSIDE")
              answered += exchange.responses.length
              for (const response of exchange.responses) if (response.status === 200) served++
            }
          )
        }, { concurrency: 3, discard: true })
        // The race was run, not skipped: inside versions were served between the refusals.
        expect(answered).toBe(2100)
        expect(served).toBeGreaterThan(100)
      }
    }), 120_000)
})
