/**
 * Attacks on directory archives (`--archives`), found by a security review: each test failed before its fix
 * (FIFO swap froze the server; CGI sources archived; a file shrinking mid tar.gz crashed the process).
 * Real sockets on 127.0.0.1, the built executable.
 */
import { describe, expect, it } from "vitest"
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as NodeFs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { bin, ensureBuilt } from "./support/cliProcess.js"

const startServer = (dir: string, args: ReadonlyArray<string>): Promise<{ child: ChildProcess; port: number }> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, "-b", "127.0.0.1", "-d", dir, ...args, "0"], { stdio: ["ignore", "pipe", "pipe"] })
    let out = ""
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString()
      const m = /port (\d+)/.exec(out)
      if (m) resolve({ child, port: Number(m[1]) })
    })
    child.once("exit", (code) => reject(new Error("server exited " + code + " " + out)))
  })

/** Status of a plain GET, or 0 when nothing answers within `ms`. */
const probe = (port: number, path: string, ms: number): Promise<number> =>
  new Promise((resolve) => {
    const s = Net.connect(port, "127.0.0.1")
    let data = ""
    const timer = setTimeout(() => (s.destroy(), resolve(0)), ms)
    s.write(`GET ${path} HTTP/1.0\r\nHost: localhost\r\n\r\n`)
    s.on("data", (c: Buffer) => {
      data += c.toString("latin1")
      const m = /^HTTP\/1\.\d (\d{3})/.exec(data)
      if (m) (clearTimeout(timer), s.destroy(), resolve(Number(m[1])))
    })
    s.on("error", () => (clearTimeout(timer), resolve(0)))
  })

