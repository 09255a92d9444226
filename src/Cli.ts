/**
 * The command line: `python -m http.server` (3.11, plus the TLS options of 3.14) as `effect-httpd`, built with
 * `@effect/cli`.
 *
 * The executable's module, not part of the package's exports: `bin/effect-httpd.js` runs it from one bundle with its
 * own copy of `@effect/cli`, so a library user needs neither this module nor `@effect/cli` (see package.json).
 *
 * @since 0.1.0
 */
import * as CliConfigService from "@effect/cli/CliConfig"
import * as Command from "@effect/cli/Command"
import * as ValidationError from "@effect/cli/ValidationError"
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import type * as Terminal from "@effect/platform/Terminal"
import * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type { HeaderField } from "./Headers.js"
import type { Credentials } from "./internal/basicAuth.js"
import { readArguments } from "./internal/cliArgv.js"
import * as commandLine from "./internal/cliCommand.js"
import { headerArgumentsProblem } from "./internal/cliHeader.js"
import * as messages from "./internal/cliMessages.js"
import { makeConsole, stdoutColors } from "./internal/cliRuntime.js"
import * as serving from "./internal/cliServe.js"
import * as tls from "./internal/cliTls.js"
import * as validation from "./internal/cliValidate.js"

/**
 * The program's name, in help, usage errors and completions.
 *
 * @since 0.1.0
 */
export const NAME = messages.NAME

/**
 * The default port, as Python's.
 *
 * @since 0.1.0
 */
export const DEFAULT_PORT = commandLine.DEFAULT_PORT

/**
 * How long requests in flight may finish after Ctrl-C or SIGTERM before they are cut off. Python's command line
 * exits at once and drops them (its threads are daemons); a short grace lets ordinary responses complete without
 * holding Ctrl-C hostage to a stalled download.
 *
 * @since 0.1.0
 */
export const SHUTDOWN_GRACE = serving.SHUTDOWN_GRACE

/**
 * HTTPS settings: file names as given on the command line, as Python's `sys.argv` holds them (a byte that is not
 * UTF-8 as a surrogate escape, U+DC80–U+DCFF; read by those bytes).
 *
 * @since 0.1.0
 */
export interface TlsFiles {
  readonly certFile: string
  /** Default: the key is in the certificate file (Python's `keyfile=None`). */
  readonly keyFile: Option.Option<string>
  readonly passwordFile: Option.Option<string>
}

/**
 * The validated command line.
 *
 * @since 0.1.0
 */
export interface CliConfig {
  readonly port: number
  /** `None`: every interface (dual-stack `::` where IPv6 exists, else `0.0.0.0`). */
  readonly bind: Option.Option<string>
  /** `--allowed-host`: names a loopback-bound server answers besides loopback ones (DNS-rebinding defence). */
  readonly allowedHosts: ReadonlyArray<string>
  /** Absolute path of the directory served. */
  readonly directory: string
  readonly cgi: boolean
  /** `--cgi-max-processes`: scripts running at once (absent: `Cgi`'s default). */
  readonly cgiMaxProcesses?: number | undefined
  /** `--cgi-timeout`, in seconds (absent: `Cgi`'s default). */
  readonly cgiTimeout?: number | undefined
  readonly protocol: "HTTP/1.0" | "HTTP/1.1"
  readonly tls: Option.Option<TlsFiles>
  /** `--index-page`: replaces the default list when given. */
  readonly indexPages: Option.Option<ReadonlyArray<string>>
  /** `-H/--header`, validated. */
  readonly headers: ReadonlyArray<HeaderField>
  /** `--color-scheme`: Python 3.14's dark-mode style on listings and error pages. */
  readonly colorScheme: boolean
  /** `--cors`: any origin may read, preflight `OPTIONS` answered. */
  readonly cors: boolean
  /** `--cache-control`, validated. */
  readonly cacheControl: Option.Option<string>
  /** `--no-dotfiles`. */
  readonly noDotfiles: boolean
  /** `--no-follow-symlinks`. */
  readonly noFollowSymlinks: boolean
  /** `--json-listing`. */
  readonly jsonListing: boolean
  /** `--spa`: the page answering missing extension-less paths asked for as HTML, relative to the directory. */
  readonly spa: Option.Option<string>
  /** `--basic-auth`, parsed (empty: no authentication). */
  readonly basicAuth: ReadonlyArray<Credentials>
  /** `--workers`: processes serving the port; 1 serves in this process. */
  readonly workers: number
  /** `--max-connections`: connections served at once (absent: the server's default). */
  readonly maxConnections?: number
  /** `--precompressed`: `.br` / `.gz` siblings sent to clients that accept them. */
  readonly precompressed: boolean
  /** `--upload`: `PUT` stores files, bodies up to this many bytes (`None`: no uploads). */
  readonly upload: Option.Option<number>
  /** `--compress`: on-the-fly gzip / brotli of files from `minBytes` to `maxBytes` (`None`: off). */
  readonly compress: Option.Option<{ readonly minBytes: number; readonly maxBytes: number }>
  /** `--rich-listing`: listings as a sortable table with sizes and times. */
  readonly richListing: boolean
  /** `--archives`: `?download=tar.gz|zip` sends a directory as an archive. */
  readonly archives: boolean
  /** `--keep-alive-on-error`: a 404 or other handler error leaves a keep-alive connection open. */
  readonly keepAliveOnError: boolean
  /** `--stdio`: serve one connection on standard input and output instead of listening. */
  readonly stdio?: boolean
}

