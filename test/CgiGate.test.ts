/**
 * The CGI handler's gates, from the outside over real sockets with real scripts: a script's source is never sent
 * as a file however the path is spelled; `hideDotfiles` and `followSymlinks: false` apply to scripts; the number
 * of scripts running at once is capped. Each rule also has its unit test here.
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as FileSystem from "@effect/platform/FileSystem"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Scope } from "effect"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Path from "node:path"
import { underCgiDirectory, verifyScript } from "../src/internal/cgiGate.js"
import { makeProcessLimit } from "../src/internal/cgiLimit.js"
import { cgiServer, docRoot, get, header, request, scratchDir, waitFor } from "./support/cgiKit.js"

const MARKER = "SOURCE-MARKER-3f9a"
const HEAD = "printf 'Content-Type: text/plain\\r\\n\\r\\n'\n"
const script = (body: string) => ({ content: `#!/bin/sh\n# ${MARKER}\n${HEAD}${body}` })

const files = {
  "index.html": { content: "<p>index</p>", mode: 0o644 },
  "cgi-bin/env.sh": script("echo ran env\n"),
  "cgi-bin/.hidden.sh": script("echo ran hidden\n"),
  "cgi-bin/.private/x.sh": script("echo ran private\n"),
  "cgi-bin/sub/y.sh": script("echo ran sub\n"),
  "cgi-bin/show0.sh": script("echo \"ran $0\"\n"),
  "htbin/h.sh": script("echo ran htbin\n"),
  "cgi-binx/readme.txt": { content: "not cgi", mode: 0o644 },
  "docs/readme.txt": { content: "docs", mode: 0o644 }
} as const

/** A document root with links: a directory link and a file link into cgi-bin, a script link out of the root. */
const linkedRoot = () =>
  Effect.gen(function*() {
    const root = yield* docRoot(files)
    const outside = yield* scratchDir()
    Fs.writeFileSync(Path.join(outside, "evil.sh"), `#!/bin/sh\n${HEAD}echo ran outside\n`, { mode: 0o755 })
    Fs.chmodSync(Path.join(outside, "evil.sh"), 0o755)
    Fs.symlinkSync(Path.join(root, "cgi-bin"), Path.join(root, "scripts"))
    Fs.symlinkSync(Path.join(root, "cgi-bin", "env.sh"), Path.join(root, "env-link.sh"))
    Fs.symlinkSync(Path.join(outside, "evil.sh"), Path.join(root, "cgi-bin", "outside.sh"))
    Fs.symlinkSync("env.sh", Path.join(root, "cgi-bin", "inside.sh"))
    Fs.symlinkSync("show0.sh", Path.join(root, "cgi-bin", "show-link.sh"))
    Fs.symlinkSync(".hidden.sh", Path.join(root, "cgi-bin", "to-hidden.sh"))
    // An index page that is a link to a script: the directory would be answered with the script's text.
    Fs.mkdirSync(Path.join(root, "app"), { mode: 0o755 })
    Fs.symlinkSync(Path.join(root, "cgi-bin", "env.sh"), Path.join(root, "app", "index.html"))
    return root
  })

const withFs = <A, E>(effect: Effect.Effect<A, E, FileSystem.FileSystem | Scope.Scope>) =>
  Effect.provide(effect, NodeFileSystem.layer)

describe("underCgiDirectory (item 4's rule)", () => {
  it.scoped("is decided on the translated and the real path, however the target is spelled", () =>
    withFs(Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const root = yield* linkedRoot()
      const dirs = ["/cgi-bin", "/htbin"]
      const under = (target: string) => underCgiDirectory(fs, root, dirs, target)
      for (
        const target of [
          "/cgi-bin/env.sh#/../..",
          "/cgi-bin/env.sh",
          "/cgi-bin",
          "/cgi-bin/",
          "//cgi-bin//env.sh",
          "/./cgi-bin/./env.sh",
          "/x/../cgi-bin/env.sh",
          "/CGI-BIN/env.sh",
          "/Cgi-Bin/ENV.SH",
          "/cgi-bin%2fenv.sh",
          "/cgi%2Dbin/env.sh",
          "/%63gi-bin/env.sh",
          "/cgi-bin/env.sh?x=1",
          "/cgi-bin/env.sh;x",
          "/htbin/h.sh#",
          "/scripts/env.sh",
          "/scripts",
          "/env-link.sh"
        ]
      ) expect([target, yield* under(target)]).toEqual([target, true])
      expect(yield* underCgiDirectory(fs, root, dirs, "/app/", ["index.html"])).toBe(true)
      expect(yield* underCgiDirectory(fs, root, dirs, "/app/", ["index.htm"])).toBe(false)
      expect(yield* underCgiDirectory(fs, root, dirs, "/docs/", ["index.html"])).toBe(false)
      for (const target of ["/", "/index.html", "/cgi-binx/readme.txt", "/docs/readme.txt", "/cgi-bin.txt", "/missing"]) {
        expect([target, yield* under(target)]).toEqual([target, false])
      }
    })))
})

