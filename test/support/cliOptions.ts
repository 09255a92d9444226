/**
 * Command-line options as the parser produces them, all at their defaults but the ones a test sets.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Cli from "../../src/Cli.js"

/** `RawOptions` with every flag at its default (port 8000), overridden by `overrides`. */
export const rawOptions = (overrides: Partial<Cli.RawOptions> = {}): Cli.RawOptions => ({
  port: 8000,
  bind: Option.none(),
  directory: Option.none(),
  cgi: false,
  protocol: "HTTP/1.0",
  tlsCert: Option.none(),
  tlsKey: Option.none(),
  tlsPasswordFile: Option.none(),
  indexPage: [],
  header: [],
  colorScheme: false,
  cors: false,
  cacheControl: Option.none(),
  noDotfiles: false,
  noFollowSymlinks: false,
  jsonListing: false,
  spa: Option.none(),
  basicAuth: [],
  basicAuthInsecure: false,
  precompressed: false,
  upload: false,
  uploadMaxBytes: Option.none(),
  ...overrides
})

/** Runs the command line in this process and returns what it printed (help, version, completions). */
export const cliOutput = (...args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const lines: Array<string> = []
    const console = yield* Effect.console
    const collecting = {
      ...console,
      unsafe: { ...console.unsafe, log: (...items: ReadonlyArray<unknown>) => void lines.push(items.join(" ")) }
    }
    yield* Cli.run(["node", "effect-httpd", ...args]).pipe(Effect.withConsole(collecting), Effect.provide(NodeContext.layer))
    return lines.join("\n")
  })
