/**
 * `pyRepr` escapes what Python 3.11's `repr` escapes (issue 12, item 1's attack: U+2028, U+2029, U+202E and U+FEFF
 * reached log lines raw), compared with python3 itself on a sample of code points.
 */
import { describe, expect, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import { isPrintable } from "../src/internal/pythonPrintable.js"
import { pyRepr } from "../src/internal/pythonText.js"

/** Every code point below U+3400, then a stride through the rest of the BMP and the other planes, and known ones. */
const sample = (): Array<number> => {
  const points: Array<number> = []
  for (let c = 0; c < 0x3400; c++) points.push(c)
  for (let c = 0x3400; c < 0x10000; c += 7) points.push(c)
  for (let c = 0x10000; c <= 0x10ffff; c += 211) points.push(c)
  // Assigned after Unicode 14 (Python 3.11 escapes them), private use, noncharacters, the last code point.
  points.push(0x88f, 0x1acf, 0x2ffc, 0x1e030, 0x31350, 0xe000, 0xf8ff, 0xfffe, 0xffff, 0x10fffd, 0x10ffff)
  return points
}

describe("pyRepr (Python 3.11's repr)", () => {
  it("escapes the code points python3 escapes, and only those", () => {
    const texts = sample().map((c) => "a" + String.fromCodePoint(c) + "b")
    const script = "import json, sys\nprint(json.dumps([repr(s) for s in json.load(sys.stdin)]))"
    const result = spawnSync("python3", ["-c", script], { input: JSON.stringify(texts), encoding: "utf8" })
    expect(result.status, result.stderr).toBe(0)
    const python: Array<string> = JSON.parse(result.stdout)
    const differing = texts.filter((text, i) => pyRepr(text) !== python[i])
    expect(differing.map((text) => text.codePointAt(1)!.toString(16))).toEqual([])
  })

  it("escapes line and paragraph separators, bidi controls and the BOM", () => {
    expect(pyRepr("/x\u2028\u2029\u202egpj.exe\ufeff")).toBe("'/x\\u2028\\u2029\\u202egpj.exe\\ufeff'")
    expect(pyRepr("\u{e0001}\u{1f600}\ud800")).toBe("'\\U000e0001\u{1f600}\\ud800'")
    expect(isPrintable(0x20)).toBe(true)
    expect(isPrintable(0x3000)).toBe(false)
  })
})
