/**
 * The read side's pacing: pausing the transport while too much waits ahead of the handler (and probing it now and
 * then so a reset is noticed), the transport's inactivity timer, the head deadline and the body's minimum rate.
 * A base class of the connection core (no allocation per connection).
 */
import type { Decoder } from "../Decoder.js"
import type { BodySink } from "./bodySink.js"
import type { BodyRateDeadline } from "./bodyRate.js"
import { ResponseWriter } from "./responseWriter.js"

/** How often a paused connection reads one turn to notice a client's reset. */
const PROBE_MS = 250
/** A paused connection stops probing once its handler leaves this much body unread. */
const PROBE_LIMIT = 1024 * 1024

export abstract class ReadFlow extends ResponseWriter {
  protected abstract readonly decoder: Decoder
  protected bodyTarget: BodySink | undefined = undefined
  protected finished = false
  protected paused = false
  protected probing = false
  /** Answers wait for unsent responses to drain; a reset shows on the pending write, so no probing. */
  protected writeStalled = false
  protected headTimer: ReturnType<typeof setTimeout> | undefined = undefined
  protected bodyRate: BodyRateDeadline | undefined = undefined
  private probe: ReturnType<typeof setInterval> | undefined = undefined
  private timerMs = 0

  /** Whether the requests decoded ahead of the one being answered reached their cap (the connection core's queue). */
  protected abstract get pipelineFull(): boolean

  /** Pauses reading when `full`, resumes when not; while a body is being received, pauses its timers too. */
  protected flow(full: boolean, receiving: boolean): void {
    if (full && !this.paused) {
      this.paused = true
      this.transport.pause()
      this.startProbe()
      // Our own backpressure is not the client's silence: not in a body, nor in a next head cut by a chunk boundary.
      if (receiving) this.setTimer(0)
      this.bodyRate?.pause()
      if (this.headTimer !== undefined) this.clearHeadTimer()
    } else if (!full && this.paused) {
      this.paused = false
      this.stopProbe()
      this.transport.resume()
      if (receiving) this.setTimer(this.engine.bodyTimeoutMs)
      this.bodyRate?.resume()
      this.armHeadTimer()
    }
  }

  /**
   * A paused socket reads nothing, so a client's reset would go unnoticed while a handler ignores the body (a CGI
   * script that never reads stdin would run to its timeout). Reading for one turn now and then lets the reset
   * through (after the bytes the kernel had already queued); each probe reads at most one chunk.
   */
  protected startProbe(): void {
    if (this.probe !== undefined) return
    this.probe = setInterval(() => {
      if (!this.paused || this.finished) return this.stopProbe()
      // Bounded: past PROBE_LIMIT buffered bytes, or with the pipeline full (each read decodes a chunk's worth of
      // heads into the queue, without end while the current request lasts), the probe stops reading; only the
      // timeouts remain. While answers wait to drain, a reset shows on the pending write.
      if (
        this.writeStalled || (this.bodyTarget?.buffered ?? 0) + this.decoder.heldBytes > PROBE_LIMIT || this.pipelineFull
      ) return
      this.probing = true
      this.transport.resume()
      setImmediate(() => {
        this.probing = false
        if (this.paused && !this.finished) this.transport.pause()
      })
    }, PROBE_MS)
  }

  protected stopProbe(): void {
    if (this.probe !== undefined) clearInterval(this.probe)
    this.probe = undefined
  }

  /**
   * The socket's inactivity timeout, set only when it changes: Node refreshes it on every read and write, and each
   * `setTimeout` allocates a timer (three per connection showed in the profile of the default path).
   */
  protected setTimer(ms: number): void {
    if (ms === this.timerMs) return
    this.timerMs = ms
    this.transport.setTimeout(ms)
  }

  /** Starts the head deadline when part of a head has arrived and none runs. */
  protected armHeadTimer(): void {
    if (
      this.headTimer === undefined && this.engine.headerTimeoutMs > 0 && !this.finished && !this.paused &&
      this.decoder.isReadingHead
    ) this.headTimer = setTimeout(this.onHeadTimeout, this.engine.headerTimeoutMs)
  }

  protected abstract readonly onHeadTimeout: () => void

  protected clearHeadTimer(): void {
    clearTimeout(this.headTimer)
    this.headTimer = undefined
  }

  protected stopBodyRate(): void {
    this.bodyRate?.stop()
    this.bodyRate = undefined
  }
}
