/**
 * The `--rich-listing` page in a real browser (headless Chromium): the filter narrows entries, sort links order
 * them, breadcrumbs navigate, two files uploaded through the page show progress and appear in the refreshed
 * listing, the archive downloaded through the page extracts to the directory's bytes, a 390 px viewport has no
 * horizontal scroll, a name with `<img onerror>` stays text, and nothing is logged as an error (a CSP violation
 * would be).
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { execFileSync } from "node:child_process"
import * as NodeFs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import type { Page } from "playwright-core"
import { type Browser, BROWSER_TIME_ZONE, browserTestsRun, launch } from "./support/browser.js"
import { startStatic as start } from "./support/staticServer.js"

const XSS = "<img src=x onerror=\"window.__xss=1\">.txt"
const LONG = "a-very-long-file-name-without-any-spaces-that-would-push-the-table-wider-than-a-phone-".repeat(2) + ".txt"

const makeTree = Effect.acquireRelease(
  Effect.sync(() => {
    const root = NodeFs.realpathSync(NodeFs.mkdtempSync(Path.join(Os.tmpdir(), "effect-httpd-browser-")))
    const put = (name: string, bytes: number, mtime: number) => {
      NodeFs.writeFileSync(Path.join(root, name), Buffer.alloc(bytes, name.length % 251))
      NodeFs.utimesSync(Path.join(root, name), mtime, mtime)
    }
    put("alpha.txt", 300, 1_600_000_000)
    put("beta.png", 20_000, 1_500_000_000)
    put("gamma.js", 5, 1_700_000_000)
    put(XSS, 10, 1_650_000_000)
    put(LONG, 1, 1_650_000_000)
    NodeFs.mkdirSync(Path.join(root, "docs", "deep"), { recursive: true })
    NodeFs.writeFileSync(Path.join(root, "docs", "readme.md"), "# hello\n")
    NodeFs.writeFileSync(Path.join(root, "docs", "deep", "data.bin"), Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7) % 256)))
    return { root }
  }),
  ({ root }) => Effect.sync(() => NodeFs.rmSync(root, { recursive: true, force: true }))
)

const run = browserTestsRun()
let browser: Browser | undefined

/** A fresh tab that records console errors, page errors and CSP violations. */
const openPage = async (width = 1024) => {
  const page = await browser!.context.newPage()
  await page.setViewportSize({ width, height: 800 })
  const problems: Array<string> = []
  page.on("console", (message) => {
    // A failed load is reported below with its address (the JSON page, which has no icon, makes the browser ask
    // for /favicon.ico: a 404 that is not the listing's).
    if (message.text().startsWith("Failed to load resource")) return
    if (message.type() === "error" || message.type() === "warning") problems.push(`${message.type()}: ${message.text()}`)
  })
  page.on("response", (response) => {
    if (response.status() >= 400 && new URL(response.url()).pathname !== "/favicon.ico") {
      problems.push(`${response.status()}: ${response.url()}`)
    }
  })
  page.on("pageerror", (error) => problems.push(`pageerror: ${error.message}`))
  // Injected by the driver, so the page's CSP does not apply to it. (Browser code as text: the project's types
  // have no DOM.)
  await page.addInitScript({ content: INIT })
  return { page, problems }
}

/** Records CSP violations and, per upload URL, the upload progress events seen. */
const INIT = `
window.__csp = [];
window.__progress = {};
document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(e.violatedDirective));
const open = XMLHttpRequest.prototype.open;
XMLHttpRequest.prototype.open = function (method, url) {
  const key = String(url);
  this.upload.addEventListener("progress", () => { window.__progress[key] = (window.__progress[key] || 0) + 1; });
  return open.call(this, method, url, true);
};
`

/** An expression evaluated in the page. */
const inPage = <T>(page: Page, expression: string): Promise<T> => page.evaluate(expression) as Promise<T>

const clean = async (page: Page, problems: ReadonlyArray<string>) => {
  expect(problems).toEqual([])
  expect(await inPage(page, "window.__csp")).toEqual([])
}

const visibleNames = (page: Page) =>
  page.$$eval("#entries tr:not([hidden]) td.name span", (spans) => spans.map((s) => s.textContent ?? ""))