describe("verifyScript (item 5's rule)", () => {
  it.scoped("dot components refuse with hideDotfiles; links out of the root refuse without followSymlinks", () =>
    withFs(Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const root = yield* linkedRoot()
      const file = (name: string) => Path.join(root, "cgi-bin", name)
      const hide = { root, hideDotfiles: true, followSymlinks: true }
      const noFollow = { root, hideDotfiles: false, followSymlinks: false }
      const open = { root, hideDotfiles: false, followSymlinks: true }
      expect(yield* verifyScript(fs, hide, file(".hidden.sh"), "")).toBeUndefined()
      expect(yield* verifyScript(fs, hide, file(".private/x.sh"), "")).toBeUndefined()
      expect(yield* verifyScript(fs, hide, file("to-hidden.sh"), "")).toBeUndefined()
      expect(yield* verifyScript(fs, hide, file("env.sh"), "/.git/config")).toBeUndefined()
      expect(yield* verifyScript(fs, hide, file("env.sh"), "/a/b")).toBe(file("env.sh"))
      expect(yield* verifyScript(fs, noFollow, file("outside.sh"), "")).toBeUndefined()
      // The verified real path runs, not the link.
      expect(yield* verifyScript(fs, noFollow, file("inside.sh"), "")).toBe(Fs.realpathSync(file("env.sh")))
      expect(yield* verifyScript(fs, noFollow, file("missing.sh"), "")).toBeUndefined()
      expect(yield* verifyScript(fs, open, file("outside.sh"), "")).toBe(file("outside.sh"))
      expect(yield* verifyScript(fs, open, file(".hidden.sh"), "/.x")).toBe(file(".hidden.sh"))
    })))
})

describe("item 4: a script's source is never served as a file", () => {
  it.scopedLive("every spelling that misses is_cgi is refused (403) or runs the script; the source never leaves", () =>
    Effect.gen(function*() {
      const root = yield* linkedRoot()
      const { port } = yield* cgiServer({ directory: root })
      const refused = [
        "/cgi-bin/env.sh#/../..",
        "//cgi-bin/env.sh#/../..",
        "/./cgi-bin/env.sh#/../..",
        "/htbin/../cgi-bin/env.sh#/../..",
        "/cgi-bin/sub/../env.sh#/../..",
        "/cgi-bin/sub/y.sh#/../../..",
        "/htbin/h.sh#/../..",
        "/CGI-BIN/env.sh",
        "/cgi-bin",
        "/scripts/env.sh",
        "/scripts/",
        "/env-link.sh",
        "/app/"
      ]
      for (const target of refused) {
        for (const method of ["GET", "HEAD"]) {
          const res = yield* get(port, target, [], method)
          expect([method, target, res.status, res.statusLine]).toEqual([
            method,
            target,
            403,
            "HTTP/1.0 403 CGI directories are not served as files"
          ])
          expect(res.raw.toString("latin1")).not.toContain(MARKER)
        }
      }
      // Other spellings reach the script (it runs) or nothing: none returns its text.
      const others = [
        "/cgi-bin/env.sh%23/../..",
        "/cgi-bin/env.sh;/../..",
        "/cgi-bin/env.sh/",
        "/cgi-bin%2fenv.sh",
        "/cgi-bin/env.sh?x#/../..",
        "/cgi-bin/env.sh%2f..%2f..",
        "/cgi-bin/./env.sh",
        "/cgi-bin//env.sh",
        "/cgi-bin/env.sh#",
        "/cgi-bin/env.sh%00",
        "/%2e/cgi-bin/env.sh#/..",
        "/cgi-bin/%2e%2e/cgi-bin/env.sh#/.."
      ]
      for (const target of others) {
        const res = yield* get(port, target)
        expect([target, res.raw.toString("latin1").includes(MARKER)]).toEqual([target, false])
      }
      // Files outside the CGI directories are still served.
      expect((yield* get(port, "/docs/readme.txt")).body.toString()).toBe("docs")
      expect((yield* get(port, "/cgi-binx/readme.txt")).body.toString()).toBe("not cgi")
      expect((yield* get(port, "/cgi-bin/env.sh")).body.toString()).toBe("ran env\n")
    }), 30_000)

  it.effect("a spaFallback inside a CGI directory is refused at start", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(Effect.scoped(Effect.gen(function*() {
        const root = yield* docRoot(files)
        yield* cgiServer({ directory: root, spaFallback: "cgi-bin/env.sh" })
      })))
      expect(Exit.isFailure(exit) && String(exit.cause).includes("inside a CGI directory")).toBe(true)
    }))
})

