/**
 * The package as an application installs it: what package.json exports, what it depends on, what the executable
 * needs at run time, and the doc-comment convention of every public export.
 */
import { beforeAll, describe, expect, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as NodePath from "node:path"
import ts from "typescript"
import { ensureBuilt, root } from "./support/cliProcess.js"

interface PackageJson {
  readonly exports: Record<string, string | Record<string, string>>
  readonly files: ReadonlyArray<string>
  readonly bin: Record<string, string>
  readonly dependencies?: Record<string, string>
  readonly peerDependencies: Record<string, string>
  readonly devDependencies: Record<string, string>
}

const readJson = <A>(path: string): A => JSON.parse(Fs.readFileSync(path, "utf8")) as A
const pkg = readJson<PackageJson>(NodePath.join(root, "package.json"))

/** src/*.ts that are not library modules: the barrel (exported as "."), and the executable's entry and command line. */
const notModules = new Set(["index", "bin", "Cli"])
const publicModules = Fs.readdirSync(NodePath.join(root, "src"))
  .filter((f) => f.endsWith(".ts"))
  .map((f) => f.slice(0, -3))
  .filter((name) => !notModules.has(name))
  .sort()

/** `^a.b.c` → [a, b, c]; anything else is refused (the comparison below only knows caret ranges). */
const caret = (range: string): [number, number, number] => {
  const match = /^\^(\d+)\.(\d+)\.(\d+)$/.exec(range)
  if (match === null) throw new Error(`not a caret range: ${range}`)
  return [Number(match[1]), Number(match[2]), Number(match[3])]
}
/** Whether caret range `ours` admits every version caret range `theirs` admits. */
const atLeastAsWide = (ours: string, theirs: string): boolean => {
  const [a, b, c] = caret(ours)
  const [x, y, z] = caret(theirs)
  if (a !== x || (a === 0 && b !== y)) return false
  return b < y || (b === y && c <= z)
}

describe("package.json", () => {
  beforeAll(() => ensureBuilt(), 120_000)

  it("exports exactly the public modules, the barrel and ./package.json: no internal, no bin, no pattern", () => {
    expect(Object.keys(pkg.exports).sort()).toEqual(
      [".", "./package.json", ...publicModules.map((name) => `./${name}`)].sort()
    )
    for (const key of Object.keys(pkg.exports)) {
      expect(key).not.toMatch(/\*|internal|bin|Cli/)
    }
    expect(pkg.exports["./package.json"]).toBe("./package.json")
  })

  it("every module export has types and default conditions, and both files exist after the build", () => {
    for (const [key, target] of Object.entries(pkg.exports)) {
      if (key === "./package.json") continue
      const name = key === "." ? "index" : key.slice(2)
      expect(target, key).toEqual({ types: `./dist/${name}.d.ts`, default: `./dist/${name}.js` })
      expect(Fs.existsSync(NodePath.join(root, "dist", `${name}.d.ts`)), `${name}.d.ts`).toBe(true)
      expect(Fs.existsSync(NodePath.join(root, "dist", `${name}.js`)), `${name}.js`).toBe(true)
    }
  })

  it("the barrel re-exports every public module, and nothing else", () => {
    const barrel = Fs.readFileSync(NodePath.join(root, "src", "index.ts"), "utf8")
    const reexported = [...barrel.matchAll(/^export \* as (\w+) from "\.\/(\w+)\.js"$/gm)].map(([, as, from]) => {
      expect(as).toBe(from)
      return from!
    })
    expect(reexported.sort()).toEqual(publicModules)
  })

  it("effect and @effect/* are peer dependencies at least as wide as @effect/platform's, and dev dependencies", () => {
    expect(Object.keys(pkg.dependencies ?? {}).filter((name) => /^(effect|@effect\/)/.test(name))).toEqual([])
    const platform = readJson<{ peerDependencies: Record<string, string> }>(
      NodePath.join(root, "node_modules", "@effect", "platform", "package.json")
    )
    expect(atLeastAsWide(pkg.peerDependencies["effect"]!, platform.peerDependencies["effect"]!)).toBe(true)
    for (const name of ["effect", "@effect/platform", "@effect/platform-node"]) {
      expect(pkg.peerDependencies[name], name).toBeDefined()
      expect(pkg.devDependencies[name], name).toBeDefined()
      const installed = readJson<{ version: string }>(NodePath.join(root, "node_modules", name, "package.json")).version
      expect(atLeastAsWide(pkg.peerDependencies[name]!, `^${installed}`), `${name} ${installed}`).toBe(true)
    }
  })

  it("the executable is one bundle needing only node's built-in modules (effect is a peer, maybe absent)", () => {
    expect(pkg.files).toEqual(expect.arrayContaining(["bin", "dist"]))
    const entry = Fs.readFileSync(NodePath.join(root, pkg.bin["effect-httpd"]!), "utf8")
    // Loaded after the executable's start-up settings (bin/effect-httpd.js), so dynamically.
    expect(entry).toMatch(/^await import\("\.\.\/dist\/effect-httpd\.mjs"\)$/m)
    const bundle = Fs.readFileSync(NodePath.join(root, "dist", "effect-httpd.mjs"), "utf8")
    const specifiers = [
      ...bundle.matchAll(/\bfrom\s*"([^"]+)"/g),
      ...bundle.matchAll(/\bimport\s*\(\s*"([^"]+)"\s*\)/g),
      ...bundle.matchAll(/\brequire\s*\(\s*"([^"]+)"\s*\)/g),
      ...bundle.matchAll(/^import\s*"([^"]+)"/gm)
    ].map(([, specifier]) => specifier!)
    expect(specifiers.length).toBeGreaterThan(0)
    expect(specifiers.filter((specifier) => !specifier.startsWith("node:"))).toEqual([])
  })
})

/** Exported declarations of a module whose last doc comment lacks `@since` or `@category`. */
const undocumented = (path: string): Array<string> => {
  const source = ts.createSourceFile(path, Fs.readFileSync(path, "utf8"), ts.ScriptTarget.ES2022, true)
  const missing: Array<string> = []
  for (const statement of source.statements) {
    const exported = ts.isExportDeclaration(statement) ||
      (ts.canHaveModifiers(statement) &&
        (ts.getModifiers(statement) ?? []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword))
    if (!exported) continue
    const docs = (statement as { jsDoc?: ReadonlyArray<ts.JSDoc> }).jsDoc ?? []
    const tags = (docs.at(-1)?.tags ?? []).map((tag) => tag.tagName.text)
    const absent = ["since", "category"].filter((tag) => !tags.includes(tag))
    if (absent.length === 0) continue
    const name = ts.isVariableStatement(statement)
      ? statement.declarationList.declarations.map((d) => d.name.getText(source)).join(", ")
      : ts.isExportDeclaration(statement)
      ? statement.getText(source)
      : (statement as ts.DeclarationStatement).name?.getText(source) ?? "?"
    const line = source.getLineAndCharacterOfPosition(statement.getStart(source)).line + 1
    missing.push(`${NodePath.basename(path)}:${line} ${name}: no @${absent.join(", no @")}`)
  }
  return missing
}

describe("doc comments", () => {
  it("every export of a public module (and of the barrel) has @since and @category", () => {
    const missing = [...publicModules, "index"].flatMap((name) => undocumented(NodePath.join(root, "src", `${name}.ts`)))
    expect(missing).toEqual([])
  })
})
