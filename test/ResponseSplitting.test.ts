/**
 * Issue 12, item 1: response splitting through text that reaches a response head, tried over real sockets. The head
 * is written as latin-1 (the low byte of each UTF-16 unit), so U+010D is CR and U+010A is LF on the wire: every
 * place request text or a handler's text reaches a head is tried with several such code points and raw controls,
 * and the raw bytes of the head are checked line by line.
 */
import { beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Layer } from "effect"
import * as AccessLog from "../src/AccessLog.js"
import * as Handler from "../src/Handler.js"
import { HttpError } from "../src/HttpError.js"
import * as Response from "../src/Response.js"
import * as Server from "../src/Server.js"
import { cgiServer, docRoot } from "./support/cgiKit.js"
import { ensureBuilt, start } from "./support/cliProcess.js"
import { sendRaw } from "./support/rawClient.js"
import { startStatic } from "./support/staticServer.js"

/** Code points whose low byte is CR, LF or another control (U+2028, U+FF0D…), and raw DEL, NUL, VT, CR, LF. */
const HOSTILE = ["\u010d", "\u010a", "\u0d0a", "\u2028", "\uff0d", "\u0100", "\x7f", "\x00", "\x0b", "\r", "\n"]
/**
 * Names whose UTF-8 bytes the decoder lets through raw in a request target (0xA0–0xFF: bytes 0x80–0x9F are C1
 * controls, refused with 400, and so is every UTF-8 form of the code points above). The request line is read as
 * latin-1, so the raw bytes of `é` (C3 A9) name the file `Ã©`, as in Python.
 */
const RAW_NAMES = ["\xe9", "\xf1\xe9"]
const latin1 = (text: string) => Buffer.from(text, "utf8").toString("latin1")
const INJECTED = "Set-Cookie: pwned=1"
const name = (c: string) => `U+${c.charCodeAt(0).toString(16).padStart(4, "0")}`

const STATUS_LINE = /^HTTP\/1\.[01] [1-9][0-9]{2} [\t\x20-\x7e\x80-\xff]*$/
const FIELD_LINE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+: (?:[\x21-\x7e\x80-\xff](?:[\t\x20-\x7e\x80-\xff]*[\x21-\x7e\x80-\xff])?)?$/

/**
 * The head's lines from the raw bytes, after checking them: a well-formed status line, fields in grammar, no
 * `Set-Cookie` field, and no CR or LF in the head but the line ends.
 */
const cleanHead = (raw: Buffer, what: string): Array<string> => {
  const text = raw.toString("latin1")
  const end = text.indexOf("\r\n\r\n")
  expect(end, what).toBeGreaterThan(0)
  const lines = text.slice(0, end).split("\r\n")
  expect(lines[0], what).toMatch(STATUS_LINE)
  for (const line of lines.slice(1)) {
    expect(line, what).toMatch(FIELD_LINE)
    expect(line.toLowerCase().startsWith("set-cookie"), what).toBe(false)
  }
  // No CR or LF in the head but the CRLF pairs that end its lines (the body, framed by its length, may hold any).
  expect(text.slice(0, end).replace(/\r\n/g, ""), what).not.toMatch(/[\r\n]/)
  return lines
}

const send = (port: number, request: string) =>
  Effect.map(sendRaw({ port, chunks: [request], timeoutMs: 10_000 }), (ex) => ex.bytes)

