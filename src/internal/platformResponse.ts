/**
 * `@effect/platform` responses written by the engine: every `HttpBody` kind becomes one of the engine's bodies and
 * goes through its one head encoder, with what node:http adds on the wire (`Date`, `Connection`, `Keep-Alive`,
 * chunked framing of bodies without a length, `Content-Length` of byte bodies).
 */
import * as Cookies from "@effect/platform/Cookies"
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as ServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { STATUS_CODES } from "node:http"
import { Readable } from "node:stream"
import type { HeaderField } from "../Headers.js"
import { type Request, versionAtLeast } from "../Request.js"
import type * as Response from "../Response.js"
import { isBodiless } from "../Status.js"
import { respondNow } from "./connection.js"
import { connectionOptions } from "./connectionOptions.js"
import { httpDate } from "./wire.js"

/**
 * A file `HttpPlatform.fileResponse` chose, as a `Raw` body: the engine opens it in the request's scope and writes
 * it with its own file writer (pooled buffers, no `Stream` step per chunk).
 */
export class PlatformFile {
  constructor(readonly path: string, readonly start: number, readonly length: number) {}
}

/** What a response needs to know of the server. */
export interface ResponseConfig {
  /** `Keep-Alive: timeout=N`, as node sends its `keepAliveTimeout` (in seconds). */
  readonly keepAliveSeconds: number
  /**
   * Opens the files of `HttpPlatform` responses. Passed here rather than provided per response: providing a service
   * copies the request fiber's whole context and fiber refs, for every response, file or not.
   */
  readonly fs: FileSystem.FileSystem
}

/** Whether node:http would keep this request's connection: HTTP/1.1 unless `close`, HTTP/1.0 with `keep-alive`. */
const wantsKeepAlive = (request: Request): boolean => {
  const options = connectionOptions(request.headers.getAll("connection"))
  return versionAtLeast(request.version, 1, 1) ? !options.close : options.keepAlive
}

/** Whether a `Connection` value lists `close`. */
const asksClose = (value: string | ReadonlyArray<string>): boolean =>
  (typeof value === "string" ? [value] : value).some((one) =>
    one.split(",").some((token) => token.trim().toLowerCase() === "close")
  )

type Body =
  | { readonly _tag: "Bytes"; readonly bytes: Uint8Array }
  | { readonly _tag: "Stream"; readonly stream: Stream.Stream<Uint8Array, unknown>; readonly length: number | undefined }
  | { readonly _tag: "File"; readonly file: PlatformFile }
  | { readonly _tag: "Empty" }

const EMPTY: Body = { _tag: "Empty" }
const isReadable = (u: unknown): u is Readable => u instanceof Readable

/** The engine body for a platform body; `FormData` adds its own `Content-Type` to `fields`. */
const toBody = (body: ServerResponse.HttpServerResponse["body"], fields: Array<HeaderField>): Body => {
  switch (body._tag) {
    case "Empty":
      return EMPTY
    case "Uint8Array":
      return { _tag: "Bytes", bytes: body.body }
    case "Stream":
      return { _tag: "Stream", stream: body.stream, length: body.contentLength }
    case "FormData": {
      const web = new globalThis.Response(body.formData)
      web.headers.forEach((value, name) => fields.push([name, value]))
      const stream = web.body === null
        ? Stream.empty
        : Stream.fromReadableStream(() => web.body!, (cause) => cause)
      return { _tag: "Stream", stream, length: undefined }
    }
    case "Raw": {
      const raw = body.body
      if (raw instanceof PlatformFile) return { _tag: "File", file: raw }
      if (raw instanceof Uint8Array) return { _tag: "Bytes", bytes: raw }
      if (typeof raw === "string") return { _tag: "Bytes", bytes: Buffer.from(raw, "utf8") }
      if (isReadable(raw)) {
        return {
          _tag: "Stream",
          stream: Stream.fromAsyncIterable(raw, (cause) => cause),
          length: body.contentLength
        }
      }
      if (raw instanceof ReadableStream) {
        return {
          _tag: "Stream",
          stream: Stream.fromReadableStream(() => raw as ReadableStream<Uint8Array>, (cause) => cause),
          length: body.contentLength
        }
      }
      return { _tag: "Bytes", bytes: Buffer.from(String(raw), "utf8") }
    }
  }
}

/**
 * Writes `response` as the answer to `request` (an engine request). Completes when the body has been handed to the
 * socket; fails when the client went away mid-body (the connection is then closed).
 */
