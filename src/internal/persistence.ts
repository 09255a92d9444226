/**
 * What a response says about the connection beyond Python's own fields, and Python's body-only answer.
 *
 * Python never tells a client that it closes or keeps a connection (only its error page carries `Connection: close`).
 * Two real clients need to be told: wget, which asks for keep-alive and reuses a connection unless the answer says
 * `close` (it races the server's FIN and loses, then waits a second and retries), and ApacheBench's `ab -k`, an
 * HTTP/1.0 client that waits for its response's end forever unless told the connection stays open.
 */
import type { HeaderField } from "../Headers.js"
import type { HttpVersion } from "../Request.js"
import { versionAtLeast } from "../Request.js"
import type { ConnectionOptions } from "./connectionOptions.js"

const CLOSE: HeaderField = ["Connection", "close"]
const KEEP_ALIVE: HeaderField = ["Connection", "keep-alive"]

/**
 * The `Connection` field to add to a response that has none: `close` when we close a connection the client would
 * otherwise take as persistent — it asked for keep-alive (and not also for close, see `connectionOptions`), or both sides speak HTTP/1.1 (RFC 9112 §9.6; wrk and
 * wget reuse it otherwise) —, `keep-alive` when an HTTP/1.0 client's connection stays open (RFC 9112 §9.3, as
 * node:http and nginx do). Nothing otherwise: a client infers the rest from the versions.
 */
export const connectionField = (
  version: HttpVersion,
  connection: ConnectionOptions | undefined,
  keepAlive: boolean,
  protocol11: boolean
): HeaderField | undefined => {
  if (!keepAlive) return connection?.keepAlive === true || (protocol11 && versionAtLeast(version, 1, 1)) ? CLOSE : undefined
  return versionAtLeast(version, 1, 1) ? undefined : KEEP_ALIVE
}

/**
 * Python's `request_version == 'HTTP/0.9'`: the answer is its body alone, no status line, no fields. True for the
 * two-word request line and for one that names `HTTP/0.9` (compared as text, as Python does: `HTTP/00.9` is not).
 */
export const bodyOnly = (version: HttpVersion | undefined): boolean =>
  version !== undefined && version.text === "HTTP/0.9"
