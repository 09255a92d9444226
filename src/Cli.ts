/**
 * The command line: `python -m http.server` (3.11, plus the TLS options of 3.14) as `effect-httpd`, built with
 * `@effect/cli`.
 *
 * The executable's module, not part of the package's exports: `bin/effect-httpd.js` runs it from one bundle with its
 * own copy of `@effect/cli`, so a library user needs neither this module nor `@effect/cli` (see package.json).
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import * as CliConfigService from "@effect/cli/CliConfig"
import * as Command from "@effect/cli/Command"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import type * as PlatformError from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import type * as Terminal from "@effect/platform/Terminal"
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Net from "node:net"
import * as Tls from "node:tls"
import * as AccessLog from "./AccessLog.js"
import * as Cgi from "./Cgi.js"
import * as Cluster from "./Cluster.js"
import type { HeaderField } from "./Headers.js"
import { makeConsole, stdoutColors, stripAnsi, trackStopSignal } from "./internal/cliRuntime.js"
import { DEFAULT_MAX_BYTES, DEFAULT_MIN_BYTES } from "./internal/compress.js"
import { headerArgumentsProblem } from "./internal/cliHeader.js"
import { fieldValueProblem, hasDotName, parseHeaderLine, printable } from "./internal/extras.js"
import { type Credentials, credentialsProblem } from "./internal/basicAuth.js"
import { fallbackFileProblem, fallbackNameProblem } from "./internal/spa.js"
import { isLoopbackAddress, isValidHost } from "./internal/hostCheck.js"
import { makeLineAtomicLog } from "./internal/lineLog.js"
import { MimeTypes } from "./MimeTypes.js"
import * as Server from "./Server.js"
import * as StaticFiles from "./StaticFiles.js"

/**
 * The program's name, in help, usage errors and completions.
 *
 * @since 0.1.0
 */
export const NAME = "effect-httpd"

/**
 * The default port, as Python's.
 *
 * @since 0.1.0
 */
export const DEFAULT_PORT = 8000

/**
 * How long requests in flight may finish after Ctrl-C or SIGTERM before they are cut off. Python's command line
 * exits at once and drops them (its threads are daemons); a short grace lets ordinary responses complete without
 * holding Ctrl-C hostage to a stalled download.
 *
 * @since 0.1.0
 */
export const SHUTDOWN_GRACE = "2 seconds"

/**
 * HTTPS settings: file names as given on the command line.
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
}

/**
 * A failure of the command line, with the message printed (one line) and the exit status: 2 for a usage error
 * (as argparse), 1 for a failure to start.
 *
 * @since 0.1.0
 */
export class CliError extends Data.TaggedError("CliError")<{
  readonly kind: "Usage" | "Startup"
  readonly message: string
  /** Already reported (by a cluster worker that failed to start): {@link report} prints nothing. */
  readonly silent?: boolean
}> {
  /** The process exit status for this failure. */
  get exitCode(): number {
    return this.kind === "Usage" ? 2 : 1
  }
}

const usage = (message: string) => new CliError({ kind: "Usage", message })
const startup = (message: string) => new CliError({ kind: "Startup", message })

// ---------------------------------------------------------------------------------------------------------------
// Pure parts: banner, addresses, messages
// ---------------------------------------------------------------------------------------------------------------

/**
 * `[::1]` for an IPv6 literal, the host unchanged otherwise (Python's `url_host`).
 *
 * @since 0.1.0
 */
export const urlHost = (host: string): string => (host.includes(":") ? `[${host}]` : host)

/**
 * Python's start-up line, e.g. `Serving HTTP on :: port 8000 (http://[::]:8000/) ...`; `Serving HTTPS on …` with
 * an `https://` URL when `secure` (Python 3.14).
 *
 * @since 0.1.0
 */
export const banner = (
  address: { readonly hostname: string; readonly port: number; readonly secure: boolean }
): string => {
  const protocol = address.secure ? "HTTPS" : "HTTP"
  return `Serving ${protocol} on ${address.hostname} port ${address.port} (${protocol.toLowerCase()}://${
    urlHost(address.hostname)
  }:${address.port}/) ...`
}

/**
 * What is printed on standard output when a stop signal arrives, before the server closes. Ctrl-C prints Python's
 * line; SIGTERM, which Python does not handle, says what it is.
 *
 * @since 0.1.0
 */
export const stopMessage = (signal: NodeJS.Signals | undefined): string =>
  signal === "SIGTERM" ? "\nSIGTERM received, exiting." : "\nKeyboard interrupt received, exiting."

/**
 * The line printed on standard error for a failure, argparse-style: `effect-httpd: error: …`.
 *
 * @since 0.1.0
 */
export const errorLine = (error: CliError): string => `${NAME}: error: ${error.message}`

/**
 * A `--bind` value as an address to listen on: an IP address (brackets around an IPv6 literal are accepted and
 * dropped) or a host name.
 *
 * @since 0.1.0
 */
export const parseBind = (value: string): Either.Either<string, CliError> => {
  const host = value.trim().replace(/^\[(.*)\]$/, "$1")
  if (host === "") return Either.left(usage("argument -b/--bind: empty address"))
  // Caught here rather than sent to the resolver as a host name.
  if (host.includes(":") && !Net.isIPv6(host)) {
    return Either.left(usage(`argument -b/--bind: invalid IPv6 address '${value}'`))
  }
  if (/^[0-9.]+$/.test(host) && !Net.isIPv4(host)) {
    return Either.left(usage(`argument -b/--bind: invalid IPv4 address '${value}'`))
  }
  return Either.right(host)
}

