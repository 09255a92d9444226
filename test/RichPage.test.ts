/**
 * The `--rich-listing` page over real sockets: its Content-Security-Policy names exactly its inline style and
 * script, no markup runs anything else, breadcrumbs, summary, hostile names (markup, `javascript:`, bidi controls)
 * only ever as escaped text or %-encoded links, and the optional parts (JSON link, archive links, upload section).
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { createHash } from "node:crypto"
import * as NodeFs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { escapeDisplayed as text } from "../src/internal/listing.js"
import { breadcrumbs, summary } from "../src/internal/richPage/html.js"
import { CSP } from "../src/internal/richPage/csp.js"
import { headerValues as header, request, startStatic as start } from "./support/staticServer.js"

const tree = Effect.acquireRelease(
  Effect.sync(() => {
    const root = NodeFs.realpathSync(NodeFs.mkdtempSync(Path.join(Os.tmpdir(), "effect-httpd-page-")))
    const dir = Path.join(root, "a b", "<c>")
    NodeFs.mkdirSync(dir, { recursive: true })
    NodeFs.writeFileSync(Path.join(dir, "<img src=x onerror=alert(1)>.png"), "x".repeat(2048))
    NodeFs.writeFileSync(Path.join(dir, "javascript:alert(1)"), "12345")
    NodeFs.writeFileSync(Path.join(dir, "gpj\u202e.exe"), "1")
    NodeFs.writeFileSync(Path.join(dir, "\"quoted' name.js"), "")
    NodeFs.mkdirSync(Path.join(dir, "sub"))
    return { root }
  }),
  ({ root }) => Effect.sync(() => NodeFs.rmSync(root, { recursive: true, force: true }))
)

const sha256 = (s: string) => `'sha256-${createHash("sha256").update(s, "utf8").digest("base64")}'`

const PAGE = "/a%20b/%3Cc%3E/"

describe("the rich listing page", () => {
  it.scopedLive("CSP allows only the page's own inline style and script; nothing else can run or load", () =>
    Effect.gen(function*() {
      const { root } = yield* tree
      const server = yield* start({ directory: root, richListing: true, upload: true, archives: true, jsonListing: true })
      const res = yield* request(server.address.port, "GET", PAGE)
      expect(res.status).toBe(200)
      const page = res.body.toString()
      const [policy] = header(res, "content-security-policy")
      expect(policy).toBe(CSP)
      const styles = [...page.matchAll(/<style>([\s\S]*?)<\/style>/g)].map((m) => m[1]!)
      const scripts = [...page.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]!)
      expect(styles).toHaveLength(1)
      expect(scripts).toHaveLength(1)
      const directives = new Map(policy!.split("; ").map((d) => [d.split(" ")[0]!, d.split(" ").slice(1).join(" ")]))
      expect(directives.get("default-src")).toBe("'none'")
      expect(directives.get("script-src")).toBe(sha256(scripts[0]!))
      expect(directives.get("style-src")).toBe(sha256(styles[0]!))
      expect(directives.get("frame-ancestors")).toBe("'none'")
      expect(directives.get("base-uri")).toBe("'none'")
      // Nothing the policy would have to allow besides: no handler or style attributes, nothing fetched.
      const tags = page.replace(/<script>[\s\S]*?<\/script>/, "").match(/<[a-z][^>]*>/gi) ?? []
      expect(tags.length).toBeGreaterThan(50)
      expect(tags.filter((tag) => /\s(on[a-z]+|style|src|srcset|action|formaction)=/i.test(tag))).toEqual([])
      expect(page.replace(/xmlns="http:\/\/www.w3.org\/2000\/svg"/, "")).not.toMatch(/https?:\/\//)
      expect(header(res, "x-content-type-options")).toEqual(["nosniff"])
      // The default listing gets none of it.
      const plain = yield* start({ directory: root })
      const python = yield* request(plain.address.port, "GET", PAGE)
      expect(header(python, "content-security-policy")).toEqual([])
      expect(python.body.toString()).not.toContain("<script")
    }))

  it.scopedLive("hostile names: escaped text, %-encoded links, never an attribute or a javascript: URL", () =>
    Effect.gen(function*() {
      const { root } = yield* tree
      const server = yield* start({ directory: root, richListing: true })
      const page = (yield* request(server.address.port, "GET", PAGE)).body.toString()
      expect(page).not.toContain("<img")
      expect(page).toContain("<span>&lt;img src=x onerror=alert(1)&gt;.png</span>")
      expect(page).toContain("<a href=\"%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E.png\">")
      expect(page).not.toMatch(/href="javascript:/i)
      expect(page).toContain("<a href=\"javascript%3Aalert%281%29\">")
      // The bidi override is shown, not obeyed.
      expect(page).not.toContain("\u202e")
      expect(page).toContain("<span>gpj\\u202e.exe</span>")
      expect(page).toContain("<a href=\"%22quoted%27%20name.js\">")
      expect(page).toContain("<span>\"quoted' name.js</span>")
      // Breadcrumbs: relative links up, the current directory as text, names escaped.
      expect(page).toContain(
        "<nav aria-label=\"Path\"><a href=\"../../\">/</a><a href=\"../\">a b</a><span class=\"sep\">/</span>" +
          "<span aria-current=\"page\">&lt;c&gt;</span><span class=\"sep\">/</span></nav>"
      )
      expect(page).toContain("<title>Directory listing for /a b/&lt;c&gt;/</title>")
      // Summary, icons, exact values in titles.
      expect(page).toContain("<span id=\"summary\">1 directory, 4 files, <span title=\"2054 bytes\">2.0 KiB</span></span>")
      expect(page).toContain("<use href=\"#i-image\">")
      expect(page).toContain("<use href=\"#i-code\">")
      expect(page).toContain("<tr class=\"dir\"><td class=\"name\"><a href=\"sub/\">")
      expect(page).toMatch(/<time datetime="\d{4}-\d\d-\d\dT[\d:.]+Z" title="\d{4}-\d\d-\d\dT[\d:.]+Z">/)
      // Without the options, none of their parts.
      expect(page).not.toContain("id=\"upload\"")
      expect(page).not.toContain("?download=")
      expect(page).not.toContain("?format=json")
    }))

  it.scopedLive("the optional parts follow the options: JSON link, archive links, upload section", () =>
    Effect.gen(function*() {
      const { root } = yield* tree
      const server = yield* start({ directory: root, richListing: true, upload: true, archives: true, jsonListing: true })
      const page = (yield* request(server.address.port, "GET", "/")).body.toString()
      expect(page).toContain("<a href=\"?format=json\" type=\"application/json\">JSON</a>")
      expect(page).toContain("<a href=\"?download=tar.gz\" download>")
      expect(page).toContain("<a href=\"?download=zip\" download>")
      expect(page).toContain("<section id=\"upload\" hidden")
      expect(page).toContain("<input type=\"file\" id=\"files\" multiple>")
      // The root: one crumb, the page itself.
      expect(page).toContain("<nav aria-label=\"Path\"><span aria-current=\"page\">/</span></nav>")
      const json = yield* request(server.address.port, "GET", "/?format=json")
      expect(header(json, "content-type")).toEqual(["application/json"])
    }))

  it("breadcrumbs, summary and text escaping as functions", () => {
    expect(breadcrumbs("/")).toBe("<span aria-current=\"page\">/</span>")
    expect(breadcrumbs("/x/")).toBe("<a href=\"../\">/</a><span aria-current=\"page\">x</span><span class=\"sep\">/</span>")
    expect(breadcrumbs("/x/%22y%22/z/")).toBe(
      "<a href=\"../../../\">/</a><a href=\"../../\">x</a><span class=\"sep\">/</span>" +
        "<a href=\"../\">\"y\"</a><span class=\"sep\">/</span><span aria-current=\"page\">z</span><span class=\"sep\">/</span>"
    )
    expect(text("<a>&\u2066\u061c")).toBe("&lt;a&gt;&amp;\\u2066\\u061c")
    expect(summary([])).toBe("0 directories, 0 files, <span title=\"0 bytes\">0 B</span>")
    expect(summary([
      { name: "d", isDirectory: true, isSymlink: false, size: 4096, mtimeMs: 0 },
      { name: "f", isDirectory: false, isSymlink: false, size: 1536, mtimeMs: 0 },
      { name: "l", isDirectory: false, isSymlink: true, size: undefined, mtimeMs: undefined }
    ])).toBe("1 directory, 2 files, <span title=\"1536 bytes\">1.5 KiB</span>")
  })
})
