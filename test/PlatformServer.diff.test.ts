/**
 * Differential test of `PlatformServer.layer` against `NodeHttpServer.layer`: the same `HttpRouter` app on both,
 * the same raw requests, equal status, body and semantic headers (everything but `Date`, `Connection`,
 * `Keep-Alive` and the framing fields, which are asserted where they matter).
 *
 * Deliberate difference: a custom `statusText` is sent by PlatformServer (NodeHttpServer drops it and sends
 * node's phrase); the status code is the same.
 */
import type * as Etag from "@effect/platform/Etag"
import type * as HttpPlatform from "@effect/platform/HttpPlatform"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Multipart from "@effect/platform/Multipart"
import type * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { describe, expect, layer } from "@effect/vitest"
import { Context, Effect, Layer, Schema, Stream } from "effect"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import { createServer } from "node:http"
import * as Os from "node:os"
import * as Path from "node:path"
import WebSocket from "ws"
import * as PlatformServer from "../src/PlatformServer.js"
import { portOf } from "./support/platformPort.js"
import { httpRequest, type ParsedResponse, sendRaw } from "./support/rawClient.js"

const FILE_SIZE = 100_000
const fileBytes = Buffer.alloc(FILE_SIZE, 0)
for (let i = 0; i < FILE_SIZE; i++) fileBytes[i] = (i * 7) % 251
const BIG = Buffer.alloc(5 * 1024 * 1024, 0x61)

const Person = Schema.Struct({ name: Schema.String, age: Schema.Number })
const Form = Schema.Struct({ a: Schema.String, b: Schema.String })

const makeApp = (file: string) =>
  HttpRouter.empty.pipe(
    HttpRouter.get(
      "/users/:id",
      Effect.gen(function*() {
        const { id } = yield* HttpRouter.params
        const query = yield* HttpServerRequest.ParsedSearchParams
        return yield* HttpServerResponse.json({ id, query })
      })
    ),
    HttpRouter.post(
      "/person",
      Effect.flatMap(HttpServerRequest.schemaBodyJson(Person), (person) => HttpServerResponse.json(person))
    ),
    HttpRouter.post(
      "/form",
      Effect.flatMap(HttpServerRequest.schemaBodyUrlParams(Form), (form) => HttpServerResponse.json(form))
    ),
    HttpRouter.post(
      "/upload",
      Effect.gen(function*() {
        const parts = yield* HttpServerRequest.schemaBodyForm(Schema.Struct({
          title: Schema.String,
          file: Multipart.SingleFileSchema
        }))
        const content = Fs.readFileSync(parts.file.path)
        return yield* HttpServerResponse.json({
          title: parts.title,
          name: parts.file.name,
          type: parts.file.contentType,
          sha: Crypto.createHash("sha256").update(content).digest("hex")
        })
      })
    ),
    HttpRouter.post(
      "/digest",
      Effect.gen(function*() {
        const request = yield* HttpServerRequest.HttpServerRequest
        const hash = Crypto.createHash("sha256")
        let size = 0
        yield* Stream.runForEach(request.stream, (chunk) =>
          Effect.sync(() => {
            size += chunk.length
            hash.update(chunk)
          }))
        return yield* HttpServerResponse.json({ size, sha: hash.digest("hex") })
      })
    ),
    HttpRouter.get(
      "/stream",
      HttpServerResponse.stream(
        Stream.make("one,", "two,", "three").pipe(Stream.encodeText),
        { contentType: "text/plain" }
      )
    ),
    HttpRouter.get(
      "/file",
      Effect.gen(function*() {
        const request = yield* HttpServerRequest.HttpServerRequest
        const whole = yield* HttpServerResponse.file(file)
        const etag = whole.headers["etag"]
        if (etag !== undefined && request.headers["if-none-match"] === etag) {
          return HttpServerResponse.empty({ status: 304, headers: { etag } })
        }
        const range = /^bytes=(\d+)-(\d+)$/.exec(request.headers["range"] ?? "")
        if (range === null) return whole
        const start = Number(range[1])
        const end = Number(range[2])
        return yield* HttpServerResponse.file(file, {
          offset: start,
          bytesToRead: end - start + 1,
          status: 206,
          headers: { "content-range": `bytes ${start}-${end}/${FILE_SIZE}` }
        })
      })
    ),
    HttpRouter.get(
      "/cookies",
      Effect.gen(function*() {
        const request = yield* HttpServerRequest.HttpServerRequest
        return yield* HttpServerResponse.json({ got: request.cookies, dup: request.headers["x-dup"] ?? null }).pipe(
          Effect.flatMap(HttpServerResponse.setCookie("a", "1", { path: "/" })),
          Effect.flatMap(HttpServerResponse.setCookie("b", "2", { httpOnly: true }))
        )
      })
    ),
    HttpRouter.get("/teapot", HttpServerResponse.text("short", { status: 418, statusText: "Short And Stout" })),
    HttpRouter.get("/defect", Effect.die("boom")),
    HttpRouter.get(
      "/formdata",
      Effect.sync(() => {
        const form = new FormData()
        form.append("title", "hello")
        form.append("title", "twice")
        form.append("file", new Blob([fileBytes.subarray(0, 1000)], { type: "application/octet-stream" }), "a.bin")
        return HttpServerResponse.formData(form)
      })
    ),
    HttpRouter.get("/big", HttpServerResponse.uint8Array(BIG)),
    HttpRouter.get("/redirect", HttpServerResponse.redirect("/users/1")),
    HttpRouter.get(
      "/ws",
      Effect.gen(function*() {
        const socket = yield* HttpServerRequest.upgrade
        const write = yield* socket.writer
        yield* socket.runRaw((data) => write(typeof data === "string" ? `echo:${data}` : data))
        return HttpServerResponse.empty()
      })
    )
  )