/**
 * A failure of the command line, with the message printed (one line) and the exit status: 2 for a usage error
 * (as argparse), 1 for a failure to start.
 *
 * @since 0.1.0
 */
export const CliError = messages.CliError

/**
 * A {@link CliError} value.
 *
 * @since 0.1.0
 */
export type CliError = messages.CliError

/**
 * `[::1]` for an IPv6 literal, the host unchanged otherwise (Python's `url_host`).
 *
 * @since 0.1.0
 */
export const urlHost = messages.urlHost

/**
 * Python's start-up line, e.g. `Serving HTTP on :: port 8000 (http://[::]:8000/) ...`; `Serving HTTPS on …` with
 * an `https://` URL when `secure` (Python 3.14).
 *
 * @since 0.1.0
 */
export const banner = messages.banner

/**
 * What is printed on standard output when a stop signal arrives, before the server closes. Ctrl-C prints Python's
 * line; SIGTERM, which Python does not handle, says what it is.
 *
 * @since 0.1.0
 */
export const stopMessage = messages.stopMessage

/**
 * The line printed on standard error for a failure, argparse-style: `effect-httpd: error: …`.
 *
 * @since 0.1.0
 */
export const errorLine = messages.errorLine

/**
 * A `--bind` value as an address to listen on: an IP address (brackets around an IPv6 literal are accepted and
 * dropped) or a host name.
 *
 * @since 0.1.0
 */
export const parseBind = messages.parseBind

/**
 * A port number: an integer from 0 (any free port) to 65535.
 *
 * @since 0.1.0
 */
export const isValidPort = messages.isValidPort

/**
 * Whether a bind address is this machine only: `localhost`, 127.0.0.0/8, `::1` (or 127.x mapped into IPv6).
 *
 * @since 0.1.0
 */
export const isLoopback = messages.isLoopback

/**
 * The message for a listener that could not start.
 *
 * @since 0.1.0
 */
export const serveErrorMessage = messages.serveErrorMessage

/**
 * Why a file could not be read, in a few words.
 *
 * @since 0.1.0
 */
export const fileErrorReason = messages.fileErrorReason

/**
 * The message for TLS material Node refused (`tls.createSecureContext`'s error).
 *
 * @since 0.1.0
 */
export const tlsErrorMessage = tls.tlsErrorMessage

/**
 * The exit status for the end of a run: 0 for success or a stop signal, the error's status for a `CliError`,
 * 1 for anything else.
 *
 * @since 0.1.0
 */
export const exitCode = messages.exitCode

/**
 * A `teardown` for `NodeRuntime.runMain` that exits with {@link exitCode}.
 *
 * @since 0.1.0
 */
