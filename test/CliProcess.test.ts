/**
 * The real executable, `node bin/effect-httpd.js`, as a user runs it: banner, options, HTTPS, errors with exit
 * statuses, and graceful stops on SIGINT/SIGTERM with a request in flight. Ports are 0 (parsed from the banner),
 * traffic stays on loopback, and only the processes started here are signalled.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { execFileSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as NodePath from "node:path"
import {
  ensureBuilt,
  get,
  hasIpv6Loopback,
  notServed,
  refused,
  runToExit,
  slowDownload,
  start,
  stop
} from "./support/cliProcess.js"

const BIG = 32 * 1024 * 1024
const tmp = Fs.mkdtempSync(NodePath.join(Os.tmpdir(), "effect-httpd-cli-"))
const www = NodePath.join(tmp, "www")
const other = NodePath.join(tmp, "other")
const tls = NodePath.join(tmp, "tls")
const sealed = NodePath.join(tmp, "sealed")
const isRoot = process.getuid?.() === 0
// As root, permission errors are met by running as nobody; the tree must then be readable by everyone.
const unprivileged = isRoot ? { dropCapabilities: true } : {}
const privilegedPortsGuarded = (() => {
  try {
    return Number(Fs.readFileSync("/proc/sys/net/ipv4/ip_unprivileged_port_start", "utf8")) > 80
  } catch {
    return false
  }
})()
let ipv6 = false
let openssl = false

beforeAll(async () => {
  ensureBuilt()
  ipv6 = await hasIpv6Loopback()
  Fs.chmodSync(tmp, 0o755)
  Fs.mkdirSync(NodePath.join(www, "cgi-bin"), { recursive: true, mode: 0o755 })
  Fs.mkdirSync(other, { mode: 0o755 })
  Fs.mkdirSync(tls, { mode: 0o755 })
  Fs.mkdirSync(sealed, { mode: 0o000 })
  Fs.chmodSync(sealed, 0o000)
  Fs.writeFileSync(NodePath.join(www, "hello.txt"), "hello\n", { mode: 0o644 })
  Fs.writeFileSync(NodePath.join(other, "hello.txt"), "other\n", { mode: 0o644 })
  Fs.writeFileSync(NodePath.join(www, "big.bin"), Buffer.alloc(BIG, 0x61), { mode: 0o644 })
  Fs.writeFileSync(
    NodePath.join(www, "cgi-bin", "hi.sh"),
    "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\ncgi says hi\\n'\n",
    { mode: 0o755 }
  )
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" })
    openssl = true
  } catch {
    return
  }
  const req = ["req", "-x509", "-newkey", "rsa:2048", "-days", "1", "-subj", "/CN=localhost"]
  const at = (name: string) => NodePath.join(tls, name)
  execFileSync("openssl", [...req, "-nodes", "-keyout", at("key.pem"), "-out", at("cert.pem")], { stdio: "ignore" })
  execFileSync("openssl", [...req, "-keyout", at("enc-key.pem"), "-out", at("enc-cert.pem"), "-passout", "pass:s3cret"], {
    stdio: "ignore"
  })
  Fs.writeFileSync(at("password.txt"), "s3cret\n")
  Fs.writeFileSync(at("wrong.txt"), "guess\n")
  Fs.writeFileSync(at("sealed.pem"), Fs.readFileSync(at("cert.pem")), { mode: 0o000 })
  Fs.chmodSync(at("sealed.pem"), 0o000)
  for (const name of Fs.readdirSync(tls)) if (name !== "sealed.pem") Fs.chmodSync(at(name), 0o644)
}, 60_000)

afterAll(() => {
  Fs.chmodSync(sealed, 0o755)
  Fs.rmSync(tmp, { recursive: true, force: true })
})

const pem = (name: string) => NodePath.join(tls, name)
const ACCESS_LINE = /^(::ffff:)?127\.0\.0\.1 - - \[\d\d\/\w{3}\/\d{4} \d\d:\d\d:\d\d\] "GET \/hello\.txt HTTP\/1\.1" 200 -$/m
const FAREWELL = "\nKeyboard interrupt received, exiting.\n"

/** Polls until `check` holds (real clock), failing after `timeoutMs`. */
const eventually = (what: string, check: () => Effect.Effect<boolean> | boolean, timeoutMs = 5_000) =>
  Effect.gen(function*() {
    const deadline = Date.now() + timeoutMs
    while (true) {
      const result = check()
      if (typeof result === "boolean" ? result : yield* result) return
      if (Date.now() > deadline) return yield* Effect.die(new Error(`timed out waiting for: ${what}`))
      yield* Effect.sleep("25 millis")
    }
  })

