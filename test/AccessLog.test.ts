/**
 * The stream log's batching: lines in order, one write per burst, at most one write per flush interval under load,
 * and `flush` (the layer's release) writing what is pending at once. Fake timers: the schedule is exact.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "@effect/vitest"
import { makeStreamLog } from "../src/AccessLog.js"

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
})
