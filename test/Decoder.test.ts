import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import fc from "fast-check"
import { Decoder, type DecoderEvent, decodeStream } from "../src/Decoder.js"

const bytes = (s: string) => Buffer.from(s, "latin1")

/** Events with bodies joined, so different splits of one input compare equal. */
const normalize = (events: ReadonlyArray<DecoderEvent>) => {
  const out: Array<unknown> = []
  for (const ev of events) {
    if (ev._tag === "Body") {
      const last = out[out.length - 1] as { _tag: string; body: string } | undefined
      if (last !== undefined && last._tag === "Body") last.body += Buffer.from(ev.chunk).toString("latin1")
      else out.push({ _tag: "Body", body: Buffer.from(ev.chunk).toString("latin1") })
    } else if (ev._tag === "Head") {
      out.push({ _tag: "Head", ...ev.head, headers: ev.head.headers.fields })
    } else if (ev._tag === "Error") {
      out.push({ _tag: "Error", status: ev.error.error.status, message: ev.error.error.message, headless: ev.error.headless })
    } else if (ev._tag === "BodyError") {
      out.push({ _tag: "BodyError", reason: ev.error.reason })
    } else out.push(ev)
  }
  return out
}

const decodeAll = (chunks: ReadonlyArray<Buffer>, end = true) => {
  const decoder = new Decoder()
  const events: Array<DecoderEvent> = []
  for (const chunk of chunks) events.push(...decoder.feed(chunk))
  if (end) events.push(...decoder.end())
  return events
}

const heads = (events: ReadonlyArray<DecoderEvent>) =>
  events.flatMap((ev) => (ev._tag === "Head" ? [ev.head] : []))
const errors = (events: ReadonlyArray<DecoderEvent>) =>
  events.flatMap((ev) => (ev._tag === "Error" ? [ev.error] : []))

