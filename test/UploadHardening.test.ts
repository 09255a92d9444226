/**
 * Issue 12, items 8 and 10 (upload and CORS): dot-paths are never written, a CORS preflight never offers PUT
 * without a password, replaced files keep their mode, control characters and over-long names are refused before
 * the body, upload temporary files are never listed nor served, and the writes stay in the directory that was
 * checked even when it is moved or swapped mid-upload. Over real sockets, on real files.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as NodeFs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { nameProblem, TEMP_PREFIX } from "../src/internal/upload.js"
import { openVerified } from "../src/internal/uploadDirectory.js"
import { sendRaw } from "./support/rawClient.js"
import { headerValues as header, request, startStatic as start } from "./support/staticServer.js"

const makeTree = Effect.acquireRelease(
  Effect.sync(() => {
    const base = NodeFs.realpathSync(NodeFs.mkdtempSync(Path.join(Os.tmpdir(), "effect-httpd-upload-")))
    const root = Path.join(base, "public")
    NodeFs.mkdirSync(Path.join(root, "sub"), { recursive: true })
    NodeFs.mkdirSync(Path.join(root, ".git"))
    NodeFs.writeFileSync(Path.join(root, ".git", "config"), "ORIGINAL\n")
    NodeFs.mkdirSync(Path.join(base, "outdir"))
    return { base, root }
  }),
  ({ base }) => Effect.sync(() => NodeFs.rmSync(base, { recursive: true, force: true }))
)

/** One PUT over HTTP/1.0 with the body whole, one response. */
const put = (port: number, target: string, body: string, headers: ReadonlyArray<string> = []) =>
  Effect.map(
    sendRaw({
      port,
      chunks: [
        `PUT ${target} HTTP/1.0\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `${headers.map((h) => h + "\r\n").join("")}\r\n${body}`
      ],
      timeoutMs: 5000
    }),
    (ex) => {
      expect(ex.responses.length, target).toBe(1)
      return ex.responses[0]!
    }
  )

/** The head of a PUT announcing a 1 MB body, and nothing of it: the answer must not wait for the body. */
const headOnly = (port: number, target: string) =>
  Effect.map(
    sendRaw({
      port,
      chunks: [`PUT ${target} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000000\r\n\r\n`],
      until: { responses: 1 },
      timeoutMs: 5000
    }),
    (ex) => {
      expect(ex.timedOut, target).toBe(false)
      return ex.responses[0]!
    }
  )

const temps = (dir: string): Array<string> =>
  NodeFs.readdirSync(dir, { recursive: true }).map(String).filter((name) => name.includes(TEMP_PREFIX))

describe("upload: dot-paths and CORS (issue 12, item 8)", () => {
  it.scopedLive("a path with a dot component is refused (403) without --no-dotfiles, however it is spelled", () =>
    Effect.gen(function*() {
      const { root } = yield* makeTree
      const server = yield* start({ directory: root, upload: true })
      const port = server.address.port
      for (
        const target of [
          "/.git/config",
          "/%2egit/config",
          "/%2Egit%2Fconfig",
          "/sub/../.git/config",
          "/sub%2f..%2f.git%2fconfig",
          "/sub/.htaccess",
          "/.bashrc",
          "/sub/.x/y",
          `/${TEMP_PREFIX}0123456789abcdef`
        ]
      ) {
        expect((yield* put(port, target, "EVIL\n")).status, target).toBe(403)
      }
      expect(NodeFs.readFileSync(Path.join(root, ".git", "config"), "utf8")).toBe("ORIGINAL\n")
      expect(NodeFs.existsSync(Path.join(root, ".bashrc"))).toBe(false)
      expect(NodeFs.existsSync(Path.join(root, "sub", ".htaccess"))).toBe(false)
      // A name merely containing a dot is fine.
      expect((yield* put(port, "/sub/a.b..c", "ok")).status).toBe(201)
      expect(temps(root)).toEqual([])
    }))

  it.scopedLive("--cors: the preflight offers PUT only with basic auth (and then only to an authorized request)", () =>
    Effect.gen(function*() {
      const { root } = yield* makeTree
      const preflight = ["Origin: http://evil.example", "Access-Control-Request-Method: PUT"]
      for (const cache of [true, false]) {
        const open = yield* start({ directory: root, cache, cors: true, upload: true })
        const answer = yield* request(open.address.port, "OPTIONS", "/x.txt", preflight)
        expect(answer.status).toBe(204)
        expect(header(answer, "access-control-allow-methods")).toEqual(["GET, HEAD, OPTIONS"])
        expect(header(answer, "allow")).toEqual(["GET, HEAD, OPTIONS"])
        // The method itself still works for a client that needs no preflight (curl): only browsers are kept out.
        expect((yield* put(open.address.port, `/direct-${cache}.txt`, "x")).status).toBe(201)
      }
      const guarded = yield* start({ directory: root, cors: true, upload: true, basicAuth: { user: "u", password: "p" } })
      const auth = `Authorization: Basic ${Buffer.from("u:p").toString("base64")}`
      const authorized = yield* request(guarded.address.port, "OPTIONS", "/x.txt", [...preflight, auth])
      expect(header(authorized, "access-control-allow-methods")).toEqual(["GET, HEAD, OPTIONS, PUT"])
      // A browser's preflight never carries credentials: answered without them (else no page could ever PUT with
      // the password); the actual PUT still needs them.
      const bare = yield* request(guarded.address.port, "OPTIONS", "/x.txt", preflight)
      expect(bare.status).toBe(204)
      expect(header(bare, "access-control-allow-methods")).toEqual(["GET, HEAD, OPTIONS, PUT"])
      expect((yield* request(guarded.address.port, "OPTIONS", "/x.txt", [])).status, "not a preflight").toBe(401)
      expect((yield* put(guarded.address.port, "/cors-put.txt", "x")).status).toBe(401)
      expect((yield* put(guarded.address.port, "/cors-put.txt", "x", [auth])).status).toBe(201)
      // Two credentials are ambiguous (which one does a proxy or a CGI script read?): 400, nothing written.
      const twice = yield* put(guarded.address.port, "/twice.txt", "x", [auth, "Authorization: Basic eDp5"])
      expect(twice.status).toBe(400)
      expect(NodeFs.existsSync(Path.join(root, "twice.txt"))).toBe(false)
    }))

  it.scopedLive("the asterisk form is OPTIONS's alone: PUT * and GET * are 400, no file named '*'", () =>
    Effect.gen(function*() {
      const { root } = yield* makeTree
      NodeFs.writeFileSync(Path.join(root, "*"), "star")
      const server = yield* start({ directory: root, upload: true })
      expect((yield* put(server.address.port, "*", "x")).status).toBe(400)
      expect(NodeFs.readFileSync(Path.join(root, "*"), "utf8")).toBe("star")
      expect((yield* request(server.address.port, "GET", "*")).status).toBe(400)
    }))
})

describe("upload details (issue 12, item 10)", () => {
  it.scopedLive("replacing a file keeps its mode (0600 stays 0600); a new file gets 0644 less the umask", () =>
    Effect.gen(function*() {
      const { root } = yield* makeTree
      const secret = Path.join(root, "secret.txt")
      NodeFs.writeFileSync(secret, "old")
      NodeFs.chmodSync(secret, 0o600)
      const script = Path.join(root, "run.sh")
      NodeFs.writeFileSync(script, "old")
      NodeFs.chmodSync(script, 0o750)
      const server = yield* start({ directory: root, upload: true })
      const port = server.address.port
      expect((yield* put(port, "/secret.txt", "new secret")).status).toBe(204)
      expect(NodeFs.readFileSync(secret, "utf8")).toBe("new secret")
      expect(NodeFs.statSync(secret).mode & 0o7777).toBe(0o600)
      expect((yield* put(port, "/run.sh", "echo")).status).toBe(204)
      expect(NodeFs.statSync(script).mode & 0o7777).toBe(0o750)
      expect((yield* put(port, "/fresh.txt", "x")).status).toBe(201)
      const umask = process.umask()
      expect(NodeFs.statSync(Path.join(root, "fresh.txt")).mode & 0o7777).toBe(0o644 & ~umask)
    }))

  it.scopedLive.skipIf(process.getuid?.() !== 0)("as root, a replaced file keeps its owner and group", () =>
    Effect.gen(function*() {
      const { root } = yield* makeTree
      const owned = Path.join(root, "owned.txt")
      NodeFs.writeFileSync(owned, "old")
      NodeFs.chownSync(owned, 4321, 4322)
      const server = yield* start({ directory: root, upload: true })
      expect((yield* put(server.address.port, "/owned.txt", "new")).status).toBe(204)
      const stats = NodeFs.statSync(owned)
      expect({ uid: stats.uid, gid: stats.gid, text: NodeFs.readFileSync(owned, "utf8") })
        .toEqual({ uid: 4321, gid: 4322, text: "new" })
    }))

  it.scopedLive("control characters (C0, DEL, C1) in a name: 400 before the body is read; nothing stored", () =>
    Effect.gen(function*() {
      const { root } = yield* makeTree
      const server = yield* start({ directory: root, upload: true })
      const port = server.address.port
      for (const target of ["/a%0d%0aSet-Cookie:x.txt", "/a%0ab.txt", "/a%0db.txt", "/a%01b.txt", "/a%09b.txt", "/a%1fb.txt", "/a%7fb.txt", "/a%C2%85b.txt", "/a%C2%9Fb.txt", "/sub%0a/x.txt"]) {
        const answer = yield* headOnly(port, target)
        expect(answer.status, target).toBe(400)
      }
      expect(NodeFs.readdirSync(root).sort()).toEqual([".git", "sub"])
      expect(NodeFs.readdirSync(Path.join(root, "sub"))).toEqual([])
      // The same names with the body sent are refused too (the check is not only the 100-continue hook's).
      expect((yield* put(port, "/b%0a.txt", "body")).status).toBe(400)
      expect(temps(root)).toEqual([])
    }))

  it.scopedLive("a name over NAME_MAX (255 bytes) or a path over PATH_MAX: 414 before the body; 255 bytes is fine", () =>
    Effect.gen(function*() {
      const { root } = yield* makeTree
      const server = yield* start({ directory: root, upload: true })
      const port = server.address.port
      expect((yield* headOnly(port, "/" + "a".repeat(256))).status).toBe(414)
      // 128 × "é" is 128 characters but 256 bytes.
      expect((yield* headOnly(port, "/" + "%C3%A9".repeat(128))).status).toBe(414)
      expect((yield* headOnly(port, "/sub/" + "b".repeat(300) + "/x.txt")).status).toBe(414)
      expect((yield* headOnly(port, ("/" + "c".repeat(200)).repeat(21))).status).toBe(414)
      expect((yield* put(port, "/" + "a".repeat(255), "max")).status).toBe(201)
      expect(NodeFs.readFileSync(Path.join(root, "a".repeat(255)), "utf8")).toBe("max")
      expect(nameProblem("/r", "/r/" + "é".repeat(127))).toBeUndefined()
      expect(nameProblem("/r", "/r/" + "é".repeat(128))?.status).toBe(414)
      expect(temps(root)).toEqual([])
    }))

  it.scopedLive("an upload's temporary file is never listed nor served, even without --no-dotfiles", () =>
    Effect.gen(function*() {
      const { root } = yield* makeTree
      const temp = `${TEMP_PREFIX}0123456789abcdef`
      NodeFs.writeFileSync(Path.join(root, temp), "HALF A BODY")
      NodeFs.writeFileSync(Path.join(root, "sub", temp), "HALF A BODY")
      NodeFs.writeFileSync(Path.join(root, ".visible-dotfile"), "shown")
      for (const cache of [true, false]) {
        for (const options of [{}, { jsonListing: true }, { richListing: true }]) {
          const server = yield* start({ directory: root, cache, ...options })
          const port = server.address.port
          for (const dir of ["/", "/sub/"]) {
            for (const accept of [[], ["Accept: application/json"]]) {
              const listing = yield* request(port, "GET", dir, accept)
              expect(listing.status).toBe(200)
              expect(listing.body.toString("utf8")).not.toContain(TEMP_PREFIX)
            }
          }
          expect((yield* request(port, "GET", "/")).body.toString("utf8")).toContain(".visible-dotfile")
          for (const target of [`/${temp}`, `/sub/${temp}`, `/%2E${temp.slice(1)}`, `/sub/..%2f${temp}`, `/${temp}?x`, `/sub/%2e${temp.slice(1).replace("upload", "%75pload")}`]) {
            const answer = yield* request(port, "GET", target)
            expect(answer.status, target).toBe(404)
            expect(answer.body.toString("utf8")).not.toContain("HALF A BODY")
            expect((yield* request(port, "HEAD", target)).status, target).toBe(404)
          }
        }
      }
    }))

  it.scopedLive("an in-progress upload's temporary file is not served to another client", () =>
    Effect.gen(function*() {
      const { root } = yield* makeTree
      const server = yield* start({ directory: root, upload: true, jsonListing: true })
      const port = server.address.port
      const socket = Net.connect(port, "127.0.0.1")
      yield* Effect.addFinalizer(() => Effect.sync(() => socket.destroy()))
      yield* Effect.async<void>((resume) => void socket.once("connect", () => resume(Effect.void)))
      NodeFs.writeFileSync(Path.join(root, "sub", "big.bin"), "secret")
      NodeFs.chmodSync(Path.join(root, "sub", "big.bin"), 0o600)
      socket.write(`PUT /sub/big.bin HTTP/1.0\r\nContent-Length: 100000\r\n\r\n` + "y".repeat(4096))
      for (let i = 0; i < 200 && temps(root).length === 0; i++) yield* Effect.sleep("10 millis")
      const [temp] = temps(root)
      expect(temp).toBeDefined()
      // The new contents of a 0600 file are not readable by others while they arrive either.
      expect(NodeFs.statSync(Path.join(root, temp!)).mode & 0o077).toBe(0)
      expect((yield* request(port, "GET", `/${temp}`)).status).toBe(404)
      const listing = yield* request(port, "GET", "/sub/?format=json")
      expect((JSON.parse(listing.body.toString("utf8")) as Array<{ name: string }>).map((e) => e.name)).toEqual(["big.bin"])
    }))

  it.scopedLive("a directory moved out of the root mid-upload (and replaced): nothing written or left outside", () =>
    Effect.gen(function*() {
      const { base, root } = yield* makeTree
      const server = yield* start({ directory: root, upload: true })
      const port = server.address.port
      for (const replace of ["nothing", "directory", "link"] as const) {
        const moved = Path.join(base, `moved-${replace}`)
        NodeFs.mkdirSync(Path.join(root, "sub"), { recursive: true })
        const socket = Net.connect(port, "127.0.0.1")
        yield* Effect.addFinalizer(() => Effect.sync(() => socket.destroy()))
        yield* Effect.async<void>((resume) => void socket.once("connect", () => resume(Effect.void)))
        const answer = Effect.async<string>((resume) => {
          let text = ""
          socket.on("data", (chunk) => (text += chunk.toString("latin1")))
          socket.once("close", () => resume(Effect.succeed(text)))
        })
        socket.write(`PUT /sub/target.txt HTTP/1.0\r\nContent-Length: 8192\r\n\r\n` + "z".repeat(4096))
        for (let i = 0; i < 200 && temps(Path.join(root, "sub")).length === 0; i++) yield* Effect.sleep("10 millis")
        expect(temps(Path.join(root, "sub")).length).toBe(1)
        // The swap: the checked directory leaves the root; something else may take its name.
        NodeFs.renameSync(Path.join(root, "sub"), moved)
        if (replace === "directory") NodeFs.mkdirSync(Path.join(root, "sub"))
        if (replace === "link") NodeFs.symlinkSync(Path.join(base, "outdir"), Path.join(root, "sub"))
        socket.write("z".repeat(4096))
        const status = Number((yield* answer).split(" ")[1])
        expect(status, replace).toBeGreaterThanOrEqual(400)
        expect(status, replace).toBeLessThan(500)
        expect(NodeFs.readdirSync(moved), replace).toEqual([])
        expect(NodeFs.readdirSync(Path.join(base, "outdir")), replace).toEqual([])
        NodeFs.rmSync(Path.join(root, "sub"), { recursive: true, force: true })
      }
    }))

  it.scoped("openVerified: writes land in the opened directory; a link on the way or a later move is detected", () =>
    Effect.gen(function*() {
      const { base, root } = yield* makeTree
      const sub = Path.join(root, "sub")
      const dir = yield* openVerified(root, sub)
      expect(dir.verify()).toBe(true)
      NodeFs.renameSync(sub, Path.join(base, "elsewhere"))
      NodeFs.symlinkSync(Path.join(base, "outdir"), sub)
      expect(dir.verify()).toBe(false)
      // The path still names the opened directory, not the link now at its old name.
      NodeFs.writeFileSync(dir.pathOf("probe"), "p")
      expect(NodeFs.readdirSync(Path.join(base, "elsewhere"))).toEqual(["probe"])
      expect(NodeFs.readdirSync(Path.join(base, "outdir"))).toEqual([])
      const refused = yield* Effect.flip(openVerified(root, sub))
      expect(refused.status).toBe(403)
      NodeFs.mkdirSync(Path.join(base, "outdir", "deeper"))
      expect((yield* Effect.flip(openVerified(root, Path.join(sub, "deeper")))).status).toBe(403)
    }))
})
