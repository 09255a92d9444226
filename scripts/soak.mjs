#!/usr/bin/env node
/**
 * Soak test (not in CI): many thousands of requests with random aborts against a server started from dist/, on
 * loopback only, bounded in count and time. Checks every answered body against a checksum and compares the server
 * process's open descriptors and RSS before and after.
 *
 *   npm run build && node scripts/soak.mjs [--requests 20000] [--seconds 60] [--concurrency 32] [--seed 1]
 *
 * Exit code 1 when a body was wrong or truncated without an abort, or descriptors did not return to baseline.
 */
import { spawn } from "node:child_process"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const here = Path.dirname(fileURLToPath(import.meta.url))
const dist = Path.join(here, "..", "dist")

// ---------------------------------------------------------------------------------------------------------------
// Server mode: StaticFiles over a directory, plus POST answering the SHA-256 of the body.
async function serve() {
  const dir = process.argv[3]
  const [{ Effect, Layer, Stream }, NodeFileSystem, NodePath, Server, StaticFiles, Handler, AccessLog, Mime, Response, HttpError] =
    await Promise.all([
      Promise.all([import("effect/Effect"), import("effect/Layer"), import("effect/Stream")]).then(([Effect, Layer, Stream]) => ({ Effect, Layer, Stream })),
      import("@effect/platform-node/NodeFileSystem"),
      import("@effect/platform-node/NodePath"),
      import(Path.join(dist, "Server.js")),
      import(Path.join(dist, "StaticFiles.js")),
      import(Path.join(dist, "Handler.js")),
      import(Path.join(dist, "AccessLog.js")),
      import(Path.join(dist, "MimeTypes.js")),
      import(Path.join(dist, "Response.js")),
      import(Path.join(dist, "HttpError.js"))
    ])
  const post = (request) =>
    Effect.map(
      Stream.runFold(request.body, Crypto.createHash("sha256"), (hash, chunk) => hash.update(chunk)),
      (hash) => Response.text(hash.digest("hex"))
    ).pipe(Effect.catchAll((error) => Effect.fail(new HttpError.HttpError({ status: 400, message: error.message }))))
  const handlers = Layer.effect(
    Handler.Handlers,
    Effect.map(
      Effect.all([StaticFiles.make({ directory: dir }), Handler.make({ POST: post })]),
      ([files, posts]) => Handler.combine(files, posts)
    )
  ).pipe(Layer.provide(Layer.mergeAll(NodeFileSystem.layer, NodePath.layer, Mime.MimeTypes.layerWithoutFiles())))
  const program = Effect.gen(function*() {
    // idleTimeout: long enough that a client starved of CPU (the test suite running alongside) does not lose the
    // keep-alive race; with 5 s, 2 of 17891 requests under full load met a connection just closed as idle.
    const server = yield* Server.make({
      port: 0,
      protocolVersion: "HTTP/1.1",
      idleTimeout: "60 seconds",
      limits: { maxBodyBytes: 1 << 20 }
    })
    process.stdout.write(`PORT ${server.address.port}\n`)
    yield* Effect.never
  }).pipe(Effect.scoped, Effect.provide(Layer.merge(handlers, process.env.SOAK_LOG === "1" ? AccessLog.layerStderr : AccessLog.layerSilent)))
  Effect.runFork(program)
  process.on("SIGTERM", () => process.exit(0))
  // The parent asks for a collected heap figure (the child runs with --expose-gc).
  process.on("SIGUSR2", () => {
    globalThis.gc?.()
    globalThis.gc?.()
    const m = process.memoryUsage()
    process.stdout.write(`MEM ${JSON.stringify({ heapUsedMiB: m.heapUsed / 2 ** 20, rssMiB: m.rss / 2 ** 20, externalMiB: m.external / 2 ** 20 })}\n`)
  })
}

// ---------------------------------------------------------------------------------------------------------------
// Client mode.

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? Number(process.argv[i + 1]) : fallback
}

/** xorshift32: reproducible choices from --seed. */
function rng(seed) {
  let x = seed >>> 0 || 1
  return () => {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    return (x >>> 0) / 2 ** 32
  }
}

function processStats(pid) {
  const status = Fs.readFileSync(`/proc/${pid}/status`, "latin1")
  const kb = (key) => Number(status.match(new RegExp(`${key}:\\s+(\\d+)`))[1])
  return { fds: Fs.readdirSync(`/proc/${pid}/fd`).length, rssMiB: kb("VmRSS") / 1024, hwmMiB: kb("VmHWM") / 1024 }
}

const sha = (buf) => Crypto.createHash("sha256").update(buf).digest("hex")

