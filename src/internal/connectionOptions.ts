/**
 * The `Connection` header's options as they decide keep-alive (RFC 9112 §9.6, RFC 9110 §7.6.1): a comma-separated
 * list of tokens, compared without case; a `close` anywhere in it means close after this response.
 */
import { trimOws } from "./ows.js"

/** What a request's `Connection` field asks of the connection: `close` wins over `keep-alive`. */
export type ConnectionWish = "close" | "keep-alive" | undefined

/**
 * The wish of a `Connection` value (every `Connection` field, as one list). The exact common values take a fast path;
 * a list is split on commas and each element trimmed of OWS (SP, HTAB only).
 */
export const connectionWish = (values: ReadonlyArray<string>): ConnectionWish => {
  if (values.length === 0) return undefined
  const value = values.length === 1 ? values[0]! : values.join(",")
  if (value === "close" || value === "keep-alive") return value
  const lower = value.toLowerCase()
  if (lower === "close" || lower === "keep-alive") return lower
  if (!lower.includes(",")) return undefined
  let keepAlive = false
  for (const element of lower.split(",")) {
    const option = trimOws(element)
    if (option === "close") return "close"
    if (option === "keep-alive") keepAlive = true
  }
  return keepAlive ? "keep-alive" : undefined
}
