/**
 * The opt-in RFC 3875 mode: script headers parsed, local redirects followed, lengths known, all request headers
 * passed (httpoxy excepted).
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { cgiServer, docRoot, type FileSpec, get, header, parseEnv, request } from "./support/cgiKit.js"
import { sendRaw } from "./support/rawClient.js"

const sh = (body: string): FileSpec => ({ content: `#!/bin/sh\n${body}\n` })
const files: Record<string, FileSpec> = {
  "index.html": { content: "<p>static</p>\n", mode: 0o644 },
  "cgi-bin/env.sh": sh(`printf 'Content-Type: text/plain\\n\\n'\nenv`),
  "cgi-bin/status.sh": sh(`printf 'Status: 404 Not Here\\r\\nContent-Type: text/plain\\r\\nX-Script: yes\\r\\n\\r\\nmissing\\n'`),
  "cgi-bin/own-date.sh": sh(`printf 'Date: yesterday\\nServer: mine\\nConnection: keep-alive\\nContent-Type: text/plain\\n\\nb'`),
  "cgi-bin/redir-local.sh": sh(`printf 'Location: /index.html\\r\\n\\r\\n'`),
  "cgi-bin/redir-cgi.sh": sh(`printf 'Location: /cgi-bin/env.sh/p?from=redirect\\n\\n'`),
  "cgi-bin/redir-abs.sh": sh(`printf 'Location: http://example.com/x\\r\\n\\r\\n'`),
  "cgi-bin/redir-status.sh": sh(`printf 'Status: 301 Moved\\nLocation: /elsewhere\\n\\n'`),
  "cgi-bin/loop.sh": sh(`printf 'Location: /cgi-bin/loop.sh\\n\\n'`),
  "cgi-bin/cl.sh": sh(`printf 'Content-Length: 5\\r\\n\\r\\n0123456789'`),
  "cgi-bin/cl-flood.sh": sh(`printf 'Content-Length: 5\\r\\n\\r\\n'\nhead -c 1000000 /dev/zero\nexit 4`),
  "cgi-bin/short.sh": sh(`printf 'Content-Length: 20\\r\\n\\r\\n0123456789'`),
  "cgi-bin/malformed.sh": sh(`echo "not a header"\necho\necho body`),
  "cgi-bin/nothing.sh": sh(`exit 0`),
  "cgi-bin/headers-only.sh": sh(`printf 'Status: 204 Nothing\\nX-A: 1\\n'`),
  "cgi-bin/big.sh": sh(`printf 'Content-Type: application/octet-stream\\r\\n\\r\\n'\nhead -c 200000 /dev/zero`),
  "cgi-bin/slow.sh": sh(`sleep 5`),
  "cgi-bin/badinterp.sh": { content: "#!/nonexistent/interpreter\n" }
}

describe("RFC 3875 mode", () => {
  it.scopedLive("Status and other header lines from the script; a small body gets a Content-Length", () =>
    Effect.gen(function*() {
      const root = yield* docRoot(files)
      const { port } = yield* cgiServer({ directory: root, rfc3875: true })
      const res = yield* get(port, "/cgi-bin/status.sh")
      expect(res.statusLine).toBe("HTTP/1.0 404 Not Here")
      expect(res.headers.map(([n]) => n)).toEqual(["Server", "Date", "Content-Type", "X-Script", "Content-Length"])
      expect(header(res, "Content-Length")).toBe("8")
      expect(res.body.toString()).toBe("missing\n")
      // The server's own Server and Date win; hop-by-hop fields are the server's business.
      const own = yield* get(port, "/cgi-bin/own-date.sh")
      expect(own.headers.filter(([n]) => /^(date|server|connection)$/i.test(n))).toEqual([
        ["Server", expect.stringMatching(/^effect-httpd\//)],
        ["Date", expect.stringMatching(/GMT$/)]
      ])
      const bare = yield* get(port, "/cgi-bin/headers-only.sh")
      expect(bare.statusLine).toBe("HTTP/1.0 204 Nothing")
      expect(header(bare, "X-A")).toBe("1")
    }))

  it.scopedLive("HTTP/1.1 keeps the connection open when the length is known", () =>
    Effect.gen(function*() {
      const root = yield* docRoot(files)
      const { port } = yield* cgiServer({ directory: root, rfc3875: true, protocolVersion: "HTTP/1.1" }, {
        protocolVersion: "HTTP/1.1"
      })
      const req = (path: string) => `GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`
      const exchange = yield* sendRaw({
        port,
        chunks: [req("/cgi-bin/status.sh"), req("/cgi-bin/cl.sh"), req("/cgi-bin/env.sh")],
        until: { responses: 3 }
      })
      expect(exchange.responses.map((r) => r.statusLine)).toEqual([
        "HTTP/1.1 404 Not Here",
        "HTTP/1.1 200 OK",
        "HTTP/1.1 200 OK"
      ])
      expect(exchange.responses[1]!.body.toString()).toBe("01234")
      expect(parseEnv(exchange.responses[2]!.body.toString()).SERVER_PROTOCOL).toBe("HTTP/1.1")
    }))

  it.scopedLive("a script's Content-Length is enforced: extra output dropped, short output aborts", () =>
    Effect.gen(function*() {
      const root = yield* docRoot(files)
      const { log, port } = yield* cgiServer({ directory: root, rfc3875: true })
      expect((yield* get(port, "/cgi-bin/cl.sh")).body.toString()).toBe("01234")
      // Far more than announced: still cut at the length, and the script is not left blocked on a full pipe.
      const flood = yield* get(port, "/cgi-bin/cl-flood.sh")
      expect(flood.body.length).toBe(5)
      expect(log.some((l) => l.endsWith("CGI script exit code 4"))).toBe(true)
      const short = yield* get(port, "/cgi-bin/short.sh")
      expect(header(short, "Content-Length")).toBe("20")
      expect(short.body.toString()).toBe("0123456789")
      expect(log.some((l) => l.includes("ended 10 bytes short"))).toBe(true)
    }))

  it.scopedLive("large output is streamed without a length", () =>
    Effect.gen(function*() {
      const root = yield* docRoot(files)
      const { port } = yield* cgiServer({ directory: root, rfc3875: true })
      const res = yield* get(port, "/cgi-bin/big.sh")
      expect(res.statusLine).toBe("HTTP/1.0 200 OK")
      expect(header(res, "Content-Length")).toBeUndefined()
      expect(res.body.length).toBe(200_000)
    }))

  it.scopedLive("local redirects are followed inside the server, as GET without a body", () =>
    Effect.gen(function*() {
      const root = yield* docRoot(files)
      const { log, port } = yield* cgiServer({ directory: root, rfc3875: true })
      const toFile = yield* get(port, "/cgi-bin/redir-local.sh")
      expect(toFile.statusLine).toBe("HTTP/1.0 200 OK")
      expect(toFile.body.toString()).toBe("<p>static</p>\n")
      const toScript = yield* request(
        port,
        "POST /cgi-bin/redir-cgi.sh HTTP/1.0\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nabc"
      )
      const env = parseEnv(toScript.body.toString())
      expect(env).toMatchObject({
        REQUEST_METHOD: "GET",
        SCRIPT_NAME: "/cgi-bin/env.sh",
        PATH_INFO: "/p",
        QUERY_STRING: "from=redirect",
        CONTENT_LENGTH: "",
        CONTENT_TYPE: "text/plain"
      })
      // The access log still shows what the client asked for.
      expect(log.some((l) => l.endsWith(`"POST /cgi-bin/redir-cgi.sh HTTP/1.0" 200 -`))).toBe(true)
      const loop = yield* get(port, "/cgi-bin/loop.sh")
      expect(loop.status).toBe(500)
      expect(log.some((l) => l.endsWith("CGI local redirect loop at /cgi-bin/loop.sh"))).toBe(true)
    }))

  it.scopedLive("client redirects: 302 by default, the script's Status otherwise", () =>
    Effect.gen(function*() {
      const root = yield* docRoot(files)
      const { port } = yield* cgiServer({ directory: root, rfc3875: true })
      const abs = yield* get(port, "/cgi-bin/redir-abs.sh")
      expect(abs.statusLine).toBe("HTTP/1.0 302 Found")
      expect(header(abs, "Location")).toBe("http://example.com/x")
      expect(header(abs, "Content-Length")).toBe("0")
      const moved = yield* get(port, "/cgi-bin/redir-status.sh")
      expect(moved.statusLine).toBe("HTTP/1.0 301 Moved")
      expect(header(moved, "Location")).toBe("/elsewhere")
    }))

  it.scopedLive("malformed or missing output is a 502; a script too slow to answer, 504", () =>
    Effect.gen(function*() {
      const root = yield* docRoot(files)
      const { log, port } = yield* cgiServer({ directory: root, rfc3875: true, timeout: "300 millis" })
      expect((yield* get(port, "/cgi-bin/malformed.sh")).status).toBe(502)
      expect((yield* get(port, "/cgi-bin/nothing.sh")).status).toBe(502)
      // Not startable: spawn fails (as root, setpriv's exec fails instead and the script prints nothing).
      expect((yield* get(port, "/cgi-bin/badinterp.sh")).status).toBe(502)
      const t0 = Date.now()
      expect((yield* get(port, "/cgi-bin/slow.sh")).status).toBe(504)
      expect(Date.now() - t0).toBeLessThan(2_000)
      expect(log.filter((l) => /CGI script (produced|could not be started)/.test(l)).length).toBe(3)
    }))

  it.scopedLive("HEAD: headers only", () =>
    Effect.gen(function*() {
      const root = yield* docRoot(files)
      const { port } = yield* cgiServer({ directory: root, rfc3875: true })
      const res = yield* get(port, "/cgi-bin/status.sh", [], "HEAD")
      expect(res.statusLine).toBe("HTTP/1.0 404 Not Here")
      expect(header(res, "Content-Length")).toBe("8")
      expect(res.body.length).toBe(0)
    }))

  it.scopedLive("every request header as HTTP_*, except Proxy (httpoxy) and names with '_'", () =>
    Effect.gen(function*() {
      const root = yield* docRoot(files)
      process.env.HTTP_PROXY = "http://server-env-proxy"
      yield* Effect.addFinalizer(() => Effect.sync(() => delete process.env.HTTP_PROXY))
      const { port } = yield* cgiServer({ directory: root, rfc3875: true })
      const res = yield* get(port, "/cgi-bin/env.sh", [
        "Host: example.localhost",
        "X-Custom: a",
        "X-Custom: b",
        "Proxy: http://attacker:8080",
        "X_Custom: smuggled",
        "Accept: one",
        "Accept: two",
        "Authorization: Basic " + Buffer.from("u:p").toString("base64")
      ])
      const env = parseEnv(res.body.toString())
      expect(env.HTTP_HOST).toBe("example.localhost")
      expect(env.HTTP_X_CUSTOM).toBe("a, b")
      expect(env.HTTP_ACCEPT).toBe("one,two")
      expect(env.HTTP_PROXY).toBeUndefined()
      expect(env.HTTP_AUTHORIZATION).toBeUndefined()
      expect(env.REMOTE_USER).toBe("u")
      // In Python's mode the server's own HTTP_PROXY is inherited like anything else.
      const python = yield* cgiServer({ directory: root })
      const pyEnv = parseEnv((yield* get(python.port, "/cgi-bin/env.sh", ["Proxy: http://attacker:8080"])).body.toString())
      expect(pyEnv.HTTP_PROXY).toBe("http://server-env-proxy")
      expect(pyEnv.HTTP_HOST).toBeUndefined()
    }))
})