/** A raw connection reading responses framed by Content-Length (enough for hello.txt). */
const rawConnection = (host: string, port: number) =>
  Effect.acquireRelease(
    Effect.async<Net.Socket, Error>((resume) => {
      const socket = Net.connect({ host, port }, () => resume(Effect.succeed(socket)))
      socket.once("error", (error) => resume(Effect.fail(error)))
    }),
    (socket) => Effect.sync(() => socket.destroy())
  ).pipe(Effect.map((socket) => {
    let buffer = ""
    let ended = false
    socket.setEncoding("latin1")
    socket.on("data", (chunk: string) => (buffer += chunk))
    socket.on("end", () => (ended = true))
    socket.on("error", () => {})
    const response = (request: string) =>
      Effect.gen(function*() {
        socket.write(request)
        let head = ""
        yield* eventually("a response", () => {
          const end = buffer.indexOf("\r\n\r\n")
          if (end < 0) return false
          const length = Number(/\r\ncontent-length: *(\d+)/i.exec(buffer.slice(0, end))?.[1] ?? 0)
          if (buffer.length < end + 4 + length) return false
          head = buffer.slice(0, end + 4 + length)
          buffer = buffer.slice(end + 4 + length)
          return true
        })
        return head
      })
    return { response, ended: () => ended }
  }))

