/**
 * CGIHTTPRequestHandler outcomes with real scripts in temp directories, through a real server.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { cgiServer, docRoot, type FileSpec, get, header, parseEnv, request } from "./support/cgiKit.js"

const HEAD_CRLF = "printf 'Content-Type: text/plain\\r\\n\\r\\n'\n"
const ENV_SH = `#!/bin/sh
${HEAD_CRLF}echo "argc=$#"
for a in "$@"; do echo "arg=[$a]"; done
echo "ids=$(id -u) $(id -g) $(id -G)"
env
`
const PY_ENV = `#!/usr/bin/python3
import os, sys
sys.stdout.write("Content-Type: text/plain\\r\\n\\r\\n")
sys.stdout.write("write_through=%s\\n" % sys.stdout.write_through)
for k, v in sorted(os.environ.items()):
    sys.stdout.write("%s=%s\\n" % (k, v))
`
const files: Record<string, FileSpec | "dir"> = {
  "index.html": { content: "<p>static</p>\n", mode: 0o644 },
  "top.sh": { content: ENV_SH },
  "cgi-bin/env.sh": { content: ENV_SH },
  "cgi-bin/plain.sh": { content: ENV_SH, mode: 0o644 },
  "cgi-bin/env.py": { content: PY_ENV },
  "cgi-bin/plain.py": { content: PY_ENV, mode: 0o644 },
  "cgi-bin/sub/deeper/s.sh": { content: ENV_SH },
  "cgi-bin/empty": "dir",
  "cgi-bin/post.sh": { content: `#!/bin/sh\n${HEAD_CRLF}echo "len=[$CONTENT_LENGTH] type=[$CONTENT_TYPE]"\ncat\n` },
  "cgi-bin/fail.sh": { content: `#!/bin/sh\n${HEAD_CRLF}echo out\necho "first problem" >&2\necho "second problem" >&2\nexit 3\n` },
  "cgi-bin/ok.sh": { content: `#!/bin/sh\n${HEAD_CRLF}echo fine\n` },
  "cgi-bin/selfkill.sh": { content: `#!/bin/sh\n${HEAD_CRLF}echo bye\nkill -TERM $$\n` },
  "cgi-bin/badinterp.sh": { content: "#!/nonexistent/interpreter\n" },
  "htbin/env.sh": { content: ENV_SH },
  "scripts/env.sh": { content: ENV_SH }
}

/** The script's own output after its header block, as KEY=value pairs and the raw text. */
const scriptEnv = (body: Buffer) => {
  const text = body.toString("utf8")
  return { text, env: parseEnv(text) }
}

