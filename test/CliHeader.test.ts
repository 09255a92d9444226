/**
 * `-H` as typed (issue 12, item 1's attack): hop-by-hop fields refused, values the command-line parser would trim
 * refused, and `Server` / `Date` replacing the server's own (`buildHead`).
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Cli from "../src/Cli.js"
import { headerArgumentsProblem, rawHeaderProblem } from "../src/internal/cliHeader.js"
import { buildHead } from "../src/internal/wire.js"

describe("-H as typed", () => {
  it("refuses hop-by-hop fields and whitespace the parser would trim (exit 2)", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [string, RegExp]> = [
        ["Upgrade: h2c", /header 'Upgrade' is hop-by-hop/],
        ["keep-alive: timeout=5", /hop-by-hop/],
        ["TE: trailers", /hop-by-hop/],
        ["Trailer: X", /hop-by-hop/],
        ["Proxy-Authenticate: Basic", /hop-by-hop/],
        ["Proxy-Connection: close", /hop-by-hop/],
        ["X: \u2028", /'X: \\u2028' starts or ends with whitespace other than space and tab/],
        ["X: a\u00a0", /whitespace other than space and tab/],
        ["\u3000X: a", /whitespace other than/]
      ]
      for (const [line, message] of cases) {
        const error = yield* Effect.flip(Cli.run(["node", "effect-httpd", "-H", line, "0"]).pipe(
          Effect.provide(NodeContext.layer)
        ))
        expect(error.exitCode, line).toBe(2)
        expect(error.message, line).toMatch(/^argument -H\/--header: /)
        expect(error.message, line).toMatch(message)
        expect(Cli.errorLine(error), line).not.toMatch(/[\r\n\0\u2028]/)
      }
    }).pipe(Effect.runPromise))

  it("finds -H in every spelling, up to --", () => {
    expect(headerArgumentsProblem(["--header", "Upgrade: x"])).toMatch(/hop-by-hop/)
    expect(headerArgumentsProblem(["--header=TE: x"])).toMatch(/hop-by-hop/)
    expect(headerArgumentsProblem(["-H=Trailer: x"])).toMatch(/hop-by-hop/)
    expect(headerArgumentsProblem(["--", "-H", "Upgrade: x"])).toBeUndefined()
    expect(rawHeaderProblem("  X-A:\ta b\t ")).toBeUndefined()
    expect(rawHeaderProblem("Server: x")).toBeUndefined()
  })
})

describe("buildHead: a handler's Server or Date replaces the server's own", () => {
  const config = { protocolVersion: "HTTP/1.1", versionString: "effect-httpd/0" }
  it("sends one Server and one Date field", () => {
    const head = buildHead(config, 200, undefined, [["server", "x"], ["Date", "y"]], true, true)!
    expect(head).toBe("HTTP/1.1 200 OK\r\nserver: x\r\nDate: y\r\n\r\n")
    const own = buildHead(config, 200, undefined, [["Server", "x"]], true, true)!
    expect(own).toMatch(/^HTTP\/1\.1 200 OK\r\nDate: [^\r]+GMT\r\nServer: x\r\n\r\n$/)
  })
})
