/**
 * Serving a validated command line: in this process, or as the primary or a worker of a `--workers` cluster.
 */
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Tls from "node:tls"
import * as AccessLog from "../AccessLog.js"
import * as Cgi from "../Cgi.js"
import type { CliConfig } from "../Cli.js"
import * as Cluster from "../Cluster.js"
import { MimeTypes } from "../MimeTypes.js"
import * as Server from "../Server.js"
import * as StaticFiles from "../StaticFiles.js"
import { banner, CliError, NAME, serveErrorMessage, startup, stopMessage, usage } from "./cliMessages.js"
import { trackStopSignal } from "./cliRuntime.js"
import { loadTls } from "./cliTls.js"
import * as Stdio from "./cliStdio.js"
import { checkDirectory } from "./cliValidate.js"
import { printable } from "./extras.js"
import { makeLineAtomicLog } from "./lineLog.js"
import { fallbackFileProblem } from "./spa.js"

export const SHUTDOWN_GRACE = "2 seconds"

/** The server options a connection gets, listening or on standard input and output. */
const connectionOptions = (config: CliConfig): Server.ServerOptions => ({
  protocolVersion: config.protocol,
  ...(config.allowedHosts.length > 0 ? { allowedHosts: config.allowedHosts } : {}),
  ...(config.keepAliveOnError ? { keepAliveOnError: true } : {}),
  ...(config.colorScheme ? { errorMessageFormat: StaticFiles.COLOR_SCHEME_ERROR_MESSAGE } : {})
})

const listen = (config: CliConfig, tls: Option.Option<Tls.TlsOptions>) => {
  const start = (host: string) =>
    Server.make({
      ...connectionOptions(config),
      host,
      port: config.port,
      shutdownTimeout: SHUTDOWN_GRACE,
      ...(config.maxConnections !== undefined ? { maxConnections: config.maxConnections } : {}),
      ...(Option.isSome(tls) ? { tls: tls.value } : {})
    }).pipe(Effect.mapError((error) => ({ error, host })))
  const all = Option.match(config.bind, {
    onSome: start,
    // Python binds to the first address getaddrinfo offers; we choose dual-stack when this machine has IPv6.
    onNone: () =>
      Effect.catchIf(start("::"), ({ error }) => error.reason === "AddressNotAvailable", () => start("0.0.0.0"))
  })
  return Effect.mapError(all, ({ error, host }) => startup(serveErrorMessage(error, host, config.port)))
}

export const staticFilesOptions = (config: CliConfig): StaticFiles.StaticFilesOptions => ({
  directory: config.directory,
  ...(Option.isSome(config.indexPages) ? { indexPages: config.indexPages.value } : {}),
  ...(config.headers.length > 0 ? { headers: config.headers } : {}),
  ...(config.colorScheme ? { colorScheme: true } : {}),
  ...(config.cors ? { cors: true } : {}),
  ...(Option.isSome(config.cacheControl) ? { cacheControl: config.cacheControl.value } : {}),
  ...(config.noDotfiles ? { hideDotfiles: true } : {}),
  ...(config.noFollowSymlinks ? { followSymlinks: false } : {}),
  ...(config.jsonListing ? { jsonListing: true } : {}),
  ...(Option.isSome(config.spa) ? { spaFallback: config.spa.value } : {}),
  // Cgi.make applies it to the scripts too.
  ...(config.basicAuth.length > 0 ? { basicAuth: config.basicAuth } : {}),
  ...(config.precompressed ? { precompressed: true } : {}),
  ...(Option.isSome(config.upload) ? { upload: { maxBytes: config.upload.value } } : {}),
  ...(Option.isSome(config.compress) ? { compress: config.compress.value } : {}),
  ...(config.richListing ? { richListing: true } : {}),
  ...(config.archives ? { archives: true } : {})
})

export const serve = (
  config: CliConfig
): Effect.Effect<void, CliError, FileSystem.FileSystem | Path.Path | CommandExecutor.CommandExecutor> => {
  if (config.stdio === true) return serveStdio(config, connectionOptions(config))
  if (Cluster.isWorker()) return serveWorker(config)
  return config.workers > 1 ? servePrimary(config) : serveHere(config)
}

const handlersFor = (config: CliConfig) => {
  const staticOptions = staticFilesOptions(config)
  return config.cgi
    ? Cgi.layer({
      ...staticOptions,
      protocolVersion: config.protocol,
      ...(config.cgiMaxProcesses === undefined ? {} : { maxProcesses: config.cgiMaxProcesses }),
      ...(config.cgiTimeout === undefined ? {} : { timeout: Duration.seconds(config.cgiTimeout) })
    })
    : StaticFiles.layer(staticOptions)
}

