import { describe, expect, it } from "@effect/vitest"
import * as Schema from "effect/Schema"
import fc from "fast-check"
import { compilePatternStruct } from "../src/internal/patternStruct.js"
import { RequestLine } from "../src/Request.js"

// The request line's fast check must answer exactly as the Schema it is compiled from.
describe("compilePatternStruct", () => {
  const fast = compilePatternStruct(RequestLine)
  const slow = Schema.is(RequestLine)
  const word = fc.string({
    unit: fc.constantFrom("G", "E", "T", "/", "a", "%", "H", "P", "1", ".", "0", " ", "\t", "\x00", "\x7f", "\x85", "\xa0", "\xff", "é", "(", "\r"),
    maxLength: 12
  })

  it("compiles the request line and agrees with Schema.is on any three words", () => {
    expect(fast).toBeDefined()
    fc.assert(fc.property(word, word, word, (method, target, version) => {
      const line = { method, target, version }
      expect(fast!(line)).toBe(slow(line))
    }), { numRuns: 3000 })
    for (const line of [
      { method: "GET", target: "/a.txt", version: "HTTP/1.1" },
      { method: "GET", target: "", version: "HTTP/1.1" },
      { method: "G(T", target: "/", version: "HTTP/1.1" },
      { method: "GET", target: "/\xa0", version: "HTTP/1.0" },
      { method: "GET", target: "/", version: "HTTP/1.12345678901" }
    ]) expect(fast!(line)).toBe(slow(line))
  })

  it("declines any other shape, so the caller keeps the Schema", () => {
    expect(compilePatternStruct(Schema.Struct({ a: Schema.String.pipe(Schema.maxLength(3)) }))).toBeUndefined()
    expect(compilePatternStruct(Schema.Struct({ a: Schema.NumberFromString }))).toBeUndefined()
    expect(compilePatternStruct(Schema.Struct({ a: Schema.String.pipe(Schema.pattern(/a/g)) }))).toBeUndefined()
    expect(compilePatternStruct(Schema.Struct({ a: Schema.optional(Schema.String) }))).toBeUndefined()
  })
})