export const teardown = messages.teardown

/**
 * Prints a failure as one line on standard error.
 *
 * @since 0.1.0
 */
export const report = messages.report

/**
 * The most `--cgi-max-processes` accepted: more scripts at once than a machine has processes for is a typo.
 *
 * @since 0.1.0
 */
export const MAX_CGI_PROCESSES = validation.MAX_CGI_PROCESSES

/**
 * The most `--workers` accepted: a guard against a typo forking thousands of processes.
 *
 * @since 0.1.0
 */
export const MAX_WORKERS = validation.MAX_WORKERS

/**
 * The command line as `@effect/cli` parses it, before validation.
 *
 * @since 0.1.0
 */
export interface RawOptions {
  readonly port: number
  /** Whether the port was on the command line (`--stdio` refuses one). Default false. */
  readonly portGiven?: boolean
  readonly bind: Option.Option<string>
  /** Default none. */
  readonly allowedHost?: ReadonlyArray<string>
  readonly directory: Option.Option<string>
  readonly cgi: boolean
  /** Default none. */
  readonly cgiMaxProcesses?: Option.Option<string>
  /** Default none. */
  readonly cgiTimeout?: Option.Option<string>
  readonly protocol: "HTTP/1.0" | "HTTP/1.1"
  readonly tlsCert: Option.Option<string>
  readonly tlsKey: Option.Option<string>
  readonly tlsPasswordFile: Option.Option<string>
  readonly indexPage: ReadonlyArray<string>
  readonly header: ReadonlyArray<string>
  readonly colorScheme: boolean
  readonly cors: boolean
  readonly cacheControl: Option.Option<string>
  readonly noDotfiles: boolean
  readonly noFollowSymlinks: boolean
  readonly jsonListing: boolean
  readonly spa: Option.Option<string>
  readonly basicAuth: ReadonlyArray<string>
  readonly basicAuthInsecure: boolean
  /** Default 1. */
  readonly workers?: number
  /** Default none (the server's default). */
  readonly maxConnections?: Option.Option<number>
  readonly precompressed: boolean
  readonly upload: boolean
  readonly uploadMaxBytes: Option.Option<number>
  /** Default false. */
  readonly compress?: boolean
  /** Default none. */
  readonly compressMinBytes?: Option.Option<number>
  /** Default none. */
  readonly compressMaxBytes?: Option.Option<number>
  /** Default false. */
  readonly richListing?: boolean
  /** Default false. */
  readonly archives?: boolean
  /** Default false. */
  readonly keepAliveOnError?: boolean
  /** Default false. */
  readonly stdio?: boolean
}

/**
 * The checks that need no file system: port range, bind address, TLS options that need `--tls-cert` (Python 3.14's
 * own checks). The directory is made absolute against `cwd`.
 *
 * @since 0.1.0
 */
export const validate = validation.validate

/**
 * The served directory must exist, be a directory and be readable (Python would start and answer every request
 * with an error).
 *
 * @since 0.1.0
 */
export const checkDirectory = validation.checkDirectory

/**
 * Reads the certificate, key and password files and checks them with Node's TLS, so that a bad file is a clear
 * message before the server starts. Unreadable files are usage errors (Python 3.14 treats an unreadable password
 * file so); material Node refuses (wrong password, key not matching) is a start-up failure.
 *
 * @since 0.1.0
 */
export const loadTls = tls.loadTls

/**
 * The static-file handler's options for a validated command line (also used for the files `--cgi` serves).
 *
 * @since 0.1.0
 */
export const staticFilesOptions = serving.staticFilesOptions

/**
 * Serves a validated configuration until interrupted (Ctrl-C, SIGTERM): prints the banner on standard output,
 * access lines on standard error, and on a stop signal Python's farewell line; then the server's scope closes
 * (no new connection is served, requests in flight finish or are cut off after {@link SHUTDOWN_GRACE}, the listener
 * closes). The exit status is then 0.
 *
 * With `--workers N` (N > 1) this process is the cluster's primary: it checks the configuration, forks N workers
 * that each run this command line and serve the same port (see `Cluster.run`), prints the banner once all listen,
 * and on a stop signal prints the farewell line and waits for every worker to stop gracefully. Access lines come
 * from the workers, whole lines per write. In a worker, `serve` serves silently.
 *
 * @since 0.1.0
 */
