/**
 * Turns parsed responses into plain data that `expect(ours).toEqual(python)`
 * can compare, with the values that legitimately differ between two servers
 * masked out.
 */
import type { ParsedResponse } from "./responseParser.js"

/** A response reduced to comparable plain data. */
export interface NormalizedResponse {
  /** Kept verbatim: the reason phrase is part of Python's observable behaviour. */
  readonly statusLine: string | undefined
  /** Wire order and name case kept (Python sends e.g. `Content-type`). */
  readonly headers: Array<[string, string]>
  /** The body decoded as latin1, so every byte maps to one character. */
  readonly body: string
}

/** Options for {@link normalizeForDiff}. */
export interface NormalizeOptions {
  /** Header names (case-insensitive) to drop entirely. */
  readonly ignoreHeaders?: ReadonlyArray<string>
}

/**
 * Masks what depends on the clock or the implementation: `Date` becomes
 * `<date>` and `Server` becomes `<server>` (their presence and position still
 * count). `Last-Modified` is kept because both servers read the same file's
 * mtime.
 */
export const normalizeForDiff = (resp: ParsedResponse, opts: NormalizeOptions = {}): NormalizedResponse => {
  const ignored = new Set((opts.ignoreHeaders ?? []).map((name) => name.toLowerCase()))
  const headers = resp.headers
    .filter(([name]) => !ignored.has(name.toLowerCase()))
    .map(([name, value]): [string, string] => {
      switch (name.toLowerCase()) {
        case "date":
          return [name, "<date>"]
        case "server":
          return [name, "<server>"]
        default:
          return [name, value]
      }
    })
  return { statusLine: resp.statusLine, headers, body: resp.body.toString("latin1") }
}

/**
 * Replaces the decimal `port` with `placeholder` wherever it stands alone
 * (not inside a longer number), for bodies or `Location` values that embed
 * the listening port.
 */
export const replacePort = (text: string, port: number, placeholder = "<port>"): string =>
  text.replace(new RegExp(`(?<![0-9])${port}(?![0-9])`, "g"), placeholder)

/** {@link replacePort} applied to every header value and the body of a normalized response. */
export const maskPort = (resp: NormalizedResponse, port: number, placeholder = "<port>"): NormalizedResponse => ({
  statusLine: resp.statusLine,
  headers: resp.headers.map(([name, value]): [string, string] => [name, replacePort(value, port, placeholder)]),
  body: replacePort(resp.body, port, placeholder)
})
