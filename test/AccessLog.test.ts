/**
 * The stream log's batching: lines in order, one write per burst, at most one write per flush interval under load,
 * and `flush` (the layer's release) writing what is pending at once. Fake timers: the schedule is exact.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "@effect/vitest"
import { Writable } from "node:stream"
import { droppedLinesMessage, LOG_BACKLOG_LIMIT, makeStreamLog } from "../src/AccessLog.js"

const sink = () => {
  const writes: Array<string> = []
  const stream = { write: (text: string) => writes.push(text) } as unknown as NodeJS.WritableStream
  return { writes, stream }
}

describe("makeStreamLog", () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["setTimeout", "setImmediate", "Date"] })
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it("writes a burst once at the end of the turn, then holds the next lines for the interval", () => {
    const { stream, writes } = sink()
    const log = makeStreamLog(stream)
    log.write("a")
    log.write("b")
    expect(writes).toEqual([])
    vi.advanceTimersByTime(0)
    expect(writes).toEqual(["a\nb\n"])
    // Right after a write: the next lines wait (up to 10 ms) and go out together, in order.
    vi.advanceTimersByTime(2)
    log.write("c")
    vi.advanceTimersByTime(3)
    log.write("d")
    expect(writes).toEqual(["a\nb\n"])
    vi.advanceTimersByTime(5)
    expect(writes).toEqual(["a\nb\n", "c\nd\n"])
    // Idle longer than the interval: the next line goes at the end of its turn again.
    vi.advanceTimersByTime(50)
    log.write("e")
    vi.advanceTimersByTime(0)
    expect(writes).toEqual(["a\nb\n", "c\nd\n", "e\n"])
  })

  it("flush writes what is pending at once", () => {
    const { stream, writes } = sink()
    const log = makeStreamLog(stream)
    log.write("a")
    vi.advanceTimersByTime(0)
    log.write("b")
    log.flush()
    expect(writes).toEqual(["a\n", "b\n"])
    vi.advanceTimersByTime(50)
    expect(writes).toEqual(["a\n", "b\n"])
  })

  it("drops lines while the stream is not being read, bounded, and says how many once it drains", async () => {
    // A reader that is stuck until `reading` is set: no write completes.
    const written: Array<string> = []
    let reading = false
    const held: Array<() => void> = []
    const stream = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        written.push(chunk.toString())
        if (reading) callback()
        else held.push(callback)
      }
    })
    const ticks = async () => {
      for (let i = 0; i < 20; i++) await new Promise<void>((resolve) => process.nextTick(resolve))
    }
    const log = makeStreamLog(stream)
    const long = (i: number) => `${i} ${"x".repeat(8 * 1024)}`
    let most = 0
    for (let i = 0; i < 3000; i++) {
      log.write(long(i))
      if (i % 10 === 9) vi.advanceTimersByTime(10)
      most = Math.max(most, stream.writableLength)
    }
    vi.advanceTimersByTime(10)
    // 3000 lines of 8 KB are 24 MB; what waits stays within the limit.
    expect(most).toBeGreaterThan(LOG_BACKLOG_LIMIT / 2)
    expect(most).toBeLessThanOrEqual(LOG_BACKLOG_LIMIT)
    // The reader catches up: one line counts the dropped ones, then logging resumes, in order.
    reading = true
    held.shift()!()
    await ticks()
    log.write("after")
    vi.advanceTimersByTime(20)
    await ticks()
    const lines = written.join("").split("\n").filter((line) => line !== "")
    const kept = lines.length - 2
    expect(kept).toBeGreaterThan(50)
    expect(lines.slice(0, kept)).toEqual(Array.from({ length: kept }, (_, i) => long(i)))
    expect(lines.slice(kept)).toEqual([droppedLinesMessage(3000 - kept), "after"])
  })
})
