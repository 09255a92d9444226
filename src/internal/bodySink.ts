/**
 * A request body on its way from the connection's input to a handler: buffered chunks, a pull-based `Stream`, and a
 * whole-body read without a `Stream` step per chunk.
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type { RequestBodyError } from "../Request.js"

/** A request body on its way from the socket to a handler. */
export class BodySink {
  private chunks: Array<Uint8Array> = []
  buffered = 0
  received = 0
  ended = false
  discarding = false
  failure: RequestBodyError | undefined = undefined
  waiter: ((effect: Effect.Effect<Chunk.Chunk<Uint8Array>, Option.Option<RequestBodyError>>) => void) | undefined

  constructor(readonly expected: number, private readonly onConsumed: () => void) {}

  push(chunk: Uint8Array): void {
    this.received += chunk.length
    if (this.discarding) return
    this.chunks.push(chunk)
    this.buffered += chunk.length
    this.wake()
  }
  end(): void {
    this.ended = true
    this.wake()
  }
  fail(error: RequestBodyError): void {
    this.failure = error
    this.wake()
  }
  /** The handler is done: what is still to come is thrown away. */
  discard(): void {
    this.discarding = true
    this.chunks = []
    this.buffered = 0
  }
  private wake(): void {
    const waiter = this.waiter
    if (waiter !== undefined) {
      const next = this.take()
      if (next !== undefined) {
        this.waiter = undefined
        waiter(next)
      }
    }
  }
  take(): Effect.Effect<Chunk.Chunk<Uint8Array>, Option.Option<RequestBodyError>> | undefined {
    if (this.chunks.length > 0) {
      const chunk = Chunk.unsafeFromArray(this.chunks)
      this.chunks = []
      this.buffered = 0
      this.onConsumed()
      return Effect.succeed(chunk)
    }
    if (this.failure !== undefined) return Effect.fail(Option.some(this.failure))
    if (this.ended) return Effect.fail(Option.none())
    return undefined
  }
  /**
   * The whole body in one buffer, without a `Stream` step per chunk; fails past `limit` bytes. Reads what the
   * stream has not taken yet.
   */
  readAll(limit: number, tooLarge: () => RequestBodyError): Effect.Effect<Uint8Array, RequestBodyError> {
    const parts: Array<Uint8Array> = []
    let size = 0
    const loop: Effect.Effect<Uint8Array, RequestBodyError> = Effect.suspend(() => {
      const next = this.take()
      if (next === undefined) {
        return Effect.async<Uint8Array, RequestBodyError>((resume) => {
          this.waiter = (effect) => {
            this.waiter = undefined
            resume(Effect.matchEffect(effect, {
              onFailure: (end) => end._tag === "Some" ? Effect.fail(end.value) : Effect.succeed(joined()),
              onSuccess: (chunk) => collectChunk(chunk)
            }))
          }
          return Effect.sync(() => {
            this.waiter = undefined
          })
        })
      }
      return Effect.matchEffect(next, {
        onFailure: (end) => end._tag === "Some" ? Effect.fail(end.value) : Effect.succeed(joined()),
        onSuccess: (chunk) => collectChunk(chunk)
      })
    })
    const joined = () => parts.length === 1 ? parts[0]! : Buffer.concat(parts)
    const collectChunk = (chunk: Chunk.Chunk<Uint8Array>): Effect.Effect<Uint8Array, RequestBodyError> => {
      for (const piece of chunk) {
        size += piece.length
        parts.push(piece)
      }
      return size > limit ? Effect.fail(tooLarge()) : loop
    }
    return loop
  }

  readonly stream: Stream.Stream<Uint8Array, RequestBodyError> = Stream.repeatEffectChunkOption(
    Effect.async<Chunk.Chunk<Uint8Array>, Option.Option<RequestBodyError>>((resume) => {
      const next = this.take()
      if (next !== undefined) return resume(next)
      this.waiter = resume
      return Effect.sync(() => {
        this.waiter = undefined
      })
    })
  )
}