describe("item 5: hideDotfiles and followSymlinks: false gate scripts", () => {
  it.scopedLive("dot scripts, dot directories and dot PATH_INFO answer 404 and do not run", () =>
    Effect.gen(function*() {
      const root = yield* linkedRoot()
      const hidden = yield* cgiServer({ directory: root, hideDotfiles: true })
      for (
        const target of [
          "/cgi-bin/.hidden.sh",
          "/cgi-bin/%2ehidden.sh",
          "/cgi-bin/%252ehidden.sh",
          "/cgi-bin/.private/x.sh",
          "/cgi-bin/%2Eprivate/x.sh",
          "/cgi-bin/to-hidden.sh",
          "/cgi-bin/env.sh/.git/config",
          "/cgi-bin/env.sh/%2egit/config"
        ]
      ) {
        const res = yield* get(hidden.port, target)
        expect([target, res.status]).toEqual([target, 404])
        expect(res.body.toString()).not.toContain("ran")
      }
      expect((yield* get(hidden.port, "/cgi-bin/env.sh/a/b")).body.toString()).toBe("ran env\n")
      // Without the option they run, as in Python.
      const open = yield* cgiServer({ directory: root })
      expect((yield* get(open.port, "/cgi-bin/%2ehidden.sh")).body.toString()).toBe("ran hidden\n")
    }), 30_000)

  it.scopedLive("a script linked out of the root answers 404; a link inside runs its verified real path", () =>
    Effect.gen(function*() {
      const root = yield* linkedRoot()
      const confined = yield* cgiServer({ directory: root, followSymlinks: false })
      const res = yield* get(confined.port, "/cgi-bin/outside.sh")
      expect(res.status).toBe(404)
      expect(res.body.toString()).not.toContain("ran outside")
      expect((yield* get(confined.port, "/cgi-bin/inside.sh")).body.toString()).toBe("ran env\n")
      expect((yield* get(confined.port, "/cgi-bin/show-link.sh")).body.toString()).toBe(
        `ran ${Fs.realpathSync(Path.join(root, "cgi-bin", "show0.sh"))}\n`
      )
      // Followed by default, as in Python.
      const open = yield* cgiServer({ directory: root })
      expect((yield* get(open.port, "/cgi-bin/outside.sh")).body.toString()).toBe("ran outside\n")
    }), 30_000)
})

describe("makeProcessLimit (item 15's rule)", () => {
  it.scopedLive("hands slots over in order, refuses beyond the line and after the wait, loses none on interruption", () =>
    Effect.gen(function*() {
      const limit = makeProcessLimit({ max: 1, maxWaiting: 2, wait: Duration.millis(300), retryAfter: 1 })
      const holder = yield* Scope.make()
      yield* Scope.extend(limit.acquire, holder)
      expect(limit.usage()).toEqual({ running: 1, waiting: 0 })
      const order: Array<string> = []
      const waiter = (name: string) =>
        Effect.scoped(Effect.zipRight(limit.acquire, Effect.sync(() => order.push(name)))).pipe(Effect.fork)
      const a = yield* waiter("a")
      const b = yield* waiter("b")
      yield* waitFor("two waiting", () => limit.usage().waiting === 2)
      const full = yield* Effect.flip(Effect.scoped(limit.acquire))
      expect(full.status).toBe(503)
      expect(full.headers).toEqual([["Retry-After", "1"]])
      yield* Fiber.interrupt(b)
      expect(limit.usage().waiting).toBe(1)
      yield* Scope.close(holder, Exit.void)
      yield* Fiber.join(a)
      expect(order).toEqual(["a"])
      expect(limit.usage()).toEqual({ running: 0, waiting: 0 })
      // A wait that expires is a 503 and leaves the line.
      const again = yield* Scope.make()
      yield* Scope.extend(limit.acquire, again)
      const late = yield* Effect.flip(Effect.scoped(limit.acquire))
      expect(late.status).toBe(503)
      expect(limit.usage()).toEqual({ running: 1, waiting: 0 })
      yield* Scope.close(again, Exit.void)
      expect(limit.usage()).toEqual({ running: 0, waiting: 0 })
    }))
})

