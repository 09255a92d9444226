/**
 * rss-connections: RSS of the effect-httpd executable around N connections (not a test, not part of `npm run bench`).
 * Each connection sends `GET /1k.bin HTTP/1.1` (200 opened at a time), reads the answer and stays open; then all
 * close, and RSS and descriptors are read again after 2 s and 10 s. Connections over the cap wait or are closed:
 * "answered" and "still open" show how many were served and held.
 *
 * Run:  node scripts/rss-connections.mjs [N=10000] [--tls] [-- extra effect-httpd options, e.g. --max-connections 20000]
 * Needs `npm run build` first; `openssl` for --tls. Only 127.0.0.1 is contacted; the server is stopped at the end.
 */
import { execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import * as tls from "node:tls"
import { fileURLToPath } from "node:url"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const argv = process.argv.slice(2)
const split = argv.indexOf("--")
const own = split < 0 ? argv : argv.slice(0, split)
const extra = split < 0 ? [] : argv.slice(split + 1)
const N = Number(own.find((a) => /^\d+$/.test(a)) ?? 10_000)
const TLS = own.includes("--tls")
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-httpd-rss-"))
fs.writeFileSync(path.join(dir, "1k.bin"), Buffer.alloc(1024, 0x61))
const tlsArgs = []
if (TLS) {
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
    "-keyout", path.join(dir, "key.pem"), "-out", path.join(dir, "cert.pem")], { stdio: "ignore" })
  tlsArgs.push("--tls-cert", path.join(dir, "cert.pem"), "--tls-key", path.join(dir, "key.pem"))
}
const child = spawn(process.execPath, [path.join(root, "bin", "effect-httpd.js"), "-b", "127.0.0.1", "-d", dir, "-p", "HTTP/1.1",
  ...tlsArgs, ...extra, "0"], { stdio: ["ignore", "pipe", "ignore"] })
const stop = () => {
  child.kill("SIGKILL")
  fs.rmSync(dir, { recursive: true, force: true })
}
process.on("exit", stop)
const port = await new Promise((resolve) => {
  let out = ""
  child.stdout.on("data", (d) => {
    out += d
    const m = /port (\d+)/.exec(out)
    if (m) resolve(Number(m[1]))
  })
})
const rss = () => (Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${child.pid}/status`, "utf8"))[1]) / 1024).toFixed(1)
const fds = () => fs.readdirSync(`/proc/${child.pid}/fd`).length
await sleep(500)
console.log(`idle: RSS ${rss()} MiB, fds ${fds()}`)
const sockets = []
let answered = 0
const openOne = () =>
  new Promise((resolve) => {
    const onConnect = () => s.write("GET /1k.bin HTTP/1.1\r\nHost: localhost\r\n\r\n")
    const s = TLS
      ? tls.connect({ host: "127.0.0.1", port, rejectUnauthorized: false }, onConnect)
      : net.connect({ host: "127.0.0.1", port }, onConnect)
    let got = 0
    s.on("data", (d) => {
      got += d.length
      if (got >= 1024) {
        answered++
        resolve()
      }
    })
    s.on("error", () => resolve())
    s.on("close", () => resolve())
    // A connection waiting over the cap is never answered: move on.
    setTimeout(resolve, 2000)
    sockets.push(s)
  })
let next = 0
await Promise.all(Array.from({ length: 200 }, async () => {
  while (next < N) {
    next++
    await openOne()
  }
}))
await sleep(2000)
const open = sockets.filter((s) => !s.destroyed && !s.readableEnded).length
console.log(`${N} opened (${answered} answered, ${open} still open): RSS ${rss()} MiB, fds ${fds()}`)
for (const s of sockets) s.destroy()
await sleep(2000)
console.log(`closed +2s: RSS ${rss()} MiB, fds ${fds()}`)
await sleep(8000)
console.log(`closed +10s: RSS ${rss()} MiB, fds ${fds()}`)
process.exit(0)
