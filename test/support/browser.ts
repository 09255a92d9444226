/**
 * Headless Chromium (Debian's `chromium` package) driven by `playwright-core`: nothing is downloaded at install
 * time. Outside CI a machine without `/usr/bin/chromium` skips the browser tests; in CI (`CI=true`) they run and
 * fail when it is missing (`.ci/run` installs it).
 */
import * as NodeFs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { type BrowserContext, chromium } from "playwright-core"

export const CHROMIUM = "/usr/bin/chromium"

/** The browser's time zone in the tests. */
export const BROWSER_TIME_ZONE = "Asia/Kolkata"

/** Whether the browser tests run here. */
export const browserTestsRun = (): boolean =>
  NodeFs.existsSync(CHROMIUM) || process.env["CI"] === "true" || process.env["CI"] === "1"

/** The flags the project launches Chromium with (no network of its own, no GPU, nothing kept). */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync"
]

export interface Browser {
  readonly context: BrowserContext
  readonly close: () => Promise<void>
}

/** A browser with a new empty profile directory, removed on close. */
export const launch = async (options: { readonly colorScheme?: "light" | "dark" } = {}): Promise<Browser> => {
  const profile = NodeFs.mkdtempSync(Path.join(Os.tmpdir(), "effect-httpd-chromium-"))
  try {
    // Playwright passes the profile as --user-data-dir itself (it refuses the flag among `args`).
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      acceptDownloads: true,
      colorScheme: options.colorScheme ?? "light",
      // Fixed, so what the page shows can be compared: a zone far from UTC shows the conversion happened.
      locale: "en-US",
      timezoneId: BROWSER_TIME_ZONE,
      viewport: { width: 1024, height: 768 }
    })
    return {
      context,
      close: async () => {
        await context.close()
        NodeFs.rmSync(profile, { recursive: true, force: true })
      }
    }
  } catch (error) {
    NodeFs.rmSync(profile, { recursive: true, force: true })
    throw error
  }
}
