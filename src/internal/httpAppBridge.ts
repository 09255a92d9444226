/**
 * The engine's handlers as an `@effect/platform` `HttpApp`: a platform request becomes an engine `Request`, the
 * handler's `Response` (or `HttpError`) a platform response. Used by `StaticFiles.toHttpApp` and `Cgi.toHttpApp`.
 */
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { HandlerMap } from "../Handler.js"
import { type HeaderField, Headers } from "../Headers.js"
import { HttpError } from "../HttpError.js"
import { type HttpVersion, type Request, RequestBodyError, splitPath } from "../Request.js"
import type * as Response from "../Response.js"
import { pyRepr } from "./pythonText.js"
import { DEFAULT_ERROR_CONTENT_TYPE, errorTexts, fillErrorTemplate } from "./wire.js"

/** An `HttpError` as Python's error page. */
export const errorResponse = (error: HttpError, template: string): HttpServerResponse.HttpServerResponse => {
  const { explain, message } = errorTexts(error)
  return HttpServerResponse.text(fillErrorTemplate(template, error.status, message, explain), {
    status: error.status,
    contentType: DEFAULT_ERROR_CONTENT_TYPE,
    headers: Object.fromEntries((error.headers ?? []).map(([name, value]) => [name.toLowerCase(), value]))
  })
}

/** An engine response (its head ended) as a platform response. */
export const toServerResponse = (response: Response.Response): HttpServerResponse.HttpServerResponse => {
  const headers: Record<string, string> = {}
  let contentType: string | undefined
  let contentLength: number | undefined
  for (const [name, value] of response.headers) {
    const key = name.toLowerCase()
    if (key === "content-type") contentType = value
    else if (key === "content-length") contentLength = Number(value)
    else headers[key] = value
  }
  const status = response.status
  const statusText = response.reason
  const body = response.body
  switch (body._tag) {
    case "Empty":
      // HEAD, 301, 304: the length (if any) describes what a GET would get, so it goes out as a plain header.
      if (contentType !== undefined) headers["content-type"] = contentType
      if (contentLength !== undefined) headers["content-length"] = String(contentLength)
      return HttpServerResponse.empty({ status, statusText, headers })
    case "Bytes":
      return HttpServerResponse.uint8Array(body.bytes, { status, statusText, headers, contentType })
    case "Stream":
    case "File":
      return HttpServerResponse.stream(body.stream, { status, statusText, headers, contentType, contentLength })
  }
}

// Shared by every bridged request without a version of its own: frozen, as the decoder's are.
const HTTP_1_1: HttpVersion = Object.freeze({ major: 1, minor: 1, text: "HTTP/1.1" })

/** What a server's request object may tell about the connection (the engine's `Request`, node's `IncomingMessage`). */
interface Endpoints {
  readonly remotePort?: number
  readonly localAddress?: string
  readonly localPort?: number
  readonly secure?: boolean
  readonly version?: HttpVersion
  readonly socket?: {
    readonly remotePort?: number
    readonly localAddress?: string
    readonly localPort?: number
    readonly encrypted?: boolean
  }
}

/**
 * The engine request for a platform request: method and URL as the app sees them (below a mount point unless the
 * router includes the prefix), the header fields in order, the body as a stream, the endpoints from the server's
 * own request object when it has them.
 */
export const toEngineRequest = (request: HttpServerRequest.HttpServerRequest): Request => {
  const fields: Array<HeaderField> = []
  for (const [name, value] of Object.entries(request.headers as Record<string, string | ReadonlyArray<string>>)) {
    if (typeof value === "string") fields.push([name, value])
    else for (const one of value) fields.push([name, one])
  }
  const headers = new Headers(fields)
  const source = (typeof request.source === "object" && request.source !== null ? request.source : {}) as Endpoints
  const target = request.url
  const path = target.startsWith("//") ? "/" + target.replace(/^\/+/, "") : target
  const { pathname, query } = splitPath(path)
  const version = source.version ?? HTTP_1_1
  const length = headers.get("content-length")
  const chunked = headers.get("transfer-encoding")?.toLowerCase().endsWith("chunked") === true
  return {
    method: request.method,
    target,
    path,
    pathname,
    query,
    version,
    requestLine: `${request.method} ${request.originalUrl} ${version.text}`,
    headers,
    framing: chunked ? "chunked" : length !== undefined ? "length" : "none",
    contentLength: chunked || length === undefined ? 0 : Number(length),
    remoteAddress: Option.getOrElse(request.remoteAddress, () => ""),
    remotePort: source.remotePort ?? source.socket?.remotePort ?? 0,
    localAddress: source.localAddress ?? source.socket?.localAddress ?? "",
    localPort: source.localPort ?? source.socket?.localPort ?? 0,
    secure: source.secure ?? source.socket?.encrypted ?? false,
    body: Stream.mapError(
      request.stream,
      (error) => new RequestBodyError({ reason: "Framing", message: String(error) })
    )
  }
}

/**
 * Handlers as an `HttpApp`: the method's handler, else `501` as Python; an `HttpError` becomes Python's error page
 * filled from `template`. Resources the handler acquires belong to the request's scope, which `@effect/platform`
 * closes after the response is written.
 */
export const fromHandlers = (
  handlers: HandlerMap,
  template: string
): Effect.Effect<HttpServerResponse.HttpServerResponse, never, HttpServerRequest.HttpServerRequest | Scope.Scope> =>
  Effect.flatMap(HttpServerRequest.HttpServerRequest, (platformRequest) => {
    const request = toEngineRequest(platformRequest)
    const handler = handlers.byMethod.get(request.method)
    const answer = handler === undefined
      ? Effect.fail(new HttpError({ status: 501, message: `Unsupported method (${pyRepr(request.method)})` }))
      : handler(request)
    // `toHandled` runs apps uninterruptibly and only some routers open a region; the engine's handlers expect to be
    // interruptible (their races interrupt the loser, a client reset interrupts them).
    return Effect.interruptible(answer).pipe(
      Effect.map(toServerResponse),
      Effect.catchAll((error) => Effect.succeed(errorResponse(error, template)))
    )
  })