class Ports extends Context.Tag("Ports")<Ports, { readonly node: number; readonly ours: number }>() {}

const Servers = Layer.scoped(
  Ports,
  Effect.gen(function*() {
    const dir = yield* Effect.acquireRelease(
      Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "platform-diff-"))),
      (d) => Effect.sync(() => Fs.rmSync(d, { recursive: true, force: true }))
    )
    const file = Path.join(dir, "data.bin")
    Fs.writeFileSync(file, fileBytes)
    const app = makeApp(file)
    const start = <E>(
      server: Layer.Layer<HttpServer.HttpServer | HttpPlatform.HttpPlatform | Etag.Generator | NodeContext.NodeContext, E>
    ) =>
      Effect.map(
        Layer.build(HttpServer.serve(app).pipe(Layer.provideMerge(server), Layer.orDie)),
        (context) => portOf(Context.get(context, HttpServer.HttpServer))
      )
    const node = yield* start(NodeHttpServer.layer(createServer, { host: "127.0.0.1", port: 0 }))
    const ours = yield* start(PlatformServer.layer({ host: "127.0.0.1", port: 0 }))
    return { node, ours }
  })
)

/** Fields that carry meaning for the app; framing and connection management are compared where they matter. */
const IGNORED = new Set(["date", "connection", "keep-alive", "transfer-encoding", "content-length"])
const semantic = (response: ParsedResponse) => ({
  status: response.status,
  headers: response.headers
    .map(([name, value]) => [name.toLowerCase(), value] as const)
    .filter(([name]) => !IGNORED.has(name))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  body: response.body.toString("latin1")
})

const exchange = (port: number, request: Buffer | string, options: { head?: boolean; responses?: number } = {}) =>
  sendRaw({
    port,
    chunks: [request],
    until: { responses: options.responses ?? 1 },
    headRequests: options.head ? [true] : [false],
    timeoutMs: 8000
  })

/** Sends the same request to both servers; returns both first responses after checking they agree. */
const both = (request: Buffer | string, options: { head?: boolean } = {}) =>
  Effect.gen(function*() {
    const { node, ours } = yield* Ports
    const [a, b] = yield* Effect.all([exchange(node, request, options), exchange(ours, request, options)])
    const theirs = a.responses[0]!
    const mine = b.responses[0]!
    expect(semantic(mine)).toEqual(semantic(theirs))
    return { theirs, mine, node: a, ours: b }
  })

const get = (path: string, headers: Record<string, string> = {}) => httpRequest("GET", path, { Host: "x", ...headers })

