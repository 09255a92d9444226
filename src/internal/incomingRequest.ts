/**
 * The request value a handler sees, and the engine-specific operations on it (respond from inside the handler, take
 * the socket over, read the body whole) that other modules reach through it.
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import {
  type HttpVersion,
  type Request,
  type RequestBodyError,
  type RequestHead,
  splitPath
} from "../Request.js"
import type { Response } from "../Response.js"
import type { BodySink } from "./bodySink.js"
import type { Transport } from "./transport.js"

/** What a request needs of the connection it came on (the connection core implements it). */
export interface RequestOwner {
  readonly remoteAddress: string
  readonly remotePort: number
  readonly localAddress: string
  readonly localPort: number
  readonly secure: boolean
  respondNow(request: Request, response: Response): Effect.Effect<void, unknown>
  detach(request: Request): { readonly socket: Transport; readonly head: Buffer } | undefined
}

/** The request a handler sees: a class so every request has the same shape (object spreads were measurably slow). */
export class IncomingRequest implements Request {
  readonly method: string
  readonly target: string
  readonly path: string
  readonly pathname: string
  readonly query: string
  readonly version: HttpVersion
  readonly requestLine: string
  readonly headers: RequestHead["headers"]
  readonly framing: RequestHead["framing"]
  readonly contentLength: number
  readonly remoteAddress: string
  readonly remotePort: number
  readonly localAddress: string
  readonly localPort: number
  readonly secure: boolean
  constructor(
    head: RequestHead,
    readonly connection: RequestOwner,
    readonly body: Stream.Stream<Uint8Array, RequestBodyError>,
    readonly sink: BodySink | undefined
  ) {
    this.method = head.method
    this.target = head.target
    this.path = head.path
    const { pathname, query } = splitPath(head.path)
    this.pathname = pathname
    this.query = query
    this.version = head.version
    this.requestLine = head.requestLine
    this.headers = head.headers
    this.framing = head.framing
    this.contentLength = head.contentLength
    this.remoteAddress = connection.remoteAddress
    this.remotePort = connection.remotePort
    this.localAddress = connection.localAddress
    this.localPort = connection.localPort
    this.secure = connection.secure
  }
}

/** Reads a request body whole (for handlers that want it in memory; bounded by the decoder's body limit). */
export const readBody = (request: Request): Effect.Effect<Uint8Array, RequestBodyError> =>
  Effect.map(Stream.runCollect(request.body), (chunks) => Buffer.concat(Chunk.toReadonlyArray(chunks)))

/**
 * `Connection.respondNow` for a request of this engine; `undefined` for any other request value.
 */
export const respondNow = (request: Request, response: Response): Effect.Effect<void, unknown> | undefined =>
  request instanceof IncomingRequest ? request.connection.respondNow(request, response) : undefined

/**
 * `Connection.detach` for a request of this engine; `undefined` for any other request value.
 */
export const detachSocket = (request: Request): { readonly socket: Transport; readonly head: Buffer } | undefined =>
  request instanceof IncomingRequest ? request.connection.detach(request) : undefined

/**
 * The whole body of a request of this engine in one buffer (`BodySink.readAll`); `undefined` for any other request
 * value. An empty body is an empty buffer.
 */
export const readWholeBody = (
  request: Request,
  limit: number,
  tooLarge: () => RequestBodyError
): Effect.Effect<Uint8Array, RequestBodyError> | undefined => {
  if (!(request instanceof IncomingRequest)) return undefined
  return request.sink === undefined ? Effect.succeed(EMPTY_BYTES) : request.sink.readAll(limit, tooLarge)
}

const EMPTY_BYTES = new Uint8Array(0)