describe("CGIHTTPRequestHandler", () => {
  it.scopedLive("GET: Python's status line, Server and Date, then the script's output as is", () =>
    Effect.gen(function*() {
      const root = yield* docRoot(files)
      const { log, port } = yield* cgiServer({ directory: root })
      const res = yield* get(port, "/cgi-bin/ok.sh")
      const lines = res.raw.toString("latin1").split("\r\n")
      expect(lines[0]).toBe("HTTP/1.0 200 Script output follows")
      expect(lines[1]).toMatch(/^Server: effect-httpd\/\S+ Node\.js\/\S+$/)
      expect(lines[2]).toMatch(/^Date: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT$/)
      expect(lines.slice(3).join("\r\n")).toBe("Content-Type: text/plain\r\n\r\nfine\n")
      expect(log.some((l) => l.endsWith(`"GET /cgi-bin/ok.sh HTTP/1.0" 200 -`))).toBe(true)
      // Python's fork branch logs only a non-zero exit.
      expect(log.some((l) => l.includes("exit"))).toBe(false)
    }))

  it.scopedLive("the environment as run_cgi builds it", () =>
    Effect.gen(function*() {
      const root = yield* docRoot(files)
      const { port } = yield* cgiServer({ directory: root })
      const auth = "Basic " + Buffer.from("alice:s3cret").toString("base64")
      const res = yield* get(port, "/cgi-bin/env.sh/a%2541/b%20c?x=1&y=%41+z", [
        "Accept: text/a",
        "Accept: text/b",
        "Cookie: c=1",
        "Cookie: d=2",
        "User-Agent: UA/1",
        "Referer: http://r/",
        `Authorization: ${auth}`,
        "X-Other: not passed in Python mode"
      ])
      const { env, text } = scriptEnv(res.body)
      expect(env).toMatchObject({
        SERVER_SOFTWARE: expect.stringMatching(/^effect-httpd\//),
        SERVER_NAME: "localhost",
        GATEWAY_INTERFACE: "CGI/1.1",
        SERVER_PROTOCOL: "HTTP/1.0",
        SERVER_PORT: String(port),
        REQUEST_METHOD: "GET",
        // Unquoted twice, as Python does: once by _url_collapse_path, once for PATH_INFO.
        PATH_INFO: "/aA/b c",
        PATH_TRANSLATED: `${root}/aA/b c`,
        SCRIPT_NAME: "/cgi-bin/env.sh",
        QUERY_STRING: "x=1&y=%41+z",
        REMOTE_ADDR: "127.0.0.1",
        REMOTE_HOST: "",
        AUTH_TYPE: "Basic",
        REMOTE_USER: "alice",
        CONTENT_TYPE: "text/plain",
        CONTENT_LENGTH: "",
        HTTP_ACCEPT: "text/a,text/b",
        HTTP_COOKIE: "c=1, d=2",
        HTTP_USER_AGENT: "UA/1",
        HTTP_REFERER: "http://r/"
      })
      expect(env.HTTP_X_OTHER).toBeUndefined()
      expect(text).not.toContain("s3cret")
      expect(text).toContain("argc=0\n")
    }))

  it.scopedLive("Python's empty defaults when the request says nothing", () =>
    Effect.gen(function*() {
      const root = yield* docRoot(files)
      const { port } = yield* cgiServer({ directory: root })
      const { env } = scriptEnv((yield* get(port, "/cgi-bin/env.sh")).body)
      for (const key of ["QUERY_STRING", "REMOTE_HOST", "CONTENT_LENGTH", "HTTP_USER_AGENT", "HTTP_COOKIE", "HTTP_REFERER"]) {
        expect(env[key], key).toBe("")
      }
      expect(env.HTTP_ACCEPT).toBe("")
      expect(env.PATH_INFO).toBe("")
      expect(env.PATH_TRANSLATED).toBe(root)
      expect(env.AUTH_TYPE).toBeUndefined()
      expect(env.REMOTE_USER).toBeUndefined()
    }))

  it.scopedLive("ISINDEX arguments: the query without '=', never an option", () =>
    Effect.gen(function*() {
      const root = yield* docRoot(files)
      const { port } = yield* cgiServer({ directory: root })
      const args = (query: string) =>
        Effect.map(get(port, `/cgi-bin/env.sh${query}`), (res) =>
          res.body.toString().split("\n").filter((l) => l.startsWith("arg")))
      expect(yield* args("?word")).toEqual(["argc=1", "arg=[word]"])
      expect(yield* args("?two+words%21")).toEqual(["argc=1", "arg=[two words%21]"])
      // Python appends the (empty) query even when there is none.
      expect(yield* args("")).toEqual(["argc=1", "arg=[]"])
      expect(yield* args("?a=b")).toEqual(["argc=0"])
      expect(yield* args("?-s")).toEqual(["argc=0"])
      expect(yield* args("?--help")).toEqual(["argc=0"])
    }))

  it.scopedLive("scripts in sub-directories, the rest of the path as PATH_INFO", () =>
    Effect.gen(function*() {
      const root = yield* docRoot(files)
      const { port } = yield* cgiServer({ directory: root })
      const { env } = scriptEnv((yield* get(port, "/cgi-bin/sub/deeper/s.sh/more/path/?q")).body)
      expect(env.SCRIPT_NAME).toBe("/cgi-bin/sub/deeper/s.sh")
      expect(env.PATH_INFO).toBe("/more/path/")
      expect(env.PATH_TRANSLATED).toBe(`${root}/more/path/`)
      expect(env.QUERY_STRING).toBe("q")
    }))

  it.scopedLive("is_cgi works on the collapsed path: dot segments and escapes cannot dodge it", () =>
    Effect.gen(function*() {
      const root = yield* docRoot(files)
      const { port } = yield* cgiServer({ directory: root })
      for (const path of ["/cgi-bin/../cgi-bin/env.sh", "/x/../cgi-bin/env.sh", "/cgi-bin/./env.sh", "/%63gi-bin/env.sh", "/cgi-bin%2Fenv.sh", "//cgi-bin/env.sh"]) {
        const res = yield* get(port, path)
        expect(res.statusLine, path).toBe("HTTP/1.0 200 Script output follows")
        expect(scriptEnv(res.body).env.SCRIPT_NAME, path).toBe("/cgi-bin/env.sh")
      }
      // Python raises IndexError and drops the connection; we answer 400 (and never fall back to the file).
      const escape = yield* get(port, "/../cgi-bin/env.sh")
      expect(escape.status).toBe(400)
      expect(escape.body.toString()).not.toContain("#!/bin/sh")
      // Python unquotes twice and would run the document root's top.sh here.
      const twice = yield* get(port, "/cgi-bin/%252e%252e/top.sh")
      expect(twice.statusLine).toBe("HTTP/1.0 403 CGI script is outside the CGI directory ('/cgi-bin/%2e%2e/top.sh')")
      // Without the trailing slash it is not a CGI path (Python: the static handler answers).
      expect((yield* get(port, "/cgi-bin")).statusLine).not.toContain("Script output follows")
    }))

  it.scopedLive("cgi_directories: /cgi-bin and /htbin by default, configurable", () =>
    Effect.gen(function*() {
      const root = yield* docRoot(files)
      const byDefault = yield* cgiServer({ directory: root })
      expect((yield* get(byDefault.port, "/htbin/env.sh")).statusLine).toBe("HTTP/1.0 200 Script output follows")
      expect((yield* get(byDefault.port, "/scripts/env.sh")).body.toString()).toContain("#!/bin/sh")
      const custom = yield* cgiServer({ directory: root, cgiDirectories: ["/scripts"] })
      const res = yield* get(custom.port, "/scripts/env.sh")
      expect(res.statusLine).toBe("HTTP/1.0 200 Script output follows")
      expect(scriptEnv(res.body).env.SCRIPT_NAME).toBe("/scripts/env.sh")
      // /cgi-bin is a plain directory now: its scripts are files, not programs.
      expect((yield* get(custom.port, "/cgi-bin/env.sh")).body.toString()).toContain("#!/bin/sh")
    }))

  it.scopedLive("POST: the body goes to stdin; elsewhere 501", () =>
    Effect.gen(function*() {
      const root = yield* docRoot(files)
      const { log, port } = yield* cgiServer({ directory: root })
      const body = "name=value&x=" + "y".repeat(100_000)
      const res = yield* request(
        port,
        `POST /cgi-bin/post.sh HTTP/1.0\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n\r\n${body}`
      )
      expect(res.statusLine).toBe("HTTP/1.0 200 Script output follows")
      expect(res.body.toString()).toBe(`len=[${body.length}] type=[application/x-www-form-urlencoded]\n${body}`)
      const chunked = yield* request(
        port,
        "POST /cgi-bin/post.sh HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
      )
      expect(chunked.body.toString()).toBe("len=[] type=[text/plain]\nhello world")
      const notCgi = yield* request(port, "POST /index.html HTTP/1.0\r\nContent-Length: 2\r\n\r\nab")
      expect(notCgi.statusLine).toBe("HTTP/1.0 501 Can only POST to CGI scripts")
      expect(log).toContain(log.find((l) => l.endsWith("code 501, message Can only POST to CGI scripts")))
    }))

  it.scopedLive("404, 403 and 403: missing, not a plain file, not executable", () =>
    Effect.gen(function*() {
      const root = yield* docRoot(files)
      const { port } = yield* cgiServer({ directory: root })
      const missing = yield* get(port, "/cgi-bin/missing.sh/x?y")
      expect(missing.statusLine).toBe("HTTP/1.0 404 No such CGI script ('/cgi-bin/missing.sh')")
      expect(missing.body.toString()).toContain("<p>Message: No such CGI script ('/cgi-bin/missing.sh').</p>")
      expect((yield* get(port, "/cgi-bin/empty")).statusLine).toBe(
        "HTTP/1.0 403 CGI script is not a plain file ('/cgi-bin/empty')"
      )
      expect((yield* get(port, "/cgi-bin/")).statusLine).toBe(
        "HTTP/1.0 403 CGI script is not a plain file ('/cgi-bin/')"
      )
      expect((yield* get(port, "/cgi-bin/plain.sh")).statusLine).toBe(
        "HTTP/1.0 403 CGI script is not executable ('/cgi-bin/plain.sh')"
      )
      // As on Linux Python, a .py file is a script like any other: executable, run by its #! line.
      expect((yield* get(port, "/cgi-bin/plain.py")).statusLine).toBe(
        "HTTP/1.0 403 CGI script is not executable ('/cgi-bin/plain.py')"
      )
      const py = yield* get(port, "/cgi-bin/env.py/p")
      expect(py.statusLine).toBe("HTTP/1.0 200 Script output follows")
      expect(scriptEnv(py.body).env.PATH_INFO).toBe("/p")
    }))

  it.scopedLive("pythonInterpreter: .py runs with `<interpreter> -u`, no executable bit needed", () =>
    Effect.gen(function*() {
      const root = yield* docRoot(files)
      const { port } = yield* cgiServer({ directory: root, pythonInterpreter: "/usr/bin/python3" })
      const res = yield* get(port, "/cgi-bin/plain.py")
      expect(res.statusLine).toBe("HTTP/1.0 200 Script output follows")
      expect(res.body.toString()).toContain("write_through=True\n")
      expect((yield* get(port, "/cgi-bin/plain.sh")).status).toBe(403)
    }))

  it.scopedLive("runs as nobody when root, with nobody's group and no others", () =>
    Effect.gen(function*() {
      if (process.getuid?.() !== 0) return
      const root = yield* docRoot(files)
      const asNobody = yield* cgiServer({ directory: root })
      expect((yield* get(asNobody.port, "/cgi-bin/env.sh")).body.toString()).toContain("ids=65534 65534 65534\n")
      const asRoot = yield* cgiServer({ directory: root, runAsNobody: false })
      expect((yield* get(asRoot.port, "/cgi-bin/env.sh")).body.toString()).toMatch(/ids=0 0 0/)
    }))

  it.scopedLive("inheritEnv: the server's environment, or only the CGI variables and PATH", () =>
    Effect.gen(function*() {
      const root = yield* docRoot(files)
      process.env.CGI_TEST_MARKER = "inherited"
      process.env.REMOTE_USER = "stale-from-server"
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          delete process.env.CGI_TEST_MARKER
          delete process.env.REMOTE_USER
        })
      )
      const inheriting = yield* cgiServer({ directory: root })
      const inherited = scriptEnv((yield* get(inheriting.port, "/cgi-bin/env.sh")).body).env
      expect(inherited.CGI_TEST_MARKER).toBe("inherited")
      expect(inherited.REMOTE_USER).toBeUndefined()
      const closed = yield* cgiServer({ directory: root, inheritEnv: false })
      const env = scriptEnv((yield* get(closed.port, "/cgi-bin/env.sh")).body).env
      const allowed = new Set([
        "SERVER_SOFTWARE", "SERVER_NAME", "GATEWAY_INTERFACE", "SERVER_PROTOCOL", "SERVER_PORT", "REQUEST_METHOD",
        "PATH_INFO", "PATH_TRANSLATED", "SCRIPT_NAME", "QUERY_STRING", "REMOTE_ADDR", "REMOTE_HOST", "CONTENT_TYPE",
        "CONTENT_LENGTH", "HTTP_ACCEPT", "HTTP_USER_AGENT", "HTTP_COOKIE", "HTTP_REFERER", "PATH",
        // What /bin/sh itself adds to its environment.
        "PWD", "OLDPWD", "SHLVL", "_"
      ])
      const printed = Object.keys(env).filter((k) => !["argc", "arg", "ids"].includes(k))
      expect(printed.filter((k) => !allowed.has(k))).toEqual([])
      expect(printed.length).toBeGreaterThan(18)
      expect(env.PATH).toBe(process.env.PATH)
    }))

  it.scopedLive("stderr and a non-zero exit go to the log; a signal is a negative code", () =>
    Effect.gen(function*() {
      const root = yield* docRoot(files)
      const { log, port } = yield* cgiServer({ directory: root })
      const res = yield* get(port, "/cgi-bin/fail.sh")
      expect(res.body.toString()).toBe("out\n")
      expect(log.map((l) => l.replace(/\[[^\]]+\] /, ""))).toEqual([
        `127.0.0.1 - - "GET /cgi-bin/fail.sh HTTP/1.0" 200 -`,
        "127.0.0.1 - - first problem",
        "127.0.0.1 - - second problem",
        "127.0.0.1 - - CGI script exit code 3"
      ])
      yield* get(port, "/cgi-bin/selfkill.sh")
      expect(log[log.length - 1]).toMatch(/CGI script exit code -15$/)
    }))

  it.scopedLive("a script that cannot be executed: Python's 200 and nothing, the reason in the log", () =>
    Effect.gen(function*() {
      const root = yield* docRoot(files)
      for (const runAsNobody of [true, false]) {
        if (runAsNobody && process.getuid?.() !== 0) continue
        const { log, port } = yield* cgiServer({ directory: root, runAsNobody })
        const res = yield* get(port, "/cgi-bin/badinterp.sh")
        expect(res.raw.toString()).toMatch(/^HTTP\/1\.0 200 Script output follows\r\nServer: [^\r]+\r\nDate: [^\r]+\r\n$/)
        expect(log.join("\n")).toMatch(runAsNobody ? /setpriv: .*\n.*CGI script exit code 127/ : /could not be started/)
      }
    }))

  it.scopedLive("HEAD runs the script and sends its whole output, as Python does", () =>
    Effect.gen(function*() {
      const root = yield* docRoot(files)
      const { port } = yield* cgiServer({ directory: root })
      const res = yield* get(port, "/cgi-bin/ok.sh", [], "HEAD")
      expect(res.statusLine).toBe("HTTP/1.0 200 Script output follows")
      expect(res.body.toString()).toBe("fine\n")
    }))

  it.scopedLive("other GET and HEAD requests are the static handler's", () =>
    Effect.gen(function*() {
      const root = yield* docRoot(files)
      const { port } = yield* cgiServer({ directory: root })
      const res = yield* get(port, "/index.html")
      expect(res.status).toBe(200)
      expect(header(res, "Content-Type")).toBe("text/html")
      expect(res.body.toString()).toBe("<p>static</p>\n")
    }))
})