/**
 * A port number: an integer from 0 (any free port) to 65535.
 *
 * @since 0.1.0
 */
export const isValidPort = (port: number): boolean => Number.isInteger(port) && port >= 0 && port <= 65535

/**
 * Whether a bind address is this machine only: `localhost`, 127.0.0.0/8, `::1` (or 127.x mapped into IPv6).
 *
 * @since 0.1.0
 */
export const isLoopback = (host: string): boolean => {
  const lower = host.toLowerCase()
  return lower === "localhost" || isLoopbackAddress(lower)
}

const where = (host: string, port: number) => `${urlHost(host)}:${port}`

/**
 * The message for a listener that could not start.
 *
 * @since 0.1.0
 */
export const serveErrorMessage = (error: Server.ServeError, host: string, port: number): string => {
  switch (error.reason) {
    case "AddressInUse":
      return `cannot listen on ${where(host, port)}: address already in use (try another port, or 0 for a free one)`
    case "PermissionDenied":
      return `cannot listen on ${where(host, port)}: permission denied${
        port > 0 && port < 1024 ? " (ports below 1024 need root or CAP_NET_BIND_SERVICE)" : ""
      }`
    case "AddressNotAvailable": {
      const cause = error.cause as { readonly code?: unknown } | null
      return typeof cause === "object" && cause !== null && cause.code === "ENOTFOUND"
        ? `cannot listen on ${where(host, port)}: unknown host name`
        : `cannot listen on ${where(host, port)}: address not available on this machine`
    }
    case "InvalidTls":
    case "Unknown":
      return error.message
  }
}

/**
 * Why a file could not be read, in a few words.
 *
 * @since 0.1.0
 */
export const fileErrorReason = (error: PlatformError.PlatformError): string => {
  if (error._tag === "SystemError") {
    switch (error.reason) {
      case "NotFound":
        return "no such file"
      case "PermissionDenied":
        return "permission denied"
      case "BadResource":
        return "is a directory or not a regular file"
      default:
        break
    }
  }
  const cause = (error as { readonly cause?: unknown }).cause
  const code = typeof cause === "object" && cause !== null && "code" in cause ? String(cause.code) : undefined
  if (code === "EISDIR") return "is a directory"
  return error.message
}

/**
 * The message for TLS material Node refused (`tls.createSecureContext`'s error).
 *
 * @since 0.1.0
 */
export const tlsErrorMessage = (error: unknown, files: TlsFiles): string => {
  const text = error instanceof Error ? error.message : String(error)
  const code = typeof error === "object" && error !== null && "code" in error ? String(error.code) : ""
  const key = Option.getOrElse(files.keyFile, () => files.certFile)
  if (/bad decrypt|bad password|interrupted or cancelled/i.test(text)) {
    return Option.isSome(files.passwordFile)
      ? `cannot decrypt TLS key '${key}': wrong password`
      : `cannot decrypt TLS key '${key}': it is encrypted, give its password with --tls-password-file`
  }
  if (/key values mismatch/i.test(text)) return `TLS key '${key}' does not match certificate '${files.certFile}'`
  if (code === "ERR_OSSL_PEM_NO_START_LINE" || /no start line|PEM_read_bio|ASN1|DECODER/i.test(text)) {
    return `cannot load TLS certificate '${files.certFile}' and key '${key}': not valid PEM (${text})`
  }
  return `cannot set up TLS with certificate '${files.certFile}' and key '${key}': ${text}`
}

/**
 * The exit status for the end of a run: 0 for success or a stop signal, the error's status for a `CliError`,
 * 1 for anything else.
 *
 * @since 0.1.0
 */
export const exitCode = (exit: Exit.Exit<unknown, unknown>): number => {
  if (Exit.isSuccess(exit) || Cause.isInterruptedOnly(exit.cause)) return 0
  const failure = Cause.failureOption(exit.cause)
  return Option.isSome(failure) && failure.value instanceof CliError ? failure.value.exitCode : 1
}

/**
 * A `teardown` for `NodeRuntime.runMain` that exits with {@link exitCode}.
 *
 * @since 0.1.0
 */
export const teardown = (exit: Exit.Exit<unknown, unknown>, onExit: (code: number) => void): void =>
  onExit(exitCode(exit))

/**
 * Prints a failure as one line on standard error.
 *
 * @since 0.1.0
 */
export const report = (error: CliError): Effect.Effect<void> =>
  error.silent === true ? Effect.void : Console.error(errorLine(error))

// ---------------------------------------------------------------------------------------------------------------
// The command
// ---------------------------------------------------------------------------------------------------------------

