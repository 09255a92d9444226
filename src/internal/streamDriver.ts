/**
 * The Stream driver: the connection core over a `Stream` of request bytes, answering with a `Stream` of response
 * bytes. `StreamTransport` gives the core a socket's shape: `data`/`end` come from pulling the input, writes queue
 * for the output's consumer, and `pause`/`resume`, `drain`, `setTimeout` and `close` behave as a socket's do, so
 * every limit and timeout of the socket path holds here too.
 *
 * Backpressure: the input is pulled only while the core wants bytes (not paused) and less than
 * `OUTPUT_HIGH_WATER` bytes of response wait for the consumer; writes past that mark return `false`, and the core
 * waits for `drain`, which comes when the consumer takes them.
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { EventEmitter } from "node:events"
import type { AccessLog } from "../AccessLog.js"
import type { Handlers } from "../Handler.js"
import type { StreamOptions } from "../Server.js"
import { Connection } from "./connection.js"
import { makeEngine } from "./engine.js"
import { hostPolicy } from "./hostCheck.js"
import { isShared } from "./sharedBytes.js"
import type { Transport } from "./transport.js"

/** Response bytes waiting for the consumer above which reading stops and writes report backpressure. */
export const OUTPUT_HIGH_WATER = 64 * 1024

/** A socket-shaped transport over a pulled input and a pulled output. */
export class StreamTransport<E> extends EventEmitter implements Transport {
  destroyed = false
  writableLength = 0
  readonly detachable = false
  private output: Array<Uint8Array> = []
  private callbacks: Array<() => void> = []
  private ended = false
  private endCallback: (() => void) | undefined = undefined
  private needDrain = false
  private paused = false
  private failure: Option.Option<E> = Option.none()
  private reader: (() => void) | undefined = undefined
  private taker: (() => void) | undefined = undefined
  private timeoutMs = 0
  private timer: ReturnType<typeof setTimeout> | undefined = undefined

  constructor(
    readonly remoteAddress: string,
    readonly remotePort: number,
    readonly localAddress: string,
    readonly localPort: number
  ) {
    super()
  }

  write(data: Uint8Array | string, encodingOrCallback?: BufferEncoding | ((error?: Error | null) => void)): boolean {
    if (this.destroyed || this.ended) return false
    let bytes: Uint8Array
    if (typeof data === "string") {
      bytes = Buffer.from(data, typeof encodingOrCallback === "string" ? encodingOrCallback : "utf8")
    } else if (typeof encodingOrCallback === "function") {
      // The caller reuses the buffer once called back (pooled file reads): the consumer gets a copy. So do bytes
      // shared by every connection (cached pages and files), which a consumer writing into chunks would corrupt.
      bytes = Buffer.from(data)
      this.callbacks.push(encodingOrCallback)
    } else bytes = isShared(data) ? Buffer.from(data) : data
    if (bytes.length === 0) return this.writableLength < OUTPUT_HIGH_WATER
    this.output.push(bytes)
    this.writableLength += bytes.length
    this.wakeTaker()
    if (this.writableLength < OUTPUT_HIGH_WATER) return true
    this.needDrain = true
    return false
  }
  cork(): void {}
  uncork(): void {}
  end(callback?: () => void): void {
    if (this.ended) return
    this.ended = true
    this.endCallback = callback
    this.wakeTaker()
  }
  destroy(): void {
    if (this.destroyed) return
    this.destroyed = true
    this.setTimeout(0)
    this.wakeReader()
    this.wakeTaker()
    setImmediate(() => this.emit("close"))
  }
  pause(): this {
    this.paused = true
    return this
  }
  resume(): this {
    this.paused = false
    this.wakeReader()
    return this
  }
  setTimeout(ms: number): this {
    this.timeoutMs = this.destroyed ? 0 : ms
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    if (this.timeoutMs > 0) {
      this.timer = setTimeout(() => this.emit("timeout"), this.timeoutMs)
      this.timer.unref()
    }
    return this
  }
  /** Activity in either direction restarts the inactivity timeout, as on a socket. */
  private refresh(): void {
    this.timer?.refresh()
  }

  private readable(): boolean {
    return this.destroyed || (!this.paused && this.writableLength < OUTPUT_HIGH_WATER)
  }
  private wakeReader(): void {
    if (this.reader !== undefined && this.readable()) this.reader()
  }
  private wakeTaker(): void {
    if (this.taker !== undefined) this.taker()
  }

