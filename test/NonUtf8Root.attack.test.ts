/**
 * Attack on issue 14 item 3 (names that are not UTF-8): the served directory itself. Node decodes the working
 * directory and the arguments as UTF-8, each invalid byte becoming U+FFFD, so `effect-httpd` started in
 * `/srv/\xe9root` (or with `-d` naming it) served `/srv/\ufffdroot` instead when that exists (a sibling anyone who
 * can write to `/srv` may create), and refused to start otherwise; `python3 -m http.server` serves the directory
 * it was given (`os.getcwd()` and `sys.argv` keep the bytes through `surrogateescape`).
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as NodeFs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { ensureBuilt, get, start } from "./support/cliProcess.js"

const makeTree = Effect.acquireRelease(
  Effect.sync(() => {
    const base = NodeFs.realpathSync(NodeFs.mkdtempSync(Path.join(Os.tmpdir(), "effect-httpd-root-")))
    const raw = Buffer.concat([Buffer.from(base + "/"), Buffer.from("\xe9root", "latin1")])
    NodeFs.mkdirSync(raw)
    NodeFs.writeFileSync(Buffer.concat([raw, Buffer.from("/f.txt")]), "the directory given\n")
    // The decoy: what the name becomes once its byte is read as U+FFFD.
    NodeFs.mkdirSync(Path.join(base, "\ufffdroot"))
    NodeFs.writeFileSync(Path.join(base, "\ufffdroot", "f.txt"), "another directory\n")
    return base
  }),
  (base) => Effect.sync(() => NodeFs.rmSync(base, { recursive: true, force: true }))
)

/** `sh` turns `\0351` into the byte 0xE9, which `spawn` (strings, written as UTF-8) cannot pass. */
const inRawDirectory = (base: string) => ["sh", "-c", 'cd "$(printf "%b" "$0")" && exec "$@"', `${base}/\\0351root`]
const withRawDirectory = (base: string, option: string) =>
  ["sh", "-c", `exec "$@" ${option}"$(printf "%b" "$0")" 0`, `${base}/\\0351root`]

const servedBody = (args: ReadonlyArray<string>, wrapper: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const server = yield* start(args, { wrapper })
    return (yield* get(`http://127.0.0.1:${server.port}/f.txt`)).body
  })

describe("the served directory's own name is not UTF-8", () => {
  ensureBuilt()

  it.scopedLive("started in it (no -d), the server serves it, not its U+FFFD twin", () =>
    Effect.gen(function*() {
      const base = yield* makeTree
      expect(yield* servedBody(["-b", "127.0.0.1", "0"], inRawDirectory(base))).toBe("the directory given\n")
    }), 30_000)

  it.scopedLive("-d with its absolute name", () =>
    Effect.gen(function*() {
      const base = yield* makeTree
      expect(yield* servedBody(["-b", "127.0.0.1"], withRawDirectory(base, "-d "))).toBe("the directory given\n")
    }), 30_000)

  it.scopedLive("--directory=NAME", () =>
    Effect.gen(function*() {
      const base = yield* makeTree
      expect(yield* servedBody(["-b", "127.0.0.1"], withRawDirectory(base, "--directory="))).toBe("the directory given\n")
    }), 30_000)

  it.scopedLive("-d with --workers 2: each worker serves it too", () =>
    Effect.gen(function*() {
      const base = yield* makeTree
      const server = yield* start(["-b", "127.0.0.1", "--workers", "2"], { wrapper: withRawDirectory(base, "-d ") })
      for (let i = 0; i < 4; i++) {
        expect((yield* get(`http://127.0.0.1:${server.port}/f.txt`)).body).toBe("the directory given\n")
      }
    }), 30_000)

  it.scopedLive("under it, --no-follow-symlinks still confines and --upload writes there", () =>
    Effect.gen(function*() {
      const base = yield* makeTree
      const raw = Buffer.concat([Buffer.from(base + "/"), Buffer.from("\xe9root", "latin1")])
      NodeFs.writeFileSync(Path.join(base, "secret.txt"), "secret\n")
      NodeFs.symlinkSync(Path.join(base, "secret.txt"), Buffer.concat([raw, Buffer.from("/out")]))
      NodeFs.symlinkSync("f.txt", Buffer.concat([raw, Buffer.from("/in")]))
      const server = yield* start(["-b", "127.0.0.1", "--no-follow-symlinks", "--upload"], {
        wrapper: withRawDirectory(base, "-d ")
      })
      const url = `http://127.0.0.1:${server.port}`
      expect((yield* get(`${url}/out`)).status).toBe(404)
      expect((yield* get(`${url}/in`)).body).toBe("the directory given\n")
      const put = yield* Effect.promise(() => fetch(`${url}/new.txt`, { method: "PUT", body: "up" }))
      expect(put.status).toBe(201)
      expect(NodeFs.readFileSync(Buffer.concat([raw, Buffer.from("/new.txt")]), "utf8")).toBe("up")
    }), 30_000)

  it.scopedLive("without the twin, the server starts (it refused: no such file)", () =>
    Effect.gen(function*() {
      const base = yield* makeTree
      NodeFs.rmSync(Path.join(base, "\ufffdroot"), { recursive: true })
      expect(yield* servedBody(["-b", "127.0.0.1"], withRawDirectory(base, "-d "))).toBe("the directory given\n")
    }), 30_000)
})