const port = Args.integer({ name: "port" }).pipe(
  Args.withDescription(`Port to listen on, 0 for any free port (default: ${DEFAULT_PORT}). Example: 8080`),
  Args.withDefault(DEFAULT_PORT)
)
const bind = Options.text("bind").pipe(
  Options.withAlias("b"),
  Options.withPseudoName("ADDRESS"),
  Options.withDescription(
    "Bind to this address (default: all interfaces, IPv4 and IPv6). Example: --bind 127.0.0.1, -b ::1"
  ),
  Options.optional
)
const allowedHost = Options.text("allowed-host").pipe(
  Options.withPseudoName("NAME"),
  Options.withDescription(
    "Bound to a loopback address (--bind 127.0.0.1, ::1, localhost), the server answers 403 to requests whose Host " +
      "is not localhost, a .localhost name or a loopback address (DNS rebinding defence); repeat to allow more " +
      "names, '*' for any. Example: --bind 127.0.0.1 --allowed-host dev.example"
  ),
  Options.repeated
)
const directory = Options.directory("directory").pipe(
  Options.withAlias("d"),
  Options.withPseudoName("DIR"),
  Options.withDescription("Serve this directory (default: current directory). Example: --directory ./public"),
  Options.optional
)
const cgi = Options.boolean("cgi").pipe(
  Options.withDescription("Run as CGI server: execute scripts under /cgi-bin/ and /htbin/. Example: --cgi")
)
/**
 * The most `--cgi-max-processes` accepted: more scripts at once than a machine has processes for is a typo.
 *
 * @since 0.1.0
 */
export const MAX_CGI_PROCESSES = 4096
// Text, parsed in `validate`: @effect/cli's own integer errors would name the port.
const cgiMaxProcesses = Options.text("cgi-max-processes").pipe(
  Options.withPseudoName("N"),
  Options.withDescription(
    "With --cgi: run at most N scripts at once (default: 64, per worker); further requests wait up to 10 seconds " +
      "for one to end (at most 256 waiting), then answer 503 with Retry-After. Example: --cgi-max-processes 16"
  ),
  Options.optional
)
const cgiTimeout = Options.text("cgi-timeout").pipe(
  Options.withPseudoName("SECONDS"),
  Options.withDescription(
    "With --cgi: kill a script still running after SECONDS (default: 300); its answer is then a 504, or cut off " +
      "if under way. A script whose client has gone may otherwise run this long. Example: --cgi-timeout 30"
  ),
  Options.optional
)
const protocol = Options.choice("protocol", ["HTTP/1.0", "HTTP/1.1"]).pipe(
  Options.withAlias("p"),
  Options.withPseudoName("VERSION"),
  Options.withDescription(
    "Conform to this HTTP version; HTTP/1.1 keeps connections alive (default: HTTP/1.0). Example: -p HTTP/1.1"
  ),
  Options.withDefault("HTTP/1.0" as const)
)
const indexPage = Options.text("index-page").pipe(
  Options.withPseudoName("NAME"),
  Options.withDescription(
    "Serve this file for a directory instead of listing it; repeat to try several in order (replaces the default " +
      "index.html, index.htm). Example: --index-page default.htm --index-page index.html"
  ),
  Options.repeated
)
const header = Options.text("header").pipe(
  Options.withAlias("H"),
  Options.withPseudoName("'NAME: VALUE'"),
  Options.withDescription(
    "Add this header to successful file and listing responses (not to errors or 304), as Python 3.15; " +
      "it replaces the server's header of the same name (e.g. Content-Type); repeatable. " +
      "Example: -H 'X-Frame-Options: DENY'"
  ),
  Options.repeated
)
const colorScheme = Options.boolean("color-scheme").pipe(
  Options.withDescription(
    "Let listings and error pages follow the browser's dark mode (Python 3.14's color-scheme style). " +
      "Example: --color-scheme"
  )
)
const cors = Options.boolean("cors").pipe(
  Options.withDescription(
    "Let scripts of any origin read the files: Access-Control-Allow-Origin: * on every response, and OPTIONS " +
      "preflight requests answered (without it OPTIONS is 501, as in Python). With uploads on, the preflight offers " +
      "PUT only when basic authentication is on too. Example: --cors"
  )
)
const cacheControl = Options.text("cache-control").pipe(
  Options.withPseudoName("VALUE"),
  Options.withDescription(
    "Send this Cache-Control header with files and listings (200, 206 and 304 responses). " +
      "Example: --cache-control 'no-cache'"
  ),
  Options.optional
)
const noDotfiles = Options.boolean("no-dotfiles").pipe(
  Options.withDescription(
    "Hide names starting with '.' at any depth: not listed, and answered 404 (.git, .env...), also when reached " +
      "through a symbolic link (gitlink -> .git). Example: --no-dotfiles"
  )
)
const noFollowSymlinks = Options.boolean("no-follow-symlinks").pipe(
  Options.withDescription(
    "Answer 404 for anything whose real path (symbolic links resolved at request time, and checked again on " +
      "what was opened) is outside the served directory, and leave such links out of listings. " +
      "Example: --no-follow-symlinks"
  )
)
const jsonListing = Options.boolean("json-listing").pipe(
  Options.withDescription(
    "Answer directory listings as JSON ([{name, type, size, mtime}]) to '?format=json' or an Accept header " +
      "preferring application/json; at most 10000 entries (the first by name; X-Listing-Truncated: shown/total " +
      "when cut). Example: --json-listing (then curl -H 'Accept: application/json' URL)"
  )
)
const spa = Options.text("spa").pipe(
  Options.withPseudoName("FILE"),
  Options.withDescription(
    "Single-page application: answer FILE (relative to the directory, must exist inside it) with 200 instead of " +
      "404 for a GET or HEAD of a missing path whose last segment has no extension, from a client whose Accept " +
      "names text/html (browsers' page loads). Missing assets (/app.js) and other clients keep the 404. " +
      "Example: --spa index.html"
  ),
  Options.optional
)
const basicAuth = Options.text("basic-auth").pipe(
  Options.withPseudoName("USER:PASSWORD"),
  Options.withDescription(
    "Require HTTP Basic authentication with this user name and password (split at the first ':'; repeatable for " +
      "several users); every request without them answers 401. Refused on plain HTTP unless bound to loopback " +
      "(use --tls-cert, or --basic-auth-insecure). Other local users can see it in the process list. " +
      "Example: --basic-auth 'alice:s3cret'"
  ),
  Options.repeated
)
const basicAuthInsecure = Options.boolean("basic-auth-insecure").pipe(
  Options.withDescription(
    "Allow --basic-auth over plain HTTP on a non-loopback address (passwords then cross the network in clear). " +
      "Example: --basic-auth-insecure"
  )
)
/**
 * The most `--workers` accepted: a guard against a typo forking thousands of processes.
 *
 * @since 0.1.0
 */