describe.skipIf(!run)("the rich listing in headless Chromium", () => {
  beforeAll(async () => {
    browser = await launch()
  })
  afterAll(async () => {
    await browser?.close()
  })

  it.scopedLive("filter, sort links, breadcrumbs, local times; no errors, no CSP violations, hostile name as text", () =>
    Effect.gen(function*() {
      const { root } = yield* makeTree
      const server = yield* start({ directory: root, richListing: true, jsonListing: true })
      const base = `http://127.0.0.1:${server.address.port}`
      yield* Effect.promise(async () => {
        const { page, problems } = await openPage()
        await page.goto(base + "/")
        const all = await visibleNames(page)
        expect(all.slice(0, 1)).toEqual(["docs/"])
        expect(all).toContain(XSS)
        // The hostile name is text: no image element, its handler never ran.
        expect(await page.$$eval("img", (imgs) => imgs.length)).toBe(0)
        expect(await inPage(page, "window.__xss")).toBeUndefined()
        // Keyboard: Tab reaches the filter, then the links (JSON, sort headers, entries), with a visible focus ring.
        await page.keyboard.press("Tab")
        expect(await inPage(page, "document.activeElement.id")).toBe("filter")
        await page.keyboard.press("Tab")
        expect(await inPage(page, "document.activeElement.textContent")).toBe("JSON")
        expect(await inPage(page, "getComputedStyle(document.activeElement).outlineStyle")).toBe("solid")
        await page.keyboard.press("Tab")
        expect(await inPage(page, "document.activeElement.textContent")).toBe("Name")
        // The filter narrows as one types (case-insensitive), Escape clears it; "/" focuses it from anywhere.
        await page.keyboard.press("/")
        expect(await inPage(page, "document.activeElement.id")).toBe("filter")
        await page.keyboard.type("A.T")
        expect(await visibleNames(page)).toEqual(["alpha.txt"])
        expect(await page.textContent("#shown")).toContain("1 of 6 shown")
        await page.keyboard.press("Escape")
        expect(await visibleNames(page)).toEqual(all)
        // Sort links: by size ascending, then descending (directories first either way).
        await page.click("th.size a")
        expect(new URL(page.url()).search).toBe("?sort=size&order=asc")
        expect(await visibleNames(page)).toEqual(["docs/", LONG, "gamma.js", XSS, "alpha.txt", "beta.png"])
        await page.click("th.size a")
        expect(new URL(page.url()).search).toBe("?sort=size&order=desc")
        expect(await visibleNames(page)).toEqual(["docs/", "beta.png", "alpha.txt", XSS, "gamma.js", LONG])
        // Times in the reader's time zone, the exact instant in the title.
        const time = await page.$eval("#entries time", (t) => ({ text: t.textContent, title: t.getAttribute("title") }))
        expect(time.title).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
        expect(time.text).toBe(new Date(time.title!).toLocaleString("en-US", { timeZone: BROWSER_TIME_ZONE }))
        expect(await page.textContent("th.time a")).toBe("Modified")
        // Breadcrumbs: down by the listing, up by the path.
        await page.click("text=docs/")
        await page.click("text=deep/")
        expect(new URL(page.url()).pathname).toBe("/docs/deep/")
        expect(await page.textContent("nav [aria-current=page]")).toBe("deep")
        await page.click("nav a:has-text('docs')")
        expect(new URL(page.url()).pathname).toBe("/docs/")
        await page.click("nav a:has-text('/')")
        expect(new URL(page.url()).pathname).toBe("/")
        // The JSON form is linked.
        await page.click("text=JSON")
        expect(new URL(page.url()).search).toBe("?format=json")
        await page.goBack()
        await clean(page, problems)
        await page.close()
      })
    }))

  it.scopedLive("a 390 px wide viewport (dark) needs no horizontal scrolling", () =>
    Effect.gen(function*() {
      const { root } = yield* makeTree
      const server = yield* start({ directory: root, richListing: true, upload: true, archives: true })
      yield* Effect.promise(async () => {
        const { page, problems } = await openPage(390)
        await page.emulateMedia({ colorScheme: "dark" })
        await page.goto(`http://127.0.0.1:${server.address.port}/`)
        const widths = await inPage<{ scroll: number; client: number; background: string }>(
          page,
          `({
            scroll: document.documentElement.scrollWidth,
            client: document.documentElement.clientWidth,
            background: getComputedStyle(document.body).backgroundColor
          })`
        )
        expect(widths.client).toBeLessThanOrEqual(390)
        expect(widths.scroll).toBeLessThanOrEqual(widths.client)
        // Dark mode is in effect.
        expect(widths.background).toBe("rgb(13, 17, 23)")
        await clean(page, problems)
        await page.close()
      })
    }))

  it.scopedLive("upload of two files: progress per file, both created, both in the refreshed listing", () =>
    Effect.gen(function*() {
      const { root } = yield* makeTree
      const server = yield* start({ directory: root, richListing: true, upload: true })
      yield* Effect.promise(async () => {
        const { page, problems } = await openPage()
        await page.goto(`http://127.0.0.1:${server.address.port}/docs/`)
        expect(await page.isVisible("#upload")).toBe(true)
        const one = Buffer.alloc(3 * 1024 * 1024, 1)
        const two = Buffer.from("second file <b>not markup</b>\n")
        await page.setInputFiles("#files", [
          { name: "one.bin", mimeType: "application/octet-stream", buffer: one },
          { name: "two <b>.txt", mimeType: "text/plain", buffer: two }
        ])
        await page.waitForSelector("body[data-refreshed]")
        const results = await page.$$eval("#progress li", (items) =>
          items.map((li) => ({
            name: li.querySelector(".fname")?.textContent,
            state: li.querySelector(".state")?.textContent,
            value: Number(li.querySelector("progress")?.getAttribute("value") ?? NaN)
          })))
        expect(results).toEqual([
          { name: "one.bin", state: "created", value: 1 },
          { name: "two <b>.txt", state: "created", value: 1 }
        ])
        const progress = await inPage<Record<string, number>>(page, "window.__progress")
        expect(Object.keys(progress).sort()).toEqual(["one.bin", "two%20%3Cb%3E.txt"])
        for (const count of Object.values(progress)) expect(count).toBeGreaterThan(0)
        expect(await visibleNames(page)).toEqual(["deep/", "one.bin", "readme.md", "two <b>.txt"])
        expect(NodeFs.readFileSync(Path.join(root, "docs", "one.bin")).equals(one)).toBe(true)
        expect(NodeFs.readFileSync(Path.join(root, "docs", "two <b>.txt")).equals(two)).toBe(true)
        // Dropped on the page, a file is sent too; a second upload of the same name replaces it.
        await inPage(page, `{
          const data = new DataTransfer();
          data.items.add(new File(["dropped\\n"], "two <b>.txt"));
          document.dispatchEvent(new DragEvent("drop", { dataTransfer: data, bubbles: true, cancelable: true }));
        }`)
        await page.waitForSelector("#progress li:nth-child(3)[data-result]")
        expect(await page.textContent("#progress li:nth-child(3) .state")).toBe("replaced")
        await page.waitForSelector("#upload:not([data-busy])")
        expect(NodeFs.readFileSync(Path.join(root, "docs", "two <b>.txt"), "utf8")).toBe("dropped\n")
        // A refused file says so (the upload rules apply unchanged: a dot name is 403).
        await page.setInputFiles("#files", [{ name: ".env", mimeType: "text/plain", buffer: Buffer.from("X=1\n") }])
        await page.waitForSelector("#progress li:nth-child(4)[data-result]")
        expect(await page.textContent("#progress li:nth-child(4) .state")).toBe("refused: 403 Forbidden")
        await page.waitForSelector("#upload:not([data-busy])")
        expect(NodeFs.existsSync(Path.join(root, "docs", ".env"))).toBe(false)
        // That 403 is the one failed request expected.
        const refusal = problems.findIndex((p) => p.startsWith("403: ") && p.endsWith("/docs/.env"))
        expect(refusal).toBeGreaterThanOrEqual(0)
        problems.splice(refusal, 1)
        await clean(page, problems)
        await page.close()
      })
    }))

  it.scopedLive("the archives linked from the page extract to the directory's bytes", () =>
    Effect.gen(function*() {
      const { root } = yield* makeTree
      const server = yield* start({ directory: root, richListing: true, archives: true })
      const out = NodeFs.mkdtempSync(Path.join(Os.tmpdir(), "effect-httpd-download-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => NodeFs.rmSync(out, { recursive: true, force: true })))
      yield* Effect.promise(async () => {
        const { page, problems } = await openPage()
        await page.goto(`http://127.0.0.1:${server.address.port}/docs/`)
        for (const [link, file] of [["text=Download .zip", "docs.zip"], ["text=Download .tar.gz", "docs.tar.gz"]] as const) {
          const [download] = await Promise.all([page.waitForEvent("download"), page.click(link)])
          expect(download.suggestedFilename()).toBe(file)
          await download.saveAs(Path.join(out, file))
        }
        for (const format of ["zip", "tar"] as const) {
          const into = Path.join(out, format)
          NodeFs.mkdirSync(into)
          if (format === "zip") execFileSync("python3", ["-m", "zipfile", "-e", Path.join(out, "docs.zip"), into])
          else execFileSync("tar", ["-xzf", Path.join(out, "docs.tar.gz"), "-C", into])
          for (const name of ["readme.md", "deep/data.bin"]) {
            expect(NodeFs.readFileSync(Path.join(into, name)).equals(NodeFs.readFileSync(Path.join(root, "docs", name))))
              .toBe(true)
          }
        }
        await clean(page, problems)
        await page.close()
      })
    }))
})