describe("PlatformServer vs NodeHttpServer", () => {
  layer(Servers, { timeout: 30_000, excludeTestServices: true })((it) => {
    it.effect("path params and query", () =>
      Effect.gen(function*() {
        const { mine } = yield* both(get("/users/42?x=1&x=2&y=z"))
        expect(JSON.parse(mine.body.toString())).toEqual({ id: "42", query: { x: ["1", "2"], y: "z" } })
        expect(mine.statusLine).toBe("HTTP/1.1 200 OK")
        expect(mine.header("connection")).toBe("keep-alive")
      }))

    it.effect("JSON POST validated by a Schema, and the platform's 400", () =>
      Effect.gen(function*() {
        const body = JSON.stringify({ name: "Ada", age: 36 })
        const ok = yield* both(httpRequest("POST", "/person", { Host: "x", "Content-Type": "application/json" }, body))
        expect(ok.mine.status).toBe(200)
        const bad = yield* both(
          httpRequest("POST", "/person", { Host: "x", "Content-Type": "application/json" }, "{\"name\":1}")
        )
        expect(bad.mine.status).toBe(400)
      }))

    it.effect("urlencoded form", () =>
      Effect.gen(function*() {
        const { mine } = yield* both(
          httpRequest("POST", "/form", { Host: "x", "Content-Type": "application/x-www-form-urlencoded" }, "a=1&b=two+words")
        )
        expect(JSON.parse(mine.body.toString())).toEqual({ a: "1", b: "two words" })
      }))

    it.effect("multipart upload", () =>
      Effect.gen(function*() {
        const boundary = "----x1234"
        const body = Buffer.concat([
          Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="title"\r\n\r\nhello\r\n`),
          Buffer.from(
            `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n` +
              `Content-Type: application/octet-stream\r\n\r\n`
          ),
          fileBytes,
          Buffer.from(`\r\n--${boundary}--\r\n`)
        ])
        const { mine } = yield* both(
          httpRequest("POST", "/upload", { Host: "x", "Content-Type": `multipart/form-data; boundary=${boundary}` }, body)
        )
        expect(JSON.parse(mine.body.toString())).toEqual({
          title: "hello",
          name: "a.bin",
          type: "application/octet-stream",
          sha: Crypto.createHash("sha256").update(fileBytes).digest("hex")
        })
      }))

    it.effect("streamed response, chunked", () =>
      Effect.gen(function*() {
        const { mine, theirs } = yield* both(get("/stream"))
        expect(mine.body.toString()).toBe("one,two,three")
        expect(mine.header("transfer-encoding")).toBe("chunked")
        expect(theirs.header("transfer-encoding")).toBe("chunked")
      }))

    it.effect("file with ETag, Last-Modified, Range and 304", () =>
      Effect.gen(function*() {
        const whole = yield* both(get("/file"))
        expect(whole.mine.body.equals(fileBytes)).toBe(true)
        expect(whole.mine.header("content-length")).toBe(String(FILE_SIZE))
        const etag = whole.mine.header("etag")!
        expect(etag).toMatch(/^"/)
        expect(whole.mine.header("last-modified")).toBeDefined()
        const part = yield* both(get("/file", { Range: "bytes=10-19" }))
        expect(part.mine.status).toBe(206)
        expect(part.mine.body.equals(fileBytes.subarray(10, 20))).toBe(true)
        expect(part.mine.header("content-length")).toBe("10")
        const cached = yield* both(get("/file", { "If-None-Match": etag }))
        expect(cached.mine.status).toBe(304)
        const head = yield* both(httpRequest("HEAD", "/file", { Host: "x" }), { head: true })
        expect(head.mine.header("content-length")).toBe(String(FILE_SIZE))
      }))

    it.effect("cookies in and out, duplicate request headers joined", () =>
      Effect.gen(function*() {
        const { mine } = yield* both(
          httpRequest("GET", "/cookies", [["Host", "x"], ["Cookie", "c=3"], ["Cookie", "d=4"], ["X-Dup", "1"], [
            "X-Dup",
            "2"
          ]])
        )
        expect(mine.headers.filter(([n]) => n.toLowerCase() === "set-cookie").length).toBe(2)
        expect(JSON.parse(mine.body.toString())).toEqual({ got: { c: "3", d: "4" }, dup: "1, 2" })
      }))

    it.effect("custom status text (ours sends it), defect → 500, router 404, redirect", () =>
      Effect.gen(function*() {
        const teapot = yield* both(get("/teapot"))
        expect(teapot.mine.statusLine).toBe("HTTP/1.1 418 Short And Stout")
        expect(teapot.theirs.statusLine).toBe("HTTP/1.1 418 I'm a Teapot")
        const defect = yield* both(get("/defect"))
        expect(defect.mine.status).toBe(500)
        const missing = yield* both(get("/nowhere"))
        expect(missing.mine.status).toBe(404)
        expect(missing.mine.statusLine).toBe("HTTP/1.1 404 Not Found")
        const redirect = yield* both(get("/redirect"))
        expect(redirect.mine.header("location")).toBe("/users/1")
      }))

    it.effect("FormData response: the same fields and files (each with its own boundary)", () =>
      Effect.gen(function*() {
        const { node, ours } = yield* Ports
        const [a, b] = yield* Effect.all([exchange(node, get("/formdata")), exchange(ours, get("/formdata"))])
        const theirs = a.responses[0]!
        const mine = b.responses[0]!
        const parsed = (response: ParsedResponse) =>
          Effect.promise(async () => {
            const form = await new Response(response.body, {
              headers: { "content-type": response.header("content-type") ?? "" }
            }).formData()
            return Promise.all([...form.entries()].map(async ([name, value]) =>
              typeof value === "string"
                ? [name, value]
                : [name, value.name, value.type, Buffer.from(await value.arrayBuffer()).toString("hex")]
            ))
          })
        const boundless = (response: ParsedResponse) => ({
          ...semantic(response),
          headers: semantic(response).headers.filter(([name]) => name !== "content-type"),
          body: ""
        })
        expect(boundless(mine)).toEqual(boundless(theirs))
        expect(mine.header("content-type")).toMatch(/^multipart\/form-data; boundary=/)
        expect(mine.header("transfer-encoding")).toBe(theirs.header("transfer-encoding"))
        const fields = yield* parsed(mine)
        expect(fields).toEqual(yield* parsed(theirs))
        expect(fields).toEqual([
          ["title", "hello"],
          ["title", "twice"],
          ["file", "a.bin", "application/octet-stream", fileBytes.subarray(0, 1000).toString("hex")]
        ])
      }))

    it.effect("HEAD has the GET's fields and no body", () =>
      Effect.gen(function*() {
        const { mine, ours } = yield* both(httpRequest("HEAD", "/users/7", { Host: "x" }), { head: true })
        expect(mine.status).toBe(200)
        expect(mine.body.length).toBe(0)
        expect(ours.rest.length).toBe(0)
      }))

    it.effect("5 MiB response, 8 MiB request body", () =>
      Effect.gen(function*() {
        const big = yield* both(get("/big"))
        expect(big.mine.body.length).toBe(BIG.length)
        const upload = Buffer.alloc(8 * 1024 * 1024, 0x62)
        const { mine } = yield* both(httpRequest("POST", "/digest", { Host: "x" }, upload))
        expect(JSON.parse(mine.body.toString())).toEqual({
          size: upload.length,
          sha: Crypto.createHash("sha256").update(upload).digest("hex")
        })
      }))

    it.effect("keep-alive after a 4xx/5xx, close on request", () =>
      Effect.gen(function*() {
        const { ours } = yield* Ports
        const three = Buffer.concat([get("/nowhere"), get("/defect"), get("/users/1", { Connection: "close" })])
        const result = yield* sendRaw({ port: ours, chunks: [three], until: "close", timeoutMs: 5000 })
        expect(result.responses.map((r) => r.status)).toEqual([404, 500, 200])
        expect(result.closedByServer).toBe(true)
        const http10 = yield* sendRaw({
          port: ours,
          chunks: [httpRequest("GET", "/users/1", {}, undefined, "HTTP/1.0")],
          until: "close",
          timeoutMs: 5000
        })
        expect(http10.responses[0]!.status).toBe(200)
        expect(http10.closedByServer).toBe(true)
      }))

    it.effect("100 Continue is sent before the body is read", () =>
      Effect.gen(function*() {
        const { ours } = yield* Ports
        const body = JSON.stringify({ name: "B", age: 1 })
        const head = httpRequest("POST", "/person", {
          Host: "x",
          "Content-Type": "application/json",
          "Content-Length": String(body.length),
          Expect: "100-continue"
        })
        const result = yield* sendRaw({
          port: ours,
          chunks: [head, body],
          delayBetweenChunksMs: 50,
          until: { responses: 2 },
          timeoutMs: 5000
        })
        expect(result.responses.map((r) => r.status)).toEqual([100, 200])
      }))

    it.effect("WebSocket echo", () =>
      Effect.gen(function*() {
        const { node, ours } = yield* Ports
        const echo = (port: number) =>
          Effect.async<string, Error>((resume) => {
            const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`)
            ws.on("open", () => ws.send("hi"))
            ws.on("message", (data) => {
              resume(Effect.succeed(String(data)))
              ws.close()
            })
            ws.on("error", (error) => resume(Effect.fail(error)))
          })
        expect(yield* echo(ours)).toBe(yield* echo(node))
        expect(yield* echo(ours)).toBe("echo:hi")
      }))
  })
})
