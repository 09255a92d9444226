/**
 * The rich listing's `Content-Security-Policy`: nothing may load or run except the page's own inline style and
 * script, named by their SHA-256 (computed once, when the module loads; both texts are constants), requests back
 * to the server itself (the upload's `PUT`s and the refresh), and no framing.
 */
import { createHash } from "node:crypto"
import type { HeaderField } from "../../Headers.js"
import { SCRIPT } from "./script.js"
import { STYLE } from "./style.js"

const sha256 = (text: string): string => `'sha256-${createHash("sha256").update(text, "utf8").digest("base64")}'`

/** The policy's value. */
export const CSP = [
  "default-src 'none'",
  `script-src ${sha256(SCRIPT)}`,
  `style-src ${sha256(STYLE)}`,
  // The favicon is a `data:` SVG (so no request answers 404 for it).
  "img-src data:",
  "connect-src 'self'",
  "form-action 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'"
].join("; ")

/** The fields sent with every rich listing page. */
export const PAGE_HEADERS: ReadonlyArray<HeaderField> = [
  ["Content-Security-Policy", CSP],
  ["X-Content-Type-Options", "nosniff"],
  ["Referrer-Policy", "no-referrer"]
]
