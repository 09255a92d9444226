/**
 * The `Connection` header's options as they decide keep-alive (RFC 9112 §9.6, RFC 9110 §7.6.1): a comma-separated
 * list of tokens, compared without case; a `close` anywhere in it means close after this response. The one reader of
 * that list: the engine's keep-alive decision, the `Connection` field it answers with, and the platform bridge.
 */
import { trimOws } from "./ows.js"

/**
 * What a request's `Connection` fields say: `close` listed, `keep-alive` listed. `close` wins: a list with both is
 * `{ close: true, keepAlive: false }`.
 */
export interface ConnectionOptions {
  readonly close: boolean
  readonly keepAlive: boolean
}

// Shared values: reading the header allocates nothing.
const NEITHER: ConnectionOptions = { close: false, keepAlive: false }
const CLOSE: ConnectionOptions = { close: true, keepAlive: false }
const KEEP_ALIVE: ConnectionOptions = { close: false, keepAlive: true }

/**
 * The options of every `Connection` field of a request, as one list. The exact common values take a fast path; a
 * list is split on commas and each element trimmed of OWS (SP, HTAB only).
 */
export const connectionOptions = (values: ReadonlyArray<string>): ConnectionOptions => {
  if (values.length === 0) return NEITHER
  const value = values.length === 1 ? values[0]! : values.join(",")
  if (value === "close") return CLOSE
  if (value === "keep-alive") return KEEP_ALIVE
  const lower = value.toLowerCase()
  if (lower === "close") return CLOSE
  if (lower === "keep-alive") return KEEP_ALIVE
  if (!lower.includes(",")) return NEITHER
  let keepAlive = false
  for (const element of lower.split(",")) {
    const option = trimOws(element)
    if (option === "close") return CLOSE
    if (option === "keep-alive") keepAlive = true
  }
  return keepAlive ? KEEP_ALIVE : NEITHER
}

/**
 * node's (llhttp's) protocol switch: an `Upgrade` field and `upgrade` among the `Connection` options. The one rule
 * for it: the decoder holds what follows such a request, and only such a request may take the socket (an `Upgrade`
 * alone is no switch: a proxy that saw none keeps sending other requests on the connection).
 */
export const asksUpgrade = (headers: {
  has(name: string): boolean
  getAll(name: string): ReadonlyArray<string>
}): boolean =>
  headers.has("upgrade") &&
  headers.getAll("connection").some((value) => value.split(",").some((o) => trimOws(o).toLowerCase() === "upgrade"))
