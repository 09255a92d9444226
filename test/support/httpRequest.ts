/** Header fields for {@link httpRequest}: ordered pairs (duplicates allowed) or a record. */
export type RequestHeaders = ReadonlyArray<readonly [string, string]> | Readonly<Record<string, string>>

/**
 * Builds the bytes of one request: `METHOD path VERSION`, the given headers in
 * order, a blank line and the body. Strings are encoded as latin1 so a test
 * controls every byte.
 *
 * Nothing is added behind the caller's back except `Content-Length` when a
 * body is given and neither `Content-Length` nor `Transfer-Encoding` is (to
 * send a body without framing, pass it as a separate chunk to `sendRaw`), and
 * `Host: localhost` first for HTTP/1.1 without a `Host` (RFC 9112 §3.2).
 * An empty `version` produces an HTTP/0.9 simple request (`GET /` + CRLF only).
 */
export const httpRequest = (
  method: string,
  path: string,
  headers: RequestHeaders = [],
  body?: string | Uint8Array,
  version = "HTTP/1.1"
): Buffer => {
  if (version === "") return Buffer.from(`${method} ${path}\r\n`, "latin1")
  const fields: Array<readonly [string, string]> = Array.isArray(headers)
    ? [...(headers as ReadonlyArray<readonly [string, string]>)]
    : Object.entries(headers)
  const payload = body === undefined ? undefined : typeof body === "string" ? Buffer.from(body, "latin1") : Buffer.from(body)
  if (version === "HTTP/1.1" && !fields.some(([name]) => name.toLowerCase() === "host")) fields.unshift(["Host", "localhost"])
  const framed = fields.some(([name]) => /^(content-length|transfer-encoding)$/i.test(name))
  if (payload !== undefined && !framed) fields.push(["Content-Length", String(payload.length)])
  const head = `${method} ${path} ${version}\r\n${fields.map(([n, v]) => `${n}: ${v}\r\n`).join("")}\r\n`
  return payload === undefined ? Buffer.from(head, "latin1") : Buffer.concat([Buffer.from(head, "latin1"), payload])
}
