/**
 * Every ```ts block of the README, exactly as printed, and every `@example` of the public modules' doc comments:
 * type-checked together as an application that installed this package would (test/support/docBlocks.ts: a temporary
 * app outside the repo whose `node_modules/effect-httpd` is this checkout, built; strict, NodeNext), then each README
 * block run:
 * - a block importing `@effect/vitest` is a test file: vitest runs it and it must pass;
 * - a block that reads `process.env.PORT` is a server: it is started with `PORT` set to a free loopback port, must
 *   answer there, then passes its section's checks below (when it has any) and is stopped with SIGTERM;
 * - any other block must exit 0 by itself.
 * Blocks are separate modules: one builds on another only where the README says so (none does today).
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fs from "node:fs"
import * as NodePath from "node:path"
import { ensureBuilt, root } from "./support/cliProcess.js"
import {
  accepting,
  type App,
  type DocBlock,
  exampleBlocks,
  freePort,
  isTestFile,
  makeApp,
  readmeBlocks,
  runTestBlock,
  serverPort,
  startProgram
} from "./support/docBlocks.js"
import { getOne } from "./support/getOne.js"

const readme = readmeBlocks()
const examples = exampleBlocks(
  Fs.readdirSync(NodePath.join(root, "src")).filter((f) => f.endsWith(".ts")).map((f) => NodePath.join(root, "src", f))
)

/** Files the blocks expect next to them (the static example serves ./public). */
const fixtures = { "public/notes.md": "# hi\n" }

/** What a server block of a section must answer, beyond answering at all. */
const sectionChecks: Record<string, (port: number) => Effect.Effect<void, unknown>> = {
  "Use it as a library": (port) =>
    Effect.gen(function*() {
      const hello = yield* getOne(port, "/")
      expect([hello.status, hello.body.toString()]).toEqual([200, "hello from 127.0.0.1\n"])
      const spam = yield* getOne(port, "/x", [], "SPAM")
      expect(spam.body.toString()).toBe("any token is a method\n")
      expect((yield* getOne(port, "/nope")).status).toBe(404)
    }),
  "Static files (`SimpleHTTPRequestHandler`)": (port) =>
    Effect.gen(function*() {
      const notes = yield* getOne(port, "/notes.md")
      expect([notes.status, notes.header("content-type"), notes.body.toString()]).toEqual([
        200,
        "text/markdown; charset=utf-8",
        "# hi\n"
      ])
    }),
  "An `@effect/platform` app on the engine (`PlatformServer`)": (port) =>
    Effect.gen(function*() {
      const hello = yield* getOne(port, "/hello/ada")
      expect([hello.status, hello.body.toString()]).toEqual([200, "hello ada"])
      const notes = yield* getOne(port, "/static/notes.md")
      expect([notes.status, notes.body.toString()]).toEqual([200, "# hi\n"])
    })
}

const describeBlock = (block: DocBlock) => `${block.file} (${block.origin}, line ${block.line})`

/** Polls until the server block accepts connections, failing early if it exits. */
const waitUntilAccepting = (port: number, exited: Promise<number | null>, output: () => string) =>
  Effect.promise(async () => {
    let exitCode: number | null | undefined
    void exited.then((code) => (exitCode = code))
    for (let i = 0; i < 200 && exitCode === undefined; i++) {
      if (await accepting(port)) return
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    throw new Error(`not accepting on port ${port} (exit ${exitCode}):\n${output()}`)
  })

describe("README and doc-comment examples, as printed", () => {
  let app: App

  beforeAll(async () => {
    ensureBuilt()
    app = await makeApp([...readme, ...examples], fixtures)
  }, 120_000)
  afterAll(() => app?.remove())

  it("the README has ts blocks and the main entry points have examples", () => {
    expect(readme.length).toBeGreaterThanOrEqual(3)
    expect(examples.map((b) => b.origin)).toEqual(
      expect.arrayContaining(["Server.make", "Server.layer", "StaticFiles.layer", "Cgi.layer", "Handler.layer", "TestKit.exchange"])
    )
  })

  it("install commands pin the Effect 3 line (the registry's latest is Effect 4)", () => {
    const installs = Fs.readFileSync(NodePath.join(root, "README.md"), "utf8").split("\n").filter((line) =>
      /\bnpm (install|i|add)\b.*\beffect-httpd\b/.test(line) && !/\s-g\b/.test(line)
    )
    expect(installs.length).toBeGreaterThan(0)
    for (const line of installs) {
      expect(line).toMatch(/ effect@\^3\b/)
      expect(line).toMatch(/ @effect\/platform@\^0\.97\b/)
      expect(line).toMatch(/ @effect\/platform-node@\^0\.108\b/)
    }
  })

  it("every block type-checks against the built package, imported by name", () => {
    expect(app.diagnostics).toBe("")
  })

  for (const block of readme) {
    if (isTestFile(block)) {
      it(`${describeBlock(block)} passes under vitest`, async () => {
        const result = await runTestBlock(app, block)
        expect(result.code, result.output).toBe(0)
      }, 120_000)
      continue
    }
    const port = serverPort(block)
    if (port === undefined) {
      it(`${describeBlock(block)} runs and exits 0`, async () => {
        const running = startProgram(app, block)
        const timer = setTimeout(() => running.child.kill("SIGKILL"), 30_000)
        const code = await running.exited
        clearTimeout(timer)
        expect(code, running.output()).toBe(0)
      }, 60_000)
      continue
    }
    it.live(`${describeBlock(block)} serves`, () =>
      Effect.gen(function*() {
        const chosen = port === "env" ? yield* Effect.promise(freePort) : port
        if (port !== "env") expect(yield* Effect.promise(() => accepting(chosen)), `port ${chosen} is busy`).toBe(false)
        const running = yield* Effect.acquireRelease(
          Effect.sync(() => startProgram(app, block, { PORT: String(chosen) })),
          (running) =>
            Effect.promise(() => {
              running.child.kill("SIGTERM")
              return running.exited
            })
        )
        yield* waitUntilAccepting(chosen, running.exited, running.output)
        const check = sectionChecks[block.origin]
        if (check !== undefined) yield* check(chosen)
        else expect((yield* getOne(chosen, "/")).status).toBeGreaterThanOrEqual(100)
      }).pipe(Effect.scoped), 60_000)
  }
})
