/**
 * Differential test against `python3 -m http.server --cgi` (CPython 3.11, Linux: the fork branch of run_cgi):
 * the same scripts in the same directory, the same raw requests, and the status line, header fields and the
 * environment each script prints must agree, except for what is legitimately server-specific.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { cgiServer, docRoot, type FileSpec, parseEnv, parseRaw, type RawResponse } from "./support/cgiKit.js"
import { pythonHttpServer } from "./support/pythonServer.js"
import { sendRaw } from "./support/rawClient.js"

const HEAD = "printf 'Content-Type: text/plain\\r\\n\\r\\n'\n"
const ENV_SH = `#!/bin/sh\n${HEAD}echo "argc=$#"\nfor a in "$@"; do echo "arg=[$a]"; done\necho "ids=$(id -u) $(id -G)"\nenv\n`
const files: Record<string, FileSpec | "dir"> = {
  "index.html": { content: "<p>static</p>\n", mode: 0o644 },
  "top.sh": { content: ENV_SH },
  "cgi-bin/env.sh": { content: ENV_SH },
  "cgi-bin/sub/deeper/s.sh": { content: ENV_SH },
  "cgi-bin/plain.sh": { content: ENV_SH, mode: 0o644 },
  "cgi-bin/plain.py": { content: "print('x')\n", mode: 0o644 },
  "cgi-bin/empty": "dir",
  "cgi-bin/env.py": {
    content: `#!/usr/bin/python3\nimport os, sys\nsys.stdout.write("Content-Type: text/plain\\r\\n\\r\\n")\n` +
      `sys.stdout.write("argv=%r\\n" % sys.argv[1:])\nfor k, v in sorted(os.environ.items()):\n    sys.stdout.write("%s=%s\\n" % (k, v))\n`
  },
  "cgi-bin/post.sh": { content: `#!/bin/sh\n${HEAD}echo "len=[$CONTENT_LENGTH] type=[$CONTENT_TYPE]"\nhead -c "$CONTENT_LENGTH"\n` },
  "cgi-bin/fail.sh": { content: `#!/bin/sh\n${HEAD}echo out\nexit 3\n` },
  "cgi-bin/raw.sh": { content: `#!/bin/sh\nprintf 'Status: 302 Moved\\r\\nLocation: /x\\r\\n\\r\\nbody'\n` }
}

/** Values that differ between the two servers for legitimate reasons: the software name and the port. */
const MASKED = /^(SERVER_SOFTWARE|SERVER_PORT)$/
/**
 * What each server process has in its own environment and passes on: python3 is a pyenv shim (it rewrites PATH
 * and adds PYENV_*), and `_` is the shell's last command. `ids` (uid and groups) is a deliberate difference, see
 * below.
 */
const DROPPED = /^(PATH|_?PYENV.*|_|ids)$/

interface Comparable {
  readonly statusLine: string
  readonly headers: Array<[string, string]>
  readonly body: string | Record<string, string>
}

const comparable = (res: RawResponse): Comparable => {
  const text = res.body.toString("utf8")
  const isEnv = /^(argc|argv)=/.test(text)
  const body = isEnv
    ? Object.fromEntries(
      Object.entries(parseEnv(text))
        .filter(([k]) => !DROPPED.test(k))
        .map(([k, v]) => [k, MASKED.test(k) ? "<masked>" : v])
    )
    : text
  return {
    statusLine: res.statusLine,
    headers: res.headers.map(([n, v]) => [n, /^(server|date)$/i.test(n) ? `<${n.toLowerCase()}>` : v]),
    body
  }
}

const exchange = (port: number, raw: string) =>
  Effect.map(sendRaw({ port, chunks: [raw], timeoutMs: 10_000 }), (x) => ({ res: parseRaw(x.bytes), closed: x.closedByServer }))

const basic = (s: string) => "Basic " + Buffer.from(s, "latin1").toString("base64")

