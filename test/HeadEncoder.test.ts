/**
 * The response-head encoder (src/internal/headEncoder.ts) and the one function that makes a head's bytes
 * (`buildHead` in src/internal/wire.ts), as pure functions: the head is written as latin-1, so a code point whose
 * low byte is CR or LF (U+010D, U+010A, U+0D0A…) would split it like a raw CR/LF.
 */
import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import { spawnSync } from "node:child_process"
import {
  encodeLocation,
  fieldValueProblem,
  headProblem,
  invalidField,
  isFieldName,
  isFieldValue,
  isStatusCode,
  KNOWN_NAMES,
  reasonPhrase,
  TOKEN
} from "../src/internal/headEncoder.js"
import {
  buildHead,
  DEFAULT_ERROR_MESSAGE,
  errorPageBytes,
  fillErrorTemplate,
  headConfigProblem,
  sealFields
} from "../src/internal/wire.js"

/** Code points that become CR, LF or another control once cut to their low byte, and raw controls. */
const HOSTILE = ["\u010d", "\u010a", "\u0d0a", "\u2028", "\uff0d", "\u0100", "\x7f", "\x00", "\x0b", "\r", "\n"]

const GRAMMAR = /^[\t\x20-\x7e\x80-\xff]*$/
const config = { protocolVersion: "HTTP/1.1", versionString: "effect-httpd/test" }

describe("headEncoder", () => {
  it("field values: VCHAR and obs-text with SP/HTAB inside; nothing else", () => {
    for (const ok of ["", "x", "a b\tc", "text/html; charset=utf-8", "\x80\xff", "é", "a\"b\\c"]) {
      expect(isFieldValue(ok), JSON.stringify(ok)).toBe(true)
      expect(fieldValueProblem(ok)).toBeUndefined()
    }
    for (const bad of HOSTILE) expect(isFieldValue(`a${bad}Set-Cookie: x=1`), JSON.stringify(bad)).toBe(false)
    for (const bad of [" x", "x ", "\tx", "x\t", " ", "\ud800", "😀"]) {
      expect(isFieldValue(bad), JSON.stringify(bad)).toBe(false)
    }
    expect(fieldValueProblem("a\r\nb")).toBe("contains CR or LF")
    expect(fieldValueProblem("a\x7fb")).toBe("contains a control character")
    expect(fieldValueProblem("a\u010db")).toBe("contains a character beyond latin-1")
    expect(fieldValueProblem("a ")).toBe("starts or ends with whitespace")
  })

  it("field names are tokens", () => {
    expect(isFieldName("X-Custom_1!#$%&'*+.^`|~")).toBe(true)
    // The fast path's names must be tokens themselves.
    for (const known of KNOWN_NAMES) expect(TOKEN.test(known), known).toBe(true)
    for (const bad of ["", "a b", "a:b", "a\"", "é", ...HOSTILE.map((c) => `X${c}`)]) {
      expect(isFieldName(bad), JSON.stringify(bad)).toBe(false)
    }
  })

  it("the first invalid field, and what is wrong, for the log", () => {
    expect(invalidField([["A", "1"], ["B", "2"]])).toBeUndefined()
    expect(invalidField([["A", "1"], ["B", "x\u010ay"], ["C\u010d", "3"]])).toEqual(["B", "x\u010ay"])
    expect(headProblem(200, [["C\u010d", "3"]])).toBe("header name 'C\\u010d' is not a token")
    expect(headProblem(200, [["B", "x\u010ay"]])).toBe("value of header B contains a character beyond latin-1")
    expect(headProblem(1000, [])).toBe("status 1000 is not three digits")
  })

  it("status codes are three digits", () => {
    for (const ok of [100, 200, 404, 599, 999]) expect(isStatusCode(ok)).toBe(true)
    for (const bad of [0, 99, 1000, 200.5, Number.NaN, -200, Infinity]) expect(isStatusCode(bad)).toBe(false)
  })

  it("a reason phrase in grammar is returned as is", () => {
    for (const ok of ["OK", "", "Script output follows", "a\tb", "caf\xe9 \x80", "No such CGI script ('/x')"]) {
      expect(reasonPhrase(ok)).toBe(ok)
    }
  })

  it("a reason phrase outside the grammar is escaped as Python writes those characters (unicode_escape)", () => {
    const texts = [
      ...HOSTILE.map((c) => `x${c}Set-Cookie: pwned=1`),
      "No such CGI script ('/cgi-bin/x\u010d\u010aSet-Cookie: pwned=1')",
      "a\x01\x1b\x1f\x7f\x80\xff\u0100\uffff",
      "astral \u{1f600} and lone \ud800 \udfff",
      "tab\tstays"
    ]
    const script = `
import sys, json
def ok(c): return c == '\\t' or 0x20 <= ord(c) <= 0x7e or 0x80 <= ord(c) <= 0xff
print(json.dumps([''.join(c if ok(c) else c.encode('unicode_escape', 'backslashreplace').decode('ascii') for c in s)
                  for s in json.load(sys.stdin)]))`
    const result = spawnSync("python3", ["-c", script], { input: JSON.stringify(texts), encoding: "utf8" })
    expect(result.status, result.stderr).toBe(0)
    expect(texts.map(reasonPhrase)).toEqual(JSON.parse(result.stdout))
    expect(reasonPhrase("x\u010d\u010aSet-Cookie: pwned=1")).toBe("x\\u010d\\u010aSet-Cookie: pwned=1")
  })

  it("any text becomes a reason phrase in grammar (property)", () => {
    fc.assert(fc.property(fc.string({ unit: "binary" }), (text) => GRAMMAR.test(reasonPhrase(text))), { seed: 12 })
  })

  it("a Location is %-encoded as UTF-8 where it would leave the grammar, and for a backslash", () => {
    expect(encodeLocation("/a/b?c=d&e#f%2F")).toBe("/a/b?c=d&e#f%2F")
    expect(encodeLocation("/\\evil.example/")).toBe("/%5Cevil.example/")
    // Raw bytes C3 A9 are read as `Ã©`, the path `unquote` makes of `%C3%83%C2%A9`: the redirect names that path.
    expect(encodeLocation("/d\xc3\xa9/")).toBe("/d%C3%83%C2%A9/")
    expect(encodeLocation("/d\u010d\u010a\u0d0a\u2028\uff0d\u0100/")).toBe(
      "/d%C4%8D%C4%8A%E0%B4%8A%E2%80%A8%EF%BC%8D%C4%80/"
    )
    expect(encodeLocation("/\x00\x0b\x7f \"<>^`{|}")).toBe("/%00%0B%7F%20\"<>^`{|}")
    expect(encodeLocation("/\u{1f600}\ud800")).toBe("/%F0%9F%98%80%EF%BF%BD")
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (url) => {
        const location = encodeLocation(url)
        return isFieldValue(location) && /^[\x21-\x5b\x5d-\x7e]*$/.test(location)
      }),
      { seed: 12 }
    )
  })
})