describe("attack: archives", () => {
  it("a file swapped for a FIFO while the archive is being sent does not hang the whole server (zip and tar.gz)", async () => {
    ensureBuilt()
    for (const format of ["zip", "tar.gz"] as const) {
      const root = NodeFs.realpathSync(NodeFs.mkdtempSync(Path.join(Os.tmpdir(), "effect-httpd-attack-fifo-")))
      const dir = Path.join(root, "race")
      NodeFs.mkdirSync(dir)
      NodeFs.writeFileSync(Path.join(dir, "a"), randomBytes(24 * 1024 * 1024)) // incompressible: the reader controls pace
      NodeFs.writeFileSync(Path.join(dir, "b"), "small\n")
      const { child, port } = await startServer(root, ["--archives"])
      const client = Net.connect(port, "127.0.0.1")
      try {
        client.write(`GET /race/?download=${format} HTTP/1.1\r\nHost: localhost\r\n\r\n`)
        // Walk done and first bytes sent: swap `b` (walked as a regular file) for a FIFO with no writer.
        await new Promise<void>((resolve) => {
          let got = 0
          const onData = (c: Buffer) => {
            got += c.length
            if (got > 64 * 1024) (client.off("data", onData), resolve())
          }
          client.on("data", onData)
        })
        NodeFs.unlinkSync(Path.join(dir, "b"))
        execFileSync("mkfifo", [Path.join(dir, "b")])
        client.resume()
        await new Promise((r) => setTimeout(r, 1500))
        // Expected: other requests still answered (the FIFO skipped or the archive aborted).
        // Actual: openSync(fifo, O_RDONLY) without O_NONBLOCK blocks the event loop until a writer appears.
        expect(await probe(port, "/", 3000)).toBe(200)
      } finally {
        client.destroy()
        // Unblock the stuck open (if any) so the server can exit.
        try {
          const fd = NodeFs.openSync(Path.join(dir, "b"), NodeFs.constants.O_WRONLY | NodeFs.constants.O_NONBLOCK)
          NodeFs.closeSync(fd)
        } catch { /* no reader */ }
        child.kill("SIGKILL")
        NodeFs.rmSync(root, { recursive: true, force: true })
      }
    }
  }, 30_000)

  it("with --cgi, the archive of the root does not carry the sources of the CGI scripts (never served as files)", async () => {
    ensureBuilt()
    const root = NodeFs.realpathSync(NodeFs.mkdtempSync(Path.join(Os.tmpdir(), "effect-httpd-attack-cgi-")))
    NodeFs.mkdirSync(Path.join(root, "cgi-bin"))
    NodeFs.writeFileSync(Path.join(root, "cgi-bin", "s.sh"), "#!/bin/sh\n# db_password=hunter2\necho 'Content-Type: text/plain'\necho\necho ran\n", { mode: 0o755 })
    NodeFs.writeFileSync(Path.join(root, "readme.txt"), "hello\n")
    const { child, port } = await startServer(root, ["--cgi", "--archives"])
    try {
      for (const format of ["tar.gz", "zip"] as const) {
        const body = await new Promise<Buffer>((resolve, reject) => {
          const s = Net.connect(port, "127.0.0.1")
          const chunks: Array<Buffer> = []
          s.write(`GET /?download=${format} HTTP/1.0\r\nHost: localhost\r\n\r\n`)
          s.on("data", (c: Buffer) => chunks.push(c))
          s.on("end", () => resolve(Buffer.concat(chunks)))
          s.on("error", reject)
        })
        const at = body.indexOf("\r\n\r\n")
        expect(body.subarray(0, 12).toString()).toBe("HTTP/1.0 200")
        const file = Path.join(root, "out." + format)
        NodeFs.writeFileSync(file, body.subarray(at + 4))
        const names = format === "zip"
          ? execFileSync("python3", ["-c", "import sys,zipfile;print('\\n'.join(zipfile.ZipFile(sys.argv[1]).namelist()))", file]).toString()
          : execFileSync("tar", ["tzf", file]).toString()
        NodeFs.unlinkSync(file)
        expect(names).toContain("readme.txt")
        // Expected: nothing under a CGI directory in the archive (GET /cgi-bin/s.sh runs it, never sends it).
        // Actual: cgi-bin/s.sh is archived, its source (and any secret in it) downloadable.
        expect(names).not.toContain("cgi-bin/s.sh")
      }
    } finally {
      child.kill("SIGKILL")
      NodeFs.rmSync(root, { recursive: true, force: true })
    }
  }, 30_000)

  it("--upload --archives: a PUT that shrinks a file during a tar.gz download does not crash the server", async () => {
    ensureBuilt()
    const root = NodeFs.realpathSync(NodeFs.mkdtempSync(Path.join(Os.tmpdir(), "effect-httpd-attack-shrink-")))
    NodeFs.mkdirSync(Path.join(root, "d"))
    NodeFs.writeFileSync(Path.join(root, "d", "a"), randomBytes(16 * 1024 * 1024))
    NodeFs.writeFileSync(Path.join(root, "d", "b"), randomBytes(1000))
    const { child, port } = await startServer(root, ["--archives", "--upload"])
    let exited = false
    child.once("exit", () => (exited = true))
    const client = Net.connect(port, "127.0.0.1")
    client.on("error", () => {})
    try {
      client.write("GET /d/?download=tar.gz HTTP/1.1\r\nHost: localhost\r\n\r\n")
      await new Promise<void>((resolve) => {
        let got = 0
        const onData = (c: Buffer) => {
          got += c.length
          if (got > 64 * 1024) (client.off("data", onData), client.pause(), resolve())
        }
        client.on("data", onData)
      })
      // An anonymous uploader replaces `b` (walked at 1000 bytes) with 1 byte.
      const put = await new Promise<string>((resolve) => {
        const s = Net.connect(port, "127.0.0.1")
        s.write("PUT /d/b HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx")
        let data = ""
        s.on("data", (c: Buffer) => (data += c.toString("latin1")))
        s.on("close", () => resolve(data.slice(0, 12)))
      })
      expect(put).toMatch(/^HTTP\/1\.[01] 204/)
      client.resume()
      client.on("data", () => {})
      await new Promise<void>((resolve) => client.once("close", () => resolve()))
      await new Promise((r) => setTimeout(r, 500))
      // Expected: that archive is cut off, the server keeps serving. Actual: "Error: Size mismatch" emitted on
      // tar-stream's entry Sink with no listener: the process exits.
      expect(exited).toBe(false)
      expect(await probe(port, "/", 3000)).toBe(200)
    } finally {
      client.destroy()
      child.kill("SIGKILL")
      NodeFs.rmSync(root, { recursive: true, force: true })
    }
  }, 30_000)
})