export const MAX_WORKERS = 256

const workers = Options.integer("workers").pipe(
  Options.withPseudoName("N"),
  Options.withDescription(
    "Serve with N processes sharing the port (node:cluster), for N cores; 1 serves in this process (default: 1). " +
      "A worker that crashes is reported and replaced (after 0.1 s, doubling to 10 s while crashes repeat). " +
      "Example: --workers 4"
  ),
  Options.withDefault(1)
)
const maxConnections = Options.integer("max-connections").pipe(
  Options.withPseudoName("N"),
  Options.withDescription(
    `Serve at most N connections at once (per worker; default: ${Server.DEFAULT_MAX_CONNECTIONS}); up to ` +
      `${Server.MAX_WAITING} more wait unread until one closes, and beyond that new connections are closed. ` +
      "Example: --max-connections 256"
  ),
  Options.optional
)
const precompressed = Options.boolean("precompressed").pipe(
  Options.withDescription(
    "Send FILE.br or FILE.gz (when it exists beside FILE) to clients whose Accept-Encoding allows it, with FILE's " +
      "Content-Type, Content-Encoding and Vary: Accept-Encoding; others get FILE. zstd is not supported. " +
      "Example: --precompressed (after: gzip -k app.js; brotli -k app.js)"
  )
)
const upload = Options.boolean("upload").pipe(
  Options.withDescription(
    "Accept PUT /path: the body is written to that file under the directory (atomically: temporary file, then " +
      "rename), 201 for a new file, 204 for a replaced one. The parent directory must exist; symbolic links on " +
      "the way are refused (403), and so is any path with a component starting with '.' (always, 403); names " +
      "with control characters (400) or too long (414) are refused before the body. " +
      "Anyone who can reach the server can write: combine with --basic-auth. Not with " +
      "--cgi. Example: --upload (then curl -T report.pdf http://localhost:8000/report.pdf)"
  )
)
const uploadMaxBytes = Options.integer("upload-max-bytes").pipe(
  Options.withPseudoName("BYTES"),
  Options.withDescription(
    "Largest body --upload accepts (larger ones answer 413), default 104857600 (100 MiB). " +
      "Example: --upload-max-bytes 1048576"
  ),
  Options.optional
)
const compress = Options.boolean("compress").pipe(
  Options.withDescription(
    "Compress text, JSON, JavaScript, XML and SVG files from 1024 bytes to 10 MiB (compress-min-bytes, " +
      "compress-max-bytes) on the " +
      "fly with brotli or gzip, as the client's Accept-Encoding allows, with Vary: Accept-Encoding and a weak ETag. " +
      "Range requests and precompressed siblings are sent as they are. Files over 64 KiB are streamed without " +
      "Content-Length (the connection closes after them). Example: --compress (then curl --compressed URL)"
  )
)
const compressMinBytes = Options.integer("compress-min-bytes").pipe(
  Options.withPseudoName("BYTES"),
  Options.withDescription(
    "Smallest file --compress compresses (smaller ones are sent as they are), default 1024. " +
      "Example: --compress-min-bytes 4096"
  ),
  Options.optional
)
const compressMaxBytes = Options.integer("compress-max-bytes").pipe(
  Options.withPseudoName("BYTES"),
  Options.withDescription(
    "Largest file --compress compresses (larger ones are sent as they are, so one request cannot cost seconds of " +
      "CPU), default 10485760 (10 MiB). Example: --compress-max-bytes 52428800"
  ),
  Options.optional
)
const richListing = Options.boolean("rich-listing").pipe(
  Options.withDescription(
    "Directory listings as a browser page: breadcrumbs, a filter box, type icons, sizes and local times, directories " +
      "first, sortable by clicking a column (?sort=name|size|time&order=asc|desc), dark mode, phone-sized; at most " +
      "10000 entries (the first by name); with --upload a drop zone with per-file progress, with --archives " +
      "download links. Without it the listing is Python's. Example: --rich-listing (then open http://localhost:8000/?sort=time&order=desc)"
  )
)
const archives = Options.boolean("archives").pipe(
  Options.withDescription(
    "A directory asked for with ?download=tar.gz or ?download=zip is sent as an archive of its tree, streamed " +
      "(dot names left out with --no-dotfiles; links only to files inside the directory served; at most 100000 " +
      "entries and 16 GiB, else 413; 2 at once, else 503). " +
      "Example: --archives (then curl -OJ 'http://localhost:8000/docs/?download=zip')"
  )
)
const keepAliveOnError = Options.boolean("keep-alive-on-error").pipe(
  Options.withDescription(
    "Keep a keep-alive connection open after a 404, 403 or other error answer, as nginx and node:http do " +
      "(without it every error closes the connection with 'Connection: close', as Python's send_error). " +
      "Malformed requests close it either way. Example: -p HTTP/1.1 --keep-alive-on-error"
  )
)
const tlsCert = Options.file("tls-cert").pipe(
  Options.withPseudoName("PATH"),
  Options.withDescription(
    "Serve HTTPS with this TLS certificate chain file (PEM; may also hold the key). Example: --tls-cert cert.pem"
  ),
  Options.optional
)
const tlsKey = Options.file("tls-key").pipe(
  Options.withPseudoName("PATH"),
  Options.withDescription("The TLS private key file (PEM), if not in the certificate file. Example: --tls-key key.pem"),
  Options.optional
)
const tlsPasswordFile = Options.file("tls-password-file").pipe(
  Options.withPseudoName("PATH"),
  Options.withDescription(
    "File holding the password of an encrypted TLS key (surrounding whitespace ignored). " +
      "Example: --tls-password-file pass.txt"
  ),
  Options.optional
)

