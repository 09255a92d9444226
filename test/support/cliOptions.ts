/**
 * Command-line options as the parser produces them, all at their defaults but the ones a test sets.
 */
import * as Option from "effect/Option"
import type * as Cli from "../../src/Cli.js"

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
