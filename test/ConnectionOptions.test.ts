/**
 * The `Connection` header as it decides keep-alive (RFC 9112 §9.6): a list of options, `close` anywhere wins.
 */
import { describe, expect, it } from "@effect/vitest"
import { connectionOptions } from "../src/internal/connectionOptions.js"
import { IdleConnections } from "../src/internal/idleConnections.js"

// What the list asks of the connection, `close` winning: the one answer both the engine and the platform bridge read.
const wish = (values: ReadonlyArray<string>) => {
  const options = connectionOptions(values)
  return options.close ? "close" : options.keepAlive ? "keep-alive" : undefined
}

describe("connectionOptions as one wish", () => {
  it.each([
    [[], undefined],
    [["close"], "close"],
    [["Close"], "close"],
    [["keep-alive"], "keep-alive"],
    [["Keep-Alive"], "keep-alive"],
    [["keep-alive, close"], "close"],
    [["upgrade,close"], "close"],
    [["x,\tclose"], "close"],
    [["close, keep-alive"], "close"],
    [["keep-alive", "close"], "close"],
    [["Upgrade, Keep-Alive"], "keep-alive"],
    [["upgrade"], undefined],
    [["closed"], undefined],
    [["x,\u00a0close"], undefined],
    [[", ,"], undefined]
  ] as const)("%j → %j", (values, expected) => expect(wish(values)).toBe(expected))
})

describe("connectionOptions", () => {
  // The one reader of the list: both facts, `close` wins (the keep-alive decision and the `Connection` field answered
  // once disagreed on `keep-alive, close`).
  it.each([
    [[], { close: false, keepAlive: false }],
    [["Keep-Alive"], { close: false, keepAlive: true }],
    [["TE, keep-alive"], { close: false, keepAlive: true }],
    [["TE", "keep-alive"], { close: false, keepAlive: true }],
    [["keep-alive, close"], { close: true, keepAlive: false }],
    [["keep-alive", "Close"], { close: true, keepAlive: false }],
    [["close"], { close: true, keepAlive: false }],
    [["upgrade"], { close: false, keepAlive: false }]
  ] as const)("%j → %j", (values, options) => expect(connectionOptions(values)).toEqual(options))
})

describe("IdleConnections", () => {
  const connection = (name: string, closed: Array<string>, closable = true) => ({
    name,
    reclaim: () => {
      if (closable) closed.push(name)
      return closable
    }
  })

  it("closes the longest idle first, skipping one that became busy; a connection that went back to work leaves", () => {
    const closed: Array<string> = []
    const pool = new IdleConnections(() => false)
    const a = connection("a", closed)
    const busy = connection("busy", closed, false)
    const b = connection("b", closed)
    pool.enter(a)
    pool.enter(busy)
    pool.enter(b)
    pool.leave(a)
    pool.enter(a) // idle again: now the most recent
    expect([pool.closeOldest(), pool.closeOldest(), pool.closeOldest()]).toEqual([true, true, false])
    expect(closed).toEqual(["b", "a"])
    expect(pool.size).toBe(0)
  })

  it("closes a connection going idle at once while newcomers wait", () => {
    const closed: Array<string> = []
    let waiting = true
    const pool = new IdleConnections(() => waiting)
    pool.enter(connection("a", closed))
    waiting = false
    pool.enter(connection("b", closed))
    expect({ closed, size: pool.size }).toEqual({ closed: ["a"], size: 1 })
  })
})
