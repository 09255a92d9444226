/**
 * An `@effect/platform` `HttpServerRequest` over one of the engine's requests: what `NodeHttpServer` builds over
 * node's `IncomingMessage`, with the same header joining, body limits and errors.
 */
import * as Cookies from "@effect/platform/Cookies"
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Headers from "@effect/platform/Headers"
import * as IncomingMessage from "@effect/platform/HttpIncomingMessage"
import type { HttpMethod } from "@effect/platform/HttpMethod"
import * as HttpServerError from "@effect/platform/HttpServerError"
import * as ServerRequest from "@effect/platform/HttpServerRequest"
import * as Multipart from "@effect/platform/Multipart"
import type * as Path from "@effect/platform/Path"
import type * as Socket from "@effect/platform/Socket"
import * as UrlParams from "@effect/platform/UrlParams"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Inspectable from "effect/Inspectable"
import * as Option from "effect/Option"
import type { ReadonlyRecord } from "effect/Record"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { HeaderField } from "../Headers.js"
import { type Request, RequestBodyError } from "../Request.js"
import { readWholeBody } from "./connection.js"
import { parts as multipartParts } from "./platformMultipart.js"

/** Fields node's `IncomingMessage` keeps once: a repeat is dropped (`_addHeaderLine`'s `matchKnownFields`). */
const FIRST_ONLY = new Set([
  "content-type",
  "content-length",
  "user-agent",
  "referer",
  "host",
  "authorization",
  "proxy-authorization",
  "if-modified-since",
  "if-unmodified-since",
  "from",
  "location",
  "max-forwards",
  "retry-after",
  "etag",
  "last-modified",
  "server",
  "age",
  "expires"
])

/**
 * Request fields as node:http presents them: lower-case names, repeats joined with `, ` (`cookie` with `; `),
 * `set-cookie` as a list, and the single-valued fields above keeping their first value.
 */
export const joinHeaders = (fields: ReadonlyArray<HeaderField>): Headers.Headers => {
  const out: Record<string, string | Array<string>> = {}
  for (let i = 0; i < fields.length; i++) {
    const name = fields[i]![0].toLowerCase()
    const value = fields[i]![1]
    const previous = out[name]
    if (previous === undefined) out[name] = name === "set-cookie" ? [value] : value
    else if (name === "set-cookie") (previous as Array<string>).push(value)
    else if (!FIRST_ONLY.has(name)) out[name] = previous + (name === "cookie" ? "; " : ", ") + value
  }
  // `set-cookie` stays a list at run time, as node's; the platform's type says string.
  return Headers.unsafeFromRecord(out as Record<string, string>)
}

/** What every view of one request shares (`modify` makes views): the body can be read once. */
class BodyState {
  text: Effect.Effect<string, HttpServerError.RequestError> | undefined = undefined
  bytes: Effect.Effect<Uint8Array, HttpServerError.RequestError> | undefined = undefined
  multipart:
    | Effect.Effect<Multipart.Persisted, Multipart.MultipartError, Scope.Scope | FileSystem.FileSystem | Path.Path>
    | undefined = undefined
  headers: Headers.Headers | undefined = undefined
}

/**
 * `effect` run once, by its first caller (in that caller's fiber and context); later and concurrent callers get the
 * same exit. In place of `Effect.cached`, which each request paid for with a fiber of its own (`runSync`) and whose
 * synchronized cell yielded to the scheduler: a small POST then finished in a later microtask instead of the read
 * that brought it.
 *
 * Like `Effect.cached`, the run itself is uninterruptible: the body is consumed as it is read, so a first reader
 * interrupted halfway (its own timeout, a lost race) would leave every other reader its interruption or half a body.
 * A client's reset or the engine's body timeouts still end the read (the body fails). Waiters stay interruptible.
 */
const once = <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<A, E> => {
  let result: Exit.Exit<A, E> | undefined
  let waiting: Set<(exit: Exit.Exit<A, E>) => void> | undefined
  return Effect.uninterruptibleMask((restore) =>
    Effect.suspend(() => {
      if (result !== undefined) return result
      if (waiting !== undefined) {
        const others = waiting
        return restore(Effect.async<A, E>((resume) => {
          others.add(resume)
          return Effect.sync(() => others.delete(resume))
        }))
      }
      const mine = new Set<(exit: Exit.Exit<A, E>) => void>()
      waiting = mine
      return Effect.onExit(effect, (exit) =>
        Effect.sync(() => {
          result = exit
          waiting = undefined
          for (const resume of mine) resume(exit)
        }))
    })
  )
}

/**
 * Reads a whole body into one buffer, failing past `maxBytes` (the platform's `MaxBodySize`). The chunks are
 * gathered by a plain fold: the body usually arrives in the head's segment, so this finishes without waiting.
 */
const collect = (
  body: Stream.Stream<Uint8Array, unknown>,
  maxBytes: Option.Option<FileSystem.Size>,
  onError: (cause: unknown, description?: string) => HttpServerError.RequestError
): Effect.Effect<Uint8Array, HttpServerError.RequestError> => {
  const limit = Option.isSome(maxBytes) ? Number(maxBytes.value) : Infinity
  return Stream.runFoldEffect(
    body,
    { parts: [] as Array<Uint8Array>, size: 0 },
    (acc, chunk): Effect.Effect<{ parts: Array<Uint8Array>; size: number }, HttpServerError.RequestError> => {
      acc.size += chunk.length
      if (acc.size > limit) return Effect.fail(onError(undefined, "body too large"))
      acc.parts.push(chunk)
      return Effect.succeed(acc)
    }
  ).pipe(
    Effect.mapError((e) => e instanceof HttpServerError.RequestError ? e : onError(e)),
    Effect.map(({ parts }) => parts.length === 1 ? parts[0]! : Buffer.concat(parts))
  )
}

