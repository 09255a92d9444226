/**
 * `Accept` as RFC 9110 §12.5.1 reads it: the quality a client gives a media type is the `q` of the most specific
 * range that matches it (`type/subtype` over `type/*` over `*\/*`), 0 when none does. Parameters other than `q`
 * are ignored (a range is not narrowed by them); an element with an invalid `q` is skipped.
 */

import { trimOws } from "./ows.js"

const QVALUE = /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/

interface Range {
  readonly type: string
  readonly subtype: string
  readonly q: number
}

/**
 * The elements of a weighted list (`Accept`, `Accept-Encoding`; RFC 9110 §12.4.2): each element's value without
 * its parameters, trimmed, and its `q` (default 1). An element with an invalid `q` is skipped.
 */
export const weightedElements = (field: string): Array<{ readonly value: string; readonly q: number }> => {
  const elements: Array<{ readonly value: string; readonly q: number }> = []
  for (const element of field.split(",")) {
    const [value, ...parameters] = element.split(";")
    let q = 1
    let valid = true
    for (const parameter of parameters) {
      const eq = parameter.indexOf("=")
      if (eq < 0 || trimOws(parameter.slice(0, eq)).toLowerCase() !== "q") continue
      const text = trimOws(parameter.slice(eq + 1))
      if (QVALUE.test(text)) q = Number(text)
      else valid = false
    }
    if (valid) elements.push({ value: trimOws(value!), q })
  }
  return elements
}

const parseAccept = (accept: string): Array<Range> => {
  const ranges: Array<Range> = []
  for (const { q, value } of weightedElements(accept)) {
    const slash = value.indexOf("/")
    if (slash < 0) continue
    const type = trimOws(value.slice(0, slash)).toLowerCase()
    const subtype = trimOws(value.slice(slash + 1)).toLowerCase()
    if (type === "" || subtype === "" || (type === "*" && subtype !== "*")) continue
    ranges.push({ type, subtype, q })
  }
  return ranges
}

/**
 * The quality of `mediaType` (lower-case `type/subtype`) under `accept`. `wildcards: false` ignores `*\/*` (a
 * client that sends only `*\/*` did not ask for this type).
 */
export const quality = (accept: string, mediaType: string, wildcards = true): number => {
  const [type, subtype] = mediaType.split("/") as [string, string]
  let best = -1
  let q = 0
  for (const range of parseAccept(accept)) {
    const specificity = range.type === type && range.subtype === subtype
      ? 2
      : range.type === type && range.subtype === "*"
      ? 1
      : range.type === "*" && wildcards
      ? 0
      : -1
    // Equal specificity: the first one counts (a repeated range is the client's mistake; either reading is fine).
    if (specificity > best) {
      best = specificity
      q = range.q
    }
  }
  return q
}

/**
 * Whether a client prefers JSON to HTML: `application/json` has a quality above 0 and above `text/html`'s (a tie,
 * such as `*\/*` alone, goes to HTML, what a browser expects).
 */
export const prefersJson = (accept: string | undefined): boolean => {
  if (accept === undefined) return false
  const json = quality(accept, "application/json")
  return json > 0 && json > quality(accept, "text/html")
}

/** Whether `text/html` (or `text/*`) is acceptable, not counting `*\/*`. */
export const acceptsHtml = (accept: string | undefined): boolean =>
  accept !== undefined && quality(accept, "text/html", false) > 0
