import { FileSystem } from "@effect/platform"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { execFileSync } from "node:child_process"
import {
  defaultExtensionsMap,
  guessContentType,
  guessType,
  knownFiles,
  makeMimeTable,
  MimeTypes,
  parseMimeTypesFile
} from "../src/MimeTypes.js"

// One Python process answers for every name: the handler's guess_type with
// its default and with a custom extensions_map, and mimetypes.guess_type in
// strict and non-strict mode. It also dumps the tables it ended up with.
const ORACLE = `
import http.server, json, mimetypes, platform, sys, types
req = json.load(sys.stdin)
mimetypes.init()
H = http.server.SimpleHTTPRequestHandler
default = types.SimpleNamespace(extensions_map=H.extensions_map)
custom = types.SimpleNamespace(extensions_map=req["customMap"])
print(json.dumps({
    "version": platform.python_version(),
    "knownfiles": mimetypes.knownfiles,
    "extensionsMap": H.extensions_map,
    "types": list(mimetypes.types_map.items()),
    "commonTypes": list(mimetypes.common_types.items()),
    "results": [
        [H.guess_type(default, n), mimetypes.guess_type(n), mimetypes.guess_type(n, strict=False), H.guess_type(custom, n)]
        for n in req["names"]
    ],
}))
`

type PyGuess = [string | null, string | null]
interface OracleAnswer {
  readonly version: string
  readonly knownfiles: Array<string>
  readonly extensionsMap: Record<string, string>
  readonly types: Array<[string, string]>
  readonly commonTypes: Array<[string, string]>
  readonly results: Array<[string, PyGuess, PyGuess, string]>
}

const askPython = (names: ReadonlyArray<string>, customMap: Record<string, string>) =>
  Effect.try(() =>
    JSON.parse(
      execFileSync(process.env["PYTHON"] ?? "python3", ["-c", ORACLE], {
        input: JSON.stringify({ names, customMap }),
        encoding: "utf8",
        maxBuffer: 64 * 1024 * 1024
      })
    ) as OracleAnswer
  )

const customMap: Record<string, string> = {
  ".Foo": "x/exact-Foo",
  ".foo": "x/lower-foo",
  ".HTML": "x/upper-HTML",
  ".tgz": "x/tgz",
  "": "x/no-extension"
}

const trickyNames = [
  "index.html", "INDEX.HTML", "photo.JPG", "photo.Jpg", "a.HTML", "a.Html",
  "a.tar.gz", "a.tgz", "a.TGZ", "a.taz", "a.tz", "a.tbz2", "a.txz", "a.svgz", "a.SVGZ",
  "archive.Z", "archive.z", "a.tar.Z", "x.bz2", "x.xz", "x.br", "x.BR", "a.html.br", "a.GZ", "a.gz",
  "a.gz.gz", "a.tar.gz.br", "x.pcf.Z", ".gz", "x.gz/",
  ".bashrc", "..bashrc", "dir/.bashrc", ".", "..", "...", "...html", "noext", "dir.d/file", "dir.d/.hidden",
  "a.b.c", "file.", "a..", "", "/", "/dir/", "a/b.c/d",
  "my file.HTML", "with space .txt", "résumé.PDF", "文件.txt", "emoji😀.png", "ÉTÉ.CSS", "tab\tname.txt",
  "a.\u212Ash", "x.ELN", "x.AMR", "x.amr", "x.SAR", "a.js", "a.mjs", "a.ts", "a.wasm", "a.py",
  "data:text/plain,hi", "data:;base64,xx", "DATA:image/png;base64,xx", "data:text/plain",
  "data:a=b/c,x", "data:text/html;charset=utf-8,<p>.gz", "data:foo,x", "data: Text/Plain ,x", "data:,",
  "data:image/svg+xml,a.gz", "data:x/y;a=b;base64,z",
  "http://host/a.html", "HTTP://host/a.tar.gz", "a:.html", "a.b:c", "/a:b/c.html", "x:/y.tar.gz", "c:file.txt",
  "file.html?x=1", "file.html#frag",
  "a.Foo", "a.FOO", "a.foo", "a.fOo", "a.constructor", "a.toString", "a.__proto__", "a.hasOwnProperty"
]

const namesFor = (extensions: Iterable<string>): Array<string> => {
  const names: Array<string> = []
  for (const ext of extensions) names.push(`file${ext}`, `Dir.d/FILE${ext.toUpperCase()}`)
  return names
}