export const writeResponse = (
  config: ResponseConfig,
  request: Request,
  response: ServerResponse.HttpServerResponse
): Effect.Effect<void, unknown> => {
  const status = response.status
  const fields: Array<HeaderField> = []
  let hasDate = false
  let appLength: string | ReadonlyArray<string> | undefined
  let appClose = false
  const cookieLines = Cookies.isEmpty(response.cookies) ? undefined : Cookies.toSetCookieHeaders(response.cookies)
  const headers = response.headers as Record<string, string | ReadonlyArray<string>>
  for (const name in headers) {
    const value = headers[name]!
    if (name === "set-cookie" && cookieLines !== undefined) continue
    // The server owns framing and the connection: an app's `Transfer-Encoding` is dropped (the body is framed
    // below), its `Content-Length` kept only where the server cannot know the length, its `Connection` replaced by
    // the one field below (`close` honoured, as node:http does).
    if (name === "transfer-encoding") continue
    if (name === "content-length") {
      appLength = value
      continue
    }
    if (name === "connection") {
      appClose ||= asksClose(value)
      continue
    }
    if (typeof value === "string") fields.push([name, value])
    else for (const one of value) fields.push([name, one])
    if (name === "date") hasDate = true
  }
  if (cookieLines !== undefined) {
    // node:http's order: the cookies, then a `set-cookie` header the app set itself.
    for (const line of cookieLines) fields.push(["set-cookie", line])
    const own = headers["set-cookie"]
    if (own !== undefined) for (const one of typeof own === "string" ? [own] : own) fields.push(["set-cookie", one])
  }
  const body = request.method === "HEAD" ? EMPTY : toBody(response.body, fields)
  const bodiless = request.method === "HEAD" || isBodiless(status)
  let keepAlive = !appClose && wantsKeepAlive(request)
  let framing: HeaderField | undefined
  // Where the length is unknown to the server (no body: HEAD, 304; a stream without one), the app's describes it.
  const unknownLength = body._tag === "Empty" || (body._tag === "Stream" && body.length === undefined)
  if (appLength !== undefined && (bodiless || unknownLength)) {
    if (typeof appLength === "string") fields.push(["content-length", appLength])
    else for (const one of appLength) fields.push(["content-length", one])
  } else if (!bodiless) {
    if (body._tag === "Stream" && body.length === undefined) {
      if (versionAtLeast(request.version, 1, 1)) framing = ["transfer-encoding", "chunked"]
      else keepAlive = false
    } else if (body._tag === "Stream") framing = ["content-length", String(body.length)]
    else if (body._tag === "Bytes") framing = ["content-length", String(body.bytes.length)]
    else if (body._tag === "File") framing = ["content-length", String(body.file.length)]
    else framing = ["content-length", "0"]
  }
  if (!hasDate) fields.push(["date", httpDate()])
  if (keepAlive) fields.push(["connection", "keep-alive"], ["keep-alive", `timeout=${config.keepAliveSeconds}`])
  else fields.push(["connection", "close"])
  if (framing !== undefined) fields.push(framing)
  const reason = response.statusText ?? STATUS_CODES[status] ?? "unknown"

  const send = (engineBody: Response.Body): Effect.Effect<void, unknown> => {
    const written = respondNow(request, {
      status,
      reason,
      headers: fields,
      body: engineBody,
      standardHeaders: false,
      endHeaders: true
    })
    // `toHandled` runs the write uninterruptibly; reopened so a shutdown's interruption cuts a write waiting for a
    // client that stopped reading (the engine then destroys the socket).
    return written === undefined
      ? Effect.dieMessage("PlatformServer: not a request of this server")
      : Effect.interruptible(written)
  }
  switch (body._tag) {
    case "Empty":
      return send(EMPTY_BODY)
    case "Bytes":
      return send({ _tag: "Bytes", bytes: body.bytes })
    case "Stream":
      return send({
        _tag: "Stream",
        // With `transfer-encoding: chunked` the engine chunks it (its one framing rule, `framing.ts`).
        stream: body.stream
      })
    case "File": {
      const file = body.file
      const fs = config.fs
      return Effect.scoped(
        Effect.flatMap(fs.open(file.path, { flag: "r" }), (handle) =>
          send({
            _tag: "File",
            fd: handle.fd,
            start: file.start,
            length: file.length,
            stream: fs.stream(file.path, { offset: file.start, bytesToRead: file.length })
          })))
    }
  }
}

const EMPTY_BODY: Response.Body = { _tag: "Empty" }
