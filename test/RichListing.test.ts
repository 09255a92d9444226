/**
 * `--rich-listing` / `richListing` over real sockets, with the response cache on and off: hostile names escaped
 * and linked exactly as in Python's listing, directories first, sorting by name, size and time, unknown query
 * values ignored, and the default listing unchanged.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as NodeFs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Cli from "../src/Cli.js"
import { humanSize, parseSort } from "../src/internal/richListing.js"
import { rawOptions } from "./support/cliOptions.js"
import { headerValues as header, request, startStatic as start } from "./support/staticServer.js"

const XSS = "<img src=x onerror=alert(1)>.txt"
const QUOTES = "a\"b&c 100%.txt"
const X = "%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E.txt"
const Q = "a%22b%26c%20100%25.txt"

const makeTree = Effect.acquireRelease(
  Effect.sync(() => {
    const root = NodeFs.realpathSync(NodeFs.mkdtempSync(Path.join(Os.tmpdir(), "effect-httpd-rich-")))
    const put = (name: string, size: number, mtime: number) => {
      NodeFs.writeFileSync(Path.join(root, name), "x".repeat(size))
      NodeFs.utimesSync(Path.join(root, name), mtime, mtime)
    }
    put("b.txt", 3000, 1_600_000_000)
    put("A.txt", 10, 1_700_000_000)
    put("c.bin", 2048, 1_500_000_000)
    put(XSS, 5, 1_650_000_000)
    put(QUOTES, 1_500_000, 1_550_000_000)
    put(".hidden", 1, 1_500_000_000)
    NodeFs.mkdirSync(Path.join(root, "zdir"))
    NodeFs.mkdirSync(Path.join(root, "adir"))
    NodeFs.symlinkSync(Path.join(root, "adir"), Path.join(root, "dirlink"))
    NodeFs.symlinkSync(Path.join(root, "missing"), Path.join(root, "broken"))
    return { root }
  }),
  ({ root }) => Effect.sync(() => NodeFs.rmSync(root, { recursive: true, force: true }))
)

/** The entries' anchors (`href`, text) in Python's page. */
const anchors = (body: string): Array<string> =>
  [...body.matchAll(/<li><a href="([^"?]*)">([^<]*)<\/a>/g)].map((m) => `${m[1]} ${m[2]}`)

/** The same in the rich page (an icon before the name). */
const richAnchors = (body: string): Array<string> =>
  [...body.matchAll(/<td class="name"><a href="([^"]*)"><svg [^>]*><use [^>]*><\/use><\/svg><span>([^<]*)<\/span><\/a>/g)]
    .map((m) => `${m[1]} ${m[2]}`)

const hrefs = (body: string): Array<string> => [...body.matchAll(/<td class="name"><a href="([^"]*)">/g)].map((m) => m[1]!)

const bothCaches = [true, false] as const

