/**
 * Python's `socket.getfqdn`, for `SERVER_NAME`.
 */
import * as Effect from "effect/Effect"
import * as Dns from "node:dns"
import * as Os from "node:os"
import * as Net from "node:net"

const reverse = (address: string): Effect.Effect<string | undefined> =>
  Effect.async<string | undefined>((resume) => {
    Dns.lookupService(address, 0, (error, hostname) => resume(Effect.succeed(error ? undefined : hostname)))
  })

const forward = (name: string): Effect.Effect<string | undefined> =>
  Effect.async<string | undefined>((resume) => {
    Dns.lookup(name, (error, address) => resume(Effect.succeed(error ? undefined : address)))
  })

/**
 * `getfqdn(name)`: the wildcard addresses mean this host's name; otherwise the name `gethostbyaddr` gives, or `name`
 * itself when the lookup fails. `getnameinfo` (what Node offers) returns the primary name only, so unlike Python an
 * alias containing a dot is never preferred to a primary name without one. A slow resolver is given two seconds.
 */
export const getfqdn = (name: string): Effect.Effect<string> => {
  let target = name.trim()
  if (target === "" || target === "0.0.0.0" || target === "::") target = Os.hostname()
  const lookup = Net.isIP(target) !== 0
    ? reverse(target)
    : Effect.flatMap(forward(target), (address) => (address === undefined ? Effect.succeed(undefined) : reverse(address)))
  return lookup.pipe(
    Effect.timeout("2 seconds"),
    Effect.map((found) => found ?? target),
    Effect.orElseSucceed(() => target)
  )
}
