/**
 * The `Host` rules, each one small function: the field's syntax (RFC 9110 §7.2: `uri-host [":" port]` of RFC 3986,
 * checked by the decoder), and the DNS-rebinding defence of a server bound to a loopback address (the rule of
 * Vite's `server.allowedHosts` and webpack-dev-server's `allowedHosts`, applied by the connection to every request
 * before any handler runs).
 */
import * as Net from "node:net"

// Compiled once: IP-literal in brackets, or reg-name / IPv4address (RFC 3986 §3.2.2), then an optional port.
const HOST = /^(?:\[([^\]]*)\]|(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})*)(?::([0-9]*))?$/
const IP_FUTURE = /^[vV][0-9A-Fa-f]+\.[A-Za-z0-9\-._~!$&'()*+,;=:]+$/
// The decoder's absolute-form test (RFC 9112 §3.2.2), capturing the authority.
const ABSOLUTE = /^https?:\/\/([^/?#]*)/i

/** The largest TCP port. */
const MAX_PORT = 65535

/**
 * Whether a `Host` value is `uri-host [":" port]`. Empty is valid (RFC 9110 §7.2: a target without authority), and
 * so is an empty port (RFC 3986 §3.2.3: `port = *DIGIT`, "the default port"); userinfo, spaces, a zone identifier, a
 * malformed IPv6 literal or a port above 65535 are not.
 */
export const isValidHost = (value: string): boolean => {
  const match = HOST.exec(value)
  if (match === null) return false
  const port = match[2]
  if (port !== undefined && port.length > 0 && Number(port) > MAX_PORT) return false
  const literal = match[1]
  return literal === undefined || (Net.isIPv6(literal) && !literal.includes("%")) || IP_FUTURE.test(literal)
}

/**
 * Whether an absolute-form target's authority (RFC 9112 §3.2.2) is a valid `uri-host [":" port]` with a host: an
 * empty host (RFC 9110 §4.2.1) or userinfo (§4.2.4: deprecated in http URIs, and `http://localhost:x@evil.example/`
 * must not pass for localhost) make the request invalid.
 */
export const isValidAbsoluteAuthority = (authority: string): boolean =>
  authority.length > 0 && authority.charCodeAt(0) !== 0x3a && isValidHost(authority)

const loopback = new Net.BlockList()
loopback.addSubnet("127.0.0.0", 8, "ipv4")
loopback.addAddress("::1", "ipv6")

/** Whether an address (no brackets, no port) is in 127.0.0.0/8 or is ::1 (IPv4-mapped forms included). */
export const isLoopbackAddress = (address: string): boolean =>
  Net.isIPv4(address) ? loopback.check(address, "ipv4") : Net.isIPv6(address) && loopback.check(address, "ipv6")

/** The host of an authority (`name`, `name:port`, `[v6]:port`), lower-cased, without brackets, port or final dot. */
export const hostName = (authority: string): string => {
  let name: string
  if (authority.startsWith("[")) {
    const close = authority.indexOf("]")
    name = close < 0 ? authority : authority.slice(1, close)
  } else {
    const colon = authority.indexOf(":")
    name = colon < 0 ? authority : authority.slice(0, colon)
  }
  if (name.endsWith(".")) name = name.slice(0, -1)
  return name.toLowerCase()
}

/**
 * Whether a host name is loopback by definition: `localhost`, a `.localhost` name (RFC 6761 §6.3: resolvers and
 * browsers answer them with loopback themselves, so no outside DNS can rebind them), 127.0.0.0/8 or ::1.
 */
export const isLoopbackName = (name: string): boolean =>
  name === "localhost" || name.endsWith(".localhost") || isLoopbackAddress(name)

/**
 * Whose authority a request names: an absolute-form target's (RFC 9112 §3.2.2: it replaces `Host`), else `Host`.
 * `undefined` when there is neither (HTTP/1.0 without `Host`, HTTP/0.9).
 */
export const requestAuthority = (target: string, host: string | undefined): string | undefined => {
  // Only targets starting with a letter can be absolute-form: the common origin-form skips the regex.
  if (target.charCodeAt(0) === 0x2f) return host
  const match = ABSOLUTE.exec(target)
  return match === null ? host : match[1]!
}

/** Whether a request naming `authority` may be served. */
export type HostPolicy = (authority: string | undefined) => boolean

/**
 * The DNS-rebinding rule of a server listening on `boundAddress`: `undefined` (no check) unless that address is
 * loopback; then a request is served only when it names no host at all (nothing to rebind), a loopback name or
 * address, or one of `allowedHosts` (names or addresses, compared without case, port and brackets; `"*"` turns the
 * rule off). A page on `http://evil.example:8000/` whose name was rebound to 127.0.0.1 sends
 * `Host: evil.example:8000`, and is refused.
 */
export const hostPolicy = (boundAddress: string, allowedHosts: ReadonlyArray<string> = []): HostPolicy | undefined => {
  if (!isLoopbackAddress(boundAddress) || allowedHosts.includes("*")) return undefined
  const extra = new Set(allowedHosts.map(hostName))
  // Keep-alive clients repeat the same Host: remember the last answer.
  let lastAuthority: string | undefined = undefined
  let lastAnswer = false
  return (authority) => {
    if (authority === undefined) return true
    if (authority === lastAuthority) return lastAnswer
    const name = hostName(authority)
    const answer = isLoopbackName(name) || extra.has(name)
    lastAuthority = authority
    lastAnswer = answer
    return answer
  }
}
