/**
 * `-H` as typed (issue 12, item 1's attack): hop-by-hop fields refused, values the command-line parser would trim
 * refused (exit 2: the cases in test/Extras.test.ts), and `Server` / `Date` replacing the server's own (`buildHead`).
 */
import { describe, expect, it } from "@effect/vitest"
import { headerArgumentsProblem, rawHeaderProblem } from "../src/internal/cliHeader.js"
import { buildHead } from "../src/internal/wire.js"

describe("-H as typed", () => {
  it("finds -H in every spelling, up to --", () => {
    expect(headerArgumentsProblem(["--header", "Upgrade: x"])).toMatch(/hop-by-hop/)
    expect(headerArgumentsProblem(["--header=TE: x"])).toMatch(/hop-by-hop/)
    expect(headerArgumentsProblem(["-H=Trailer: x"])).toMatch(/hop-by-hop/)
    expect(headerArgumentsProblem(["--", "-H", "Upgrade: x"])).toBeUndefined()
    expect(rawHeaderProblem("  X-A:\ta b\t ")).toBeUndefined()
    expect(rawHeaderProblem("Server: x")).toBeUndefined()
    // The message itself stays one line: the separator is shown escaped.
    expect(rawHeaderProblem("X: \u2028")).toBe("'X: \\u2028' starts or ends with whitespace other than space and tab")
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
