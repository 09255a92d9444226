/**
 * Code blocks of the documentation (the README's ```ts blocks and the `@example` blocks of src/*.ts doc comments)
 * as files of a throwaway application outside the repository that imports this package by name, as an
 * application that installed it would: `node_modules/effect-httpd` is a symlink to the checkout (so imports resolve
 * through package.json's `exports` to the built `dist/`), every other entry a symlink to the checkout's own
 * `node_modules` (so there is one `effect`). Type-checked by one `tsc` run (strict, NodeNext) that also emits the
 * JavaScript the tests run.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as NodePath from "node:path"
import ts from "typescript"
import { root } from "./cliProcess.js"

export interface DocBlock {
  /** File name in the application, e.g. `readme-2.ts`, `readme-3.test.ts`, `example-Server-layer-1.ts`. */
  readonly file: string
  /** The README section (`## ...` heading) or `Module.export` the block comes from. */
  readonly origin: string
  /** 1-based line of the block in its source, for messages. */
  readonly line: number
  readonly code: string
}

/** A block that imports `@effect/vitest` is a test file, run by vitest; any other is a program, run by node. */
export const isTestFile = (block: DocBlock): boolean => block.file.endsWith(".test.ts")

/**
 * How a program block is run: a block that reads `process.env.PORT` is a server, started with `PORT` set to a free
 * port; a literal `port: N` (N > 0) is a server on N (which must be free). Any other block must exit 0 by itself.
 */
export const serverPort = (block: DocBlock): "env" | number | undefined => {
  if (/\bprocess\.env\.PORT\b/.test(block.code)) return "env"
  const literal = /\bport:\s*([1-9]\d*)\b/.exec(block.code)
  return literal === null ? undefined : Number(literal[1])
}

const fileName = (prefix: string, index: number, code: string) =>
  `${prefix}-${index}${code.includes(`from "@effect/vitest"`) ? ".test" : ""}.ts`

/** The README's ```ts blocks in order, with the `## ` section each sits in. */
export const readmeBlocks = (text = Fs.readFileSync(NodePath.join(root, "README.md"), "utf8")): Array<DocBlock> => {
  const blocks: Array<DocBlock> = []
  const lines = text.split("\n")
  let section = ""
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    if (line.startsWith("## ")) section = line.slice(3).trim()
    if (line.trim() !== "```ts") continue
    const start = i + 1
    while (i + 1 < lines.length && lines[i + 1]!.trim() !== "```") i++
    const code = lines.slice(start, i + 1).join("\n") + "\n"
    i++
    blocks.push({ file: fileName("readme", blocks.length + 1, code), origin: section, line: start, code })
  }
  return blocks
}

/** The ```ts fences inside `@example` tags of the exported declarations of `files` (src/*.ts). */
export const exampleBlocks = (files: ReadonlyArray<string>): Array<DocBlock> => {
  const blocks: Array<DocBlock> = []
  for (const path of files) {
    const text = Fs.readFileSync(path, "utf8")
    const source = ts.createSourceFile(path, text, ts.ScriptTarget.ES2022, true)
    const module = NodePath.basename(path, ".ts")
    for (const statement of source.statements) {
      for (const tag of ts.getJSDocTags(statement)) {
        if (tag.tagName.text !== "example") continue
        const comment = typeof tag.comment === "string" ? tag.comment : ts.getTextOfJSDocComment(tag.comment) ?? ""
        const fence = /```ts\n([\s\S]*?)```/.exec(comment)
        if (fence === null) continue
        const name = ts.isVariableStatement(statement)
          ? statement.declarationList.declarations[0]!.name.getText(source)
          : (statement as ts.DeclarationStatement).name?.getText(source) ?? "default"
        const line = source.getLineAndCharacterOfPosition(tag.getStart(source)).line + 1
        blocks.push({
          file: fileName(`example-${module}-${name}`, blocks.length + 1, fence[1]!),
          origin: `${module}.${name}`,
          line,
          code: fence[1]!
        })
      }
    }
  }
  return blocks
}