describe("buildHead: the one place a head's bytes are made", () => {
  it("builds Python's head when everything is in grammar", () => {
    expect(buildHead(config, 200, undefined, [["Content-Length", "0"]], false, true)).toBe(
      "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    )
    expect(buildHead(config, 200, "Script output follows", [], false, false)).toBe(
      "HTTP/1.1 200 Script output follows\r\n"
    )
    expect(buildHead(config, 299, undefined, [], false, true)).toBe("HTTP/1.1 299 \r\n\r\n")
  })

  it("refuses a head whose header name or value is outside the grammar, for every hostile code point", () => {
    for (const c of HOSTILE) {
      expect(buildHead(config, 200, undefined, [["X-A", `a${c}Set-Cookie: x=1`]], true, true), JSON.stringify(c))
        .toBeUndefined()
      expect(buildHead(config, 200, undefined, [[`X${c}Set-Cookie`, "1"]], true, true), JSON.stringify(c))
        .toBeUndefined()
    }
    expect(buildHead(config, 2000, undefined, [], true, true)).toBeUndefined()
  })

  it("escapes the reason phrase: the status line stays one line", () => {
    for (const c of HOSTILE) {
      const head = buildHead(config, 404, `x${c}Set-Cookie: pwned=1`, [], false, true)!
      expect(Buffer.from(head, "latin1").toString("latin1"), JSON.stringify(c)).toBe(head)
      const lines = head.split("\r\n")
      expect(lines.length, JSON.stringify(c)).toBe(3)
      expect(lines[0]).toMatch(/^HTTP\/1\.1 404 x\\[a-z0-9]+Set-Cookie: pwned=1$/)
      expect(lines[0]).toMatch(GRAMMAR)
    }
  })

  it("a sealed header list is encoded once; a list that can still change is checked every time", () => {
    const sealed = sealFields([["Content-Length", "0"], ["Server", "mine"]] as Array<[string, string]>)
    expect(Object.isFrozen(sealed) && sealed.every((field) => Object.isFrozen(field))).toBe(true)
    const once = buildHead(config, 200, undefined, sealed, true, true)!
    expect(once).toMatch(/^HTTP\/1\.1 200 OK\r\nDate: [^\r]+\r\nContent-Length: 0\r\nServer: mine\r\n\r\n$/)
    // Its own Server replaces the server's; without standard headers, no Date either: the memo holds for both.
    expect(buildHead(config, 200, undefined, sealed, false, true)).toBe("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nServer: mine\r\n\r\n")
    // Mutable lists, or a frozen list of mutable fields, are checked on every call: a later change cannot slip by.
    const open: Array<[string, string]> = [["X-A", "1"]]
    expect(buildHead(config, 200, undefined, open, false, true)).toBe("HTTP/1.1 200 OK\r\nX-A: 1\r\n\r\n")
    open[0] = ["X-A", "1\r\nSet-Cookie: x=1"]
    expect(buildHead(config, 200, undefined, open, false, true)).toBeUndefined()
    const field: [string, string] = ["X-B", "1"]
    const shallow = Object.freeze([field])
    expect(buildHead(config, 200, undefined, shallow, false, true)).toBe("HTTP/1.1 200 OK\r\nX-B: 1\r\n\r\n")
    field[1] = "1\r\nSet-Cookie: x=1"
    expect(buildHead(config, 200, undefined, shallow, false, true)).toBeUndefined()
    // A sealed list outside the grammar is refused every time (nothing remembered).
    const bad = sealFields([["X-C", "a\nb"]] as Array<[string, string]>)
    expect(buildHead(config, 200, undefined, bad, false, true)).toBeUndefined()
    expect(buildHead(config, 200, undefined, bad, false, true)).toBeUndefined()
  })

  it("the server's own head text is checked once, when it starts", () => {
    const ok = { ...config, errorContentType: "text/html;charset=utf-8" }
    expect(headConfigProblem(ok)).toBeUndefined()
    expect(headConfigProblem({ ...ok, versionString: "x\u010aSet-Cookie: a=1" })).toMatch(/Server header/)
    expect(headConfigProblem({ ...ok, errorContentType: "text/html\r\nX: 1" })).toMatch(/errorContentType/)
    expect(headConfigProblem({ ...ok, protocolVersion: "HTTP/1.1\r\nX: 1" })).toMatch(/protocolVersion/)
  })
})

describe("errorPageBytes: the error page as bytes, reused", () => {
  const page = (template: string, code: number, message: string, explain: string) =>
    Buffer.from(fillErrorTemplate(template, code, message, explain), "utf8")
  it("is the filled template, byte for byte, for the same and for other texts and templates", () => {
    const args = [404, "File not found", "Nothing matches the given URI"] as const
    expect(errorPageBytes(DEFAULT_ERROR_MESSAGE, ...args)).toEqual(page(DEFAULT_ERROR_MESSAGE, ...args))
    expect(errorPageBytes(DEFAULT_ERROR_MESSAGE, ...args)).toEqual(page(DEFAULT_ERROR_MESSAGE, ...args))
    expect(errorPageBytes(DEFAULT_ERROR_MESSAGE, 403, "<é>", "x")).toEqual(page(DEFAULT_ERROR_MESSAGE, 403, "<é>", "x"))
    // Another template (a server with --error-message-format-like options) never gets the first one's pages.
    expect(errorPageBytes("%(code)d %(message)s", ...args).toString()).toBe("404 File not found")
    const long = "m".repeat(1000)
    expect(errorPageBytes(DEFAULT_ERROR_MESSAGE, 400, long, "x")).toEqual(page(DEFAULT_ERROR_MESSAGE, 400, long, "x"))
    // Bounded: many distinct messages keep answering right.
    for (let i = 0; i < 200; i++) {
      expect(errorPageBytes(DEFAULT_ERROR_MESSAGE, 400, `m${i}`, "x")).toEqual(page(DEFAULT_ERROR_MESSAGE, 400, `m${i}`, "x"))
    }
  })
})