describe("--rich-listing / richListing", () => {
  it("parses sort and order, unknown values give the default", () => {
    expect(parseSort("/d/")).toEqual({ sort: "name", order: "asc" })
    expect(parseSort("/d/?sort=size&order=desc")).toEqual({ sort: "size", order: "desc" })
    expect(parseSort("/d/?order=desc&x=1&sort=time#f")).toEqual({ sort: "time", order: "desc" })
    expect(parseSort("/d/?sort=%3Cscript%3E&order=sideways")).toEqual({ sort: "name", order: "asc" })
    expect(parseSort("/d/?sort=size&sort=time")).toEqual({ sort: "size", order: "asc" })
    expect(humanSize(0)).toBe("0 B")
    expect(humanSize(1023)).toBe("1023 B")
    expect(humanSize(1536)).toBe("1.5 KiB")
    expect(humanSize(3 * 1024 * 1024)).toBe("3.0 MiB")
  })

  it.scopedLive("names escaped and linked exactly as Python's listing; directories first; sorting; hideDotfiles", () =>
    Effect.gen(function*() {
      const { root } = yield* makeTree
      for (const cache of bothCaches) {
        const plain = yield* start({ directory: root, cache })
        const rich = yield* start({ directory: root, cache, richListing: true })
        const pythonPage = (yield* request(plain.address.port, "GET", "/")).body.toString()
        for (let i = 0; i < 2; i++) {
          const res = yield* request(rich.address.port, "GET", "/")
          const page = res.body.toString()
          expect(res.status).toBe(200)
          expect(header(res, "content-type")).toEqual(["text/html; charset=utf-8"])
          expect(header(res, "content-length")).toEqual([String(res.body.length)])
          expect(page).toContain("<table>")
          // Same anchors as Python's page (escaping, %-encoding, "/" and "@"), directories first.
          expect(anchors(pythonPage)).toHaveLength(10)
          expect([...richAnchors(page)].sort()).toEqual([...anchors(pythonPage)].sort())
          expect(page).not.toContain("<img")
          expect(page).toContain("<span>&lt;img src=x onerror=alert(1)&gt;.txt</span></a>")
          expect(page).toContain("href=\"%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E.txt\"")
          expect(richAnchors(page)).toContain("a%22b%26c%20100%25.txt a\"b&amp;c 100%.txt")
          expect(richAnchors(page)).toContain("dirlink/ dirlink@")
          expect(page).toContain(`<td class="size" title="1500000 bytes">1.4 MiB</td>`)
          expect(hrefs(page)).toEqual(["adir/", "dirlink/", "zdir/", ".hidden", X, Q, "A.txt", "b.txt", "broken", "c.bin"])
          expect(page).toContain("<span>broken@</span></a></td><td class=\"size\">?</td><td class=\"time\">-</td>")
          const sorted = (query: string) =>
            Effect.map(request(rich.address.port, "GET", "/" + query), (r) => hrefs(r.body.toString()))
          const cases: ReadonlyArray<readonly [string, ReadonlyArray<string>]> = [
            ["?sort=name&order=desc", ["c.bin", "broken", "b.txt", "A.txt", Q, X, ".hidden"]],
            ["?sort=size", [".hidden", X, "A.txt", "c.bin", "b.txt", Q, "broken"]],
            ["?sort=size&order=desc", [Q, "b.txt", "c.bin", "A.txt", X, ".hidden", "broken"]],
            ["?sort=time&order=asc", [".hidden", "c.bin", Q, "b.txt", X, "A.txt", "broken"]],
            ["?sort=time&order=desc", ["A.txt", X, "b.txt", Q, ".hidden", "c.bin", "broken"]],
            // Unknown values: the default (name, ascending); the query is not echoed.
            ["?sort=%3Cscript%3E&order=%22%3E%3Cscript%3E", [".hidden", X, Q, "A.txt", "b.txt", "broken", "c.bin"]]
          ]
          for (const [query, files] of cases) {
            const order = yield* sorted(query)
            expect(order.slice(0, 3).sort(), query).toEqual(["adir/", "dirlink/", "zdir/"])
            expect(order.slice(3), query).toEqual(files)
          }
          expect((yield* sorted("?sort=name&order=desc")).slice(0, 3)).toEqual(["zdir/", "dirlink/", "adir/"])
          const hostile = (yield* request(rich.address.port, "GET", "/?sort=<script>&order=\"><script>")).body.toString()
          // The page's own script only: the query is not echoed.
          expect(hostile.split("<script>")).toHaveLength(2)
          expect(hostile).not.toContain("\"><script>")
          // The current column's header link toggles the order.
          expect((yield* request(rich.address.port, "GET", "/?sort=size")).body.toString())
            .toContain(
              "<th class=\"size\" aria-sort=\"ascending\"><a href=\"?sort=size&amp;order=desc\">Size</a> " +
                "<span class=\"mark\" aria-hidden=\"true\">&#9650;</span></th>"
            )
          const head = yield* request(rich.address.port, "HEAD", "/")
          expect(head.status).toBe(200)
          expect(head.body.length).toBe(0)
          expect(header(head, "content-type")).toEqual(["text/html; charset=utf-8"])
        }
        const hidden = yield* start({ directory: root, cache, richListing: true, hideDotfiles: true })
        const visible = hrefs((yield* request(hidden.address.port, "GET", "/?sort=size")).body.toString())
        expect(visible.slice(3)).toEqual([X, "A.txt", "c.bin", "b.txt", Q, "broken"])
      }
    }))

  it.scopedLive("off by default: Python's list, no table, whatever the query", () =>
    Effect.gen(function*() {
      const { root } = yield* makeTree
      for (const cache of bothCaches) {
        const server = yield* start({ directory: root, cache })
        const page = (yield* request(server.address.port, "GET", "/?sort=size&order=desc")).body.toString()
        expect(page).not.toContain("<table>")
        expect(page).toContain("<title>Directory listing for /?sort=size&amp;order=desc</title>")
        const items = [...page.matchAll(/<li><a href="([^"]*)">/g)].map((m) => m[1])
        expect(items).toEqual([".hidden", X, Q, "A.txt", "adir/", "b.txt", "broken", "c.bin", "dirlink/", "zdir/"])
        expect(page.endsWith("</ul>\n<hr>\n</body>\n</html>\n")).toBe(true)
      }
    }))

  it("the CLI flag maps to the option (and takes no value)", () =>
    Effect.gen(function*() {
      expect(Cli.normalizeArgs(["--rich-listing", "0"])).toEqual(["--rich-listing=true", "0"])
      const raw = rawOptions({ port: 0, richListing: true })
      const on = yield* Cli.validate(raw, "/", (_, to) => to)
      expect(Cli.staticFilesOptions(on).richListing).toBe(true)
      const off = yield* Cli.validate({ ...raw, richListing: false }, "/", (_, to) => to)
      expect(Cli.staticFilesOptions(off).richListing).toBeUndefined()
    }).pipe(Effect.runPromise))
})