export interface App {
  readonly dir: string
  /** tsc's diagnostics, empty when every block type-checks. */
  readonly diagnostics: string
  readonly remove: () => void
}

const run = (file: string, args: ReadonlyArray<string>, cwd: string) =>
  new Promise<{ code: number | null; output: string }>((resolve) => {
    execFile(file, args, { cwd, maxBuffer: 16 * 2 ** 20 }, (error, stdout, stderr) =>
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : 1, output: stdout + stderr }))
  })

/**
 * Writes `blocks` into `src/` of a fresh application directory (plus `files`, e.g. a document root the blocks
 * serve), type-checks them and emits `out/*.js`.
 */
export const makeApp = async (
  blocks: ReadonlyArray<DocBlock>,
  files: Readonly<Record<string, string>> = {}
): Promise<App> => {
  const dir = Fs.mkdtempSync(NodePath.join(Os.tmpdir(), "effect-httpd-docs-"))
  const modules = NodePath.join(dir, "node_modules")
  Fs.mkdirSync(NodePath.join(dir, "src"), { recursive: true })
  Fs.mkdirSync(modules)
  for (const entry of Fs.readdirSync(NodePath.join(root, "node_modules"))) {
    if (entry.startsWith(".") || entry === "effect-httpd") continue
    Fs.symlinkSync(NodePath.join(root, "node_modules", entry), NodePath.join(modules, entry))
  }
  Fs.symlinkSync(root, NodePath.join(modules, "effect-httpd"))
  Fs.writeFileSync(NodePath.join(dir, "package.json"), JSON.stringify({ name: "docs-app", private: true, type: "module" }))
  Fs.writeFileSync(
    NodePath.join(dir, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "ES2022",
        module: "NodeNext",
        moduleResolution: "NodeNext",
        lib: ["ES2022"],
        types: ["node"],
        strict: true,
        skipLibCheck: true,
        rootDir: "src",
        outDir: "out"
      },
      include: ["src"]
    })
  )
  for (const block of blocks) Fs.writeFileSync(NodePath.join(dir, "src", block.file), block.code)
  for (const [path, content] of Object.entries(files)) {
    Fs.mkdirSync(NodePath.dirname(NodePath.join(dir, path)), { recursive: true })
    Fs.writeFileSync(NodePath.join(dir, path), content)
  }
  const tsc = await run(process.execPath, [NodePath.join(root, "node_modules", "typescript", "bin", "tsc"), "-p", "."], dir)
  return {
    dir,
    diagnostics: tsc.code === 0 ? "" : tsc.output,
    remove: () => Fs.rmSync(dir, { recursive: true, force: true })
  }
}

/** Runs a test-file block with vitest (the checkout's), in the application directory. */
export const runTestBlock = (app: App, block: DocBlock) =>
  run(
    process.execPath,
    [NodePath.join(root, "node_modules", "vitest", "vitest.mjs"), "run", "--root", app.dir, `src/${block.file}`],
    app.dir
  )

/** A port the OS had free a moment ago. */
export const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = Net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as Net.AddressInfo
      server.close(() => resolve(port))
    })
  })

export interface Running {
  readonly child: ChildProcess
  readonly output: () => string
  readonly exited: Promise<number | null>
}

/** Starts a program block's emitted JavaScript with node, in the application directory. */
export const startProgram = (app: App, block: DocBlock, env: Readonly<Record<string, string>> = {}): Running => {
  const js = NodePath.join(app.dir, "out", block.file.replace(/\.ts$/, ".js"))
  const child = spawn(process.execPath, [js], {
    cwd: app.dir,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let output = ""
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (output += chunk))
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (output += chunk))
  const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)))
  return { child, output: () => output, exited }
}

/** Whether something accepts connections on 127.0.0.1:`port`. */
export const accepting = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = Net.connect({ host: "127.0.0.1", port })
    socket.once("connect", () => {
      socket.destroy()
      resolve(true)
    })
    socket.once("error", () => resolve(false))
  })