describe("CGI: the decoded path in the 404/403 reason phrases", () => {
  const tree = () =>
    docRoot({
      "cgi-bin/ok.sh": { content: "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nok'\n" },
      [`cgi-bin/d\u010d\u010a${INJECTED}`]: "dir",
      [`cgi-bin/n\u010d\u010a${INJECTED}`]: { content: "#!/bin/sh\necho x\n", mode: 0o644 }
    })

  it.scopedLive("GET /cgi-bin/x%C4%8D%C4%8ASet-Cookie:%20pwned=1 sends no Set-Cookie line; the path is escaped as repr shows it", () =>
    Effect.gen(function*() {
      const root = yield* tree()
      for (const rfc3875 of [false, true]) {
        const { port } = yield* cgiServer({ directory: root, rfc3875 })
        const raw = yield* send(port, "GET /cgi-bin/x%C4%8D%C4%8ASet-Cookie:%20pwned=1 HTTP/1.0\r\n\r\n")
        const lines = cleanHead(raw, "reproduction")
        expect(lines[0]).toBe("HTTP/1.0 404 No such CGI script ('/cgi-bin/x\\u010d\\u010aSet-Cookie: pwned=1')")
      }
    }))

  it.scopedLive("every hostile code point, in the 404, the 403 for a directory and the 403 for a non-executable file", () =>
    Effect.gen(function*() {
      const root = yield* tree()
      const { port } = yield* cgiServer({ directory: root })
      const cookie = encodeURIComponent(INJECTED)
      for (const c of HOSTILE) {
        const raw = yield* send(port, `GET /cgi-bin/x${encodeURIComponent(c)}${cookie} HTTP/1.0\r\n\r\n`)
        const lines = cleanHead(raw, name(c))
        expect(lines[0], name(c)).toMatch(/^HTTP\/1\.0 404 No such CGI script \('\/cgi-bin\/x\\[xnru][0-9a-f]*Set-Cookie: pwned=1'\)$/)
      }
      const spelled = `${encodeURIComponent("\u010d\u010a")}${cookie}`
      const directory = cleanHead(yield* send(port, `GET /cgi-bin/d${spelled} HTTP/1.0\r\n\r\n`), "directory")
      expect(directory[0]).toBe("HTTP/1.0 403 CGI script is not a plain file ('/cgi-bin/d\\u010d\\u010aSet-Cookie: pwned=1')")
      const file = cleanHead(yield* send(port, `GET /cgi-bin/n${spelled} HTTP/1.0\r\n\r\n`), "not executable")
      expect(file[0]).toBe("HTTP/1.0 403 CGI script is not executable ('/cgi-bin/n\\u010d\\u010aSet-Cookie: pwned=1')")
      // The scripts still run.
      expect((yield* send(port, "GET /cgi-bin/ok.sh HTTP/1.0\r\n\r\n")).toString("latin1")).toMatch(/\nok$/)
    }))
})

describe("the executable: effect-httpd --cgi", () => {
  beforeAll(() => ensureBuilt(), 120_000)

  it.scopedLive("the issue's reproduction over a real socket", () =>
    Effect.gen(function*() {
      const root = yield* docRoot({ "cgi-bin": "dir" })
      const server = yield* start(["--cgi", "-d", root, "-b", "127.0.0.1", "0"])
      const raw = yield* send(server.port, "GET /cgi-bin/x%C4%8D%C4%8ASet-Cookie:%20pwned=1 HTTP/1.0\r\n\r\n")
      expect(cleanHead(raw, "cli")[0]).toBe(
        "HTTP/1.0 404 No such CGI script ('/cgi-bin/x\\u010d\\u010aSet-Cookie: pwned=1')"
      )
    }))
})

describe("static files: Locations made from the request path", () => {
  it.scopedLive("the directory 301: raw bytes come back %-encoded, the redirect names the same directory", () =>
    Effect.gen(function*() {
      const names = [...HOSTILE.filter((c) => c !== "\x00"), ...RAW_NAMES.map(latin1)]
      const root = yield* docRoot(Object.fromEntries(names.map((c) => [`d${c}`, "dir"])))
      for (const cache of [true, false]) {
        const server = yield* startStatic({ directory: root, cache })
        const port = server.address.port
        for (const raw of RAW_NAMES) {
          const bytes = latin1(`d${raw}`)
          const moved = cleanHead(yield* send(port, `GET /${bytes} HTTP/1.0\r\n\r\n`), raw)
          expect(moved[0]).toBe("HTTP/1.0 301 Moved Permanently")
          const location = moved.find((l) => l.startsWith("Location: "))!.slice("Location: ".length)
          expect(location, raw).toBe(`/${encodeURIComponent(bytes)}/`)
          const listing = cleanHead(yield* send(port, `GET ${location} HTTP/1.0\r\n\r\n`), raw)
          expect(listing[0], raw).toBe("HTTP/1.0 200 OK")
        }
        for (const c of HOSTILE) {
          const moved = cleanHead(yield* send(port, `GET /d${encodeURIComponent(c)} HTTP/1.0\r\n\r\n`), name(c))
          expect(moved[0], name(c)).toMatch(c === "\x00" ? / 404 / : / 301 /)
        }
      }
    }))

  it.scopedLive("listings (plain, rich, JSON) of names with every hostile code point keep a clean head", () =>
    Effect.gen(function*() {
      const root = yield* docRoot(Object.fromEntries(HOSTILE.filter((c) => c !== "\x00").map((c) => [`n${c}${INJECTED}`, "dir"])))
      for (const options of [{}, { richListing: true }, { jsonListing: true }]) {
        const server = yield* startStatic({ directory: root, ...options })
        for (const target of ["/", "/?format=json", "/?sort=name&order=desc"]) {
          const what = `${JSON.stringify(options)} ${target}`
          expect(cleanHead(yield* send(server.address.port, `GET ${target} HTTP/1.0\r\n\r\n`), what)[0], what)
            .toBe("HTTP/1.0 200 OK")
        }
      }
    }))

  it.scopedLive("the upload 201: Location %-encoded, the file stored under its name", () =>
    Effect.gen(function*() {
      const root = yield* docRoot({ "up": "dir" })
      const server = yield* startStatic({ directory: root, upload: true })
      const port = server.address.port
      for (const raw of RAW_NAMES) {
        const bytes = latin1(`f${raw}.txt`)
        const lines = cleanHead(yield* send(port, `PUT /up/${bytes} HTTP/1.0\r\nContent-Length: 2\r\n\r\nhi`), raw)
        expect(lines[0], raw).toBe("HTTP/1.0 201 Created")
        expect(lines, raw).toContain(`Location: /up/${encodeURIComponent(bytes)}`)
        const back = yield* send(port, `GET /up/${encodeURIComponent(bytes)} HTTP/1.0\r\n\r\n`)
        expect(back.toString("latin1"), raw).toMatch(/^HTTP\/1\.0 200 OK\r\n[^]*\r\n\r\nhi$/)
      }
      for (const c of HOSTILE) {
        const spelled = `/up/g${encodeURIComponent(c + INJECTED)}.txt`
        const raw = yield* send(port, `PUT ${spelled} HTTP/1.0\r\nContent-Length: 2\r\n\r\nhi`)
        const lines = cleanHead(raw, name(c))
        // The 201 where the name can be stored, a refusal otherwise (NUL, and CR/LF when uploads refuse them).
        if (lines[0] === "HTTP/1.0 201 Created") expect(lines, name(c)).toContain(`Location: ${spelled}`)
      }
      const spelled = yield* send(port, `PUT /up/g%C4%8A.txt HTTP/1.0\r\nContent-Length: 2\r\n\r\nhi`)
      expect(cleanHead(spelled, "spelled")).toContain("Location: /up/g%C4%8A.txt")
    }))
})

