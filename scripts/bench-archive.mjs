/**
 * Directory archives (issue 15): a generated tree of `--gib` GiB (default 1) downloaded as `tar.gz` and as `zip`
 * from the built executable (`npm run build` first) by one client reading as fast as it can; prints the time, the
 * bytes received and the server's peak RSS (VmHWM, one fresh server per format). Not a test: nothing passes or fails.
 *
 *   node scripts/bench-archive.mjs [--gib 1] [--files 64] [--keep DIR]
 *
 * The tree: `files` files spread over 4 directories, half of random bytes (gzip cannot shrink them: the encoder's
 * worst case) and half of repeated text (compresses ~100:1), so the figure is neither best nor worst case.
 */
import { spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const root = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "..")
const args = process.argv.slice(2)
const flag = (name, fallback) => {
  const i = args.indexOf(`--${name}`)
  return i < 0 ? fallback : args[i + 1]
}
const gib = Number(flag("gib", "1"))
const files = Number(flag("files", "64"))
const keep = flag("keep", undefined)

const makeTree = (dir) => {
  const size = Math.floor((gib * 1024 ** 3) / files)
  const text = Buffer.from("All work and no play makes Jack a dull boy. 0123456789\n".repeat(1 << 14))
  for (let i = 0; i < files; i++) {
    const sub = Path.join(dir, `d${i % 4}`)
    Fs.mkdirSync(sub, { recursive: true })
    const fd = Fs.openSync(Path.join(sub, `f${i}.bin`), "w")
    for (let written = 0; written < size;) {
      const chunk = i % 2 === 0 ? randomBytes(Math.min(1 << 20, size - written)) : text.subarray(0, Math.min(text.length, size - written))
      Fs.writeSync(fd, chunk)
      written += chunk.length
    }
    Fs.closeSync(fd)
  }
  return size * files
}

const startServer = (dir) =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [Path.join(root, "bin", "effect-httpd.js"), "--archives", "-d", dir, "-b", "127.0.0.1", "0"], {
      stdio: ["ignore", "pipe", "ignore"]
    })
    let out = ""
    child.stdout.on("data", (chunk) => {
      out += chunk
      const match = /port (\d+)/.exec(out)
      if (match) resolve({ child, port: Number(match[1]) })
    })
    child.once("exit", (code) => reject(new Error(`server exited (${code}) before listening: ${out}`)))
  })

const peakRss = (pid) => {
  const status = Fs.readFileSync(`/proc/${pid}/status`, "utf8")
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)[1]) * 1024
}

const download = (port, format) =>
  new Promise((resolve, reject) => {
    const started = process.hrtime.bigint()
    Http.get({ host: "127.0.0.1", port, path: `/?download=${format}` }, (res) => {
      let bytes = 0
      res.on("data", (chunk) => (bytes += chunk.length))
      res.on("end", () => resolve({ status: res.statusCode, bytes, seconds: Number(process.hrtime.bigint() - started) / 1e9 }))
      res.on("error", reject)
    }).on("error", reject)
  })

const dir = keep ?? Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-httpd-bench-archive-"))
try {
  const existing = Fs.readdirSync(dir).length > 0
  const total = existing ? undefined : makeTree(dir)
  const mib = (n) => (n / 1024 / 1024).toFixed(1)
  console.log(`tree: ${dir} (${total === undefined ? "reused" : `${mib(total)} MiB in ${files} files`}), node ${process.version}, ${Os.cpus().length} cores`)
  console.log("| format | status | time (s) | archive (MiB) | MiB/s of input | server peak RSS (MiB) | idle RSS before (MiB) |")
  console.log("|---|---|---|---|---|---|---|")
  for (const format of ["tar.gz", "zip"]) {
    const { child, port } = await startServer(dir)
    try {
      const idle = peakRss(child.pid)
      const result = await download(port, format)
      const input = total ?? gib * 1024 ** 3
      console.log(`| ${format} | ${result.status} | ${result.seconds.toFixed(1)} | ${mib(result.bytes)} | ${(input / 1024 / 1024 / result.seconds).toFixed(0)} | ${mib(peakRss(child.pid))} | ${mib(idle)} |`)
    } finally {
      child.kill("SIGTERM")
    }
  }
} finally {
  if (keep === undefined) Fs.rmSync(dir, { recursive: true, force: true })
}