/**
 * The command line as `@effect/cli` parses it, before validation.
 *
 * @since 0.1.0
 */
export interface RawOptions {
  readonly port: number
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
}

/**
 * The checks that need no file system: port range, bind address, TLS options that need `--tls-cert` (Python 3.14's
 * own checks). The directory is made absolute against `cwd`.
 *
 * @since 0.1.0
 */
export const validate = (raw: RawOptions, cwd: string, resolve: (from: string, to: string) => string) =>
  Effect.gen(function*() {
    if (!isValidPort(raw.port)) {
      return yield* Effect.fail(usage(`argument port: invalid port '${raw.port}' (an integer from 0 to 65535)`))
    }
    const bind = Option.isSome(raw.bind) ? Option.some(yield* parseBind(raw.bind.value)) : Option.none()
    if (Option.isNone(raw.tlsCert) && Option.isSome(raw.tlsKey)) {
      return yield* Effect.fail(usage("--tls-key requires --tls-cert to be set"))
    }
    if (Option.isNone(raw.tlsCert) && Option.isSome(raw.tlsPasswordFile)) {
      return yield* Effect.fail(usage("--tls-password-file requires --tls-cert to be set"))
    }
    for (const name of raw.allowedHost ?? []) {
      if (name !== "*" && (name === "" || !isValidHost(name))) {
        return yield* Effect.fail(usage(`argument --allowed-host: invalid host name '${printable(name)}'`))
      }
    }
    for (const name of raw.indexPage) {
      // A name is joined to the directory: a slash or ".." would reach outside it.
      if (name === "" || name === "." || name === ".." || /[/\0]/.test(name)) {
        return yield* Effect.fail(usage(`argument --index-page: invalid file name '${printable(name)}'`))
      }
      // Served as the index, a hidden name would bypass the very option that hides it.
      if (raw.noDotfiles && hasDotName(name)) {
        return yield* Effect.fail(usage(`argument --index-page: '${printable(name)}' starts with '.', which --no-dotfiles hides`))
      }
    }
    const headers: Array<HeaderField> = []
    for (const line of raw.header) {
      const parsed = parseHeaderLine(line)
      if (typeof parsed === "string") return yield* Effect.fail(usage(`argument -H/--header: ${parsed}`))
      headers.push(parsed)
    }
    const workers = raw.workers ?? 1
    if (!Number.isInteger(workers) || workers < 1 || workers > MAX_WORKERS) {
      return yield* Effect.fail(usage(`argument --workers: invalid count '${workers}' (an integer from 1 to ${MAX_WORKERS})`))
    }
    const maxConnections = raw.maxConnections ?? Option.none()
    if (Option.isSome(maxConnections) && !(Number.isInteger(maxConnections.value) && maxConnections.value >= 1)) {
      return yield* Effect.fail(usage(`argument --max-connections: invalid count '${maxConnections.value}' (an integer of at least 1)`))
    }
    if (Option.isSome(raw.cacheControl)) {
      const value = raw.cacheControl.value
      const problem = value.trim() === "" ? "is empty" : fieldValueProblem(value)
      if (problem !== undefined) return yield* Effect.fail(usage(`argument --cache-control: the value ${problem}`))
    }
    if (Option.isSome(raw.spa)) {
      const problem = fallbackNameProblem(raw.spa.value)
      if (problem !== undefined) {
        return yield* Effect.fail(usage(`argument --spa: '${printable(raw.spa.value)}' ${problem}`))
      }
    }
    const credentials: Array<Credentials> = []
    for (const value of raw.basicAuth) {
      const colon = value.indexOf(":")
      // The value is a password: never echoed in the message.
      if (colon < 0) return yield* Effect.fail(usage("argument --basic-auth: expected USER:PASSWORD"))
      const entry = { user: value.slice(0, colon), password: value.slice(colon + 1) }
      const problem = credentialsProblem(entry)
      if (problem !== undefined) return yield* Effect.fail(usage(`argument --basic-auth: ${problem}`))
      credentials.push(entry)
    }
    if (
      credentials.length > 0 && Option.isNone(raw.tlsCert) && !raw.basicAuthInsecure &&
      !Option.exists(bind, isLoopback)
    ) {
      return yield* Effect.fail(usage(
        "--basic-auth over plain HTTP on a non-loopback address sends passwords in clear: " +
          "use --tls-cert, --bind 127.0.0.1, or --basic-auth-insecure"
      ))
    }
    if (Option.isSome(raw.uploadMaxBytes) && !raw.upload) {
      return yield* Effect.fail(usage("--upload-max-bytes requires --upload to be set"))
    }
    if (Option.isSome(raw.uploadMaxBytes) && !(raw.uploadMaxBytes.value >= 0)) {
      return yield* Effect.fail(usage(`argument --upload-max-bytes: invalid size '${raw.uploadMaxBytes.value}'`))
    }
    const compressMin = raw.compressMinBytes ?? Option.none()
    if (Option.isSome(compressMin) && raw.compress !== true) {
      return yield* Effect.fail(usage("--compress-min-bytes requires --compress to be set"))
    }
    if (Option.isSome(compressMin) && !(compressMin.value >= 0)) {
      return yield* Effect.fail(usage(`argument --compress-min-bytes: invalid size '${compressMin.value}'`))
    }
    const compressMax = raw.compressMaxBytes ?? Option.none()
    if (Option.isSome(compressMax) && raw.compress !== true) {
      return yield* Effect.fail(usage("--compress-max-bytes requires --compress to be set"))
    }
    if (Option.isSome(compressMax) && !(compressMax.value >= 0)) {
      return yield* Effect.fail(usage(`argument --compress-max-bytes: invalid size '${compressMax.value}'`))
    }
    // An uploaded file under /cgi-bin would be run as a script.
    if (raw.upload && raw.cgi) return yield* Effect.fail(usage("--upload cannot be combined with --cgi"))
    const cgiLimits = yield* validCgiLimits(raw)
    const config: CliConfig = {
      port: raw.port,
      bind,
      allowedHosts: raw.allowedHost ?? [],
      directory: resolve(cwd, Option.getOrElse(raw.directory, () => ".")),
      cgi: raw.cgi,
      ...cgiLimits,
      protocol: raw.protocol,
      tls: Option.map(raw.tlsCert, (certFile) => ({
        certFile,
        keyFile: raw.tlsKey,
        passwordFile: raw.tlsPasswordFile
      })),
      indexPages: raw.indexPage.length > 0 ? Option.some(raw.indexPage) : Option.none(),
      headers,
      colorScheme: raw.colorScheme,
      cors: raw.cors,
      cacheControl: raw.cacheControl,
      noDotfiles: raw.noDotfiles,
      noFollowSymlinks: raw.noFollowSymlinks,
      jsonListing: raw.jsonListing,
      spa: raw.spa,
      basicAuth: credentials,
      workers,
      ...(Option.isSome(maxConnections) ? { maxConnections: maxConnections.value } : {}),
      precompressed: raw.precompressed,
      upload: raw.upload ? Option.some(Option.getOrElse(raw.uploadMaxBytes, () => 100 * 1024 * 1024)) : Option.none(),
      compress: raw.compress === true
        ? Option.some({
          minBytes: Option.getOrElse(compressMin, () => DEFAULT_MIN_BYTES),
          maxBytes: Option.getOrElse(compressMax, () => DEFAULT_MAX_BYTES)
        })
        : Option.none(),
      richListing: raw.richListing === true,
      archives: raw.archives === true,
      keepAliveOnError: raw.keepAliveOnError === true
    }
    return config
  })