  /** Waits until the core may read: not paused, and the consumer has caught up. */
  private readonly gate: Effect.Effect<void> = Effect.async<void>((resume) => {
    if (this.readable()) return resume(Effect.void)
    this.reader = () => {
      this.reader = undefined
      resume(Effect.void)
    }
    return Effect.sync(() => {
      this.reader = undefined
    })
  })

  private deliver(bytes: Uint8Array): void {
    if (this.destroyed || bytes.length === 0) return
    this.refresh()
    this.emit("data", Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))
  }

  /** Feeds the input to the core, one chunk at a time, as fast as the core and the consumer allow. */
  pump<R>(input: Stream.Stream<Uint8Array, E, R>): Effect.Effect<void, never, R> {
    const one = (bytes: Uint8Array) => Effect.zipRight(Effect.zipRight(this.gate, Effect.sync(() => this.deliver(bytes))), this.gate)
    return Stream.runForEachChunk(input, (chunk) => Effect.forEach(chunk, one, { discard: true })).pipe(
      Effect.zipRight(this.gate),
      Effect.matchEffect({
        onSuccess: () => Effect.sync(() => {
          if (!this.destroyed) this.emit("end")
        }),
        onFailure: (error) =>
          Effect.sync(() => {
            this.failure = Option.some(error)
            this.destroy()
          })
      })
    )
  }

  /** Takes everything written so far, or ends (or fails) once nothing more will be written. */
  private take(resume: (effect: Effect.Effect<Chunk.Chunk<Uint8Array>, Option.Option<E>>) => void): boolean {
    if (this.output.length > 0) {
      this.taker = undefined
      const chunk = Chunk.unsafeFromArray(this.output)
      this.output = []
      this.writableLength = 0
      this.refresh()
      const callbacks = this.callbacks
      this.callbacks = []
      for (const callback of callbacks) callback()
      resume(Effect.succeed(chunk))
      if (this.needDrain) {
        this.needDrain = false
        this.emit("drain")
      }
      this.wakeReader()
      return true
    }
    if (Option.isSome(this.failure)) {
      this.taker = undefined
      resume(Effect.fail(this.failure))
      return true
    }
    if (this.ended || this.destroyed) {
      this.taker = undefined
      const callback = this.endCallback
      this.endCallback = undefined
      callback?.()
      // Our side is done and the consumer has it all: the connection is over (the rest of the input is not read).
      this.destroy()
      resume(Effect.fail(Option.none()))
      return true
    }
    return false
  }

  readonly output$: Stream.Stream<Uint8Array, E> = Stream.repeatEffectChunkOption(
    Effect.async<Chunk.Chunk<Uint8Array>, Option.Option<E>>((resume) => {
      if (this.take(resume)) return
      this.taker = () => {
        this.take(resume)
      }
      return Effect.sync(() => {
        this.taker = undefined
      })
    })
  )
}

/**
 * One connection over streams: `input`'s bytes are decoded and answered by the same core as a socket's, with the
 * engine built from `options`; the result is the response bytes. Ending (or interrupting) its consumption ends the
 * connection: the request in flight is interrupted and its scope closes.
 */
export const serveStream = <E, R>(
  input: Stream.Stream<Uint8Array, E, R>,
  options: StreamOptions = {}
): Stream.Stream<Uint8Array, E, R | Handlers | AccessLog> =>
  Stream.unwrapScoped(Effect.gen(function*() {
    const engine = yield* makeEngine(options, options.secure ?? false)
    // As on a socket of a loopback listener: the DNS-rebinding rule follows the local address.
    if (options.localAddress !== undefined) engine.hostPolicy = hostPolicy(options.localAddress, options.allowedHosts)
    const transport = new StreamTransport<E>(
      options.remoteAddress ?? "",
      options.remotePort ?? 0,
      options.localAddress ?? "",
      options.localPort ?? 0
    )
    const connection = new Connection(engine, transport, () => {})
    yield* Effect.addFinalizer(() => Effect.zipRight(connection.abort(), Effect.sync(() => engine.log.flush())))
    yield* Effect.forkScoped(transport.pump(input))
    return transport.output$
  }))