async function main() {
  const total = arg("requests", 20000)
  const seconds = arg("seconds", 60)
  const concurrency = arg("concurrency", 32)
  const random = rng(arg("seed", 1))
  if (!Fs.existsSync(Path.join(dist, "Server.js"))) {
    console.error("dist/ is missing: run `npm run build` first")
    process.exit(2)
  }
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-httpd-soak-"))
  const files = {}
  for (const [name, size] of [["tiny.txt", 100], ["small.bin", 10 * 1024], ["medium.bin", 300 * 1024], ["large.bin", 4 * 1024 * 1024]]) {
    const content = Crypto.randomBytes(size)
    Fs.writeFileSync(Path.join(dir, name), content)
    files[name] = { size, sha: sha(content) }
  }
  const names = Object.keys(files)

  // --log FILE: the server's access log (Python's format) goes to FILE.
  const logIndex = process.argv.indexOf("--log")
  const logFile = logIndex >= 0 ? Fs.openSync(process.argv[logIndex + 1], "w") : "ignore"
  const child = spawn(process.execPath, ["--expose-gc", fileURLToPath(import.meta.url), "--server", dir], {
    stdio: ["ignore", "pipe", logFile],
    env: { ...process.env, SOAK_LOG: logIndex >= 0 ? "1" : "0" }
  })
  let out = ""
  const port = await new Promise((resolve, reject) => {
    child.stdout.on("data", (d) => {
      out += d
      const m = out.match(/PORT (\d+)/)
      if (m) resolve(Number(m[1]))
    })
    child.once("exit", (code) => reject(new Error(`server exited with ${code}`)))
  })
  /** The server's memory after a full GC. */
  const collected = async () => {
    const seen = (out.match(/MEM /g) ?? []).length
    child.kill("SIGUSR2")
    while ((out.match(/MEM /g) ?? []).length === seen) await new Promise((r) => setTimeout(r, 20))
    const all = [...out.matchAll(/MEM (\{.*\})/g)]
    const m = JSON.parse(all.at(-1)[1])
    for (const k of Object.keys(m)) m[k] = Math.round(m[k] * 10) / 10
    return m
  }
  const samples = []

  const stats = { sent: 0, answeredCorrectly: 0, abortedByClient: 0, malformedRefused: 0, wrong: 0, unexpectedClose: 0, statuses: {} }
  const wrongSamples = []

  /** One connection: a small state machine reading Content-Length-framed responses. */
  function connect() {
    return new Promise((resolve) => {
      const socket = Net.connect({ host: "127.0.0.1", port })
      const conn = { socket, buf: Buffer.alloc(0), closed: false, waiter: undefined, history: [] }
      socket.on("data", (d) => {
        conn.buf = conn.buf.length === 0 ? d : Buffer.concat([conn.buf, d])
        conn.waiter?.()
      })
      socket.on("close", () => {
        conn.closed = true
        conn.waiter?.()
      })
      socket.on("error", () => {})
      socket.once("connect", () => resolve(conn))
    })
  }

  /** Reads one response; `abortAfter` bytes of body → destroy (reset half the time). */
  function readResponse(conn, { head = false, abortAfter } = {}) {
    return new Promise((resolve) => {
      const check = () => {
        const end = conn.buf.indexOf("\r\n\r\n")
        if (end >= 0) {
          const headText = conn.buf.toString("latin1", 0, end)
          const status = Number(headText.slice(9, 12))
          const length = Number(headText.match(/\r\ncontent-length:\s*(\d+)/i)?.[1] ?? "0")
          const bodyBytes = conn.buf.length - end - 4
          if (abortAfter !== undefined && bodyBytes >= Math.min(abortAfter, length)) {
            conn.waiter = undefined
            if (random() < 0.5) conn.socket.resetAndDestroy()
            else conn.socket.destroy()
            return resolve({ aborted: true })
          }
          const need = head ? 0 : length
          if (bodyBytes >= need) {
            const body = conn.buf.subarray(end + 4, end + 4 + need)
            conn.buf = conn.buf.subarray(end + 4 + need)
            conn.waiter = undefined
            return resolve({ status, length, body, close: /\r\nconnection:\s*close/i.test(headText) })
          }
        }
        if (conn.closed) {
          conn.waiter = undefined
          resolve({ closed: true, partial: conn.buf.length })
        }
      }
      conn.waiter = check
      check()
    })
  }

  const record = (ok, what) => {
    if (ok) stats.answeredCorrectly++
    else {
      stats.wrong++
      if (wrongSamples.length < 10) wrongSamples.push({ at: new Date().toISOString(), ...what })
    }
  }

  const deadline = Date.now() + seconds * 1000
  let issued = 0
  const more = () => issued < total && Date.now() < deadline

  async function worker() {
    let conn
    while (more()) {
      if (conn === undefined || conn.closed) conn = await connect()
      issued++
      stats.sent++
      const roll = random()
      const name = names[Math.floor(random() * names.length)]
      if (roll < 0.08) {
        // Abort mid-response.
        conn.socket.write(`GET /large.bin HTTP/1.1\r\nHost: localhost\r\n\r\n`)
        await readResponse(conn, { abortAfter: Math.floor(random() * files["large.bin"].size) })
        stats.abortedByClient++
        conn = undefined
      } else if (roll < 0.13) {
        // Abort mid-request: a partial head, or a partial POST body.
        const partial = random() < 0.5
          ? "GET /small.bin HTTP/1.1\r\nHost: localhost\r\nX-Half: "
          : "POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: 50000\r\n\r\n" + "x".repeat(Math.floor(random() * 50000))
        await new Promise((r) => conn.socket.write(partial, r))
        if (random() < 0.5) conn.socket.resetAndDestroy()
        else conn.socket.destroy()
        stats.abortedByClient++
        conn = undefined
      } else if (roll < 0.15) {
        // Malformed: refused with 400 and closed; nothing after it is answered.
        conn.socket.write("GET / HTTP/1.1\r\nBad Header: x\r\n\r\nGET /tiny.txt HTTP/1.1\r\n\r\n")
        const r = await readResponse(conn)
        const after = await readResponse(conn)
        stats.statuses[r.status] = (stats.statuses[r.status] ?? 0) + 1
        if (r.status === 400 && after.closed === true && after.partial === 0) stats.malformedRefused++
        else record(false, { kind: "malformed", r, after })
        conn = undefined
      } else if (roll < 0.27) {
        const body = Crypto.randomBytes(Math.floor(random() * 200 * 1024))
        const chunked = random() < 0.3
        if (chunked) {
          conn.socket.write(`POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n`)
          for (let i = 0; i < body.length; i += 16384) {
            const piece = body.subarray(i, i + 16384)
            conn.socket.write(piece.length.toString(16) + "\r\n")
            conn.socket.write(piece)
            conn.socket.write("\r\n")
          }
          conn.socket.write("0\r\n\r\n")
        } else {
          conn.socket.write(`POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${body.length}\r\n\r\n`)
          conn.socket.write(body)
        }
        const r = await readResponse(conn)
        stats.statuses[r.status] = (stats.statuses[r.status] ?? 0) + 1
        record(r.status === 200 && r.body.toString() === sha(body), { kind: "post", chunked, size: body.length, status: r.status, closed: r.closed, before: conn.history.slice(-3) })
        conn.history.push(`POST ${chunked ? "chunked" : "length"} ${body.length} → ${r.status}`)
        // A chunked body's request closes the connection after the response only if the server says so.
        if (r.close || r.closed) conn = undefined
      } else {
        const head = random() < 0.1
        const close = random() < 0.1
        conn.socket.write(`${head ? "HEAD" : "GET"} /${name} HTTP/1.1\r\nHost: localhost\r\n${close ? "Connection: close\r\n" : ""}\r\n`)
        const r = await readResponse(conn, { head })
        stats.statuses[r.status] = (stats.statuses[r.status] ?? 0) + 1
        const ok = r.status === 200 && r.length === files[name].size && (head ? r.body.length === 0 : sha(r.body) === files[name].sha)
        record(ok, { kind: head ? "head" : "get", name, status: r.status, length: r.length, closed: r.closed, partial: r.partial, before: conn.history.slice(-3), localPort: conn.socket.localPort })
        conn.history.push(`${head ? "HEAD" : "GET"} ${name}${close ? " close" : ""} → ${r.status}`)
        if (close || r.close || r.closed) {
          conn?.socket.destroy()
          conn = undefined
        }
      }
    }
    conn?.socket.destroy()
  }

  // Warm-up so the baseline includes the JIT and the module graph, then the measured run.
  const warm = await connect()
  for (let i = 0; i < 50; i++) {
    warm.socket.write(`GET /${names[i % names.length]} HTTP/1.1\r\nHost: localhost\r\n\r\n`)
    await readResponse(warm)
  }
  warm.socket.destroy()
  await new Promise((r) => setTimeout(r, 500))
  const before = { ...processStats(child.pid), afterGc: await collected() }
  const started = Date.now()
  const sampler = setInterval(() => samples.push(Math.round(processStats(child.pid).rssMiB)), Math.max(1000, seconds * 100))
  await Promise.all(Array.from({ length: concurrency }, worker))
  clearInterval(sampler)
  const elapsed = (Date.now() - started) / 1000
  const atEnd = processStats(child.pid)
  await new Promise((r) => setTimeout(r, 3000))
  const after = { ...processStats(child.pid), afterGc: await collected() }
  child.kill("SIGTERM")
  Fs.rmSync(dir, { recursive: true, force: true })

  const summary = {
    requestsSent: stats.sent,
    abortedByClient: stats.abortedByClient,
    malformedRefused: stats.malformedRefused,
    answeredCorrectly: stats.answeredCorrectly,
    wrongOrTruncated: stats.wrong,
    statuses: stats.statuses,
    seconds: elapsed,
    server: { before, atEnd, afterSettle3s: after, rssSamplesMiB: samples }
  }
  console.log(JSON.stringify(summary, null, 2))
  if (wrongSamples.length > 0) console.log("wrong samples:", JSON.stringify(wrongSamples, null, 2))
  const leak = after.fds > before.fds + 2
  if (stats.wrong > 0 || leak) {
    console.error(leak ? `descriptor leak: ${before.fds} → ${after.fds}` : `${stats.wrong} wrong responses`)
    process.exit(1)
  }
}

if (process.argv[2] === "--server") await serve()
else await main()
