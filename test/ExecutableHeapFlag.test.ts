/**
 * The executable bounds V8's old-space growth for itself (`--heap-growing-percent=100`, see bin/effect-httpd.js),
 * unless node was given a value. Observed by a preloaded module that records `v8.setFlagsFromString` calls.
 */
import { describe, expect, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as NodePath from "node:path"
import { bin, ensureBuilt } from "./support/cliProcess.js"

const flagsSet = (nodeArgs: ReadonlyArray<string>): string => {
  const dir = Fs.mkdtempSync(NodePath.join(Os.tmpdir(), "heap-flag-"))
  try {
    const probe = NodePath.join(dir, "probe.mjs")
    const record = NodePath.join(dir, "flags.txt")
    Fs.writeFileSync(probe, [
      `import v8 from "node:v8"`,
      `import fs from "node:fs"`,
      `const set = v8.setFlagsFromString`,
      `fs.writeFileSync(${JSON.stringify(record)}, "")`,
      `v8.setFlagsFromString = (flags) => { fs.appendFileSync(${JSON.stringify(record)}, flags + "\\n"); set(flags) }`
    ].join("\n"))
    execFileSync(process.execPath, [...nodeArgs, "--import", probe, bin, "--help"], { stdio: "ignore" })
    return Fs.readFileSync(record, "utf8")
  } finally {
    Fs.rmSync(dir, { recursive: true, force: true })
  }
}

describe("the executable's old-space growth", () => {
  it("sets --heap-growing-percent=100, and leaves a value the user gave node alone", () => {
    ensureBuilt()
    expect(flagsSet([])).toBe("--heap-growing-percent=100\n")
    expect(flagsSet(["--max-semi-space-size=4"])).toBe("--heap-growing-percent=100\n")
    expect(flagsSet(["--heap-growing-percent=50"])).toBe("")
  }, 60_000)
})