export const serve = serving.serve

/**
 * The young generation's cap (`--max-semi-space-size`, MiB) given to `--workers` processes unless the user set
 * one (in `NODE_OPTIONS` or node's own options). V8's default lets each semi-space grow to 16 MiB under load: peak
 * RSS 115 MiB instead of 92 on 1 KiB and 64 KiB keep-alive loads, at equal CPU time per request (scripts/README.md).
 * A single process cannot set it for itself (`v8.setFlagsFromString` after start-up does not bound the heap): `npm start`
 * passes it on node's command line (workers then inherit it through `execArgv`), `NODE_OPTIONS` does elsewhere.
 *
 * @since 0.1.0
 */
export const WORKER_SEMI_SPACE_MB = serving.WORKER_SEMI_SPACE_MB

/**
 * The `effect-httpd` command: parses and validates the options, then {@link serve}s.
 *
 * @since 0.1.0
 */
export const command = commandLine.makeCommand(serve)

/**
 * A usage error from @effect/cli as one line, naming the argument as argparse does where @effect/cli does not
 * (the port is the only integer argument, the protocol the only choice; paths show which option they are).
 *
 * @since 0.1.0
 */
export const validationMessage = messages.validationMessage

/**
 * The arguments after the script as Python's `argparse` reads them, in the spelling @effect/cli parses: attached
 * short values split off (`-d/srv`, `-d=/srv`), `--name=value` split, long options shortened to an unambiguous
 * prefix expanded (`--dir`; a prefix ambiguous here but not among Python's options means Python's), and a flag
 * without a value as `--flag=true` (argparse's `--cgi` takes no value, but @effect/cli lets a boolean flag consume
 * a following `0`, `1`, `yes`, `off`…: `effect-httpd --cgi 0` would mean "no CGI, port 8000" instead of "CGI on any
 * free port"). Nothing after `--` or in the place of an option's value is rewritten.
 *
 * @since 0.1.0
 */
export const normalizeArgs = commandLine.normalizeArgs

/**
 * Runs the command line (`argv` as `process.argv`: runtime and script first). Help, version and completions print
 * on standard output (plain text unless it is a terminal); a failure is a `CliError` (not printed yet, see
 * {@link report}); a stop signal interrupts it after the server closed.
 *
 * @since 0.1.0
 */
export const run = (
  argv: ReadonlyArray<string>
): Effect.Effect<
  void,
  CliError,
  FileSystem.FileSystem | Path.Path | Terminal.Terminal | CommandExecutor.CommandExecutor
> => {
  const { ambiguous, args } = readArguments(argv.slice(2))
  if (ambiguous !== undefined) return Effect.fail(messages.usage(ambiguous))
  // Before the parser, which trims the values: checked as typed (the rewriting only splits arguments).
  const refused = headerArgumentsProblem(args)
  if (refused !== undefined) return Effect.fail(messages.usage(`argument -H/--header: ${refused}`))
  return Effect.flatMap(Effect.console, (original) =>
    Command.run(commandLine.makeCommand((config) => Effect.withConsole(serve(config), original)), commandLine.appInfo)([
      ...argv.slice(0, 2),
      ...args
    ]).pipe(
      // @effect/cli prints usage errors itself, as multi-line ANSI text: we print our own line instead.
      Effect.withConsole(makeConsole(original, { colors: stdoutColors(), dropErrors: true })),
      Effect.catchAll((error): Effect.Effect<never, CliError> =>
        Effect.fail(ValidationError.isValidationError(error) ? messages.usage(validationMessage(error)) : error)
      ),
      Effect.catchAllDefect((defect) => Effect.fail(messages.startup(`internal error: ${String(defect)}`))),
      Effect.provide(CliConfigService.layer({ isCaseSensitive: true }))
    ))
}