/**
 * The request an `@effect/platform` app sees. `source` is the engine's `Request` (remote port, local address, TLS,
 * the head as received).
 */
export class PlatformRequest extends Inspectable.Class implements ServerRequest.HttpServerRequest {
  readonly [ServerRequest.TypeId]: ServerRequest.TypeId = ServerRequest.TypeId
  readonly [IncomingMessage.TypeId]: IncomingMessage.TypeId = IncomingMessage.TypeId

  constructor(
    readonly source: Request,
    readonly url: string,
    private readonly upgradeEffect: Effect.Effect<Socket.Socket, HttpServerError.RequestError> | undefined,
    private readonly state: BodyState = new BodyState(),
    private readonly headersOverride: Headers.Headers | undefined = undefined,
    private readonly remoteAddressOverride: string | undefined = undefined
  ) {
    super()
  }

  private readonly onError = (cause: unknown, description?: string) =>
    new HttpServerError.RequestError({
      request: this,
      reason: "Decode",
      cause,
      ...(description === undefined ? {} : { description })
    })

  get originalUrl(): string {
    return this.source.target
  }

  get method(): HttpMethod {
    return this.source.method.toUpperCase() as HttpMethod
  }

  get headers(): Headers.Headers {
    if (this.headersOverride !== undefined) return this.headersOverride
    return this.state.headers ??= joinHeaders(this.source.headers.fields)
  }

  get remoteAddress(): Option.Option<string> {
    return Option.some(this.remoteAddressOverride ?? this.source.remoteAddress)
  }

  private cachedCookies: ReadonlyRecord<string, string> | undefined
  get cookies(): ReadonlyRecord<string, string> {
    return this.cachedCookies ??= Cookies.parseHeader(this.headers.cookie ?? "")
  }

  get stream(): Stream.Stream<Uint8Array, HttpServerError.RequestError> {
    return Stream.mapError(this.source.body, (cause) => this.onError(cause))
  }

  private get bytes(): Effect.Effect<Uint8Array, HttpServerError.RequestError> {
    return this.state.bytes ??= once(
      Effect.flatMap(IncomingMessage.MaxBodySize, (max) => {
        // The engine's body in one piece: a `Stream` step per chunk costs more than the rest of a small request.
        const whole = readWholeBody(
          this.source,
          Option.isSome(max) ? Number(max.value) : Infinity,
          () => new RequestBodyError({ reason: "TooLarge", message: "body too large" })
        )
        return whole === undefined
          ? collect(this.source.body, max, this.onError)
          : Effect.mapError(whole, (cause) => this.onError(cause, cause.reason === "TooLarge" ? "body too large" : undefined))
      })
    )
  }

  get text(): Effect.Effect<string, HttpServerError.RequestError> {
    return this.state.text ??= once(Effect.map(
      this.bytes,
      (bytes) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("utf8")
    ))
  }

  get unsafeText(): string {
    return Effect.runSync(this.text)
  }

  get json(): Effect.Effect<unknown, HttpServerError.RequestError> {
    return Effect.tryMap(this.text, {
      try: (text) => text === "" ? null : JSON.parse(text) as unknown,
      catch: (cause) => this.onError(cause)
    })
  }

  get unsafeJson(): unknown {
    return Effect.runSync(this.json)
  }

  get urlParamsBody(): Effect.Effect<UrlParams.UrlParams, HttpServerError.RequestError> {
    return Effect.flatMap(this.text, (text) =>
      Effect.try({
        try: () => UrlParams.fromInput(new URLSearchParams(text)),
        catch: (cause) => this.onError(cause)
      }))
  }

  get arrayBuffer(): Effect.Effect<ArrayBuffer, HttpServerError.RequestError> {
    return Effect.map(this.bytes, (bytes) => {
      const copy = new Uint8Array(bytes.length)
      copy.set(bytes)
      return copy.buffer
    })
  }

  get multipart(): Effect.Effect<
    Multipart.Persisted,
    Multipart.MultipartError,
    Scope.Scope | FileSystem.FileSystem | Path.Path
  > {
    // `cached` runs its effect uninterruptibly: reopened so a client's reset (which interrupts the request) stops it.
    return this.state.multipart ??= Effect.runSync(
      Effect.cached(Effect.interruptible(Multipart.toPersisted(this.multipartStream)))
    )
  }

  get multipartStream(): Stream.Stream<Multipart.Part, Multipart.MultipartError> {
    return multipartParts(Stream.mapError(this.source.body, (cause) => this.onError(cause)), this.headers)
  }

  get upgrade(): Effect.Effect<Socket.Socket, HttpServerError.RequestError> {
    return this.upgradeEffect ?? Effect.fail(
      new HttpServerError.RequestError({ request: this, reason: "Decode", description: "not an upgradeable ServerRequest" })
    )
  }

  modify(options: {
    readonly url?: string | undefined
    readonly headers?: Headers.Headers | undefined
    readonly remoteAddress?: string | undefined
  }): PlatformRequest {
    const copy = new PlatformRequest(
      this.source,
      options.url ?? this.url,
      this.upgradeEffect,
      this.state,
      options.headers ?? this.headersOverride,
      options.remoteAddress ?? this.remoteAddressOverride
    )
    return copy
  }

  override toString(): string {
    return `ServerRequest(${this.method} ${this.url})`
  }

  toJSON(): unknown {
    return IncomingMessage.inspect(this, {
      _id: "@effect/platform/HttpServerRequest",
      method: this.method,
      url: this.originalUrl
    })
  }
}