describe.concurrent("effect-httpd executable", () => {
  it.scopedLive("--help: plain text when piped, every option with an example", () =>
    Effect.gen(function*() {
      const help = yield* runToExit(["--help"])
      expect(help.code).toBe(0)
      expect(help.stdout).not.toContain("\x1b")
      const options = help.stdout.slice(help.stdout.indexOf("\nOPTIONS\n"))
      for (const option of ["--bind", "--directory", "--cgi", "--protocol", "--tls-cert", "--tls-key", "--tls-password-file"]) {
        const at = new RegExp(`^(\\(-\\w, )?${option}\\b`, "m").exec(options)
        expect(at, option).not.toBe(null)
        const described = options.slice(at!.index)
        expect(described.slice(0, described.indexOf("This setting")), option).toContain("Example:")
      }
      expect(help.stdout).toContain("<port>")
      expect(help.stdout).toMatch(/\(-b, --bind ADDRESS\)/)
      expect(help.stderr).toBe("")
    }))

  it.scopedLive("no options: all interfaces, the current directory, HTTP/1.0, no CGI; Ctrl-C exits 0", () =>
    Effect.gen(function*() {
      const server = yield* start(["0"], { cwd: www })
      const host = ipv6 ? "::" : "0.0.0.0"
      expect(server.banner).toBe(
        `Serving HTTP on ${host} port ${server.port} (http://${ipv6 ? "[::]" : "0.0.0.0"}:${server.port}/) ...\n`
      )
      const viaIpv4 = yield* get(`http://127.0.0.1:${server.port}/hello.txt`)
      expect(viaIpv4).toMatchObject({ status: 200, body: "hello\n" })
      expect(viaIpv4.headers["content-type"]).toBe("text/plain")
      if (ipv6) expect((yield* get(`http://[::1]:${server.port}/hello.txt`)).body).toBe("hello\n")
      yield* eventually("the access line", () => ACCESS_LINE.test(server.stderr()))
      // HTTP/1.0: one response per connection, even when an HTTP/1.1 client asks for more.
      const once = yield* rawConnection("127.0.0.1", server.port)
      expect(yield* once.response("GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")).toMatch(/^HTTP\/1\.0 200 OK\r\n/)
      yield* eventually("the server to close the connection", once.ended)
      // Without --cgi a script is a file like any other.
      expect((yield* get(`http://127.0.0.1:${server.port}/cgi-bin/hi.sh`)).body).toContain("#!/bin/sh")
      const exit = yield* stop(server, "SIGINT")
      expect(exit.code).toBe(0)
      expect(exit.stdout).toBe(server.banner + FAREWELL)
      expect(yield* refused("127.0.0.1", server.port)).toBe(true)
    }))

  it.scopedLive("--bind 127.0.0.1 --directory DIR (options after the port too)", () =>
    Effect.gen(function*() {
      const server = yield* start(["--bind", "127.0.0.1", "0", "--directory", other], { cwd: www })
      expect(server.banner).toBe(`Serving HTTP on 127.0.0.1 port ${server.port} (http://127.0.0.1:${server.port}/) ...\n`)
      expect(yield* get(`http://127.0.0.1:${server.port}/hello.txt`)).toMatchObject({ status: 200, body: "other\n" })
    }))

  it.scopedLive("-b ::1: IPv6 literal in brackets in the URL", () =>
    Effect.gen(function*() {
      if (!ipv6) return
      const server = yield* start(["-b", "::1", "-d", www, "0"])
      expect(server.banner).toBe(`Serving HTTP on ::1 port ${server.port} (http://[::1]:${server.port}/) ...\n`)
      expect((yield* get(`http://[::1]:${server.port}/hello.txt`)).body).toBe("hello\n")
      expect(yield* refused("127.0.0.1", server.port)).toBe(true)
    }))

  it.scopedLive("--protocol HTTP/1.1 keeps the connection", () =>
    Effect.gen(function*() {
      const request = "GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"
      const keep = yield* start(["-b", "127.0.0.1", "-d", www, "--protocol", "HTTP/1.1", "0"])
      const connection = yield* rawConnection("127.0.0.1", keep.port)
      const first = yield* connection.response(request)
      const second = yield* connection.response(request)
      expect(first).toMatch(/^HTTP\/1\.1 200 OK\r\n/)
      expect(second).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nhello\n$/)
      expect(connection.ended()).toBe(false)
    }))

  it.scopedLive("a 404 closes the connection as Python's send_error; with --keep-alive-on-error it stays open", () =>
    Effect.gen(function*() {
      const missing = "GET /missing.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"
      const hello = "GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"
      const python = yield* start(["-b", "127.0.0.1", "-d", www, "-p", "HTTP/1.1", "0"])
      const closing = yield* rawConnection("127.0.0.1", python.port)
      expect(yield* closing.response(missing)).toMatch(/^HTTP\/1\.1 404 File not found\r\n[\s\S]*Connection: close\r\n/)
      yield* eventually("the server to close the connection", closing.ended)
      const kept = yield* start(["-b", "127.0.0.1", "-d", www, "-p", "HTTP/1.1", "--keep-alive-on-error", "0"])
      const connection = yield* rawConnection("127.0.0.1", kept.port)
      const notFound = yield* connection.response(missing)
      expect(notFound).toMatch(/^HTTP\/1\.1 404 File not found\r\n/)
      expect(notFound).not.toMatch(/\r\nConnection:/i)
      expect(yield* connection.response(hello)).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nhello\n$/)
      expect(connection.ended()).toBe(false)
    }))

  it.scopedLive("--cgi runs scripts under /cgi-bin/ (and a following 0 is the port)", () =>
    Effect.gen(function*() {
      const cgi = yield* start(["-b", "127.0.0.1", "-d", www, "--cgi", "0"])
      const ran = yield* get(`http://127.0.0.1:${cgi.port}/cgi-bin/hi.sh`)
      expect(ran).toMatchObject({ status: 200, body: "cgi says hi\n" })
      expect(ran.headers["content-type"]).toBe("text/plain")
      expect((yield* get(`http://127.0.0.1:${cgi.port}/hello.txt`)).body).toBe("hello\n")
      expect(cgi.port).not.toBe(8000)
    }))

  it.scopedLive("HTTPS: --tls-cert/--tls-key, and an encrypted key with --tls-password-file", () =>
    Effect.gen(function*() {
      if (!openssl) return
      const [server, encrypted] = yield* Effect.all([
        start(["-b", "127.0.0.1", "-d", www, "--tls-cert", pem("cert.pem"), "--tls-key", pem("key.pem"), "0"]),
        start([
          "-b",
          "127.0.0.1",
          "-d",
          www,
          "--tls-cert",
          pem("enc-cert.pem"),
          "--tls-key",
          pem("enc-key.pem"),
          "--tls-password-file",
          pem("password.txt"),
          "0"
        ])
      ], { concurrency: "unbounded" })
      expect(server.banner).toBe(`Serving HTTPS on 127.0.0.1 port ${server.port} (https://127.0.0.1:${server.port}/) ...\n`)
      expect(yield* get(`https://127.0.0.1:${server.port}/hello.txt`)).toMatchObject({ status: 200, body: "hello\n" })
      yield* eventually("the access line", () => ACCESS_LINE.test(server.stderr()))
      expect(yield* get(`https://127.0.0.1:${encrypted.port}/hello.txt`)).toMatchObject({ status: 200, body: "hello\n" })
      expect((yield* stop(encrypted, "SIGINT")).code).toBe(0)
    }))

  it.scopedLive("a usage error: one line on stderr, exit status 2", () =>
    Effect.gen(function*() {
      const exit = yield* runToExit(["abc"])
      expect(exit).toEqual({
        code: 2,
        signal: null,
        stdout: "",
        stderr: "effect-httpd: error: argument port: invalid port 'abc' (an integer from 0 to 65535)\n"
      })
    }))

  it.scopedLive("a start-up failure (port in use): one line on stderr, exit status 1", () =>
    Effect.gen(function*() {
      const blocker = Net.createServer()
      yield* Effect.acquireRelease(
        Effect.async<void>((resume) => void blocker.listen({ host: "127.0.0.1", port: 0 }, () => resume(Effect.void))),
        () => Effect.async<void>((resume) => void blocker.close(() => resume(Effect.void)))
      )
      const port = (blocker.address() as Net.AddressInfo).port
      const exit = yield* runToExit(["-b", "127.0.0.1", "-d", www, String(port)])
      expect(exit).toEqual({
        code: 1,
        signal: null,
        stdout: "",
        stderr:
          `effect-httpd: error: cannot listen on 127.0.0.1:${port}: address already in use (try another port, or 0 for a free one)\n`
      })
    }))

  it.scopedLive("permission denied: a privileged port, an unreadable directory or certificate", () =>
    Effect.gen(function*() {
      const run = (args: ReadonlyArray<string>) => runToExit(["-b", "127.0.0.1", ...args], { ...unprivileged, cwd: www })
      const [port80, directory, cert] = yield* Effect.all([
        privilegedPortsGuarded ? Effect.asSome(run(["-d", www, "80"])) : Effect.succeedNone,
        run(["-d", sealed, "0"]),
        openssl ? Effect.asSome(run(["-d", www, "--tls-cert", pem("sealed.pem"), "0"])) : Effect.succeedNone
      ], { concurrency: "unbounded" })
      if (Option.isSome(port80)) {
        expect(port80.value).toMatchObject({
          code: 1,
          stderr:
            "effect-httpd: error: cannot listen on 127.0.0.1:80: permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)\n"
        })
      }
      expect(directory).toMatchObject({
        code: 2,
        stderr: `effect-httpd: error: argument -d/--directory: cannot use '${sealed}': permission denied\n`
      })
      if (Option.isSome(cert)) {
        expect(cert.value).toMatchObject({
          code: 2,
          stderr: `effect-httpd: error: cannot read --tls-cert '${pem("sealed.pem")}': permission denied\n`
        })
      }
    }))

  it.scopedLive("SIGINT with a download in flight: no new connections served, the response finishes, exit 0", () =>
    Effect.gen(function*() {
      const server = yield* start(["-b", "127.0.0.1", "-d", www, "0"])
      const download = slowDownload(server.port)
      yield* Effect.addFinalizer(() => Effect.sync(() => download.socket.destroy()))
      yield* eventually("the response head", download.started)
      download.socket.pause()
      yield* Effect.sleep("200 millis")
      expect(download.bodyBytes()).toBeLessThan(BIG)
      server.child.kill("SIGINT")
      yield* eventually("the farewell line", () => server.stdout().endsWith(FAREWELL))
      yield* eventually("new connections to go unserved", () => notServed(server.port))
      expect(server.child.exitCode).toBe(null)
      download.socket.resume()
      yield* Effect.promise(() => download.closed)
      expect(download.head()).toMatch(/^HTTP\/1\.0 200 OK\r\n/)
      expect(download.bodyBytes()).toBe(BIG)
      const exit = yield* Effect.promise(() => server.exited)
      expect(exit).toMatchObject({ code: 0, signal: null, stdout: server.banner + FAREWELL })
      expect(yield* refused("127.0.0.1", server.port)).toBe(true)
      expect(exit.stderr).toMatch(/"GET \/big\.bin HTTP\/1\.0" 200 -\n$/)
    }))

  it.scopedLive("SIGTERM with a stalled download: no new connections served, the download cut off after the grace, exit 0", () =>
    Effect.gen(function*() {
      const server = yield* start(["-b", "127.0.0.1", "-d", www, "0"])
      const download = slowDownload(server.port)
      yield* Effect.addFinalizer(() => Effect.sync(() => download.socket.destroy()))
      yield* eventually("the response head", download.started)
      download.socket.pause()
      yield* Effect.sleep("200 millis")
      const signalled = Date.now()
      server.child.kill("SIGTERM")
      yield* eventually("new connections to go unserved", () => notServed(server.port))
      const exit = yield* Effect.promise(() => server.exited)
      const took = Date.now() - signalled
      expect(yield* refused("127.0.0.1", server.port)).toBe(true)
      expect(exit).toMatchObject({ code: 0, signal: null, stdout: `${server.banner}\nSIGTERM received, exiting.\n` })
      expect(exit.stderr).not.toMatch(/\n\s+at /)
      // Cli.SHUTDOWN_GRACE is 2 seconds.
      expect(took).toBeGreaterThanOrEqual(1_800)
      expect(took).toBeLessThan(10_000)
      download.socket.resume()
      yield* Effect.promise(() => download.closed)
      expect(download.bodyBytes()).toBeLessThan(BIG)
    }))
})
