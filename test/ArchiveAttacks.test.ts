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
import { readVerifiedDir, skipped } from "../src/internal/archive.js"
import { makeVerifier } from "../src/internal/openVerified.js"
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
        const { body, head } = await download(port, `/?download=${format}`)
        expect(head.slice(0, 12)).toBe("HTTP/1.0 200")
        const names = namesIn(format, body, root).join("\n")
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

/** The head and body of `GET path` over HTTP/1.0 (the server closes after the body). */
const download = (port: number, path: string): Promise<{ head: string; body: Buffer }> =>
  new Promise((resolve, reject) => {
    const s = Net.connect(port, "127.0.0.1")
    const chunks: Array<Buffer> = []
    s.write(`GET ${path} HTTP/1.0\r\nHost: localhost\r\n\r\n`)
    s.on("data", (c: Buffer) => chunks.push(c))
    s.on("end", () => {
      const all = Buffer.concat(chunks)
      const at = all.indexOf("\r\n\r\n")
      resolve({ head: all.subarray(0, at).toString("latin1"), body: all.subarray(at + 4) })
    })
    s.on("error", reject)
  })

const namesIn = (format: "tar.gz" | "zip", archive: Buffer, dir: string): Array<string> => {
  const file = Path.join(dir, "out." + format)
  NodeFs.writeFileSync(file, archive)
  const listed = format === "zip"
    ? execFileSync("python3", ["-c", "import sys,zipfile;print('\\n'.join(zipfile.ZipFile(sys.argv[1]).namelist()))", file]).toString()
    : execFileSync("tar", ["tzf", file]).toString()
  NodeFs.unlinkSync(file)
  return listed.split("\n").filter((line) => line !== "")
}

describe("archives: names and directories", () => {
  it("names with a backslash or a drive-like prefix are left out of both formats, and X-Archive-Entries counts what is sent", async () => {
    ensureBuilt()
    const root = NodeFs.realpathSync(NodeFs.mkdtempSync(Path.join(Os.tmpdir(), "effect-httpd-attack-names-")))
    const dir = Path.join(root, "d")
    NodeFs.mkdirSync(dir)
    for (const name of ["..\\..\\evil.txt", "\\tmp\\abs.txt", "C:x", "a\\b", "ok.txt"]) NodeFs.writeFileSync(Path.join(dir, name), "x\n")
    NodeFs.mkdirSync(Path.join(dir, "D:dir"))
    NodeFs.writeFileSync(Path.join(dir, "D:dir", "inner.txt"), "x\n")
    const { child, port } = await startServer(root, ["--archives"])
    try {
      const out = NodeFs.mkdtempSync(Path.join(root, "out-"))
      for (const format of ["tar.gz", "zip"] as const) {
        const { body, head } = await download(port, `/d/?download=${format}`)
        expect(head).toMatch(/^HTTP\/1\.0 200/)
        // Before: tar.gz carried all of them (`..\..\evil.txt` climbs out when unpacked on Windows), zip dropped
        // some silently and turned `a\b` into `a/b`, and X-Archive-Entries counted what zip left out.
        expect(namesIn(format, body, out)).toEqual(["ok.txt"])
        expect(head).toMatch(/\r\nX-Archive-Entries: 1(\r\n|$)/i)
      }
    } finally {
      child.kill("SIGKILL")
      NodeFs.rmSync(root, { recursive: true, force: true })
    }
  }, 30_000)

  it("the scan reads a directory only through a verified descriptor: a link (outside, or to a CGI directory) is not read", async () => {
    const base = NodeFs.realpathSync(NodeFs.mkdtempSync(Path.join(Os.tmpdir(), "effect-httpd-attack-scan-")))
    try {
      const root = Path.join(base, "root")
      NodeFs.mkdirSync(Path.join(root, "d"), { recursive: true })
      NodeFs.mkdirSync(Path.join(root, "cgi-bin"))
      NodeFs.mkdirSync(Path.join(base, "outside"))
      NodeFs.writeFileSync(Path.join(base, "outside", "OUTSIDE"), "")
      NodeFs.writeFileSync(Path.join(root, "d", "in.txt"), "")
      NodeFs.symlinkSync(Path.join(base, "outside"), Path.join(root, "d", "swapped"))
      const verifier = makeVerifier(root, { confine: true, hideDotfiles: false, refuseUnder: [Path.join(root, "cgi-bin")] })!
      expect(await readVerifiedDir(verifier, Path.join(root, "d"))).toEqual({ real: Path.join(root, "d"), names: ["in.txt", "swapped"] })
      // What the scan meets when a directory it lstat'ed is swapped for a link before it is read: refused.
      await expect(readVerifiedDir(verifier, Path.join(root, "d", "swapped"))).rejects.toThrow()
      expect(await readVerifiedDir(verifier, Path.join(root, "cgi-bin"))).toBeUndefined()
      // Whatever spelling leads there, the descriptor's real path decides.
      NodeFs.symlinkSync(Path.join(base, "outside"), Path.join(root, "link"))
      expect(await readVerifiedDir(verifier, Path.join(root, "link") + "/")).toBeUndefined()
    } finally {
      NodeFs.rmSync(base, { recursive: true, force: true })
    }
  })

  it("skipped: names whose meaning differs between unpackers", () => {
    for (const name of ["..\\..\\evil.txt", "\\tmp\\abs.txt", "C:x", "a\\b", "z:"]) expect(skipped(name, false)).toBe(true)
    for (const name of ["ok.txt", "1:x", "ab:c", ".env"]) expect(skipped(name, false)).toBe(false)
    expect(skipped(".env", true)).toBe(true)
  })
})
