/**
 * Attack on issue 14 item 3 with `--cgi`: "a script whose name is not UTF-8 is not run" (README) held only because
 * its path, passed to `stat` and `spawn` as a string, became U+FFFD and named nothing. Where something has that
 * name, the server ran it instead: `/cgi-bin/s%ED%B3%A9.sh` ran `cgi-bin/s\ufffd.sh`, and under a served directory
 * whose own name is not UTF-8 (`/srv/\xe9root`) every script URL ran the script of the same name in
 * `/srv/\ufffdroot`, outside the served directory.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as NodeFs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { ensureBuilt, get, start } from "./support/cliProcess.js"

// CR LF: the script's output reaches the client as it is (Python's CGI), and Node's client wants CR LF.
const script = (says: string) => `#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n${says}\\n'\n`

const makeBase = Effect.acquireRelease(
  Effect.sync(() => {
    const base = NodeFs.realpathSync(NodeFs.mkdtempSync(Path.join(Os.tmpdir(), "effect-httpd-cgi-names-")))
    // Scripts run as nobody when the tests run as root.
    NodeFs.chmodSync(base, 0o755)
    return base
  }),
  (base) => Effect.sync(() => NodeFs.rmSync(base, { recursive: true, force: true }))
)

const tree = (root: Buffer, scripts: Record<string, string>) => {
  NodeFs.mkdirSync(Buffer.concat([root, Buffer.from("/cgi-bin")]), { recursive: true })
  for (const [name, says] of Object.entries(scripts)) {
    NodeFs.writeFileSync(Buffer.concat([root, Buffer.from("/cgi-bin/"), Buffer.from(name, "latin1")]), script(says), { mode: 0o755 })
  }
}

describe("--cgi: a script path that is not UTF-8 runs nothing else", () => {
  ensureBuilt()

  it.scopedLive("/cgi-bin/s%ED%B3%A9.sh does not run cgi-bin/s\\ufffd.sh", () =>
    Effect.gen(function*() {
      const base = yield* makeBase
      const root = Buffer.from(Path.join(base, "root"))
      tree(root, { "s\xe9.sh": "RAW", "s\xef\xbf\xbd.sh": "TWIN" })
      const server = yield* start(["-b", "127.0.0.1", "--cgi", "-d", root.toString(), "0"])
      const answer = yield* get(`http://127.0.0.1:${server.port}/cgi-bin/s%ED%B3%A9.sh`)
      expect([answer.status, answer.body]).toEqual([404, expect.stringContaining("No such CGI script")])
      // The twin still runs at its own URL.
      expect((yield* get(`http://127.0.0.1:${server.port}/cgi-bin/s%EF%BF%BD.sh`)).body).toBe("TWIN\n")
    }), 30_000)

  it.scopedLive("under /srv/\\xe9root, /cgi-bin/x.sh does not run /srv/\\ufffdroot/cgi-bin/x.sh", () =>
    Effect.gen(function*() {
      const base = yield* makeBase
      tree(Buffer.concat([Buffer.from(base + "/"), Buffer.from("\xe9root", "latin1")]), { "x.sh": "RAW" })
      tree(Buffer.from(Path.join(base, "\ufffdroot")), { "x.sh": "OUTSIDE" })
      for (const extra of [[], ["--no-follow-symlinks"], ["--no-dotfiles"]]) {
        const server = yield* start(["-b", "127.0.0.1", "--cgi", ...extra], {
          wrapper: ["sh", "-c", 'exec "$@" -d "$(printf "%b" "$0")" 0', `${base}/\\0351root`]
        })
        const answer = yield* get(`http://127.0.0.1:${server.port}/cgi-bin/x.sh`)
        expect([extra, answer.status, answer.body]).toEqual([extra, 404, expect.stringContaining("No such CGI script")])
      }
    }), 30_000)
})
