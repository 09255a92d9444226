/**
 * Python's `CGIHTTPRequestHandler`: GET, HEAD and POST run scripts found under the CGI directories, everything else
 * is the static handler's. Each script is a child process owned by the request's `Scope`: a client that goes away,
 * a timeout or the server's shutdown kills it (SIGTERM, then SIGKILL) with everything it started in its process
 * group, and reaps it.
 *
 * Python's behaviour on Linux (its `fork` branch) is the reference; the differences are deliberate and listed on
 * {@link CgiOptions} and {@link make}.
 *
 * @since 0.1.0
 */
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as HttpApp from "@effect/platform/HttpApp"
import type * as Path from "@effect/platform/Path"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Handler from "./Handler.js"
import * as internal from "./internal/cgiHandler.js"
import { fromHandlers } from "./internal/httpAppBridge.js"
import { DEFAULT_ERROR_MESSAGE } from "./internal/wire.js"
import type { MimeTypes } from "./MimeTypes.js"
import * as StaticFiles from "./StaticFiles.js"

type StaticOptions = NonNullable<Parameters<typeof StaticFiles.make>[0]>

/**
 * Options of the CGI handler; the static handler's options (`directory`) apply to both.
 *
 * @since 0.1.0
 * @category options
 */
export interface CgiOptions extends StaticOptions {
  /** URL directories whose files are scripts (Python's `cgi_directories`). Default `["/cgi-bin", "/htbin"]`. */
  readonly cgiDirectories?: ReadonlyArray<string>
  /**
   * Longest run of a script, from start to exit (Python has none). When it expires the script is killed; a
   * response already under way is cut off (the connection closes), otherwise the answer is `504`. Default 5
   * minutes; `Duration.infinity` disables it.
   */
  readonly timeout?: Duration.DurationInput
  /** How long a script may take to exit after SIGTERM before SIGKILL. Default 1 second. */
  readonly killGrace?: Duration.DurationInput
  /**
   * Most scripts running at once (Python has no cap). A request finding none free waits in line for one, up to
   * `maxWaiting` requests for up to `waitTimeout` each; beyond either it answers `503` with `Retry-After: 1`.
   * Default 64, 256 and 10 seconds. Counted per handler, so per worker under `--workers`.
   */
  readonly maxProcesses?: number
  /** See `maxProcesses`. Default 256. */
  readonly maxWaiting?: number
  /** See `maxProcesses`. Default 10 seconds. */
  readonly waitTimeout?: Duration.DurationInput
  /**
   * RFC 3875 output handling instead of Python's raw pass-through: the script's header block is parsed (`Status:`,
   * `Location:`, any other field), a `Location:` path with no `Status:` is followed inside the server (a local
   * redirect, which Python's handler documents it cannot do), an absolute `Location:` without `Status:` answers
   * `302`, small outputs get a `Content-Length` (so HTTP/1.1 connections stay open), a script's own
   * `Content-Length` is enforced, and every request header is passed as `HTTP_*` (except `Proxy`: httpoxy).
   * Malformed output answers `502`. Default `false`.
   */
  readonly rfc3875?: boolean
  /**
   * Whether scripts inherit the server's environment as Python's do (`os.environ.copy()`, then the CGI variables).
   * `false` gives them the CGI variables and `PATH` only. Either way the CGI variables themselves never come from
   * the server's environment (Python would pass a `REMOTE_USER` the server was started with). Default `true`.
   */
  readonly inheritEnv?: boolean
  /**
   * Run scripts as `nobody`, as Python does when the server runs as root. Done with util-linux's
   * `setpriv --reuid --regid --clear-groups` (Command cannot change uid), which also drops the groups: Python
   * changes the uid only and leaves the script root's groups. Default: whether the server runs as root.
   */
  readonly runAsNobody?: boolean
  /**
   * Run `.py`/`.pyw` scripts as `<pythonInterpreter> -u script`, with no executable check: Python's behaviour on
   * platforms without `fork`. Default none: as Python on Linux, a Python script must be executable and is run by
   * its `#!` line like any other.
   */
  readonly pythonInterpreter?: string
  /** `SERVER_NAME`. Default: `getfqdn` of the address the request came in on (Python: of the bound address). */
  readonly serverName?: string
  /** `SERVER_SOFTWARE`. Default the engine's `Server` header, `effect-httpd/<version> Node.js/<version>`. */
  readonly serverSoftware?: string
  /** `SERVER_PROTOCOL`: the server's `protocolVersion` (a handler cannot see it). Default `"HTTP/1.0"`. */
  readonly protocolVersion?: string
}

/**
 * A script ran longer than `timeout`.
 *
 * @since 0.1.0
 * @category errors
 */
export const CgiTimeout: typeof internal.CgiTimeout = internal.CgiTimeout

/**
 * A {@link CgiTimeout} value.
 *
 * @since 0.1.0
 * @category errors
 */
export type CgiTimeout = internal.CgiTimeout

