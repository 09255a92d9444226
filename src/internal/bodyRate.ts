/**
 * A minimum average rate for a request body (Apache's `mod_reqtimeout` `MinRate`). The silence timeout alone
 * restarts on every byte, so one byte a minute held a connection (and an upload's temporary file) forever. Here a
 * body has `graceMs` plus one second per `minRate` bytes received since it started; time we did not read (our own
 * backpressure) is added back. One timer, re-armed only when it fires early.
 */
export class BodyRateDeadline {
  private timer: ReturnType<typeof setTimeout> | undefined = undefined
  private readonly startedAt = Date.now()
  private pausedAt: number | undefined = undefined
  private pausedFor = 0
  private stopped = false

  constructor(
    private readonly graceMs: number,
    /** Bytes a second. */
    private readonly minRate: number,
    /** Body bytes received since the deadline started. */
    private readonly received: () => number,
    private readonly onExpired: () => void
  ) {
    this.arm(graceMs)
  }

  /** When the body must have arrived by, at the bytes received so far. */
  private due(): number {
    return this.startedAt + this.pausedFor + this.graceMs + (this.received() * 1000) / this.minRate
  }

  private arm(ms: number): void {
    this.timer = setTimeout(this.check, Math.max(1, Math.ceil(ms)))
  }

  private readonly check = (): void => {
    this.timer = undefined
    if (this.pausedAt !== undefined || this.stopped) return
    const left = this.due() - Date.now()
    if (left > 0) this.arm(left)
    else this.onExpired()
  }

  /** We stopped reading: the client cannot be blamed for what follows. */
  pause(): void {
    if (this.pausedAt !== undefined || this.stopped) return
    this.pausedAt = Date.now()
    clearTimeout(this.timer)
    this.timer = undefined
  }

  resume(): void {
    if (this.pausedAt === undefined || this.stopped) return
    this.pausedFor += Date.now() - this.pausedAt
    this.pausedAt = undefined
    this.check()
  }

  /** The body is whole (or gone). */
  stop(): void {
    this.stopped = true
    clearTimeout(this.timer)
    this.timer = undefined
  }
}
