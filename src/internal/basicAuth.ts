/**
 * HTTP Basic authentication (RFC 7617) over any `HandlerMap`: every handler, and the `Expect: 100-continue` hook (so
 * an unauthenticated client is refused before it sends a body), first checks `Authorization`.
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { createHash, timingSafeEqual } from "node:crypto"
import type { Handler, HandlerMap } from "../Handler.js"
import { HttpError } from "../HttpError.js"
import type { Request } from "../Request.js"

/** One accepted user name and password. */
export interface Credentials {
  readonly user: string
  readonly password: string
}

/** The challenge of every 401: the realm, and UTF-8 as the encoding the credentials are decoded with (RFC 7617 §2.1). */
export const CHALLENGE = "Basic realm=\"effect-httpd\", charset=\"UTF-8\""

// An Exit, not Effect.fail (which captures a span through a fiber): answered without one.
const unauthorized = Exit.fail(new HttpError({ status: 401, headers: [["WWW-Authenticate", CHALLENGE]] }))

// Digests first, so the comparison takes the same time whatever the lengths (timingSafeEqual needs equal lengths).
const digest = (text: string): Buffer => createHash("sha256").update(text, "utf8").digest()

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/
const strictUtf8 = new TextDecoder("utf-8", { fatal: true })

/**
 * `user-id:password` from an `Authorization` value, or `undefined` when it is not Basic, not canonical base64, not
 * UTF-8, or has no colon. The user name ends at the first colon (RFC 7617: it cannot contain one); the password may
 * contain colons.
 */
export const decodeBasic = (authorization: string): Credentials | undefined => {
  const match = /^basic[ \t]+([^ \t]+)[ \t]*$/i.exec(authorization)
  if (match === null) return undefined
  const token = match[1]!
  if (token.length % 4 !== 0 || !BASE64.test(token)) return undefined
  let text: string
  try {
    text = strictUtf8.decode(Buffer.from(token, "base64"))
  } catch {
    return undefined
  }
  const colon = text.indexOf(":")
  return colon < 0 ? undefined : { user: text.slice(0, colon), password: text.slice(colon + 1) }
}

/** Why a user name or password cannot be used, or `undefined` (RFC 7617: no control characters, no colon in names). */
export const credentialsProblem = ({ password, user }: Credentials): string | undefined => {
  if (user === "") return "empty user name"
  if (user.includes(":")) return "user name contains ':'"
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(user + password)) return "contains a control character"
  return undefined
}

/**
 * The check of an `Authorization` value against the accepted credentials: every entry is compared, user and
 * password both, without stopping at the first match, in constant time over SHA-256 digests.
 */
export const makeCheck = (accepted: ReadonlyArray<Credentials>): (authorization: string | undefined) => boolean => {
  const digests = accepted.map(({ password, user }) => ({ user: digest(user), password: digest(password) }))
  return (authorization) => {
    if (authorization === undefined) return false
    const given = decodeBasic(authorization)
    if (given === undefined) return false
    const user = digest(given.user)
    const password = digest(given.password)
    let ok = 0
    for (const entry of digests) {
      // Bitwise: both comparisons always run.
      ok |= Number(timingSafeEqual(entry.user, user)) & Number(timingSafeEqual(entry.password, password))
    }
    return ok === 1
  }
}

const ambiguous = Exit.fail(new HttpError({ status: 400, message: "Repeated Authorization field" }))

/**
 * A CORS preflight (`OPTIONS` with `Access-Control-Request-Method`): browsers never send credentials with it
 * (Fetch standard, CORS-preflight fetch), so requiring them would make every cross-origin request with
 * `Authorization` fail. It only states the methods and headers; the actual request still needs the credentials.
 */
export const isPreflight = (method: string, header: (name: string) => string | undefined): boolean =>
  method === "OPTIONS" && header("access-control-request-method") !== undefined

/**
 * Why a request may not pass, or `undefined`: two `Authorization` fields are ambiguous credentials (which one a
 * proxy or a CGI script reads is anyone's guess): 400; wrong or missing ones: 401; a preflight passes.
 */
export const refusal = (
  check: (authorization: string | undefined) => boolean,
  method: string,
  values: ReadonlyArray<string>,
  header: (name: string) => string | undefined
): Effect.Effect<never, HttpError> | undefined => {
  if (values.length > 1) return ambiguous
  if (isPreflight(method, header)) return undefined
  return check(values[0]) ? undefined : unauthorized
}

/** `map` with every handler and the `Expect: 100-continue` hook behind the credentials. */
export const protect = (map: HandlerMap, accepted: ReadonlyArray<Credentials>): HandlerMap => {
  const check = makeCheck(accepted)
  const refused = (request: Request) =>
    refusal(check, request.method, request.headers.getAll("authorization"), (name) => request.headers.get(name))
  const byMethod = new Map<string, Handler>()
  for (const [method, handler] of map.byMethod) {
    byMethod.set(method, (request) => refused(request) ?? handler(request))
  }
  const inner = map.expectContinue
  return {
    byMethod,
    expectContinue: (request) =>
      refused(request) ?? (inner === undefined ? Effect.succeed("continue" as const) : inner(request))
  }
}

/** The option's value as a list, or why it cannot be used. */
export const credentialsList = (
  value: Credentials | ReadonlyArray<Credentials>
): ReadonlyArray<Credentials> | string => {
  const list: ReadonlyArray<Credentials> = "user" in value ? [value as Credentials] : value as ReadonlyArray<Credentials>
  if (list.length === 0) return "no credentials"
  for (const entry of list) {
    const problem = credentialsProblem(entry)
    if (problem !== undefined) return problem
  }
  return list.map(({ password, user }) => ({ user, password }))
}
