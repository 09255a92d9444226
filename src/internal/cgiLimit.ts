/**
 * The cap on concurrent CGI processes: a count of free slots and a bounded FIFO of requests waiting for one, each
 * for at most a deadline. A slot is held in a `Scope` and freed by its finalizer, which hands it straight to the
 * first waiter (so a burst cannot overtake the queue). Everything runs on the one JavaScript thread: a slot handed
 * to a waiter whose deadline fired at the same moment is passed on, never lost.
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import { HttpError } from "../HttpError.js"

/** Settings of a {@link ProcessLimit}. */
export interface ProcessLimitOptions {
  /** Processes at once. */
  readonly max: number
  /** Requests that may wait for a slot; more are refused at once. */
  readonly maxWaiting: number
  /** How long a request waits for a slot before it is refused. */
  readonly wait: Duration.Duration
  /** `Retry-After` of the refusal, in seconds. */
  readonly retryAfter: number
}

/** A cap on concurrent processes. */
export interface ProcessLimit {
  /**
   * Takes a slot for the current scope (released when it closes), waiting in line for one when none is free; fails
   * with `503` and `Retry-After` when the line is full or the wait expires.
   */
  readonly acquire: Effect.Effect<void, HttpError, Scope.Scope>
  /** Slots in use and requests waiting, for tests and diagnostics. */
  readonly usage: () => { readonly running: number; readonly waiting: number }
}

/** Builds a cap; `max` and `maxWaiting` must be non-negative integers (checked by the callers' options). */
export const makeProcessLimit = (options: ProcessLimitOptions): ProcessLimit => {
  let free = options.max
  const queue: Array<Deferred.Deferred<void>> = []
  const busy = new HttpError({
    status: 503,
    message: "Too many CGI scripts running",
    headers: [["Retry-After", String(options.retryAfter)]]
  })

  const releaseNow = (): void => {
    const next = queue.shift()
    if (next === undefined) free++
    else Deferred.unsafeDone(next, Effect.void)
  }
  const release = Effect.sync(releaseNow)

  /** Leaves the line; a slot handed over meanwhile is passed on. */
  const leave = (ticket: Deferred.Deferred<void>) =>
    Effect.sync(() => {
      const index = queue.indexOf(ticket)
      if (index >= 0) queue.splice(index, 1)
      else releaseNow()
    })

  const acquire = Effect.uninterruptibleMask((restore) =>
    Effect.gen(function*() {
      if (free > 0 && queue.length === 0) {
        free--
        return yield* Effect.addFinalizer(() => release)
      }
      if (queue.length >= options.maxWaiting) return yield* Effect.fail(busy)
      const ticket = yield* Deferred.make<void>()
      queue.push(ticket)
      const got = yield* restore(Deferred.await(ticket)).pipe(
        Effect.timeoutOption(options.wait),
        Effect.onInterrupt(() => leave(ticket))
      )
      if (Option.isNone(got)) {
        yield* leave(ticket)
        return yield* Effect.fail(busy)
      }
      yield* Effect.addFinalizer(() => release)
    })
  )

  return { acquire, usage: () => ({ running: options.max - free, waiting: queue.length }) }
}