/** `--cgi-max-processes` and `--cgi-timeout`, checked: only with `--cgi`, in range. */
const validCgiLimits = (raw: RawOptions) =>
  Effect.gen(function*() {
    const limits: { cgiMaxProcesses?: number; cgiTimeout?: number } = {}
    const maxProcesses = raw.cgiMaxProcesses ?? Option.none()
    const timeout = raw.cgiTimeout ?? Option.none()
    if (Option.isSome(maxProcesses)) {
      if (!raw.cgi) return yield* Effect.fail(usage("--cgi-max-processes requires --cgi to be set"))
      const text = maxProcesses.value
      const n = /^[0-9]+$/.test(text) ? Number(text) : NaN
      if (!(n >= 1 && n <= MAX_CGI_PROCESSES)) {
        return yield* Effect.fail(usage(
          `argument --cgi-max-processes: invalid count '${printable(text)}' (an integer from 1 to ${MAX_CGI_PROCESSES})`
        ))
      }
      limits.cgiMaxProcesses = n
    }
    if (Option.isSome(timeout)) {
      if (!raw.cgi) return yield* Effect.fail(usage("--cgi-timeout requires --cgi to be set"))
      const text = timeout.value
      const seconds = /^[0-9]+(\.[0-9]+)?$/.test(text) ? Number(text) : NaN
      // Beyond a day a timer would not fire (setTimeout's 2^31 ms); no timeout at all is not offered.
      if (!(seconds > 0 && seconds <= 86_400)) {
        return yield* Effect.fail(usage(
          `argument --cgi-timeout: invalid duration '${printable(text)}' (seconds, more than 0 and at most 86400)`
        ))
      }
      limits.cgiTimeout = seconds
    }
    return limits
  })