/** Requests whose answers must be the same on both servers. */
const SAME: ReadonlyArray<string> = [
  "GET /cgi-bin/env.sh HTTP/1.0\r\n\r\n",
  "GET /cgi-bin/env.sh/a%2541/b%20c?x=1&y=%41+z HTTP/1.0\r\nAccept: text/a\r\nAccept: text/b\r\nCookie: c=1\r\n" +
  `Cookie: d=2\r\nUser-Agent: UA/1\r\nReferer: http://r/\r\nAuthorization: ${basic("alice:s3cret")}\r\n\r\n`,
  "GET /cgi-bin/env.sh?word HTTP/1.0\r\n\r\n",
  "GET /cgi-bin/env.sh?two+words%21 HTTP/1.0\r\n\r\n",
  "GET /cgi-bin/env.py/p%20q?a+b HTTP/1.0\r\n\r\n",
  "GET /cgi-bin/sub/deeper/s.sh/more/path/?q HTTP/1.0\r\n\r\n",
  "GET /cgi-bin/../cgi-bin/env.sh HTTP/1.0\r\n\r\n",
  "GET /x/../cgi-bin/env.sh HTTP/1.0\r\n\r\n",
  "GET /%63gi-bin/env.sh HTTP/1.0\r\n\r\n",
  "GET /cgi-bin%2Fenv.sh%3Fhidden HTTP/1.0\r\n\r\n",
  "GET /htbin/../cgi-bin/./env.sh HTTP/1.0\r\n\r\n",
  `GET /cgi-bin/env.sh HTTP/1.0\r\nAuthorization: ${basic("alice:se:cret")}\r\n\r\n`,
  "GET /cgi-bin/env.sh HTTP/1.0\r\nAuthorization: Basic dXNlcjpwYXN\r\n\r\n",
  "GET /cgi-bin/env.sh HTTP/1.0\r\nAuthorization: Bearer token\r\nContent-Type: \r\nCookie: \r\n\r\n",
  "POST /cgi-bin/env.sh HTTP/1.0\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 7\r\n\r\na=1&b=2",
  "POST /cgi-bin/post.sh?x HTTP/1.0\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello world",
  "HEAD /cgi-bin/env.sh HTTP/1.0\r\n\r\n",
  "GET /cgi-bin/fail.sh HTTP/1.0\r\n\r\n",
  "GET /cgi-bin/raw.sh HTTP/1.0\r\n\r\n",
  "GET /cgi-bin/missing.sh/x?y HTTP/1.0\r\n\r\n",
  "GET /cgi-bin/empty HTTP/1.0\r\n\r\n",
  "GET /cgi-bin/ HTTP/1.0\r\n\r\n",
  "GET /cgi-bin/plain.sh HTTP/1.0\r\n\r\n",
  "GET /cgi-bin/plain.py HTTP/1.0\r\n\r\n",
  "POST /index.html HTTP/1.0\r\nContent-Length: 2\r\n\r\nab",
  "POST /cgi-bin/missing.sh HTTP/1.0\r\nContent-Length: 2\r\n\r\nab"
]

describe("CGI against python3 -m http.server --cgi", () => {
  it.scopedLive("same status, headers and environment", () =>
    Effect.gen(function*() {
      const root = yield* docRoot(files)
      const python = yield* pythonHttpServer({ directory: root, cgi: true })
      const ours = yield* cgiServer({ directory: root })
      let environments = 0
      for (const raw of SAME) {
        const theirs = yield* exchange(python.port, raw)
        const mine = yield* exchange(ours.port, raw)
        const label = raw.split("\r\n")[0]!
        expect(theirs.res.statusLine, label).not.toBe("")
        const expected = comparable(theirs.res)
        expect(comparable(mine.res), label).toEqual(expected)
        if (typeof expected.body !== "string" && expected.body.GATEWAY_INTERFACE === "CGI/1.1") environments++
      }
      expect(environments).toBe(16)
      // The exit code is logged alike: Python's log_error("CGI script exit code 3").
      yield* python.awaitStderr((text) => text.includes("CGI script exit code 3"))
      expect(ours.log.some((l) => l.endsWith("CGI script exit code 3"))).toBe(true)
    }), 60_000)

  it.scopedLive("deliberate differences", () =>
    Effect.gen(function*() {
      const root = yield* docRoot(files)
      const python = yield* pythonHttpServer({ directory: root, cgi: true })
      const ours = yield* cgiServer({ directory: root })
      const both = (raw: string) =>
        Effect.all([exchange(python.port, raw), exchange(ours.port, raw)])

      // More `..` than segments: Python's is_cgi raises IndexError and the connection closes unanswered.
      const [pyEscape, ourEscape] = yield* both("GET /../cgi-bin/env.sh HTTP/1.0\r\n\r\n")
      expect(pyEscape.res.raw.length).toBe(0)
      expect(ourEscape.res.statusLine).toBe("HTTP/1.0 400 Bad request path")

      // Python unquotes twice and runs a file outside the CGI directory; we refuse.
      const [pyTwice, ourTwice] = yield* both("GET /cgi-bin/%252e%252e/top.sh HTTP/1.0\r\n\r\n")
      expect(pyTwice.res.statusLine).toBe("HTTP/1.0 200 Script output follows")
      expect(parseEnv(pyTwice.res.body.toString()).SCRIPT_NAME).toBe("/cgi-bin/%2e%2e/top.sh")
      expect(ourTwice.res.status).toBe(403)

      // Python only changes the uid: the script keeps root's groups. setpriv drops them.
      if (process.getuid?.() === 0) {
        const [pyIds, ourIds] = yield* both("GET /cgi-bin/env.sh HTTP/1.0\r\n\r\n")
        expect(parseEnv(pyIds.res.body.toString()).ids).toBe("65534 0")
        expect(parseEnv(ourIds.res.body.toString()).ids).toBe("65534 65534")
      }

      // An ISINDEX query starting with '-' is an option to the script: Python passes it, we do not.
      const [pyDash, ourDash] = yield* both("GET /cgi-bin/env.sh?-s HTTP/1.0\r\n\r\n")
      expect(pyDash.res.body.toString()).toContain("argc=1\narg=[-s]\n")
      expect(ourDash.res.body.toString()).toContain("argc=0\n")
    }), 60_000)
})