/** The most `S` (start) lines not yet matched by `E` (end) lines, reading the log in order. */
const peak = (log: string): number => {
  let running = 0
  let most = 0
  for (const line of log.split("\n")) {
    if (line === "S") most = Math.max(most, ++running)
    else if (line === "E") running--
  }
  return most
}

describe("item 15: concurrent CGI processes are capped", () => {
  it.scopedLive("30 concurrent requests, maxProcesses 3: all answered, never more than 3 scripts at once", () =>
    Effect.gen(function*() {
      const scratch = yield* scratchDir()
      const log = Path.join(scratch, "log")
      Fs.writeFileSync(log, "")
      Fs.chmodSync(log, 0o666)
      const root = yield* docRoot({
        "cgi-bin/slow.sh": { content: `#!/bin/sh\necho S >> ${log}\n${HEAD}sleep 0.2\necho done\necho E >> ${log}\n` }
      })
      const { port } = yield* cgiServer({ directory: root, maxProcesses: 3 })
      const replies = yield* Effect.forEach(
        Array.from({ length: 30 }, (_, i) => i),
        (i) => get(port, `/cgi-bin/slow.sh?${i}`),
        { concurrency: "unbounded" }
      )
      for (const reply of replies) expect(reply.body.toString()).toBe("done\n")
      const text = Fs.readFileSync(log, "utf8")
      expect(text.match(/S/g)).toHaveLength(30)
      expect(peak(text)).toBe(3)
    }), 30_000)

  it.scopedLive("beyond the line a request gets 503 with Retry-After; a slot is freed when its client resets", () =>
    Effect.gen(function*() {
      const scratch = yield* scratchDir()
      const root = yield* docRoot({
        "cgi-bin/hang.sh": { content: `#!/bin/sh\n${HEAD}echo started\ntouch ${scratch}/$QUERY_STRING\nsleep 30\n` },
        "cgi-bin/quick.sh": { content: `#!/bin/sh\n${HEAD}echo quick\n` }
      })
      const { port } = yield* cgiServer({ directory: root, maxProcesses: 1, maxWaiting: 0 })
      let received = ""
      const socket = yield* Effect.acquireRelease(
        Effect.sync(() => {
          const s = Net.connect({ host: "127.0.0.1", port })
          s.on("error", () => {})
          s.on("data", (chunk) => (received += chunk.toString("latin1")))
          s.write("GET /cgi-bin/hang.sh?a HTTP/1.0\r\n\r\n")
          return s
        }),
        (s) => Effect.sync(() => s.destroy())
      )
      yield* waitFor("the first script", () => Fs.existsSync(`${scratch}/a`) && received.includes("started"))
      const busy = yield* get(port, "/cgi-bin/quick.sh")
      expect(busy.status).toBe(503)
      expect(header(busy, "Retry-After")).toBe("1")
      expect(busy.body.toString()).not.toContain("quick")
      // Static files are not counted.
      expect((yield* request(port, "GET / HTTP/1.0\r\n\r\n")).status).toBe(200)
      // A reset (a FIN alone is a half-close HTTP allows: the script then runs to its timeout).
      socket.resetAndDestroy()
      let reply = yield* get(port, "/cgi-bin/quick.sh")
      for (let i = 0; i < 100 && reply.status === 503; i++) {
        yield* Effect.sleep("50 millis")
        reply = yield* get(port, "/cgi-bin/quick.sh")
      }
      expect(reply.body.toString()).toBe("quick\n")
    }), 30_000)
})
