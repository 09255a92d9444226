import * as NodeContext from "@effect/platform-node/NodeContext"
import { afterAll, describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import { execFileSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as NodePath from "node:path"
import * as Cli from "../src/Cli.js"
import * as Server from "../src/Server.js"
import { cliOutput, rawOptions } from "./support/cliOptions.js"
import { hasOpenssl } from "./support/tlsCert.js"

// Runs the command line in this process up to its first failure (every argv here fails before serving).
const failWith = (...args: ReadonlyArray<string>) =>
  Cli.run(["node", "effect-httpd", ...args]).pipe(Effect.flip, Effect.provide(NodeContext.layer))

const raw = rawOptions
const validate = (options: Cli.RawOptions) => Cli.validate(options, "/srv", (from, to) => NodePath.resolve(from, to))

const tmp = Fs.mkdtempSync(NodePath.join(Os.tmpdir(), "effect-httpd-cli-unit-"))
afterAll(() => Fs.rmSync(tmp, { recursive: true, force: true }))
const pem = (name: string) => NodePath.join(tmp, name)
if (hasOpenssl) {
  const req = ["req", "-x509", "-newkey", "rsa:2048", "-days", "1", "-subj", "/CN=localhost"]
  execFileSync("openssl", [...req, "-nodes", "-keyout", pem("key.pem"), "-out", pem("cert.pem")], { stdio: "ignore" })
  execFileSync("openssl", [...req, "-keyout", pem("enc-key.pem"), "-out", pem("enc-cert.pem"), "-passout", "pass:s3cret"], {
    stdio: "ignore"
  })
  Fs.writeFileSync(pem("wrong.txt"), "not-it\n")
  Fs.writeFileSync(pem("right.txt"), "  s3cret\n")
}
Fs.writeFileSync(NodePath.join(tmp, "file.txt"), "x")

describe("Cli (pure parts)", () => {
  it("banner: Python's start-up line, brackets for IPv6, HTTPS from 3.14", () => {
    expect(Cli.banner({ hostname: "0.0.0.0", port: 8000, secure: false })).toBe(
      "Serving HTTP on 0.0.0.0 port 8000 (http://0.0.0.0:8000/) ..."
    )
    expect(Cli.banner({ hostname: "::", port: 8000, secure: false })).toBe(
      "Serving HTTP on :: port 8000 (http://[::]:8000/) ..."
    )
    expect(Cli.banner({ hostname: "::1", port: 41567, secure: false })).toBe(
      "Serving HTTP on ::1 port 41567 (http://[::1]:41567/) ..."
    )
    expect(Cli.banner({ hostname: "127.0.0.1", port: 4443, secure: true })).toBe(
      "Serving HTTPS on 127.0.0.1 port 4443 (https://127.0.0.1:4443/) ..."
    )
  })

  it("stop messages: Python's line for Ctrl-C, its own for SIGTERM", () => {
    expect(Cli.stopMessage("SIGINT")).toBe("\nKeyboard interrupt received, exiting.")
    expect(Cli.stopMessage(undefined)).toBe("\nKeyboard interrupt received, exiting.")
    expect(Cli.stopMessage("SIGTERM")).toBe("\nSIGTERM received, exiting.")
  })

  it("exit codes: 0 for success and stop signals, 2 usage, 1 start-up and anything else", () => {
    const usage = new Cli.CliError({ kind: "Usage", message: "m" })
    const startup = new Cli.CliError({ kind: "Startup", message: "m" })
    expect(Cli.exitCode(Exit.void)).toBe(0)
    expect(Cli.exitCode(Exit.interrupt(0 as never))).toBe(0)
    expect(Cli.exitCode(Exit.fail(usage))).toBe(2)
    expect(Cli.exitCode(Exit.fail(startup))).toBe(1)
    expect(Cli.exitCode(Exit.failCause(Cause.die(new Error("boom"))))).toBe(1)
    expect(Cli.errorLine(usage)).toBe("effect-httpd: error: m")
  })

  it("port range and bind addresses", () => {
    expect([0, 1, 8000, 65535].every(Cli.isValidPort)).toBe(true)
    expect([-1, 65536, 1.5, NaN].some(Cli.isValidPort)).toBe(false)
    expect(Cli.parseBind("[::1]")).toEqual(Cli.parseBind("::1"))
    expect(Option.getOrThrow(Option.getRight(Cli.parseBind(" 127.0.0.1 ")))).toBe("127.0.0.1")
    expect(Option.getOrThrow(Option.getRight(Cli.parseBind("localhost")))).toBe("localhost")
    const rejected = (value: string) => Option.getOrThrow(Option.getLeft(Cli.parseBind(value))).message
    expect(rejected("  ")).toBe("argument -b/--bind: empty address")
    expect(rejected("300.1.1.1")).toBe("argument -b/--bind: invalid IPv4 address '300.1.1.1'")
    expect(rejected("1.2.3")).toBe("argument -b/--bind: invalid IPv4 address '1.2.3'")
    expect(rejected("[::1")).toBe("argument -b/--bind: invalid IPv6 address '[::1'")
    expect(rejected("fe80:::1")).toBe("argument -b/--bind: invalid IPv6 address 'fe80:::1'")
  })

  it("--cgi never takes a value (argparse's store_true), so a following port stays a port", () => {
    expect(Cli.normalizeArgs(["--cgi", "0"])).toEqual(["--cgi=true", "0"])
    expect(Cli.normalizeArgs(["-b", "::1", "--cgi", "1", "--", "--cgi"])).toEqual(["-b", "::1", "--cgi=true", "1", "--", "--cgi"])
  })

  it("listen failures name the address and the reason", () => {
    const error = (reason: Server.ServeError["reason"]) => new Server.ServeError({ reason, message: "raw", cause: null })
    expect(Cli.serveErrorMessage(error("AddressInUse"), "::", 8000)).toBe(
      "cannot listen on [::]:8000: address already in use (try another port, or 0 for a free one)"
    )
    expect(Cli.serveErrorMessage(error("PermissionDenied"), "0.0.0.0", 80)).toBe(
      "cannot listen on 0.0.0.0:80: permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
    )
    expect(Cli.serveErrorMessage(error("AddressNotAvailable"), "192.0.2.1", 8000)).toBe(
      "cannot listen on 192.0.2.1:8000: address not available on this machine"
    )
    const unresolved = new Server.ServeError({ reason: "AddressNotAvailable", message: "raw", cause: { code: "ENOTFOUND" } })
    expect(Cli.serveErrorMessage(unresolved, "no.such.host", 8000)).toBe(
      "cannot listen on no.such.host:8000: unknown host name"
    )
  })

  it.effect("validate: defaults, absolute directory, TLS options that need --tls-cert", () =>
    Effect.gen(function*() {
      const config = yield* validate(raw({ directory: Option.some("public"), bind: Option.some("[::1]") }))
      expect(config).toEqual({
        port: 8000,
        bind: Option.some("::1"),
        allowedHosts: [],
        directory: "/srv/public",
        cgi: false,
        protocol: "HTTP/1.0",
        tls: Option.none(),
        indexPages: Option.none(),
        headers: [],
        colorScheme: false,
        cors: false,
        cacheControl: Option.none(),
        noDotfiles: false,
        noFollowSymlinks: false,
        jsonListing: false,
        spa: Option.none(),
        basicAuth: [],
        workers: 1,
        precompressed: false,
        upload: Option.none(),
        compress: Option.none(),
        richListing: false,
        archives: false,
        keepAliveOnError: false
      })
      expect((yield* validate(raw())).directory).toBe("/srv")
      expect((yield* validate(raw({ keepAliveOnError: true }))).keepAliveOnError).toBe(true)
      expect((yield* validate(raw({ allowedHost: ["dev.example", "*", "[::1]"] }))).allowedHosts).toEqual(["dev.example", "*", "[::1]"])
      for (const name of ["", "a b", "user@host", "a/b"]) {
        const bad = yield* Effect.flip(validate(raw({ allowedHost: [name] })))
        expect(bad).toMatchObject({ kind: "Usage", message: `argument --allowed-host: invalid host name '${name}'` })
      }
      expect(Cli.normalizeArgs(["--keep-alive-on-error", "0"])).toEqual(["--keep-alive-on-error=true", "0"])
      expect((yield* validate(raw({ workers: 4 }))).workers).toBe(4)
      for (const workers of [0, -1, 1.5, 257]) {
        const bad = yield* Effect.flip(validate(raw({ workers })))
        expect(bad).toMatchObject({ kind: "Usage", message: `argument --workers: invalid count '${workers}' (an integer from 1 to 256)` })
      }
      const tls = yield* validate(raw({ tlsCert: Option.some("c.pem"), tlsPasswordFile: Option.some("p") }))
      expect(tls.tls).toEqual(Option.some({ certFile: "c.pem", keyFile: Option.none(), passwordFile: Option.some("p") }))
      const keyOnly = yield* Effect.flip(validate(raw({ tlsKey: Option.some("k.pem") })))
      expect(keyOnly.message).toBe("--tls-key requires --tls-cert to be set")
      const passwordOnly = yield* Effect.flip(validate(raw({ tlsPasswordFile: Option.some("p") })))
      expect(passwordOnly.message).toBe("--tls-password-file requires --tls-cert to be set")
      expect((yield* Effect.flip(validate(raw({ port: 65536 })))).exitCode).toBe(2)
    }))
})

const output = cliOutput

describe("Cli.run built-in options, in process", () => {
  it.effect("--version prints the version alone", () =>
    Effect.gen(function*() {
      expect(yield* output("--version")).toBe(Server.VERSION)
    }))

  it.effect("--completions bash|zsh|fish know every option", () =>
    Effect.gen(function*() {
      for (const shell of ["bash", "zsh", "fish"]) {
        const script = yield* output("--completions", shell)
        for (const option of ["--bind", "--directory", "--cgi", "--protocol", "--tls-cert", "--tls-key", "--tls-password-file"]) {
          expect(script, `${shell} ${option}`).toContain(option.slice(2))
        }
      }
    }))

  it.effect("--help describes the program, with examples", () =>
    Effect.gen(function*() {
      const help = yield* output("--help")
      expect(help).toContain("python -m http.server")
      expect(help).toContain("effect-httpd --tls-cert cert.pem --tls-key key.pem 8443")
      expect(help).not.toMatch(/\s$/)
    }))
})

describe("Cli.run usage errors (exit status 2), in process", () => {
  const cases: ReadonlyArray<readonly [ReadonlyArray<string>, string]> = [
    [["abc"], "argument port: invalid port 'abc' (an integer from 0 to 65535)"],
    [["70000"], "argument port: invalid port '70000' (an integer from 0 to 65535)"],
    [["--bogus"], "unrecognized option '--bogus'"],
    [["1", "2"], "unrecognized argument '2'"],
    [["-p", "HTTP/2.0"], "argument -p/--protocol: expected one of HTTP/1.0, HTTP/1.1"],
    [["-b", "", "0"], "argument -b/--bind: empty address"],
    [["--tls-key", "k.pem", "0"], "--tls-key requires --tls-cert to be set"],
    [["--tls-password-file", "p", "0"], "--tls-password-file requires --tls-cert to be set"],
    [["-d", "/nonexistent/dir", "0"], "argument -d/--directory: cannot use '/nonexistent/dir': no such file"],
    [["--tls-cert", "/nonexistent/cert.pem", "0"], "cannot read --tls-cert '/nonexistent/cert.pem': no such file"]
  ]
  for (const [args, message] of cases) {
    it.effect(`${args.join(" ")} → ${message}`, () =>
      Effect.gen(function*() {
        const error = yield* failWith(...args)
        expect(error.message).toBe(message)
        expect(error.exitCode).toBe(2)
      }))
  }

  it.effect("a file as --directory", () =>
    Effect.gen(function*() {
      const error = yield* failWith("-d", NodePath.join(tmp, "file.txt"), "0")
      expect(error.message).toBe(`'${NodePath.join(tmp, "file.txt")}' is not a directory`)
      expect(error.exitCode).toBe(2)
    }))

  it.effect("a directory as --tls-key", () =>
    Effect.gen(function*() {
      const error = yield* failWith("--tls-cert", NodePath.join(tmp, "file.txt"), "--tls-key", tmp, "0")
      expect(error.message).toBe(`'${tmp}' is not a regular file`)
      expect(error.exitCode).toBe(2)
    }))
})

describe("Cli.run start-up failures (exit status 1), in process", () => {
  it.scopedLive("port in use", () =>
    Effect.gen(function*() {
      const blocker = Net.createServer()
      yield* Effect.acquireRelease(
        Effect.async<void>((resume) => void blocker.listen({ host: "127.0.0.1", port: 0 }, () => resume(Effect.void))),
        () => Effect.async<void>((resume) => void blocker.close(() => resume(Effect.void)))
      )
      const port = (blocker.address() as Net.AddressInfo).port
      const error = yield* failWith("-b", "127.0.0.1", "-d", tmp, String(port))
      expect(error.message).toBe(
        `cannot listen on 127.0.0.1:${port}: address already in use (try another port, or 0 for a free one)`
      )
      expect(error.exitCode).toBe(1)
    }))

  it.scopedLive("an address not on this machine (EADDRNOTAVAIL; nothing is sent)", () =>
    Effect.gen(function*() {
      const error = yield* failWith("-b", "192.0.2.1", "-d", tmp, "0")
      expect(error.message).toBe("cannot listen on 192.0.2.1:0: address not available on this machine")
      expect(error.exitCode).toBe(1)
    }))

  it.scopedLive.skipIf(!hasOpenssl)("TLS: wrong password, missing password, key not matching, not PEM", () =>
    Effect.gen(function*() {
      const tls = (...args: ReadonlyArray<string>) => failWith("-b", "127.0.0.1", "-d", tmp, ...args, "0")
      const wrong = yield* tls("--tls-cert", pem("enc-cert.pem"), "--tls-key", pem("enc-key.pem"), "--tls-password-file", pem("wrong.txt"))
      expect(wrong.message).toBe(`cannot decrypt TLS key '${pem("enc-key.pem")}': wrong password`)
      expect(wrong.exitCode).toBe(1)
      const missing = yield* tls("--tls-cert", pem("enc-cert.pem"), "--tls-key", pem("enc-key.pem"))
      expect(missing.message).toBe(
        `cannot decrypt TLS key '${pem("enc-key.pem")}': it is encrypted, give its password with --tls-password-file`
      )
      const mismatch = yield* tls(
        "--tls-cert",
        pem("cert.pem"),
        "--tls-key",
        pem("enc-key.pem"),
        "--tls-password-file",
        pem("right.txt")
      )
      expect(mismatch.message).toBe(`TLS key '${pem("enc-key.pem")}' does not match certificate '${pem("cert.pem")}'`)
      expect(mismatch.exitCode).toBe(1)
      const notPem = yield* tls("--tls-cert", NodePath.join(tmp, "file.txt"))
      expect(notPem.message).toMatch(/^cannot load TLS certificate '.*file\.txt' and key '.*file\.txt': not valid PEM/)
      expect(notPem.exitCode).toBe(1)
    }))
})