describe("MimeTypes", () => {
  it.effect("answers exactly as Python's http.server and mimetypes on this machine", () =>
    Effect.gen(function*() {
      const mime = yield* MimeTypes
      const extensions = new Set([...mime.table.types.keys(), ...mime.table.commonTypes.keys()])
      const names = [...namesFor(extensions), ...trickyNames]
      expect(names.length).toBeGreaterThanOrEqual(150)
      const python = yield* askPython(names, customMap)
      expect(python.version.startsWith("3.11."), `oracle is Python ${python.version}`).toBe(true)

      // The tables themselves, order included (Python dict vs JS Map).
      expect([...mime.table.types]).toEqual(python.types)
      expect([...mime.table.commonTypes]).toEqual(python.commonTypes)
      expect(knownFiles).toEqual(python.knownfiles)
      expect(defaultExtensionsMap).toEqual(python.extensionsMap)

      const custom = MimeTypes.make(mime.table, { extensionsMap: customMap })
      const mismatches: Array<unknown> = []
      names.forEach((name, i) => {
        const [handler, strict, lenient, customHandler] = python.results[i]!
        const ours = [
          mime.contentType(name),
          [mime.guess(name).type ?? null, mime.guess(name).encoding ?? null],
          Object.values(guessType(mime.table, name, { strict: false })).map((v) => v ?? null),
          custom.contentType(name)
        ]
        const theirs = [handler, strict, lenient, customHandler]
        if (JSON.stringify(ours) !== JSON.stringify(theirs)) mismatches.push({ name, ours, theirs })
      })
      expect(mismatches).toEqual([])
    }).pipe(Effect.provide(MimeTypes.layer().pipe(Layer.provide(NodeFileSystem.layer)))))

  describe("extensions_map overrides", () => {
    const table = makeMimeTable()
    const map = { ".Foo": "x/exact", ".foo": "x/lower", ".HTML": "x/upper-html", ".Z": "x/Z" }

    it("uses the exact-case extension first", () => {
      expect(guessContentType(table, map, "a.Foo")).toBe("x/exact")
      expect(guessContentType(table, map, "a.HTML")).toBe("x/upper-html")
    })

    it("then the lower-cased extension", () => {
      expect(guessContentType(table, map, "a.FOO")).toBe("x/lower")
      expect(guessContentType(table, map, "a.fOO")).toBe("x/lower")
    })

    it("never folds the map's keys, so an upper-case key only matches exactly", () => {
      expect(guessContentType(table, map, "a.Html")).toBe("text/html")
      expect(guessContentType(table, map, "a.z")).toBe("application/octet-stream")
    })

    it("falls back to mimetypes, then application/octet-stream", () => {
      expect(guessContentType(table, {}, "a.tar.gz")).toBe("application/x-tar")
      expect(guessContentType(table, defaultExtensionsMap, "a.tar.gz")).toBe("application/gzip")
      expect(guessContentType(table, {}, "a.nope")).toBe("application/octet-stream")
      expect(guessContentType(table, {}, "a.constructor")).toBe("application/octet-stream")
    })

    it.effect("is what the layer's contentType uses", () =>
      Effect.gen(function*() {
        const mime = yield* MimeTypes
        expect(mime.contentType("a.FOO")).toBe("x/lower")
        expect(mime.contentType("a.gz")).toBe("text/plain")
      }).pipe(Effect.provide(MimeTypes.layerWithoutFiles({ extensionsMap: { ...map, ".gz": "text/plain" } }))))
  })

  describe("guessType", () => {
    const table = makeMimeTable()

    it("peels a case-sensitive encoding and chains suffix rewrites", () => {
      expect(guessType(table, "a.tar.gz")).toEqual({ type: "application/x-tar", encoding: "gzip" })
      expect(guessType(table, "a.TGZ")).toEqual({ type: "application/x-tar", encoding: "gzip" })
      expect(guessType(table, "a.svgz")).toEqual({ type: "image/svg+xml", encoding: "gzip" })
      expect(guessType(table, "a.Z")).toEqual({ type: undefined, encoding: "compress" })
      expect(guessType(table, "a.z")).toEqual({ type: undefined, encoding: undefined })
    })

    it("reads data: URLs", () => {
      expect(guessType(table, "data:image/png;base64,xx")).toEqual({ type: "image/png", encoding: undefined })
      expect(guessType(table, "data:;base64,xx").type).toBe("text/plain")
      expect(guessType(table, "data:text/plain").type).toBeUndefined()
    })

    it("drops any other scheme before splitting the extension", () => {
      expect(guessType(table, "a:.html").type).toBeUndefined()
      expect(guessType(table, "http://h/a.html").type).toBe("text/html")
    })

    it("consults the non-strict table only when asked", () => {
      expect(guessType(table, "a.webp").type).toBeUndefined()
      expect(guessType(table, "a.webp", { strict: false }).type).toBe("image/webp")
    })
  })

  describe("parseMimeTypesFile", () => {
    it("follows Python's readfp: comments, blank lines, universal newlines, str.split()", () => {
      const text = "# comment line\n\n   \ntext/x-a aa # trailing bb\ntext/x-b b#c cc\n#text/x-c c\n" +
        "text/x-d\t\tdd  De\r\ntext/x-e ee\rtext/x-f ff # x\rtext/x-g gg\ntext/x-h\n" +
        "text/x-i\x1cii\x85ij\ntext/x-j jj\ufeffkk\n"
      // Verified against Python 3.11.7's MimeTypes.read on the same text.
      expect(parseMimeTypesFile(text)).toEqual([
        { type: "text/x-a", extension: ".aa" },
        { type: "text/x-b", extension: ".b#c" },
        { type: "text/x-b", extension: ".cc" },
        { type: "text/x-d", extension: ".dd" },
        { type: "text/x-d", extension: ".De" },
        { type: "text/x-e", extension: ".ee" },
        { type: "text/x-f", extension: ".ff" },
        { type: "text/x-g", extension: ".gg" },
        { type: "text/x-i", extension: ".ii" },
        { type: "text/x-i", extension: ".ij" },
        { type: "text/x-j", extension: ".jj\ufeffkk" }
      ])
    })

    it("lets the later entry win, within a file and across files, keeping the first position", () => {
      const table = makeMimeTable({
        includeBuiltin: false,
        fileContents: ["text/x-a aa bb\ntext/x-b aa", "text/x-c bb"]
      })
      expect([...table.types]).toEqual([[".aa", "text/x-b"], [".bb", "text/x-c"]])
      expect(makeMimeTable({ fileContents: ["text/x-mine html"] }).types.get(".html")).toBe("text/x-mine")
    })

    it("keeps upper-case extensions verbatim, which guess_type can then never reach", () => {
      const table = makeMimeTable({ includeBuiltin: false, fileContents: ["application/x-eln ELN"] })
      expect(table.types.get(".ELN")).toBe("application/x-eln")
      expect(guessType(table, "a.ELN").type).toBeUndefined()
    })
  })

  describe("layer", () => {
    it.scoped("skips missing, non-file and undecodable known files and reads the rest in order", () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const dir = yield* fs.makeTempDirectoryScoped()
        yield* fs.writeFileString(`${dir}/one.types`, "text/x-one one shared\n")
        yield* fs.writeFileString(`${dir}/two.types`, "\ufefftext/x-bom bom\ntext/x-two shared\n")
        yield* fs.writeFile(`${dir}/bad.types`, new Uint8Array([0x74, 0x2f, 0x78, 0x20, 0x62, 0x61, 0x64, 0xff, 0x0a]))
        const mime = yield* MimeTypes.pipe(
          Effect.provide(MimeTypes.layer({
            knownFiles: [`${dir}/missing.types`, `${dir}/one.types`, dir, `${dir}/bad.types`, `${dir}/two.types`]
          }))
        )
        expect(mime.contentType("a.one")).toBe("text/x-one")
        expect(mime.contentType("a.shared")).toBe("text/x-two")
        // Python's "utf-8" codec keeps a BOM, so it sticks to the type.
        expect(mime.contentType("a.bom")).toBe("\ufefftext/x-bom")
        expect(mime.contentType("a.bad")).toBe("application/octet-stream")
        expect(mime.contentType("a.html")).toBe("text/html")
      }).pipe(Effect.provide(NodeFileSystem.layer)))

    it.effect("layerWithoutFiles serves Python's built-in table only", () =>
      Effect.gen(function*() {
        const mime = yield* MimeTypes
        expect(mime.contentType("a.js")).toBe("application/javascript")
        expect(mime.contentType("a.gz")).toBe("application/gzip")
        expect(mime.guess("a.tar.gz")).toEqual({ type: "application/x-tar", encoding: "gzip" })
      }).pipe(Effect.provide(MimeTypes.layerWithoutFiles())))
  })
})