/**
 * Builds the handlers: POST for scripts (`501 Can only POST to CGI scripts` elsewhere), GET and HEAD for scripts,
 * then for files. Differences from Python, all deliberate:
 *
 * - HEAD runs the script and sends its whole output, as Python does (the head is the script's to end); with
 *   `rfc3875` the body is dropped as RFC 3875 §4.3.3 asks.
 * - The request body goes to the script's stdin and stdin is then closed (Python hands over the socket, so a
 *   script reading past `CONTENT_LENGTH` would hang); a chunked body is passed decoded.
 * - The query becomes the script's single argument when it has no `=` (Python's ISINDEX convention, `+` read as
 *   space, empty when there is no query), but never when it starts with `-`: a URL must not pass options to a
 *   script or its interpreter (PHP-CGI's CVE-2012-1823).
 * - A path with more `..` than segments (Python raises and drops the connection) answers `400`.
 * - A script whose translated path is outside its CGI directory answers `403`: Python unquotes the path twice,
 *   so `/cgi-bin/%252e%252e/x` would run the document root's `x`.
 * - The script's stderr goes to the log, one line per line; its exit code is logged as Python's
 *   `CGI script exit code N` (negative: killed by signal N).
 * - What the script leaves running in its process group is sent SIGTERM when it exits (Python leaves it be; it
 *   could hold the response open). Use `setsid` to detach on purpose.
 * - Nothing inside a CGI directory is served as a file (`403`): Python's `is_cgi` and `translate_path` read a path
 *   differently, so `/cgi-bin/x.sh#/../..` (or a link to `cgi-bin`) would send the script's source. Decided on the
 *   file the static handler would open and on its real path, then again on the real path of what it opened (a
 *   link re-pointed in between, an index page, the `spaFallback` or a precompressed sibling leading into one: `404`);
 *   a `spaFallback` inside one is refused at start too.
 * - `hideDotfiles` and `followSymlinks: false` apply to scripts as to files (`404`, the script is not run), and
 *   `hideDotfiles` to `PATH_INFO` (spelled, and the real path of `PATH_TRANSLATED`'s existing part); with either
 *   the script's verified real path is what runs, not the link.
 * - At most `maxProcesses` scripts run at once; others wait in a bounded line, then get `503` (Python has no cap).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (
  options?: CgiOptions
) => Effect.Effect<
  Handler.HandlerMap,
  never,
  FileSystem.FileSystem | Path.Path | MimeTypes | CommandExecutor.CommandExecutor
> = internal.make

/**
 * The CGI handler as the server's `Handlers`.
 *
 * @example
 * ```ts
 * import * as NodeContext from "@effect/platform-node/NodeContext"
 * import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
 * import { Layer } from "effect"
 * import * as AccessLog from "effect-httpd/AccessLog"
 * import * as Cgi from "effect-httpd/Cgi"
 * import { MimeTypes } from "effect-httpd/MimeTypes"
 * import * as Server from "effect-httpd/Server"
 *
 * // `python3 -m http.server --cgi -d ./site`: ./site/cgi-bin/* run as scripts, the rest is served as files
 * const handlers = Cgi.layer({ directory: "./site", rfc3875: true, timeout: "30 seconds" }).pipe(
 *   Layer.provide(MimeTypes.layer()),
 *   Layer.provide(NodeContext.layer) // FileSystem, Path and CommandExecutor
 * )
 *
 * Server.layer({ port: 8000 }).pipe(
 *   Layer.provide(Layer.merge(handlers, AccessLog.layerStderr)),
 *   Layer.launch,
 *   NodeRuntime.runMain
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: CgiOptions = {}
): Layer.Layer<
  Handler.Handlers,
  never,
  FileSystem.FileSystem | Path.Path | MimeTypes | CommandExecutor.CommandExecutor
> => Layer.effect(Handler.Handlers, make(options))

/**
 * CGI as an `@effect/platform` `HttpApp`, to mount in an `HttpRouter`:
 * `HttpRouter.mountApp("/cgi-bin", app, { includePrefix: true })` runs `<directory>/cgi-bin/<script>` (the URL the
 * app sees must still start with a CGI directory, hence `includePrefix`). The script's output is always parsed as
 * RFC 3875 (`rfc3875` is forced on: a platform response has no raw head for Python's pass-through); errors use
 * Python's error page. Each script belongs to the request's scope: the platform closes it after the response, a
 * client reset interrupts it.
 *
 * @example
 * ```ts
 * import * as HttpRouter from "@effect/platform/HttpRouter"
 * import * as NodeContext from "@effect/platform-node/NodeContext"
 * import { Effect } from "effect"
 * import * as Cgi from "effect-httpd/Cgi"
 * import { MimeTypes } from "effect-httpd/MimeTypes"
 *
 * const router = Effect.map(Cgi.toHttpApp({ directory: "./www" }), (cgi) =>
 *   HttpRouter.empty.pipe(HttpRouter.mountApp("/cgi-bin", cgi, { includePrefix: true })))
 * // provide MimeTypes.layer() and NodeContext.layer where the router is built
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const toHttpApp = (
  options: Omit<CgiOptions, "rfc3875"> & { readonly rfc3875?: true } = {}
): Effect.Effect<
  HttpApp.Default<never, Scope.Scope>,
  never,
  FileSystem.FileSystem | Path.Path | MimeTypes | CommandExecutor.CommandExecutor
> =>
  Effect.map(
    make({ ...options, rfc3875: true }),
    (handlers) => fromHandlers(handlers, options.colorScheme === true ? StaticFiles.COLOR_SCHEME_ERROR_MESSAGE : DEFAULT_ERROR_MESSAGE)
  )