// What the file system must allow before serving: the directory, and the --spa page inside it.
const checkFiles = (config: CliConfig) =>
  Effect.gen(function*() {
    yield* checkDirectory(config.directory)
    if (Option.isSome(config.spa)) {
      const problem = fallbackFileProblem(config.directory, config.spa.value)
      if (problem !== undefined) {
        return yield* Effect.fail(usage(`argument --spa: '${printable(config.spa.value)}' ${problem}`))
      }
    }
  })

const serveHere = (config: CliConfig) =>
  Effect.scoped(Effect.gen(function*() {
    yield* checkFiles(config)
    const tls = yield* Effect.transposeOption(Option.map(config.tls, loadTls))
    const services = yield* Layer.build(
      Layer.merge(Layer.provide(handlersFor(config), MimeTypes.layer()), AccessLog.layerStderr)
    )
    const signal = yield* trackStopSignal
    const server = yield* Effect.provide(listen(config, tls), services)
    yield* Console.log(banner({ hostname: server.address.hostname, port: server.address.port, secure: server.secure }))
    return yield* Effect.never.pipe(Effect.onInterrupt(() => Console.log(stopMessage(signal()))))
  }))

const serveStdio = (config: CliConfig, options: Server.ServerOptions) =>
  Effect.scoped(Effect.gen(function*() {
    yield* checkFiles(config)
    const services = yield* Layer.build(
      Layer.merge(Layer.provide(handlersFor(config), MimeTypes.layer()), AccessLog.layerStderr)
    )
    yield* Effect.provide(Stdio.serve(options), services)
  }))

// Access lines of all workers share standard error: each write holds whole lines (see internal/lineLog.ts).
const workerAccessLog = Layer.scoped(
  AccessLog.AccessLog,
  Effect.acquireRelease(Effect.sync(() => makeLineAtomicLog(process.stderr)), (log) => Effect.sync(log.flush))
)

// A worker: the primary checked the configuration, prints the banner and the farewell line.
const serveWorker = (config: CliConfig) =>
  Cluster.run(
    Effect.scoped(Effect.gen(function*() {
      const tls = yield* Effect.transposeOption(Option.map(config.tls, loadTls))
      const services = yield* Layer.build(
        Layer.merge(Layer.provide(handlersFor(config), MimeTypes.layer()), workerAccessLog)
      )
      yield* Effect.provide(listen(config, tls), services)
      return yield* Effect.never
    })),
    { workers: config.workers }
  ).pipe(Effect.catchTag("ClusterError", (error) => Effect.fail(startup(error.message))))

export const WORKER_SEMI_SPACE_MB = 4

const workerExecArgv = (): ReadonlyArray<string> => {
  const given = [...process.execArgv, process.env["NODE_OPTIONS"] ?? ""].join(" ")
  return /--max[-_]semi[-_]space[-_]size/.test(given)
    ? process.execArgv
    : [...process.execArgv, `--max-semi-space-size=${WORKER_SEMI_SPACE_MB}`]
}

// The primary: checks what a worker would refuse (so an error is printed once), then supervises the workers.
const servePrimary = (config: CliConfig) =>
  Effect.scoped(Effect.gen(function*() {
    yield* checkFiles(config)
    yield* Effect.transposeOption(Option.map(config.tls, loadTls))
    const signal = yield* trackStopSignal
    yield* Cluster.run(Effect.void, {
      workers: config.workers,
      execArgv: workerExecArgv(),
      onListening: (address) =>
        Console.log(banner({ hostname: address.hostname, port: address.port, secure: Option.isSome(config.tls) })),
      onWorkerDied: (exit) =>
        Console.error(
          `${NAME}: worker ${exit.pid} ${Cluster.describeExit(exit)}; ${exit.remaining} still serving` +
            (exit.restartIn === undefined ? "" : `; restarting it in ${exit.restartIn} ms`)
        ),
      onWorkerRestarted: (pid, replaced) => Console.error(`${NAME}: worker ${pid} started in place of ${replaced}`),
      onStop: Effect.suspend(() => Console.log(stopMessage(signal())))
    }).pipe(
      Effect.catchTag("ClusterError", (error) =>
        // A worker that failed to start with a status printed its own error line: exit with that status, silently.
        Effect.fail(
          error.reason === "StartFailed" && error.signal === null
            ? new CliError({ kind: error.exitCode === 2 ? "Usage" : "Startup", message: "", silent: true })
            : startup(error.reason === "StartFailed" ? error.message : `${error.message}: no worker left`)
        ))
    )
  }))
