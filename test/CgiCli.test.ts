/**
 * `--cgi-max-processes` and `--cgi-timeout`: validation, and their effect on the real executable with real scripts
 * (loopback only; only processes started here are signalled).
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as NodePath from "node:path"
import * as Cli from "../src/Cli.js"
import { docRoot, isAlive, readPid, request, scratchDir, waitFor } from "./support/cgiKit.js"
import { rawOptions } from "./support/cliOptions.js"
import { ensureBuilt, runToExit, start } from "./support/cliProcess.js"

const validate = (options: Cli.RawOptions) => Cli.validate(options, "/srv", (from, to) => NodePath.resolve(from, to))
const HEAD = "printf 'Content-Type: text/plain\\r\\n\\r\\n'\n"

describe("--cgi-max-processes and --cgi-timeout: validation", () => {
  it.effect("need --cgi, take a count from 1 to 4096 and positive seconds up to a day", () =>
    Effect.gen(function*() {
      const config = yield* validate(rawOptions({
        cgi: true,
        cgiMaxProcesses: Option.some("16"),
        cgiTimeout: Option.some("2.5")
      }))
      expect(config).toMatchObject({ cgiMaxProcesses: 16, cgiTimeout: 2.5 })
      const plain = yield* validate(rawOptions({ cgi: true }))
      expect(plain.cgiMaxProcesses).toBeUndefined()
      expect(plain.cgiTimeout).toBeUndefined()
      expect(yield* Effect.flip(validate(rawOptions({ cgiMaxProcesses: Option.some("4") })))).toMatchObject({
        kind: "Usage",
        message: "--cgi-max-processes requires --cgi to be set"
      })
      expect(yield* Effect.flip(validate(rawOptions({ cgiTimeout: Option.some("4") })))).toMatchObject({
        kind: "Usage",
        message: "--cgi-timeout requires --cgi to be set"
      })
      for (const value of ["0", "-1", "1.5", "4097", "", "abc", "0x10", "1e3"]) {
        const bad = yield* Effect.flip(validate(rawOptions({ cgi: true, cgiMaxProcesses: Option.some(value) })))
        expect(bad).toMatchObject({
          kind: "Usage",
          message: `argument --cgi-max-processes: invalid count '${value}' (an integer from 1 to 4096)`
        })
      }
      for (const value of ["0", "0.0", "-5", "86401", "", "abc", "1e3", "Infinity", " 5"]) {
        const bad = yield* Effect.flip(validate(rawOptions({ cgi: true, cgiTimeout: Option.some(value) })))
        expect(bad).toMatchObject({
          kind: "Usage",
          message: `argument --cgi-timeout: invalid duration '${value}' (seconds, more than 0 and at most 86400)`
        })
      }
    }))
})

describe.concurrent("--cgi-max-processes and --cgi-timeout: the executable", () => {
  it.scopedLive("--help describes both with an example; a bad value is a usage error (exit 2)", () =>
    Effect.gen(function*() {
      ensureBuilt()
      const help = yield* runToExit(["--help"])
      const options = help.stdout.slice(help.stdout.indexOf("\nOPTIONS\n"))
      for (const [option, example] of [["--cgi-max-processes N", "--cgi-max-processes 16"], ["--cgi-timeout SECONDS", "--cgi-timeout 30"]]) {
        const at = options.indexOf(option!)
        expect(at, option).toBeGreaterThan(0)
        expect(options.slice(at, options.indexOf("This setting", at)), option).toContain(`Example: ${example}`)
      }
      const bad = yield* runToExit(["--cgi", "--cgi-timeout", "0", "0"])
      expect(bad).toMatchObject({
        code: 2,
        stderr: "effect-httpd: error: argument --cgi-timeout: invalid duration '0' (seconds, more than 0 and at most 86400)\n"
      })
    }), 30_000)

  it.scopedLive("--cgi-timeout 1 kills a script whose client half-closed (FIN) after a second, not five minutes", () =>
    Effect.gen(function*() {
      ensureBuilt()
      const scratch = yield* scratchDir()
      const root = yield* docRoot({
        "cgi-bin/hang.sh": { content: `#!/bin/sh\n${HEAD}echo started\necho $$ > ${scratch}/pid\nexec sleep 300\n` }
      })
      const server = yield* start(["-b", "127.0.0.1", "-d", root, "--cgi", "--cgi-timeout", "1", "0"])
      // Request, then FIN: a client that is done sending, still reading.
      yield* Effect.acquireRelease(
        Effect.sync(() => {
          const s = Net.connect({ host: "127.0.0.1", port: server.port })
          s.on("error", () => {})
          s.on("data", () => {})
          s.end("GET /cgi-bin/hang.sh HTTP/1.0\r\n\r\n")
          return s
        }),
        (s) => Effect.sync(() => s.destroy())
      )
      const pid = yield* readPid(`${scratch}/pid`)
      yield* waitFor("the script killed", () => !isAlive(pid), 10_000)
      yield* waitFor("the log line", () => server.stderr().includes("CGI script timed out after 1s"), 5_000)
    }), 30_000)

  it.scopedLive("--cgi-max-processes 1: concurrent requests run one script at a time and all complete", () =>
    Effect.gen(function*() {
      ensureBuilt()
      const scratch = yield* scratchDir()
      const log = NodePath.join(scratch, "log")
      Fs.writeFileSync(log, "")
      Fs.chmodSync(log, 0o666)
      const root = yield* docRoot({
        "cgi-bin/slow.sh": { content: `#!/bin/sh\necho S >> ${log}\n${HEAD}sleep 0.2\necho done\necho E >> ${log}\n` }
      })
      const server = yield* start(["-b", "127.0.0.1", "-d", root, "--cgi", "--cgi-max-processes", "1", "0"])
      const replies = yield* Effect.forEach(
        [1, 2, 3, 4],
        (i) => request(server.port, `GET /cgi-bin/slow.sh?${i} HTTP/1.0\r\n\r\n`),
        { concurrency: "unbounded" }
      )
      for (const reply of replies) expect(reply.body.toString()).toBe("done\n")
      // Strictly alternating: no script started while another ran.
      expect(Fs.readFileSync(log, "utf8")).toBe("S\nE\n".repeat(4))
    }), 30_000)
})
