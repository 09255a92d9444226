/**
 * The settings, handlers, log and runtime that every connection of a server shares, resolved once.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Runtime from "effect/Runtime"
import { AccessLog } from "../AccessLog.js"
import { Handlers } from "../Handler.js"
import type { ServerOptions } from "../Server.js"
import type { Engine } from "./connection.js"
import { DEFAULT_ERROR_CONTENT_TYPE, DEFAULT_ERROR_MESSAGE, headConfigProblem } from "./wire.js"

/** This package's version (the `Server` header's first word). */
export const ENGINE_VERSION = "0.1.0"

/**
 * Bytes a second a request body must average, after the body timeout's grace: Apache's `mod_reqtimeout` default
 * (`MinRate=500`). A 100 MiB upload may then take 58 hours; one byte a minute is closed after the grace.
 */
export const DEFAULT_BODY_MIN_RATE = 500

/** A duration option in milliseconds, or the default. */
export const millis = (input: Duration.DurationInput | undefined, fallback: number): number =>
  input === undefined ? fallback : Duration.toMillis(Duration.decode(input))

/**
 * Resolves the options into what every connection shares: handlers, log, runtime and settings.
 *
 */
export const makeEngine = (
  options: ServerOptions,
  secure: boolean
): Effect.Effect<Engine, never, Handlers | AccessLog> =>
  Effect.gen(function*() {
    const handlers = yield* Handlers
    const log = yield* AccessLog
    const runtime = yield* Effect.runtime<never>()
    const protocolVersion = options.protocolVersion ?? "HTTP/1.0"
    const versionString = `${options.serverVersion ?? `effect-httpd/${ENGINE_VERSION}`} ${
      options.sysVersion ?? `Node.js/${process.versions.node}`
    }`
    const errorContentType = options.errorContentType ?? DEFAULT_ERROR_CONTENT_TYPE
    // The server's own head text is checked once here, so the per-response encoder need not check it again.
    const problem = headConfigProblem({ protocolVersion, versionString, errorContentType })
    if (problem !== undefined) return yield* Effect.dieMessage(`invalid server option: ${problem}`)
    return {
      protocolVersion,
      protocol11: protocolVersion >= "HTTP/1.1",
      versionString,
      errorMessageFormat: options.errorMessageFormat ?? DEFAULT_ERROR_MESSAGE,
      errorContentType,
      limits: options.limits ?? {},
      idleTimeoutMs: millis(options.idleTimeout, 120_000),
      writeTimeoutMs: millis(options.writeTimeout, 60_000),
      headerTimeoutMs: millis(options.headerTimeout, 30_000),
      bodyTimeoutMs: millis(options.bodyTimeout, millis(options.idleTimeout, 120_000)),
      bodyMinRate: options.bodyMinRate ?? DEFAULT_BODY_MIN_RATE,
      maxDrainBytes: options.maxDrainBytes ?? 64 * 1024,
      keepAliveOnError: options.keepAliveOnError ?? false,
      handlers,
      log,
      runFork: Runtime.runFork(runtime),
      secure,
      // Known once the listener has an address (Server.make sets it).
      hostPolicy: undefined,
      // Tracked only under a connection cap (Server.make sets it).
      idle: undefined
    }
  })