/**
 * The served directory must exist, be a directory and be readable (Python would start and answer every request
 * with an error).
 *
 * @since 0.1.0
 */
export const checkDirectory = (directory: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const info = yield* Effect.mapError(
      fs.stat(directory),
      (error) => usage(`argument -d/--directory: cannot use '${directory}': ${fileErrorReason(error)}`)
    )
    if (info.type !== "Directory") {
      return yield* Effect.fail(usage(`argument -d/--directory: '${directory}' is not a directory`))
    }
    // A root the server cannot list or read from would answer every request with an error.
    yield* Effect.mapError(
      fs.access(directory, { readable: true }),
      (error) => usage(`argument -d/--directory: cannot use '${directory}': ${fileErrorReason(error)}`)
    )
  })

/**
 * Reads the certificate, key and password files and checks them with Node's TLS, so that a bad file is a clear
 * message before the server starts. Unreadable files are usage errors (Python 3.14 treats an unreadable password
 * file so); material Node refuses (wrong password, key not matching) is a start-up failure.
 *
 * @since 0.1.0
 */
export const loadTls = (files: TlsFiles) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const read = (option: string, path: string) =>
      Effect.mapError(fs.readFile(path), (error) => usage(`cannot read ${option} '${path}': ${fileErrorReason(error)}`))
    const cert = yield* read("--tls-cert", files.certFile)
    const key = Option.isSome(files.keyFile) ? yield* read("--tls-key", files.keyFile.value) : cert
    const passphrase = Option.isSome(files.passwordFile)
      ? Option.some(
        // Python: open(..., encoding="utf-8").read().strip()
        new TextDecoder().decode(yield* read("--tls-password-file", files.passwordFile.value)).trim()
      )
      : Option.none()
    const options: Tls.SecureContextOptions = {
      cert: Buffer.from(cert),
      key: Buffer.from(key),
      ...(Option.isSome(passphrase) ? { passphrase: passphrase.value } : {})
    }
    yield* Effect.try({
      // An encrypted key with no passphrase must fail here, not ask on the terminal: pass an empty one.
      try: () => Tls.createSecureContext({ passphrase: "", ...options }),
      catch: (error) => startup(tlsErrorMessage(error, files))
    })
    return options
  })

