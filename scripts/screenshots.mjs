/**
 * The README's screenshots of `--rich-listing` (issue 15), taken with Debian's Chromium through `playwright-core`
 * from the built executable (`npm run build` first) serving a generated demo folder:
 *
 *   docs/rich-listing-light.png   desktop, light
 *   docs/rich-listing-dark.png    desktop, dark (prefers-color-scheme), filter typed
 *   docs/rich-listing-phone.png   390 px wide, light
 *   docs/rich-listing-upload.png  two files uploading (the server is paused with SIGSTOP mid-upload, so the bars
 *                                 show real partial progress), then resumed
 *
 *   node scripts/screenshots.mjs
 */
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { chromium } from "playwright-core"

const root = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "..")
const docs = Path.join(root, "docs")
Fs.mkdirSync(docs, { recursive: true })

const demo = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-httpd-demo-"))
const profile = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-httpd-chromium-"))
const day = 24 * 3600
const now = Math.floor(Date.UTC(2026, 10, 20, 14, 30) / 1000)
const put = (name, bytes, ageDays) => {
  const full = Path.join(demo, name)
  Fs.mkdirSync(Path.dirname(full), { recursive: true })
  Fs.writeFileSync(full, Buffer.alloc(bytes, 120))
  Fs.utimesSync(full, now - ageDays * day, now - ageDays * day)
}
for (const dir of ["photos", "src", "talks"]) Fs.mkdirSync(Path.join(demo, dir))
put("photos/harbour.jpg", 2_400_000, 12)
put("README.md", 4_812, 1)
put("quarterly-report-2026-Q3.pdf", 1_843_200, 6)
put("harbour-at-dawn.jpg", 3_145_728, 12)
put("interview.mp3", 7_340_032, 30)
put("backup-2026-11-01.tar.gz", 52_428_800, 19)
put("notes.txt", 912, 0.2)
put("app.js", 18_230, 3)
put("measurements.csv", 245_760, 8)
put("a-rather-long-file-name-for-a-slide-deck-presented-at-the-autumn-meeting.odp", 734_003, 40)
for (const dir of ["photos", "src", "talks"]) Fs.utimesSync(Path.join(demo, dir), now - 2 * day, now - 2 * day)

const server = spawn(process.execPath, [
  Path.join(root, "bin", "effect-httpd.js"),
  "--rich-listing", "--upload", "--archives", "--json-listing", "-d", demo, "-b", "127.0.0.1", "0"
], { stdio: ["ignore", "pipe", "ignore"] })
const port = await new Promise((resolve, reject) => {
  let out = ""
  server.stdout.on("data", (chunk) => {
    out += chunk
    const match = /port (\d+)/.exec(out)
    if (match) resolve(Number(match[1]))
  })
  server.once("exit", () => reject(new Error("server exited: " + out)))
})
const url = `http://127.0.0.1:${port}/`

const context = await chromium.launchPersistentContext(profile, {
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  viewport: { width: 1000, height: 640 },
  timezoneId: "Europe/Berlin",
  locale: "en-GB"
})
try {
  const page = await context.newPage()
  await page.emulateMedia({ colorScheme: "light" })
  await page.goto(url + "?sort=time&order=desc")
  await page.screenshot({ path: Path.join(docs, "rich-listing-light.png") })

  await page.emulateMedia({ colorScheme: "dark" })
  await page.goto(url)
  await page.fill("#filter", "har")
  await page.screenshot({ path: Path.join(docs, "rich-listing-dark.png") })

  await page.emulateMedia({ colorScheme: "light" })
  await page.setViewportSize({ width: 390, height: 844 })
  await page.goto(url)
  await page.screenshot({ path: Path.join(docs, "rich-listing-phone.png") })

  await page.setViewportSize({ width: 1000, height: 900 })
  await page.goto(url + "talks/")
  // Over 50 MB, Playwright takes files by path.
  const outbox = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-httpd-outbox-"))
  const files = [["slides-final.pdf", 96], ["recording.webm", 160]].map(([name, mib]) => {
    const file = Path.join(outbox, name)
    Fs.writeFileSync(file, Buffer.alloc(mib * 1024 * 1024, 1))
    return file
  })
  await page.setInputFiles("#files", files)
  // Real progress, frozen: once both bars moved, stop the server; the socket buffers fill and the bars stand still.
  await page.waitForFunction(() =>
    [...document.querySelectorAll("#progress progress")].filter((p) => p.value > 0.05).length === 2, undefined, { polling: 5 }
  ).catch(() => {})
  server.kill("SIGSTOP")
  await page.waitForTimeout(300)
  await page.screenshot({ path: Path.join(docs, "rich-listing-upload.png") })
  server.kill("SIGCONT")
  await page.waitForSelector("body[data-refreshed]", { timeout: 60_000 })
  Fs.rmSync(outbox, { recursive: true, force: true })
} finally {
  await context.close()
  server.kill("SIGTERM")
  Fs.rmSync(profile, { recursive: true, force: true })
  Fs.rmSync(demo, { recursive: true, force: true })
}
console.log("docs/rich-listing-{light,dark,phone,upload}.png written")
