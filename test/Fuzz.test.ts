/**
 * Property-based fuzzing of the request decoder and the connection logic: random bytes and mutated valid requests
 * never throw, never hang, always end in requests, an error or a close, and do not depend on how the bytes were
 * split into reads.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import fc from "fast-check"
import * as AccessLog from "../src/AccessLog.js"
import { Decoder, type DecoderEvent } from "../src/Decoder.js"
import * as Handler from "../src/Handler.js"
import * as TestKit from "../src/TestKit.js"
import { echoRoutes } from "./support/echoRoutes.js"

const VALID: ReadonlyArray<string> = [
  "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
  "GET /x?y=1 HTTP/1.0\r\nUser-Agent: t\r\nAccept: */*\r\n\r\n",
  "POST /p HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello",
  "POST /c HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n3\r\nabc\r\n0\r\nT: 1\r\n\r\n",
  "GET /a HTTP/1.1\nHost: localhost\n\nGET /b HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
  "HEAD / HTTP/1.1\r\nHost: localhost\r\nX: caf\xe9\r\n\r\nPUT /u HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\n\r\nabc",
  "GET /0.9\r\n"
]

/** A valid request with byte flips, insertions, deletions and a truncation applied. */
const mutated: fc.Arbitrary<Uint8Array> = fc.tuple(
  fc.constantFrom(...VALID),
  fc.array(
    fc.oneof(
      fc.record({ op: fc.constant("flip" as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ op: fc.constant("insert" as const), at: fc.nat(), bytes: fc.uint8Array({ maxLength: 8 }) }),
      fc.record({
        op: fc.constant("insertText" as const),
        at: fc.nat(),
        text: fc.constantFrom("\r", "\n", "\r\n", " ", "\t", ":", "\0", "0\r\n\r\n", "Content-Length: 9\r\n", "Transfer-Encoding: chunked\r\n", "ffffffff\r\n", "\x1b[2J", "\xa0", "\x85", "\x0b", ";a=\"b\"", "Host: a\r\n")
      }),
      fc.record({ op: fc.constant("delete" as const), at: fc.nat(), length: fc.integer({ min: 1, max: 6 }) })
    ),
    { maxLength: 3 }
  ),
  fc.option(fc.nat(), { nil: undefined })
).map(([base, ops, truncate]) => {
  let bytes = Buffer.from(base, "latin1")
  for (const op of ops) {
    const at = op.at % (bytes.length + 1)
    switch (op.op) {
      case "flip":
        if (bytes.length > 0) {
          bytes = Buffer.from(bytes)
          bytes[at % bytes.length] = op.byte
        }
        break
      case "insert":
        bytes = Buffer.concat([bytes.subarray(0, at), op.bytes, bytes.subarray(at)])
        break
      case "insertText":
        bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from(op.text, "latin1"), bytes.subarray(at)])
        break
      case "delete":
        bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + op.length)])
    }
  }
  return truncate === undefined ? new Uint8Array(bytes) : new Uint8Array(bytes.subarray(0, truncate % (bytes.length + 1)))
})

const anyInput: fc.Arbitrary<Uint8Array> = fc.oneof(
  { arbitrary: fc.uint8Array({ maxLength: 300 }), weight: 1 },
  // Mostly printable bytes reach deeper into the grammar than uniform noise.
  fc.string({ unit: fc.constantFrom(..."GET /HTP1.0\r\n:abc-Lngth;0123456789\t ".split("")), maxLength: 200 }).map((s) =>
    new Uint8Array(Buffer.from(s, "latin1"))
  ),
  { arbitrary: mutated, weight: 4 }
)

/** Splits `bytes` at the given cut points (taken modulo the length). */
const split = (bytes: Uint8Array, cuts: ReadonlyArray<number>): Array<Uint8Array> => {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)
  const out: Array<Uint8Array> = []
  let from = 0
  for (const p of points) {
    out.push(bytes.subarray(from, p))
    from = p
  }
  out.push(bytes.subarray(from))
  return out
}

/** Runs the decoder over the pieces, then `end()`; events with consecutive body pieces merged. */
const decodeAll = (pieces: ReadonlyArray<Uint8Array>, limits = {}): Array<unknown> => {
  const decoder = new Decoder(limits)
  const events: Array<DecoderEvent> = []
  for (const piece of pieces) events.push(...decoder.feed(piece))
  events.push(...decoder.end())
  expect(decoder.isDone).toBe(true)
  const out: Array<unknown> = []
  for (const ev of events) {
    const last = out.at(-1) as { _tag: string; body?: string } | undefined
    switch (ev._tag) {
      case "Body":
        if (last?._tag === "Body") last.body += Buffer.from(ev.chunk).toString("latin1")
        else out.push({ _tag: "Body", body: Buffer.from(ev.chunk).toString("latin1") })
        break
      case "Head":
        out.push({
          _tag: "Head",
          method: ev.head.method,
          target: ev.head.target,
          version: ev.head.version.text,
          fields: ev.head.headers.fields,
          framing: ev.head.framing,
          contentLength: ev.head.contentLength
        })
        break
      case "Error":
        out.push({ _tag: "Error", status: ev.error.error.status, message: ev.error.error.message, headless: ev.error.headless })
        break
      case "BodyError":
        out.push({ _tag: "BodyError", reason: ev.error.reason })
        break
      default:
        out.push({ _tag: ev._tag })
    }
  }
  return out
}