describe("Decoder", () => {
  it("decodes a request line, headers (order, duplicates, case-insensitive) and no body", () => {
    const events = decodeAll([bytes("GET /a?b=1 HTTP/1.1\r\nHost: x\r\nX-A: 1\r\nx-a:  2 \r\n\r\n")], false)
    const [head] = heads(events)
    expect(head).toMatchObject({ method: "GET", target: "/a?b=1", path: "/a?b=1", framing: "none", contentLength: 0 })
    expect(head!.version).toEqual({ major: 1, minor: 1, text: "HTTP/1.1" })
    expect(head!.headers.fields).toEqual([["Host", "x"], ["X-A", "1"], ["x-a", "2"]])
    expect(head!.headers.get("x-A")).toBe("1")
    expect(head!.headers.getAll("X-a")).toEqual(["1", "2"])
    expect(events).toHaveLength(1)
  })

  it("accepts any token as a method and bare LF line endings (as Python)", () => {
    const [head] = heads(decodeAll([bytes("SPAM /x HTTP/1.0\nA: b\n\n")], false))
    expect(head).toMatchObject({ method: "SPAM", requestLine: "SPAM /x HTTP/1.0" })
  })

  it("collapses a leading // to / (gh-87389)", () => {
    const [head] = heads(decodeAll([bytes("GET //evil.example//x HTTP/1.0\r\n\r\n")], false))
    expect(head!.path).toBe("/evil.example//x")
    expect(head!.target).toBe("/evil.example//x")
  })

  it("frames a Content-Length body and the next pipelined request", () => {
    const events = normalize(decodeAll([bytes("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\nHost: x\r\n\r\n")]))
    expect(events.map((e) => (e as { _tag: string })._tag)).toEqual(["Head", "Body", "BodyEnd", "Head", "Close"])
    expect(events[1]).toEqual({ _tag: "Body", body: "hello" })
  })

  it("keeps the bytes after a protocol-switch request unparsed: taken by the switch, or parsed once released", () => {
    const upgrade = "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\r\n"
    const switched = new Decoder()
    expect(heads(switched.feed(bytes(upgrade + "\x81\x85frame")))).toHaveLength(1)
    expect(switched.feed(bytes("more"))).toEqual([])
    expect(switched.isHeld).toBe(true)
    expect(switched.isReadingHead).toBe(false)
    expect(switched.takeHeld().toString("latin1")).toBe("\x81\x85framemore")
    expect(switched.isDone).toBe(true)

    const answered = new Decoder()
    expect(heads(answered.feed(bytes(upgrade + "GET /next HTTP/1.1\r\nHost: x\r\n\r\n")))).toHaveLength(1)
    expect(answered.end()).toEqual([])
    expect(normalize(answered.release()).map((e) => (e as { _tag: string })._tag)).toEqual(["Head", "Close"])

    // Without `upgrade` among the Connection options nothing is held.
    const plain = new Decoder()
    const both = plain.feed(bytes("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n"))
    expect(heads(both)).toHaveLength(2)
  })

  it("decodes a chunked body with extensions and trailers", () => {
    const input = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n"
    const events = normalize(decodeAll([bytes(input)], false))
    expect(events).toMatchObject([{ _tag: "Head", framing: "chunked" }, { _tag: "Body", body: "hello world" }, {
      _tag: "BodyEnd"
    }])
  })

  it.each([
    ["GET / HTTP/1.x\r\n\r\n", 400, "Bad request version ('HTTP/1.x')", true],
    ["GET / HTTP/1.1.1\r\n\r\n", 400, "Bad request version ('HTTP/1.1.1')", true],
    ["GET / HTTP/12345678901.1\r\n\r\n", 400, "Bad request version ('HTTP/12345678901.1')", true],
    ["GET / HTTP/2.0\r\n\r\n", 505, "Invalid HTTP version (2.0)", true],
    ["GET\r\n\r\n", 400, "Bad request syntax ('GET')", true],
    ["GET / a HTTP/1.0\r\n\r\n", 400, "Bad request syntax ('GET / a HTTP/1.0')", false],
    ["POST /\r\n\r\n", 400, "Bad HTTP/0.9 request type ('POST')", true],
    ["GET /\x01 HTTP/1.0\r\n\r\n", 400, "Bad request syntax ('GET /\\x01 HTTP/1.0')", false],
    ["G(T / HTTP/1.0\r\n\r\n", 400, "Bad request syntax ('G(T / HTTP/1.0')", false],
    ["GET / HTTP/1.0\r\nHost : x\r\n\r\n", 400, "Bad header", false],
    ["GET / HTTP/1.0\r\nHost: x\r\n folded\r\n\r\n", 400, "Bad header line", false],
    ["GET / HTTP/1.0\r\nno colon\r\n\r\n", 400, "Bad header line", false],
    ["POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400, "Bad Content-Length", false],
    ["POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n", 400, "Bad Content-Length", false],
    ["POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400, "Bad Content-Length", false],
    ["POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "Bad request", false],
    ["POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501, "Unsupported Transfer-Encoding", false]
  ] as const)("refuses %j with %i", (input, status, message, headless) => {
    const [error] = errors(decodeAll([bytes(input)]))
    expect(error!.error.status).toBe(status)
    expect(error!.error.message).toBe(message)
    expect(error!.headless).toBe(headless)
  })

  // Issue 12 item 7: each of these was served before (Python's split() and JavaScript's trim() are too generous).
  it.each([
    ["NBSP between words", "GET\xa0/\xa0HTTP/1.1\r\nHost: x\r\n\r\n"],
    ["NEL between words", "GET\x85/ HTTP/1.1\r\nHost: x\r\n\r\n"],
    ["0x1c between words", "GET\x1c/ HTTP/1.1\r\nHost: x\r\n\r\n"],
    ["0x1f between words", "GET /\x1fHTTP/1.1\r\nHost: x\r\n\r\n"],
    ["VT between words", "GET\x0b/ HTTP/1.1\r\nHost: x\r\n\r\n"],
    ["FF between words", "GET /\x0cHTTP/1.1\r\nHost: x\r\n\r\n"],
    ["bare CR between words", "GET\r/ HTTP/1.1\r\nHost: x\r\n\r\n"],
    ["bare CR before CRLF", "GET / HTTP/1.1\r\r\nHost: x\r\n\r\n"],
    ["trailing NBSP", "GET / HTTP/1.1\xa0\r\nHost: x\r\n\r\n"],
    ["NBSP in an HTTP/0.9 line", "GET\xa0/\r\n"]
  ])("refuses a request line with %s: 400 Bad request syntax", (_name, input) => {
    const events = decodeAll([bytes(input)])
    expect(heads(events)).toEqual([])
    expect(errors(events)[0]!.error.status).toBe(400)
    expect(errors(events)[0]!.error.message).toMatch(/^Bad request syntax/)
  })

  it("any control byte, NEL or NBSP anywhere in a request line is refused; SP/HTAB runs are not (property)", () => {
    const forbidden = [...Array.from({ length: 32 }, (_, i) => i).filter((c) => c !== 9 && c !== 10), 0x7f, 0x85, 0xa0]
    const word = fc.stringMatching(/^[!-~]{1,8}$/)
    fc.assert(
      fc.property(
        fc.tuple(word, word),
        fc.constantFrom(...forbidden),
        fc.nat(40),
        fc.array(fc.constantFrom(" ", "\t"), { minLength: 1, maxLength: 3 }),
        ([method, path], bad, at, sep) => {
          const good = `${method}${sep.join("")}/${path}${sep.join("")}HTTP/1.1`
          const pos = at % (good.length + 1)
          const line = good.slice(0, pos) + String.fromCharCode(bad) + good.slice(pos)
          const events = decodeAll([bytes(`${line}\r\nHost: x\r\n\r\n`)])
          expect(heads(events)).toEqual([])
          expect(events.some((e) => e._tag === "Error" || e._tag === "Close")).toBe(true)
        }
      ),
      { numRuns: 500 }
    )
  })

  it("still splits request-line words at runs of SP and HTAB (RFC 9112 §3, as Python)", () => {
    const [head] = heads(decodeAll([bytes("GET\t/a \t HTTP/1.1\t\r\nHost: x\r\n\r\n")], false))
    expect(head).toMatchObject({ method: "GET", target: "/a" })
  })

  it.each([
    ["Transfer-Encoding: \xa0chunked", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \xa0chunked\r\n\r\n0\r\n\r\n", "Bad Transfer-Encoding"],
    ["Transfer-Encoding: chunked\xa0", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\xa0\r\n\r\n0\r\n\r\n", "Bad Transfer-Encoding"],
    ["Content-Length: \xa03", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: \xa03\r\n\r\nabc", "Bad Content-Length"],
    ["Content-Length: 3\xa0", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\xa0\r\n\r\nabc", "Bad Content-Length"],
    ["Content-Length: 3, \xa03", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3, \xa03\r\n\r\nabc", "Bad Content-Length"]
  ])("trims only SP/HTAB: %s is a 400", (_name, input, message) => {
    const events = decodeAll([bytes(input)])
    expect(heads(events)).toEqual([])
    expect(errors(events)[0]!.error).toMatchObject({ status: 400, message })
  })

  it("an HTTP/1.0 message with Transfer-Encoding: chunked ends the input after its body (RFC 9112 §6.1)", () => {
    const input = "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /smuggled HTTP/1.0\r\n\r\n"
    const events = normalize(decodeAll([bytes(input)], false))
    expect(events.map((e) => (e as { _tag: string })._tag)).toEqual(["Head", "Body", "BodyEnd", "Close"])
    // HTTP/1.1 keeps reading.
    const again = normalize(decodeAll([bytes(input.replace("HTTP/1.0", "HTTP/1.1").replace("\r\n\r\n3", "\r\nHost: x\r\n\r\n3"))], false))
    expect(again.map((e) => (e as { _tag: string })._tag)).toEqual(["Head", "Body", "BodyEnd", "Head"])
  })

  const chunked = (sizeLine: string) => `POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${sizeLine}\r\nabc\r\n0\r\n\r\n`
  it.each([
    ["3 ", "whitespace after the size"],
    [" 3", "whitespace before the size"],
    ["3\0", "NUL"],
    ["3\r", "bare CR"],
    ["3;a\rb", "bare CR in an extension"],
    ["3;", "an empty extension name"],
    ["3;a=", "an empty extension value"],
    ["3;a b", "a space inside an extension"],
    ["3;a=\"b", "an unterminated quoted-string"],
    ["3;a=\"\0\"", "NUL in a quoted-string"],
    ["3;a=b\xa0", "NBSP after an extension"],
    ["3\xa0", "NBSP after the size"],
    ["3;@=1", "a separator as extension name"],
    [`3;a=${"x".repeat(5000)}`, "a 5000-byte extension arriving in one read"]
  ])("refuses a chunk-size line %j (%s)", (sizeLine) => {
    const events = decodeAll([bytes(chunked(sizeLine))])
    expect(events.filter((e) => e._tag === "BodyError").map((e) => e._tag === "BodyError" && e.error.reason)).toEqual(["Framing"])
    expect(events.some((e) => e._tag === "BodyEnd")).toBe(false)
  })

  it.each([["3"], ["3;a"], ["3;a=b"], ["3 ; a = b"], ["3;a=\"q \\\" ;\";b;c=d"], ["03"], ["3\t;a"]])(
    "accepts the chunk-size line %j (RFC 9112 §7.1.1, BWS allowed)",
    (sizeLine) => {
      const events = normalize(decodeAll([bytes(chunked(sizeLine))], false))
      expect(events).toEqual([expect.objectContaining({ _tag: "Head" }), { _tag: "Body", body: "abc" }, { _tag: "BodyEnd" }])
    }
  )

  it.each([
    ["X: a\0b", "NUL in a value"],
    ["X : a", "space before the colon"],
    [" X: a", "obs-fold"],
    ["no colon", "no colon"],
    ["X\xe9: a", "non-token name"],
    ["X: a\rb", "bare CR"]
  ])("refuses a trailer line %j (%s)", (trailer) => {
    const input = `POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n${trailer}\r\n\r\n`
    const events = decodeAll([bytes(input)])
    expect(events.some((e) => e._tag === "BodyError" && e.error.reason === "Framing")).toBe(true)
    expect(events.some((e) => e._tag === "BodyEnd")).toBe(false)
  })

  it("caps the trailer lines at maxHeaders", () => {
    const input = `POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n${"T: 1\r\n".repeat(101)}\r\n`
    const events = decodeAll([bytes(input)])
    expect(events.some((e) => e._tag === "BodyError" && e.error.reason === "Framing")).toBe(true)
    const fewer = decodeAll([bytes(input.replace("T: 1\r\n", ""))], false)
    expect(fewer.at(-1)?._tag).toBe("BodyEnd")
  })

  it.each([
    ["HTTP/1.1 without Host", "GET / HTTP/1.1\r\n\r\n", "Missing Host header"],
    ["two Host fields", "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", "Bad Host header"],
    ["two Host fields in HTTP/1.0", "GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n", "Bad Host header"],
    ["userinfo", "GET / HTTP/1.1\r\nHost: user@a\r\n\r\n", "Bad Host header"],
    ["a space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", "Bad Host header"],
    ["a comma list", "GET / HTTP/1.1\r\nHost: a, b\r\n\r\n", "Bad Host header"],
    ["a path", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", "Bad Host header"],
    ["a non-numeric port", "GET / HTTP/1.1\r\nHost: a:http\r\n\r\n", "Bad Host header"],
    ["a bad IPv6 literal", "GET / HTTP/1.1\r\nHost: [::g]:80\r\n\r\n", "Bad Host header"],
    ["an unbracketed IPv6", "GET / HTTP/1.1\r\nHost: ::1\r\n\r\n", "Bad Host header"],
    ["obs-text", "GET / HTTP/1.1\r\nHost: caf\xe9\r\n\r\n", "Bad Host header"],
    ["a bad percent-escape", "GET / HTTP/1.1\r\nHost: a%zz\r\n\r\n", "Bad Host header"]
  ])("refuses %s with 400", (_name, input, message) => {
    const [error] = errors(decodeAll([bytes(input)]))
    expect(error!.error).toMatchObject({ status: 400, message })
    expect(error!.headless).toBe(false)
  })

  // Header blocks validated once are remembered for every connection (validHeads): only whole, valid ones.
  it("a header block remembered from another connection is still checked for what depends on the request", () => {
    const once = (input: string) => decodeAll([bytes(input)])
    // Valid Schema, bad Host: refused on every connection, never remembered.
    expect(errors(once("GET / HTTP/1.1\r\nHost: a b\r\nX-Shared: 1\r\n\r\n"))[0]!.error.message).toBe("Bad Host header")
    expect(errors(once("GET / HTTP/1.1\r\nHost: a b\r\nX-Shared: 1\r\n\r\n"))[0]!.error.message).toBe("Bad Host header")
    // A block without Host, valid for HTTP/1.0, remembered, still refused for HTTP/1.1; the request line is
    // always checked.
    expect(heads(once("GET / HTTP/1.0\r\nX-Shared: 2\r\n\r\n"))).toHaveLength(1)
    expect(errors(once("GET / HTTP/1.1\r\nX-Shared: 2\r\n\r\n"))[0]!.error.message).toBe("Missing Host header")
    expect(errors(once("GET /a\x7fb HTTP/1.0\r\nX-Shared: 2\r\n\r\n"))[0]!.error.status).toBe(400)
    // Framing is read from the fields each time.
    const posted = heads(once("POST / HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc"))
    const again = heads(once("POST / HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc"))
    expect([posted[0]!.contentLength, again[0]!.contentLength]).toEqual([3, 3])
  })

  it.each([
    "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: example.com:8080\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: [::1]:8000\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: 127.0.0.1:\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: xn--caf-dma.example\r\n\r\n",
    "GET / HTTP/1.1\r\nHost:\r\n\r\n",
    "GET / HTTP/1.0\r\n\r\n",
    "GET /\r\n"
  ])("accepts %j", (input) => {
    expect(heads(decodeAll([bytes(input)]))).toHaveLength(1)
  })

  it("checks Host on every request of a keep-alive connection, whatever the block cache holds", () => {
    const decoder = new Decoder()
    expect(heads(decoder.feed(bytes("GET / HTTP/1.0\r\nA: 1\r\n\r\n")))).toHaveLength(1)
    // The same header block under HTTP/1.1 lacks the Host it needs.
    expect(errors(decoder.feed(bytes("GET / HTTP/1.1\r\nA: 1\r\n\r\n")))[0]!.error.message).toBe("Missing Host header")
  })

  it("validates every distinct header block on a connection, not only the first", () => {
    const decoder = new Decoder()
    expect(heads(decoder.feed(bytes("GET /1 HTTP/1.1\r\nHost: x\r\nA: 1\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\nA: 1\r\n\r\n")))).toHaveLength(2)
    const [error] = errors(decoder.feed(bytes("GET /3 HTTP/1.1\r\nHost: x\r\nA : 1\r\n\r\n")))
    expect(error!.error.status).toBe(400)
    const again = new Decoder()
    again.feed(bytes("GET /1 HTTP/1.1\r\nHost: x\r\nA: 1\r\n\r\n"))
    // Same header block, but the request line must still be checked.
    expect(errors(again.feed(bytes("GET /\x7f HTTP/1.1\r\nHost: x\r\nA: 1\r\n\r\n")))[0]!.error.status).toBe(400)
  })

  it("accepts identical repeated Content-Length values", () => {
    const [head] = heads(decodeAll([bytes("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 3\r\n\r\nabc")]))
    expect(head!.contentLength).toBe(3)
  })

  it("answers 414 for a request line over 65536 bytes, at Python's exact boundary", () => {
    const fits = "GET /" + "a".repeat(65536 - "GET / HTTP/1.0\r\n".length) + " HTTP/1.0\r\n"
    expect(fits.length).toBe(65536)
    expect(heads(decodeAll([bytes(fits + "\r\n")]))).toHaveLength(1)
    const over = "GET /a" + fits.slice(5)
    const [error] = errors(decodeAll([bytes(over + "\r\n")]))
    expect(error!.error.status).toBe(414)
    expect(error!.requestLine).toBe("")
    // Without any line ending, it is refused as soon as more than 65536 bytes arrived.
    const decoder = new Decoder()
    expect(decoder.feed(bytes("G".repeat(65536)))).toEqual([])
    expect(errors(decoder.feed(bytes("G")))[0]!.error.status).toBe(414)
  })

  it("answers 431 for a header line over 65536 bytes and for 100 header lines, as Python counts", () => {
    const long = `GET / HTTP/1.0\r\nX: ${"a".repeat(65536)}\r\n\r\n`
    const [lineError] = errors(decodeAll([bytes(long)]))
    expect(lineError!.error).toMatchObject({
      status: 431,
      message: "Line too long",
      explain: "got more than 65536 bytes when reading header line"
    })
    const fields = (n: number) => Array.from({ length: n }, (_, i) => `H${i}: v\r\n`).join("")
    expect(heads(decodeAll([bytes(`GET / HTTP/1.0\r\n${fields(99)}\r\n`)]))).toHaveLength(1)
    const [countError] = errors(decodeAll([bytes(`GET / HTTP/1.0\r\n${fields(100)}\r\n`)]))
    expect(countError!.error).toMatchObject({ status: 431, message: "Too many headers", explain: "got more than 100 headers" })
  })

  it("counts on at the end of input as Python does: the partial last line and the empty read are lines too", () => {
    // python3 -m http.server, the same heads followed by a half-close: 99 lines + EOF and 98 + a partial line are
    // served; 100 + EOF and 99 + a partial line answer 431 (the fuzz property found the second).
    const fields = (n: number) => Array.from({ length: n }, (_, i) => `H${i}: v\r\n`).join("")
    const outcome = (head: string) => {
      const events = decodeAll([bytes(`GET / HTTP/1.0\r\n${head}`)])
      return heads(events).length === 1 ? "served" : errors(events)[0]?.error.status
    }
    expect(outcome(fields(99))).toBe("served")
    expect(outcome(fields(100))).toBe(431)
    expect(outcome(fields(98) + "X: partial")).toBe("served")
    expect(outcome(fields(99) + "X: partial")).toBe(431)
    expect(outcome(fields(100) + "X: partial")).toBe(431)
  })

  it("closes quietly on an empty request line, and on end of input between requests", () => {
    expect(decodeAll([bytes("\r\n")])).toEqual([{ _tag: "Close" }])
    expect(decodeAll([bytes("   \r\n")])).toEqual([{ _tag: "Close" }])
    expect(decodeAll([])).toEqual([{ _tag: "Close" }])
  })

  it("serves a head cut short by end of input, as Python does", () => {
    const [head] = heads(decodeAll([bytes("GET /x HTTP/1.0\r\nHost: a")]))
    expect(head).toMatchObject({ path: "/x" })
    expect(head!.headers.get("host")).toBe("a")
    expect(heads(decodeAll([bytes("GET /y HTTP/1.0")]))[0]!.path).toBe("/y")
  })

  it("reports a body cut short by end of input", () => {
    const events = decodeAll([bytes("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")])
    expect(events.at(-1)).toMatchObject({ _tag: "BodyError", error: { reason: "ClientClosed" } })
  })

  it("refuses a body over maxBodyBytes with 413", () => {
    const decoder = new Decoder({ maxBodyBytes: 4 })
    const [error] = errors(decoder.feed(bytes("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n")))
    expect(error!.error.status).toBe(413)
  })

  it("ignores input after an error", () => {
    const decoder = new Decoder()
    expect(errors(decoder.feed(bytes("GET / HTTP/9.0\r\n\r\n")))).toHaveLength(1)
    expect(decoder.isDone).toBe(true)
    expect(decoder.feed(bytes("GET / HTTP/1.0\r\n\r\n"))).toEqual([])
  })

  it("decodes a head trickled one byte at a time", () => {
    const input = bytes("GET /slow HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\n\r\n")
    const decoder = new Decoder()
    const events: Array<DecoderEvent> = []
    for (const byte of input) events.push(...decoder.feed(Buffer.from([byte])))
    expect(heads(events)[0]!.headers.fields).toEqual([["Host", "x"], ["A", "1"], ["B", "2"]])
  })

  it("any split of a valid request stream decodes to the same events (property)", () => {
    const requestArb = fc.record({
      method: fc.constantFrom("GET", "HEAD", "POST", "SPAM"),
      path: fc.stringMatching(/^\/[a-z0-9/._%-]{0,20}$/),
      headers: fc.array(fc.tuple(fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,10}$/), fc.stringMatching(/^[ -~]{0,20}$/)), {
        maxLength: 6
      }),
      body: fc.option(fc.uint8Array({ maxLength: 200 }), { nil: undefined }),
      chunked: fc.boolean(),
      lf: fc.boolean()
    })
    fc.assert(
      fc.property(fc.array(requestArb, { minLength: 1, maxLength: 4 }), fc.array(fc.nat(), { maxLength: 12 }), (requests, cuts) => {
        const parts = requests.map((r) => {
          const eol = r.lf ? "\n" : "\r\n"
          const fields = r.headers.filter(([name]) => !/^(content-length|transfer-encoding|host)$/i.test(name))
          let head = `${r.method} ${r.path} HTTP/1.1${eol}Host: x${eol}`
          for (const [name, value] of fields) head += `${name}: ${value.trim()}${eol}`
          let body = Buffer.alloc(0)
          if (r.body !== undefined) {
            if (r.chunked) {
              head += `Transfer-Encoding: chunked${eol}`
              body = Buffer.concat([Buffer.from(`${r.body.length.toString(16)}\r\n`), Buffer.from(r.body), Buffer.from("\r\n0\r\n\r\n")])
              if (r.body.length === 0) body = Buffer.from("0\r\n\r\n")
            } else {
              head += `Content-Length: ${r.body.length}${eol}`
              body = Buffer.from(r.body)
            }
          }
          return Buffer.concat([Buffer.from(head + eol, "latin1"), body])
        })
        const whole = Buffer.concat(parts)
        const positions = [...new Set(cuts.map((c) => c % (whole.length + 1)))].sort((a, b) => a - b)
        const chunks: Array<Buffer> = []
        let last = 0
        for (const p of positions) {
          chunks.push(whole.subarray(last, p))
          last = p
        }
        chunks.push(whole.subarray(last))
        const expected = normalize(decodeAll([whole]))
        expect(normalize(decodeAll(chunks))).toEqual(expected)
        expect(heads(decodeAll([whole]))).toHaveLength(requests.length)
      }),
      { numRuns: 300 }
    )
  })

  it.effect("decodeStream: the Stream pipeline yields the same events as direct feeding", () =>
    Effect.gen(function*() {
      const input = [bytes("GET /a HTTP/1.1\r\nHost: x\r\n"), bytes("\r\nPOST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nh"), bytes("iGET /c HTTP/1.0\r\n\r\n")]
      const events = yield* Stream.runCollect(decodeStream(Stream.fromIterable(input)))
      expect(normalize(Chunk.toReadonlyArray(events))).toEqual(normalize(decodeAll(input)))
    }))
})
