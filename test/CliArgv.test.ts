/**
 * The command line in argparse's spellings (src/internal/cliArgv.ts): attached short values, `--name=value`,
 * unambiguous prefixes of long options, flags that take no value; checked against the command's own option list,
 * in process, and with the executable beside `python3 -m http.server` given the same arguments.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { afterAll, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as NodePath from "node:path"
import * as Cli from "../src/Cli.js"
import { FLAGS, longOptionNames, resolveLong } from "../src/internal/cliArgv.js"
import { cliOutput } from "./support/cliOptions.js"
import { ensureBuilt, start, stop } from "./support/cliProcess.js"
import { sendRaw } from "./support/rawClient.js"

const tmp = Fs.mkdtempSync(NodePath.join(Os.tmpdir(), "effect-httpd-argv-"))
afterAll(() => Fs.rmSync(tmp, { recursive: true, force: true }))
Fs.writeFileSync(NodePath.join(tmp, "hello.txt"), "hello\n")

const helpText = cliOutput("--help")

describe("argparse's spellings", () => {
  it("attached short values, --name=value, prefixes, flags; nothing after -- or in a value's place", () => {
    const n = Cli.normalizeArgs
    expect(n(["-d/srv", "-b127.0.0.1", "-pHTTP/1.1", "8080"])).toEqual([
      "-d", "/srv", "-b", "127.0.0.1", "-p", "HTTP/1.1", "8080"
    ])
    expect(n(["-d=/srv", "-HX-A: 1"])).toEqual(["-d", "/srv", "-H", "X-A: 1"])
    expect(n(["--dir", "/srv", "--prot", "HTTP/1.1", "--bi=::1"])).toEqual([
      "--directory", "/srv", "--protocol", "HTTP/1.1", "--bind", "::1"
    ])
    expect(n(["--index-page=a.html", "--index-page", "b.html"])).toEqual(["--index-page", "a.html", "--index-page", "b.html"])
    // The value of an option is taken as typed, even when it looks like an option.
    expect(n(["-H", "--cgi", "--spa", "-d"])).toEqual(["-H", "--cgi", "--spa", "-d"])
    expect(n(["--cgi", "0", "--cgi=false", "--", "--cgi", "-d/x"])).toEqual(["--cgi=true", "0", "--cgi=false", "--", "--cgi", "-d/x"])
    expect(n(["--h"])).toEqual(["--help"])
    expect(n(["-1", "-", "-x"])).toEqual(["-1", "-", "-x"])
  })

  it("a prefix ambiguous here but not among Python's options means Python's; otherwise it is refused", () => {
    // Python 3.11's long options: --cgi, --bind, --directory, --protocol, --help.
    expect(resolveLong("p")).toBe("protocol") // also --precompressed here
    expect(resolveLong("c")).toBe("cgi") // also --cors, --compress…
    expect(resolveLong("d")).toBe("directory")
    expect(resolveLong("b")).toBe("bind") // also --basic-auth
    expect(resolveLong("comp")).toBeUndefined() // --compress, --compress-min-bytes, --completions…
    expect(resolveLong("compress")).toBe("compress")
    expect(resolveLong("rich")).toBe("rich-listing")
    expect(resolveLong("nonsense")).toBeUndefined()
    expect(Cli.normalizeArgs(["--comp"])).toEqual(["--comp"])
  })

  it.effect("the tables name exactly the command's options: every value option, every flag", () =>
    Effect.gen(function*() {
      const help = yield* helpText
      const usage = help.split("\n").find((line) => line.startsWith("$ effect-httpd"))!
      const inUsage = new Set([...usage.matchAll(/--([a-z][a-z-]*)/g)].map((m) => m[1]!))
      const builtIn = ["help", "version", "wizard", "completions", "log-level"]
      expect(new Set(longOptionNames)).toEqual(new Set([...inUsage, ...builtIn]))
      const flagsInUsage = new Set([...usage.matchAll(/\[--([a-z][a-z-]*)\]/g)].map((m) => m[1]!))
      expect(new Set(FLAGS)).toEqual(flagsInUsage)
    }))

  it.effect("in process: an ambiguous prefix is refused as argparse words it; an attached -d value reaches the directory check", () =>
    Effect.gen(function*() {
      const fail = (...args: ReadonlyArray<string>) =>
        Cli.run(["node", "effect-httpd", ...args]).pipe(Effect.flip, Effect.provide(NodeContext.layer))
      expect((yield* fail("--comp")).message).toBe(
        "ambiguous option: --comp could match --compress-min-bytes, --compress-max-bytes, --completions, --compress"
      )
      const missing = NodePath.join(tmp, "missing")
      expect((yield* fail(`-d${missing}`)).message).toContain("-d/--directory")
      expect((yield* fail(`--dir=${missing}`)).message).toContain("-d/--directory")
    }))

  it.scopedLive("the executable: -b127.0.0.1 -dDIR --prot HTTP/1.1 serves as python3 -m http.server does", () =>
    Effect.gen(function*() {
      ensureBuilt()
      const server = yield* start(["-b127.0.0.1", `-d${tmp}`, "--prot", "HTTP/1.1", "0"])
      expect(server.host).toBe("127.0.0.1")
      // Two requests on one connection: kept alive, so HTTP/1.1 it is.
      const get = "GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"
      const exchange = yield* sendRaw({
        port: server.port,
        chunks: [get + get.replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n")],
        headRequests: [false, false],
        timeoutMs: 5_000
      })
      expect(exchange.responses.map((response) => [response.version, response.status])).toEqual([
        ["HTTP/1.1", 200],
        ["HTTP/1.1", 200]
      ])
      yield* stop(server)
    }))
})