const listen = (config: CliConfig, tls: Option.Option<Tls.TlsOptions>) => {
  const start = (host: string) =>
    Server.make({
      host,
      port: config.port,
      protocolVersion: config.protocol,
      shutdownTimeout: SHUTDOWN_GRACE,
      ...(config.allowedHosts.length > 0 ? { allowedHosts: config.allowedHosts } : {}),
      ...(config.maxConnections !== undefined ? { maxConnections: config.maxConnections } : {}),
      ...(config.keepAliveOnError ? { keepAliveOnError: true } : {}),
      ...(config.colorScheme ? { errorMessageFormat: StaticFiles.COLOR_SCHEME_ERROR_MESSAGE } : {}),
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

/**
 * The static-file handler's options for a validated command line (also used for the files `--cgi` serves).
 *
 * @since 0.1.0
 */
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
export const serve = (
  config: CliConfig
): Effect.Effect<void, CliError, FileSystem.FileSystem | Path.Path | CommandExecutor.CommandExecutor> => {
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

/**
 * The young generation's cap (`--max-semi-space-size`, MiB) given to `--workers` processes unless the user set
 * one (in `NODE_OPTIONS` or node's own options). V8's default lets each semi-space grow to 16 MiB under load: peak
 * RSS 115 MiB instead of 92 on 1 KiB and 64 KiB keep-alive loads, at equal CPU time per request (scripts/README.md).
 * A single process cannot set it for itself (`v8.setFlagsFromString` after start-up does not bound the heap): `npm start`
 * passes it on node's command line (workers then inherit it through `execArgv`), `NODE_OPTIONS` does elsewhere.
 *
 * @since 0.1.0
 */
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

const makeCommand = <R>(execute: (config: CliConfig) => Effect.Effect<void, CliError, R>) =>
  Command.make(
    NAME,
    {
      port,
      bind,
      allowedHost,
      directory,
      cgi,
      cgiMaxProcesses,
      cgiTimeout,
      protocol,
      tlsCert,
      tlsKey,
      tlsPasswordFile,
      indexPage,
      header,
      colorScheme,
      cors,
      cacheControl,
      noDotfiles,
      noFollowSymlinks,
      jsonListing,
      spa,
      basicAuth,
      basicAuthInsecure,
      workers,
      maxConnections,
      precompressed,
      upload,
      uploadMaxBytes,
      compress,
      compressMinBytes,
      compressMaxBytes,
      richListing,
      archives,
      keepAliveOnError
    },
    (raw) =>
      Effect.gen(function*() {
        const path = yield* Path.Path
        const config = yield* validate(raw, process.cwd(), (from, to) => path.resolve(from, to))
        return yield* execute(config)
      })
  ).pipe(
    Command.withDescription(
      "Serve a directory over HTTP or HTTPS, like Python's `python -m http.server`. Stop with Ctrl-C."
    )
  )

/**
 * The `effect-httpd` command: parses and validates the options, then {@link serve}s.
 *
 * @since 0.1.0
 */
export const command = makeCommand(serve)

const appInfo = {
  name: NAME,
  version: Server.VERSION,
  footer: HelpDoc.blocks([
    HelpDoc.h1("EXAMPLES"),
    HelpDoc.p(`${NAME}                                 serve the current directory on port ${DEFAULT_PORT}`),
    HelpDoc.p(`${NAME} -b 127.0.0.1 -d ./public 8080   only this machine, another directory`),
    HelpDoc.p(`${NAME} --cgi -p HTTP/1.1                run /cgi-bin/ scripts, keep-alive connections`),
    HelpDoc.p(`${NAME} --tls-cert cert.pem --tls-key key.pem 8443`),
    HelpDoc.p(`${NAME} -H 'X-Content-Type-Options: nosniff' --color-scheme   extra header, dark-mode pages`),
    HelpDoc.p(`${NAME} --cors --cache-control no-cache          readable from any origin, always revalidated`),
    HelpDoc.p(`${NAME} --no-dotfiles --no-follow-symlinks       nothing hidden or outside the directory`),
    HelpDoc.p(`${NAME} --json-listing                        listings as JSON for scripts (?format=json)`),
    HelpDoc.p(`${NAME} --spa index.html -d ./dist               a single-page app: its routes answer index.html`),
    HelpDoc.p(`${NAME} --basic-auth alice:s3cret --tls-cert cert.pem 8443   password-protected, over HTTPS`),
    HelpDoc.p(`${NAME} --precompressed -d ./dist              serve app.js.br / app.js.gz to clients that accept them`),
    HelpDoc.p(`${NAME} --upload --basic-auth alice:s3cret -b 127.0.0.1   curl -T file URL stores files (PUT)`),
    HelpDoc.p(`${NAME} --compress                            gzip / brotli text files on the fly`),
    HelpDoc.p(`${NAME} --rich-listing                        listings with sizes and dates, sortable`),
    HelpDoc.p(`${NAME} --rich-listing --archives --upload    a browser page with drag-and-drop upload and .zip links`),
    HelpDoc.p(`${NAME} -p HTTP/1.1 --keep-alive-on-error      a 404 keeps the connection, as most servers do`)
  ])
}

/**
 * A usage error from @effect/cli as one line, naming the argument as argparse does where @effect/cli does not
 * (the port is the only integer argument, the protocol the only choice; paths show which option they are).
 *
 * @since 0.1.0
 */
export const validationMessage = (error: ValidationError.ValidationError): string => {
  const text = stripAnsi(HelpDoc.toAnsiText(error.error)).split("\n").map((line) => line.trim())
    .filter((line) => line !== "").join(" ")
  const notInteger = /^'(.*)' is not a integer$/.exec(text)
  if (notInteger !== null) {
    const value = notInteger[1]!
    return value.startsWith("-")
      ? `unrecognized option '${value}'`
      : `argument port: invalid port '${value}' (an integer from 0 to 65535)`
  }
  const choice = /^Expected one of the following cases: (.*)$/.exec(text)
  if (choice !== null) return `argument -p/--protocol: expected one of ${choice[1]}`
  const pathType = /^Expected path '(.*)' to be a (directory|regular file)$/.exec(text)
  if (pathType !== null) return `'${pathType[1]}' is not a ${pathType[2]}`
  const unknown = /^Received unknown argument: '(.*)'$/.exec(text)
  if (unknown !== null) return `unrecognized argument '${unknown[1]}'`
  return text
}

/**
 * `--cgi` as `--cgi=true` (and the other flags without a value likewise), up to a `--`. argparse's `--cgi` takes no value, but @effect/cli lets a boolean flag
 * consume a following `0`, `1`, `yes`, `off`…: `effect-httpd --cgi 0` would mean "no CGI, port 8000" instead of
 * "CGI on any free port".
 *
 * @since 0.1.0
 */
export const normalizeArgs = (args: ReadonlyArray<string>): ReadonlyArray<string> => {
  const end = args.indexOf("--")
  return args.map((arg, i) => (BOOLEAN_FLAGS.has(arg) && (end < 0 || i < end) ? `${arg}=true` : arg))
}

// Every flag that takes no value.
const BOOLEAN_FLAGS = new Set(["--cgi", "--color-scheme", "--cors", "--no-dotfiles", "--no-follow-symlinks", "--json-listing", "--basic-auth-insecure", "--precompressed", "--upload", "--compress", "--rich-listing", "--archives", "--keep-alive-on-error"])

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
  // Before the parser, which trims the values: checked as typed.
  const refused = headerArgumentsProblem(argv.slice(2))
  if (refused !== undefined) return Effect.fail(usage(`argument -H/--header: ${refused}`))
  return Effect.flatMap(Effect.console, (original) =>
    Command.run(makeCommand((config) => Effect.withConsole(serve(config), original)), appInfo)([
      ...argv.slice(0, 2),
      ...normalizeArgs(argv.slice(2))
    ]).pipe(
      // @effect/cli prints usage errors itself, as multi-line ANSI text: we print our own line instead.
      Effect.withConsole(makeConsole(original, { colors: stdoutColors(), dropErrors: true })),
      Effect.catchAll((error): Effect.Effect<never, CliError> =>
        Effect.fail(ValidationError.isValidationError(error) ? usage(validationMessage(error)) : error)
      ),
      Effect.catchAllDefect((defect) => Effect.fail(startup(`internal error: ${String(defect)}`))),
      Effect.provide(CliConfigService.layer({ isCaseSensitive: true }))
    ))
}