describe("decoder fuzzing", () => {
  it("never throws; every input ends in requests, an error or a close, whatever the read boundaries", () => {
    const seen = new Map<string, number>()
    fc.assert(
      fc.property(anyInput, fc.array(fc.nat(), { maxLength: 6 }), (bytes, cuts) => {
        const whole = decodeAll([bytes])
        const pieces = decodeAll(split(bytes, cuts))
        const byteByByte = decodeAll(Array.from(bytes, (b) => Uint8Array.of(b)))
        expect(pieces).toEqual(whole)
        expect(byteByByte).toEqual(whole)
        // Bounded output: at most a head or a body piece per input byte, plus the final event.
        expect(whole.length).toBeLessThanOrEqual(bytes.length + 2)
        // After an error or a close nothing else is produced.
        const stop = whole.findIndex((e) => ["Error", "BodyError", "Close"].includes((e as { _tag: string })._tag))
        if (stop >= 0) expect(stop).toBe(whole.length - 1)
        for (const e of whole) {
          const tag = (e as { _tag: string })._tag
          seen.set(tag, (seen.get(tag) ?? 0) + 1)
        }
      }),
      { numRuns: 3000 }
    )
    // The generators reach every outcome, not just early refusals.
    for (const tag of ["Head", "Body", "BodyEnd", "Error", "BodyError", "Close"]) expect(seen.get(tag) ?? 0, tag).toBeGreaterThan(20)
  })

  it("small limits hold on random input: heads and bodies never exceed them", () => {
    const limits = { maxRequestLine: 64, maxHeaderLine: 32, maxHeaders: 4, maxBodyBytes: 16 }
    fc.assert(
      fc.property(anyInput, fc.array(fc.nat(), { maxLength: 4 }), (bytes, cuts) => {
        const events = decodeAll(split(bytes, cuts), limits) as Array<{ _tag: string; body?: string; fields?: Array<unknown>; contentLength?: number }>
        for (const e of events) {
          if (e._tag === "Head") {
            expect(e.fields!.length).toBeLessThan(4)
            expect(e.contentLength!).toBeLessThanOrEqual(16)
          }
          if (e._tag === "Body") expect(e.body!.length).toBeLessThanOrEqual(16)
        }
      }),
      { numRuns: 2000 }
    )
  })

  it("a long trickled head costs linear work (1 MiB of header lines fed a byte at a time)", () => {
    // A variable, not a literal: it also lifts the proposed `maxHeaderBytes` limit when that exists.
    const limits = { maxHeaders: 1_000_000, maxHeaderBytes: Infinity }
    const decoder = new Decoder(limits)
    const head = Buffer.from("GET / HTTP/1.1\r\nHost: localhost\r\n" + "X: 1\r\n".repeat(150_000) + "\r\n", "latin1")
    let events: Array<DecoderEvent> = []
    for (let i = 0; i < head.length; i++) events = events.concat(decoder.feed(head.subarray(i, i + 1)))
    expect(events.map((e) => e._tag)).toEqual(["Head"])
  })
})

describe("connection fuzzing (TestKit.exchange)", () => {
  it.scopedLive("random and mutated input: the connection always answers or closes, and finishes", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const layer = Layer.merge(Handler.layer(echoRoutes), AccessLog.layerCollect(lines))
      const samples = fc.sample(fc.tuple(anyInput, fc.array(fc.nat(), { maxLength: 4 })), { numRuns: 300, seed: 7 })
      const stuck: Array<string> = []
      for (const [bytes, cuts] of samples) {
        const ex = yield* TestKit.exchange(split(bytes, cuts), {
          protocolVersion: "HTTP/1.1",
          limits: { maxBodyBytes: 4096 },
          timeoutMs: 2000
        }).pipe(
          Effect.provide(layer),
          Effect.catchTag("ExchangeTimeout", (timeout) => {
            stuck.push(Buffer.from(bytes).toString("latin1"))
            return Effect.succeed(timeout)
          })
        )
        // Whatever came out is well-formed HTTP responses (or one HTTP/0.9-style page at the end).
        for (const r of ex.responses.slice(0, -1)) expect(r.status).toBeGreaterThanOrEqual(100)
      }
      expect(stuck).toEqual([])
      for (const line of lines) expect(line).not.toMatch(/[\x00-\x1f\x7f-\x9f]/)
    }))
})
