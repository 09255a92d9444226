// Probe target for PlatformServer robustness checks (resets, framing, shutdown): one HttpRouter app on PlatformServer, or NodeHttpServer with NODE=1, to compare. Prints "PORT <n>".
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Multipart from "@effect/platform/Multipart"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Effect, Layer, Schema, Stream, Schedule, Chunk } from "effect"
import { createServer } from "node:http"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as PlatformServer from "../dist/PlatformServer.js"

const stats = { finalized: 0, started: 0, wsOpen: 0, wsClosed: 0, streamFinal: 0, uploads: 0 }
const FILE = process.env.FILE ?? Path.join(Os.tmpdir(), "ap-file.bin")
if (!Fs.existsSync(FILE)) Fs.writeFileSync(FILE, Buffer.from("0123456789".repeat(10)))
const Person = Schema.Struct({ name: Schema.String, age: Schema.Number })
const tracked = (eff) => Effect.gen(function*() {
  stats.started++
  yield* Effect.addFinalizer(() => Effect.sync(() => { stats.finalized++ }))
  return yield* eff
})
const q = Effect.map(HttpServerRequest.ParsedSearchParams, (p) => p)
const fdCount = () => { try { return Fs.readdirSync("/proc/self/fd").length } catch { return -1 } }

const app = HttpRouter.empty.pipe(
  HttpRouter.post("/json", Effect.flatMap(HttpServerRequest.schemaBodyJson(Person), (p) => HttpServerResponse.json(p))),
  HttpRouter.post("/text", tracked(Effect.gen(function*() {
    const r = yield* HttpServerRequest.HttpServerRequest
    const t = yield* r.text
    return HttpServerResponse.text(String(t.length))
  }))),
  HttpRouter.post("/ab", tracked(Effect.gen(function*() {
    const r = yield* HttpServerRequest.HttpServerRequest
    const t = yield* r.arrayBuffer
    return HttpServerResponse.text(String(t.byteLength))
  }))),
  HttpRouter.post("/params", Effect.gen(function*() {
    const r = yield* HttpServerRequest.HttpServerRequest
    const t = yield* r.urlParamsBody
    return HttpServerResponse.text(String(t.length))
  })),
  HttpRouter.post("/upload", tracked(Effect.gen(function*() {
    const parts = yield* HttpServerRequest.schemaBodyForm(Schema.Struct({ title: Schema.String, file: Multipart.SingleFileSchema }))
    stats.uploads++
    if (process.env.UPLOAD_SLEEP) yield* Effect.sleep(Number(process.env.UPLOAD_SLEEP))
    return yield* HttpServerResponse.json({ path: parts.file.path, size: Fs.statSync(parts.file.path).size })
  }))),
  HttpRouter.post("/multi", tracked(Effect.gen(function*() {
    const r = yield* HttpServerRequest.HttpServerRequest
    const p = yield* r.multipart
    return yield* HttpServerResponse.json(Object.fromEntries(Object.entries(p).map(([k, v]) => [k.slice(0, 50), typeof v === "string" ? v.length : Array.isArray(v) ? v.length : 1])))
  }))),
  HttpRouter.post("/ignore", HttpServerResponse.text("ignored")),
  HttpRouter.get("/ignore", HttpServerResponse.text("ignored")),
  HttpRouter.post("/e400", HttpServerResponse.text("bad", { status: 400 })),
  HttpRouter.post("/e500", Effect.die(new Error("secret-internal-detail at /srv/app.js"))),
  HttpRouter.get("/defect", Effect.die(new Error("secret-internal-detail at /srv/app.js"))),
  HttpRouter.get("/fail", Effect.fail(new Error("secret-failure-detail"))),
  HttpRouter.get("/interrupt", Effect.interrupt),
  HttpRouter.get("/hugeerr", Effect.die(new Error("x".repeat(1_000_000)))),
  HttpRouter.get("/stream", tracked(Effect.succeed(HttpServerResponse.stream(
    Stream.repeatEffect(Effect.succeed(new Uint8Array(16384).fill(97))).pipe(
      Stream.schedule(Schedule.spaced("1 millis")),
      Stream.ensuring(Effect.sync(() => { stats.streamFinal++ }))
    )
  )))),
  HttpRouter.get("/failstream", HttpServerResponse.stream(
    Stream.concat(Stream.make(new TextEncoder().encode("first")), Stream.fail(new Error("secret-stream-failure")))
  )),
  HttpRouter.get("/diestream", HttpServerResponse.stream(
    Stream.concat(Stream.make(new TextEncoder().encode("first")), Stream.die(new Error("secret-stream-defect")))
  )),
  HttpRouter.get("/slow", tracked(Effect.never)),
  HttpRouter.get("/file", Effect.gen(function*() {
    const r = yield* HttpServerRequest.HttpServerRequest
    const p = yield* q
    const off = p.offset !== undefined ? Number(p.offset) : undefined
    const n = p.n !== undefined ? Number(p.n) : undefined
    return yield* HttpServerResponse.file(FILE, { offset: off, bytesToRead: n })
  })),
  HttpRouter.get("/hdr", Effect.gen(function*() {
    const p = yield* q
    return HttpServerResponse.text("h", { headers: { [p.name ?? "x-test"]: p.v ?? "" } })
  })),
  HttpRouter.get("/cookie", Effect.gen(function*() {
    const p = yield* q
    return yield* HttpServerResponse.text("c").pipe(HttpServerResponse.setCookie(p.name ?? "a", p.v ?? "", p.domain ? { domain: p.domain } : {}))
  })),
  HttpRouter.get("/unsafecookie", Effect.gen(function*() {
    const p = yield* q
    return HttpServerResponse.unsafeSetCookie(HttpServerResponse.text("c"), p.name ?? "a", p.v ?? "", p.path ? { path: p.path } : {})
  })),
  HttpRouter.get("/status", Effect.gen(function*() {
    const p = yield* q
    return HttpServerResponse.text("s", { status: Number(p.code), statusText: p.text })
  })),
  HttpRouter.get("/status-empty", Effect.gen(function*() {
    const p = yield* q
    return HttpServerResponse.empty({ status: Number(p.code) })
  })),
  HttpRouter.get("/clmismatch", HttpServerResponse.text("hello world, this is longer", { headers: { "content-length": "5" } })),
  HttpRouter.get("/clshort", HttpServerResponse.text("hi", { headers: { "content-length": "50" } })),
  HttpRouter.get("/streamcl", HttpServerResponse.stream(Stream.make(new TextEncoder().encode("0123456789ABCDEF")), { contentLength: 4 })),
  HttpRouter.get("/streamcl2", HttpServerResponse.stream(Stream.make(new TextEncoder().encode("01")), { contentLength: 40 })),
  HttpRouter.get("/apptechunked", HttpServerResponse.text("HELLO", { headers: { "transfer-encoding": "chunked" } })),
  HttpRouter.get("/apptestream", HttpServerResponse.stream(Stream.make(new TextEncoder().encode("HELLO")), { headers: { "transfer-encoding": "chunked" } })),
  HttpRouter.get("/connclose", HttpServerResponse.text("bye", { headers: { connection: "close" } })),
  HttpRouter.get("/ws", Effect.gen(function*() {
    const socket = yield* HttpServerRequest.upgrade
    stats.wsOpen++
    yield* Effect.addFinalizer(() => Effect.sync(() => { stats.wsClosed++ }))
    const write = yield* socket.writer
    yield* socket.runRaw((data) => write(typeof data === "string" ? `echo:${data}` : data))
    return HttpServerResponse.empty()
  }).pipe(Effect.scoped)),
  HttpRouter.get("/stats", Effect.sync(() => {
    if (global.gc) global.gc()
    const m = process.memoryUsage()
    return HttpServerResponse.unsafeJson({ ...stats, fds: fdCount(), rss: m.rss, heap: m.heapUsed, ext: m.external, ab: m.arrayBuffers, tmp: Fs.readdirSync(Os.tmpdir()).length })
  }))
)

const limits = process.env.MAXBODY ? { limits: { maxBodyBytes: Number(process.env.MAXBODY) } } : {}
const serverLayer = process.env.NODE === "1"
  ? NodeHttpServer.layer(createServer, { host: "127.0.0.1", port: 0 })
  : PlatformServer.layer({ host: "127.0.0.1", port: 0, ...limits })
const main = Layer.unwrapEffect(Effect.gen(function*() {
  return HttpServer.serve(app).pipe(Layer.tap((ctx) => Effect.sync(() => {})))
})).pipe(
  Layer.provide(Layer.effectDiscard(Effect.gen(function*() {
    const s = yield* HttpServer.HttpServer
    console.log("PORT " + s.address.port)
  }))),
  Layer.provideMerge(serverLayer)
)
Layer.launch(main).pipe(NodeRuntime.runMain)