describe("the library: a handler's text in the head", () => {
  const routes = (c: string): Handler.Routes<never> => ({
    GET: (request) => {
      switch (request.pathname) {
        case "/message":
          return Effect.fail(new HttpError({ status: 404, message: `x${c}${INJECTED}` }))
        case "/reason":
          return Effect.succeed(Response.text("ok", { reason: `x${c}${INJECTED}` }))
        case "/value":
          return Effect.succeed(Response.text("secret body", { headers: [["X-A", `x${c}${INJECTED}`]] }))
        case "/name":
          return Effect.succeed(Response.text("secret body", { headers: [[`X-A${c}${INJECTED}`, "1"]] }))
        case "/error-header":
          return Effect.fail(new HttpError({ status: 401, headers: [["WWW-Authenticate", `Basic x${c}${INJECTED}`]] }))
        default:
          return Effect.succeed(Response.make(2000, Response.emptyBody, { headers: [["Content-Length", "0"]] }))
      }
    }
  })

  it.scopedLive("a message or reason is escaped; a field or status outside the grammar is a 500 with nothing of it sent", () =>
    Effect.gen(function*() {
      for (const c of HOSTILE) {
        const lines: Array<string> = []
        const server = yield* Server.make({ port: 0 }).pipe(
          Effect.provide(Layer.merge(Handler.layer(routes(c)), AccessLog.layerCollect(lines)))
        )
        const port = server.address.port
        const get = (path: string) => send(port, `GET ${path} HTTP/1.0\r\n\r\n`)
        const message = cleanHead(yield* get("/message"), `${name(c)} message`)
        expect(message[0], name(c)).toMatch(/^HTTP\/1\.0 404 x\\[xnru][0-9a-f]*Set-Cookie: pwned=1$/)
        const reason = cleanHead(yield* get("/reason"), `${name(c)} reason`)
        expect(reason[0], name(c)).toMatch(/^HTTP\/1\.0 200 x\\[xnru][0-9a-f]*Set-Cookie: pwned=1$/)
        for (const path of ["/value", "/name", "/error-header", "/status"]) {
          const raw = yield* get(path)
          const head = cleanHead(raw, `${name(c)} ${path}`)
          expect(head[0], `${name(c)} ${path}`).toBe("HTTP/1.0 500 Internal Server Error")
          expect(raw.toString("latin1"), `${name(c)} ${path}`).not.toMatch(/pwned|secret body|WWW-Authenticate/)
        }
        expect(lines.filter((l) => l.includes("response refused: ")).length, name(c)).toBe(4)
        for (const line of lines) expect(line, name(c)).not.toMatch(/[\r\n]./)
      }
    }))

  it.scopedLive("a Server header outside the grammar stops the server from starting", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(Server.make({ port: 0, serverVersion: "x\u010a" + INJECTED }).pipe(
        Effect.provide(Layer.merge(Handler.layer({ GET: () => Effect.succeed(Response.text("x")) }), AccessLog.layerSilent))
      ))
      expect(Exit.isFailure(exit) && String(exit.cause)).toMatch(/invalid server option: the Server header/)
    }))
})
