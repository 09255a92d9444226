/**
 * The delay before replacing a crashed worker: `initial` ms, doubled for each further crash up to `max`, and back to
 * `initial` once `resetAfter` ms have passed without one. Pure over the clock it is given, so it is tested without
 * waiting.
 */
export interface Backoff {
  /** The delay for a crash at `now` (ms since the epoch). */
  readonly next: (now: number) => number
}

export const makeBackoff = (initial: number, max: number, resetAfter: number): Backoff => {
  let delay = initial
  let lastCrash = Number.NEGATIVE_INFINITY
  return {
    next: (now) => {
      if (now - lastCrash >= resetAfter) delay = initial
      lastCrash = now
      const current = delay
      delay = Math.min(max, delay * 2)
      return current
    }
  }
}
