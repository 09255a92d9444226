/**
 * The access and error log in Python's format (`log_message`, `log_request`, `log_error`), behind a replaceable
 * service.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { escapeControlChars } from "./internal/pythonText.js"

/**
 * Where finished log lines go. `line` has no trailing newline. Called synchronously on the request path, so an
 * implementation must not block.
 *
 * @since 0.1.0
 * @category models
 */
export interface AccessLogService {
  /** `false` when lines are thrown away, so the caller can skip formatting them. Default true. */
  readonly enabled?: boolean
  readonly write: (line: string) => void
  /** Writes out anything buffered (called when the server stops). */
  readonly flush: () => void
}

/**
 * The log service.
 *
 * @since 0.1.0
 * @category tags
 */
export class AccessLog extends Context.Tag("effect-httpd/AccessLog")<AccessLog, AccessLogService>() {}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
const pad2 = (n: number): string => (n < 10 ? "0" + n : String(n))

let stampSecond = -1
let stamp = ""

/**
 * Python's `log_date_time_string`: local time as `25/Nov/2026 13:01:53`, computed once a second.
 *
 * @since 0.1.0
 * @category formatting
 */
export const logDateTime = (now: number = Date.now()): string => {
  const second = Math.floor(now / 1000)
  if (second !== stampSecond) {
    const d = new Date(second * 1000)
    stamp = `${pad2(d.getDate())}/${MONTHS[d.getMonth()]}/${String(d.getFullYear()).padStart(4, "0")} ${
      pad2(d.getHours())
    }:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`
    stampSecond = second
  }
  return stamp
}

/**
 * Python's `log_message`: `address - - [date] message`, with control characters in the message escaped so a
 * request cannot forge log lines.
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatLine = (address: string, message: string, now?: number): string =>
  `${address} - - [${logDateTime(now)}] ${escapeControlChars(message)}`

/**
 * Python's `log_request`: `"request line" code size`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const requestMessage = (requestLine: string, code: number | string, size: number | string = "-"): string =>
  `"${requestLine}" ${code} ${size}`

/**
 * Under load, lines wait at most this long for the next write: one `write` per `FLUSH_INTERVAL_MS` rather than one
 * per event-loop turn. With a connection per request (the default path) a turn serves one or two requests, and the
 * write system call plus its buffer were ~6% of a request's CPU (`--cpu-prof`).
 */
const FLUSH_INTERVAL_MS = 10

/**
 * Log bytes (waiting in the stream plus the pending batch) beyond which lines are dropped. Nothing may be reading
 * standard error (a stuck journald, a paused pipe): Python's `write` then blocks the whole server; here the stream
 * would buffer without end (+23 MB per 3000 requests with 8 KB request lines, measured). Dropped lines are counted.
 *
 * @since 0.1.0
 * @category constructors
 */
export const LOG_BACKLOG_LIMIT = 1024 * 1024

/**
 * The line that stands for `count` dropped lines, where they were.
 *
 * @since 0.1.0
 * @category formatting
 */
export const droppedLinesMessage = (count: number): string =>
  `effect-httpd: ${count} access log line${count === 1 ? "" : "s"} dropped (standard error was not being read)`

/**
 * A log writing to a Node stream, lines batched: written at the end of the event-loop turn, or, within
 * `FLUSH_INTERVAL_MS` of the previous write, at most that much later. One `write` per burst instead of one per
 * request keeps logging off the hot path while keeping order; the scope's release flushes what is pending.
 *
 * Bounded: while the stream's unwritten bytes plus the batch exceed `limit`, lines are dropped and counted; once
 * the stream has drained (its `drain` event, or a later line finding the backlog under half the limit) one line
 * ({@link droppedLinesMessage}) says how many, and logging resumes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeStreamLog = (
  stream: NodeJS.WritableStream,
  /** How a batch is cut into writes (default: one write); e.g. whole lines per pipe-atomic write. */
  split: (text: string) => ReadonlyArray<string> = (text) => [text],
  limit: number = LOG_BACKLOG_LIMIT
): AccessLogService => {
  let pending = ""
  let scheduled = false
  let flushedAt = 0
  let dropped = 0
  let awaitingDrain = false
  // Characters, not bytes: close enough for a bound, and free.
  const backlog = () => ((stream as { readonly writableLength?: number }).writableLength ?? 0) + pending.length
  const flush = () => {
    scheduled = false
    if (pending !== "") {
      flushedAt = Date.now()
      const text = pending
      pending = ""
      for (const piece of split(text)) stream.write(piece)
    }
  }
  const schedule = () => {
    if (!scheduled) {
      scheduled = true
      const wait = flushedAt + FLUSH_INTERVAL_MS - Date.now()
      if (wait > 0) setTimeout(flush, wait)
      else setImmediate(flush)
    }
  }
  const resume = () => {
    if (dropped === 0) return
    pending += droppedLinesMessage(dropped) + "\n"
    dropped = 0
    schedule()
  }
  const onDrain = () => {
    awaitingDrain = false
    resume()
  }
  return {
    write: (line) => {
      if (dropped > 0 && backlog() <= limit / 2) resume()
      if (dropped > 0 || backlog() + line.length + 1 > limit) {
        dropped++
        if (!awaitingDrain && typeof stream.once === "function") {
          awaitingDrain = true
          stream.once("drain", onDrain)
        }
        return
      }
      pending += line + "\n"
      schedule()
    },
    flush: () => {
      // Stopping: the count is written even if the stream is still behind (one short line).
      resume()
      flush()
    }
  }
}

/**
 * Python's default: every line to standard error.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerStderr: Layer.Layer<AccessLog> = Layer.scoped(
  AccessLog,
  Effect.acquireRelease(Effect.sync(() => makeStreamLog(process.stderr)), (log) => Effect.sync(log.flush))
)

/**
 * No logging at all.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerSilent: Layer.Layer<AccessLog> = Layer.succeed(AccessLog, {
  enabled: false,
  write: () => {},
  flush: () => {}
})

/**
 * Collects lines in memory, for tests: the array is filled as lines are logged.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerCollect = (lines: Array<string>): Layer.Layer<AccessLog> =>
  Layer.succeed(AccessLog, { write: (line) => void lines.push(line), flush: () => {} })
