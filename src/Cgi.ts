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
import * as CommandExecutor from "@effect/platform/CommandExecutor"
import * as FileSystem from "@effect/platform/FileSystem"
import type * as HttpApp from "@effect/platform/HttpApp"
import * as Path from "@effect/platform/Path"
import * as Chunk from "effect/Chunk"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { AccessLog, formatLine } from "./AccessLog.js"
import * as Handler from "./Handler.js"
import { Headers } from "./Headers.js"
import { HttpError } from "./HttpError.js"
import { protect } from "./internal/basicAuth.js"
import { fromHandlers } from "./internal/httpAppBridge.js"
import { DEFAULT_ERROR_MESSAGE } from "./internal/wire.js"
import { buildEnvironment, scriptArguments } from "./internal/cgiEnv.js"
import { underCgiDirectory, verifyScript } from "./internal/cgiGate.js"
import { makeProcessLimit } from "./internal/cgiLimit.js"
import { MAX_HEADER_BYTES, readHead } from "./internal/cgiOutput.js"
import { isCgi, locateScript, translatePath, unquote } from "./internal/cgiPath.js"
import * as Script from "./internal/cgiProcess.js"
import { getfqdn } from "./internal/fqdn.js"
import { pyRepr } from "./internal/pythonText.js"
import { fallbackPath } from "./internal/spa.js"
import type { MimeTypes } from "./MimeTypes.js"
import { type Request, splitPath } from "./Request.js"
import * as Response from "./Response.js"
import { VERSION } from "./Server.js"
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
export class CgiTimeout extends Data.TaggedError("CgiTimeout")<{ readonly message: string }> {
  override toString(): string {
    return this.message
  }
}

/** A script's body ended before the `Content-Length` it announced. */
class CgiShortBody extends Data.TaggedError("CgiShortBody")<{ readonly message: string }> {
  override toString(): string {
    return this.message
  }
}

const DEFAULT_TIMEOUT = Duration.minutes(5)
const DEFAULT_KILL_GRACE = Duration.seconds(1)
const DEFAULT_MAX_PROCESSES = 64
const DEFAULT_MAX_WAITING = 256
const DEFAULT_WAIT_TIMEOUT = Duration.seconds(10)
/** How many local redirects one request may follow. */
const MAX_REDIRECTS = 10
/** A script's output up to this size is answered with a `Content-Length` in RFC 3875 mode. */
const BUFFER_LIMIT = 64 * 1024

const isPython = (path: string): boolean => /\.pyw?$/i.test(path)

/** `os.access(path, os.X_OK)` from the file's mode, as the server's user. */
const isExecutable = (info: FileSystem.File.Info): boolean => {
  const mode = info.mode
  const uid = process.getuid?.() ?? -1
  if (uid === 0) return (mode & 0o111) !== 0
  if (Option.getOrUndefined(info.uid) === uid) return (mode & 0o100) !== 0
  const gid = Option.getOrUndefined(info.gid)
  const groups = [process.getgid?.() ?? -1, ...(process.getgroups?.() ?? [])]
  if (gid !== undefined && groups.includes(gid)) return (mode & 0o010) !== 0
  return (mode & 0o001) !== 0
}

/** `nobody`'s uid and gid from the password file (Python's `nobody_uid`), 65534 when it has none. */
const nobodyIds = (fs: FileSystem.FileSystem) =>
  fs.readFileString("/etc/passwd").pipe(
    Effect.map((text) => {
      const fields = text.split("\n").map((line) => line.split(":")).find((f) => f[0] === "nobody")
      const uid = Number(fields?.[2])
      const gid = Number(fields?.[3])
      return { uid: Number.isInteger(uid) ? uid : 65534, gid: Number.isInteger(gid) ? gid : 65534 }
    }),
    Effect.orElseSucceed(() => ({ uid: 65534, gid: 65534 }))
  )

const findSetpriv = (fs: FileSystem.FileSystem) =>
  Effect.findFirst(
    ["/usr/bin/setpriv", "/bin/setpriv", "/usr/sbin/setpriv", "/sbin/setpriv"],
    (p) => Effect.orElseSucceed(fs.exists(p), () => false)
  )

/**
 * The first `limit` bytes of a stream, failing when it ends before that. What comes after is read and dropped, not
 * left in the pipe: a script blocked on a full pipe would never exit.
 */
const exactly = (body: Stream.Stream<Uint8Array, unknown>, limit: number): Stream.Stream<Uint8Array, unknown> =>
  Stream.suspend(() => {
    let remaining = limit
    return body.pipe(
      Stream.map((chunk) => {
        const piece = chunk.length > remaining ? chunk.subarray(0, remaining) : chunk
        remaining -= piece.length
        return piece
      }),
      Stream.filter((piece) => piece.length > 0),
      Stream.concat(Stream.suspend(() =>
        remaining > 0
          ? Stream.fail(new CgiShortBody({ message: `CGI script output ended ${remaining} bytes short` }))
          : Stream.empty
      ))
    )
  })

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
export const make = (
  options: CgiOptions = {}
): Effect.Effect<
  Handler.HandlerMap,
  never,
  FileSystem.FileSystem | Path.Path | MimeTypes | CommandExecutor.CommandExecutor
> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    // The credentials guard the whole map below (scripts included), not only the static part.
    const { basicAuth, ...staticOptions } = options
    // A file PUT under a CGI directory would then run as a script.
    if (options.upload !== undefined && options.upload !== false) {
      return yield* Effect.dieMessage("Cgi: the upload option cannot be combined with CGI")
    }
    const maxProcesses = options.maxProcesses ?? DEFAULT_MAX_PROCESSES
    const maxWaiting = options.maxWaiting ?? DEFAULT_MAX_WAITING
    if (!Number.isSafeInteger(maxProcesses) || maxProcesses < 1) {
      return yield* Effect.dieMessage(`Cgi: maxProcesses must be a positive integer, not ${maxProcesses}`)
    }
    if (!Number.isSafeInteger(maxWaiting) || maxWaiting < 0) {
      return yield* Effect.dieMessage(`Cgi: maxWaiting must be a non-negative integer, not ${maxWaiting}`)
    }
    // The static handler refuses whatever it opens whose real path is in a CGI directory: the gate below only
    // judges a path before the open, which a link re-pointed in between outruns.
    const cgiDirectories = options.cgiDirectories ?? ["/cgi-bin", "/htbin"]
    const staticMap = yield* StaticFiles.make({
      ...staticOptions,
      notServed: [...(staticOptions.notServed ?? []), ...cgiDirectories]
    })
    const staticGet = staticMap.byMethod.get("GET")
    const staticHead = staticMap.byMethod.get("HEAD")

    const directory = options.directory ?? process.cwd()
    const timeout = Duration.decode(options.timeout ?? DEFAULT_TIMEOUT)
    const killGrace = Duration.decode(options.killGrace ?? DEFAULT_KILL_GRACE)
    const rfc3875 = options.rfc3875 ?? false
    const inheritEnv = options.inheritEnv ?? true
    const runAsNobody = options.runAsNobody ?? process.getuid?.() === 0
    const serverSoftware = options.serverSoftware ?? `effect-httpd/${VERSION} Node.js/${process.versions.node}`
    const serverProtocol = options.protocolVersion ?? "HTTP/1.0"
    const translate = (urlPath: string) => translatePath(directory, urlPath)
    // The static handler's root, as it resolves it.
    const root = (yield* Path.Path).resolve(directory)
    // The static handler's default.
    const indexPages = options.indexPages ?? ["index.html", "index.htm"]
    const scriptGate = {
      root: directory,
      hideDotfiles: options.hideDotfiles ?? false,
      followSymlinks: options.followSymlinks ?? true
    }
    const limit = makeProcessLimit({
      max: maxProcesses,
      maxWaiting,
      wait: Duration.decode(options.waitTimeout ?? DEFAULT_WAIT_TIMEOUT),
      retryAfter: 1
    })
    if (
      options.spaFallback !== undefined &&
      (yield* underCgiDirectory(fs, root, cgiDirectories, fallbackPath(options.spaFallback)))
    ) {
      return yield* Effect.dieMessage(`Cgi: spaFallback '${options.spaFallback}' is inside a CGI directory`)
    }

    const dropPrivileges = runAsNobody
      ? Option.map(yield* findSetpriv(fs), (setpriv) => ({ setpriv }))
      : Option.none()
    const nobody = runAsNobody ? yield* nobodyIds(fs) : { uid: 65534, gid: 65534 }
    if (runAsNobody && Option.isNone(dropPrivileges)) {
      yield* Effect.logWarning("Cgi: setpriv not found, CGI scripts will not run (runAsNobody is on)")
    }

    const serverNames = new Map<string, string>()
    const serverNameFor = (address: string): Effect.Effect<string> => {
      if (options.serverName !== undefined) return Effect.succeed(options.serverName)
      const known = serverNames.get(address)
      if (known !== undefined) return Effect.succeed(known)
      return Effect.tap(getfqdn(address), (name) => Effect.sync(() => serverNames.set(address, name)))
    }

    const isDirectory = (urlPath: string) =>
      fs.stat(translate(urlPath)).pipe(
        Effect.map((info) => info.type === "Directory"),
        Effect.orElseSucceed(() => false)
      )

    /** The request's log: Python's `log_message`/`log_error` format, through the server's `AccessLog`. */
    const logger = (request: Request) =>
      Effect.map(Effect.serviceOption(AccessLog), (log) => (message: string) => {
        if (Option.isSome(log)) log.value.write(formatLine(request.remoteAddress, message))
      })

    /** Fails with `CgiTimeout` once `timeout` has passed since the call (never, when it is infinite). */
    const startDeadline = (log: (message: string) => void) =>
      Effect.gen(function*() {
        if (!Duration.isFinite(timeout)) return Effect.never
        const expired = yield* Deferred.make<void>()
        yield* Effect.forkScoped(Effect.zipRight(Effect.sleep(timeout), Deferred.succeed(expired, undefined)))
        const message = `CGI script timed out after ${Duration.format(timeout)}`
        return Deferred.await(expired).pipe(
          Effect.zipRight(Effect.sync(() => log(message))),
          Effect.zipRight(Effect.fail(new CgiTimeout({ message })))
        )
      })

    const runScript = (
      request: Request,
      dir: string,
      rest: string,
      redirects: number
    ): Effect.Effect<Response.Response, HttpError, Scope.Scope | CommandExecutor.CommandExecutor> =>
      Effect.gen(function*() {
        const location = yield* locateScript(dir, rest, isDirectory)
        const { scriptName } = location
        const scriptFile = translate(scriptName)
        const root = translate(dir)
        if (!scriptFile.startsWith(root.endsWith("/") ? root : root + "/")) {
          return yield* Effect.fail(
            new HttpError({ status: 403, message: `CGI script is outside the CGI directory (${pyRepr(scriptName)})` })
          )
        }
        const noSuchScript = new HttpError({ status: 404, message: `No such CGI script (${pyRepr(scriptName)})` })
        // A script the dot-file and link options refuse looks missing, as a refused file does.
        const pathInfo = unquote(location.pathInfo)
        const runnable = yield* verifyScript(fs, scriptGate, scriptFile, pathInfo, translate(pathInfo))
        if (runnable === undefined) return yield* Effect.fail(noSuchScript)
        const info = yield* Effect.option(fs.stat(runnable))
        if (Option.isNone(info)) return yield* Effect.fail(noSuchScript)
        if (info.value.type !== "File") {
          return yield* Effect.fail(
            new HttpError({ status: 403, message: `CGI script is not a plain file (${pyRepr(scriptName)})` })
          )
        }
        const interpreter = isPython(scriptName) ? options.pythonInterpreter : undefined
        if (interpreter === undefined && !isExecutable(info.value)) {
          return yield* Effect.fail(
            new HttpError({ status: 403, message: `CGI script is not executable (${pyRepr(scriptName)})` })
          )
        }
        if (runAsNobody && Option.isNone(dropPrivileges)) {
          return yield* Effect.fail(new HttpError({ status: 500, explain: "Cannot run CGI scripts as nobody" }))
        }

        const log = yield* logger(request)
        const base = inheritEnv ? process.env : { PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin" }
        const env = buildEnvironment(base, request, location, {
          serverSoftware,
          serverName: yield* serverNameFor(request.localAddress),
          serverProtocol,
          directory,
          translate,
          unquote
        }, rfc3875)
        let argv = [
          ...(interpreter === undefined ? [] : [interpreter, "-u"]),
          runnable,
          ...scriptArguments(location.query)
        ]
        if (Option.isSome(dropPrivileges)) {
          argv = [
            dropPrivileges.value.setpriv,
            `--reuid=${nobody.uid}`,
            `--regid=${nobody.gid}`,
            "--clear-groups",
            "--",
            ...argv
          ]
        }

        // Each script gets its own scope inside the request's, so a local redirect can end the first script
        // before running the next.
        const scriptScope = yield* Scope.fork(yield* Effect.scope, ExecutionStrategy.sequential)
        // Taken first, so that it is given back last: once the script and its group are gone.
        yield* Scope.extend(limit.acquire, scriptScope)
        const deadline = yield* Scope.extend(startDeadline(log), scriptScope)
        const started = yield* Script.start({
          command: argv[0]!,
          args: argv.slice(1),
          env,
          stdin: request.body,
          killGrace,
          onStderrLine: log
        }).pipe(Scope.extend(scriptScope), Effect.either)
        if (started._tag === "Left") {
          log(`CGI script could not be started: ${started.left.message}`)
          if (rfc3875) return yield* Effect.fail(new HttpError({ status: 502, explain: "CGI script could not be started" }))
          return Response.make(200, { _tag: "Stream", stream: Stream.empty }, {
            reason: "Script output follows",
            endHeaders: false
          })
        }
        const proc = started.right
        const logExit = Effect.flatMap(proc.status, (code) =>
          Effect.sync(() => {
            if (code !== 0) log(`CGI script exit code ${code}`)
          }))
        const interruptOnDeadline = Stream.interruptWhen(deadline)

        if (!rfc3875) {
          // Python's `send_response(200, "Script output follows")`: the script's output finishes the head.
          const body = proc.stdout.pipe(Stream.concat(Stream.execute(logExit)), interruptOnDeadline)
          return Response.make(200, { _tag: "Stream", stream: body }, {
            reason: "Script output follows",
            endHeaders: false
          })
        }

        const pull = yield* Scope.extend(Stream.toPull(proc.stdout), scriptScope)
        const read = yield* readHead(pull).pipe(
          Effect.raceFirst(deadline),
          Effect.mapError((problem) => {
            if (problem instanceof CgiTimeout) {
              return new HttpError({ status: 504, explain: "The CGI script did not answer in time" })
            }
            const reason = problem === "NoOutput"
              ? "no output"
              : problem === "TooLarge"
              ? `a header block over ${MAX_HEADER_BYTES} bytes`
              : typeof problem === "string"
              ? "a malformed header block"
              : "unreadable output"
            log(`CGI script produced ${reason}`)
            return new HttpError({ status: 502, explain: `The CGI script produced ${reason}` })
          })
        )
        const { head } = read
        const target = head.location
        if (target !== undefined && head.status === undefined && target.startsWith("/") && !target.startsWith("//")) {
          yield* Scope.close(scriptScope, Exit.void)
          if (redirects >= MAX_REDIRECTS) {
            log(`CGI local redirect loop at ${target}`)
            return yield* Effect.fail(new HttpError({ status: 500, explain: "Too many CGI local redirects" }))
          }
          return yield* dispatch(localRedirect(request, target), redirects + 1)
        }
        const status = head.status?.code ?? (target !== undefined ? 302 : 200)
        const reason = head.status?.reason
        const remaining = Stream.repeatEffectChunkOption(pull)

        if (status === 204 || status === 304) {
          // No content, and no Content-Length (RFC 9110 §8.6, §15.4.5): the script's is the length of output that
          // is not sent, which a client honouring it would take from the next response.
          const headers = head.headers.filter(([name]) => name.toLowerCase() !== "content-length")
          return Response.make(status, Response.emptyBody, { reason, headers })
        }

        if (head.contentLength !== undefined) {
          const body = exactly(Stream.concat(Stream.make(read.leftover), remaining), head.contentLength).pipe(
            Stream.concat(Stream.execute(logExit)),
            interruptOnDeadline
          )
          return Response.make(status, { _tag: "Stream", stream: body }, { reason, headers: head.headers })
        }

        // Small outputs are read whole so they can be sent with a length (and the connection kept).
        const buffered: Array<Uint8Array> = [read.leftover]
        let size = read.leftover.length
        let ended = read.ended
        while (!ended && size <= BUFFER_LIMIT) {
          const next = yield* Effect.either(
            Effect.raceFirst(pull, Effect.mapError(deadline, (e) => Option.some<unknown>(e)))
          )
          if (next._tag === "Left") {
            if (Option.isSome(next.left) && next.left.value instanceof CgiTimeout) {
              return yield* Effect.fail(new HttpError({ status: 504, explain: "The CGI script did not answer in time" }))
            }
            ended = true
          } else {
            for (const piece of Chunk.toReadonlyArray(next.right)) {
              buffered.push(piece)
              size += piece.length
            }
          }
        }
        if (ended) {
          yield* logExit.pipe(Effect.raceFirst(Effect.ignore(deadline)))
          const bytes = Buffer.concat(buffered)
          return Response.make(status, { _tag: "Bytes", bytes }, {
            reason,
            headers: [...head.headers, ["Content-Length", String(bytes.length)]]
          })
        }
        const body = Stream.fromIterable(buffered).pipe(
          Stream.concat(remaining),
          Stream.concat(Stream.execute(logExit)),
          interruptOnDeadline
        )
        return Response.make(status, { _tag: "Stream", stream: body }, { reason, headers: head.headers })
      })

    /** GET/HEAD (and POST, for scripts): a script, a file, or an error. */
    const dispatch = (
      request: Request,
      redirects: number
    ): Effect.Effect<Response.Response, HttpError, Scope.Scope | CommandExecutor.CommandExecutor> => {
      const match = isCgi(request.path, cgiDirectories)
      switch (match._tag) {
        case "Cgi":
          return runScript(request, match.dir, match.rest, redirects)
        case "Invalid":
          return Effect.fail(new HttpError({ status: 400, message: "Bad request path" }))
        case "NotCgi": {
          if (request.method === "POST") {
            return Effect.fail(new HttpError({ status: 501, message: "Can only POST to CGI scripts" }))
          }
          const handler = request.method === "HEAD" ? staticHead : staticGet
          if (handler === undefined) {
            return Effect.fail(new HttpError({ status: 501, message: `Unsupported method (${pyRepr(request.method)})` }))
          }
          // Python serves a script's source here (`/cgi-bin/x.sh#/../..` is not CGI once collapsed).
          return Effect.flatMap(
            underCgiDirectory(fs, root, cgiDirectories, request.path, indexPages),
            (under) => (under ? Effect.fail(cgiSourceRefused) : handler(request))
          )
        }
      }
    }

    const handle = (request: Request) => dispatch(request, 0)
    const cgiMap = yield* Handler.make({ GET: handle, HEAD: handle, POST: handle })
    const combined = Handler.combine(staticMap, cgiMap)
    return basicAuth === undefined ? combined : protect(combined, yield* StaticFiles.validCredentials(basicAuth))
  })

const cgiSourceRefused = new HttpError({ status: 403, message: "CGI directories are not served as files" })

/** The request a local redirect makes: GET (HEAD stays HEAD) of the new path, without a body. */
const localRedirect = (request: Request, target: string): Request => {
  const { pathname, query } = splitPath(target)
  return {
    ...request,
    method: request.method === "HEAD" ? "HEAD" : "GET",
    target,
    path: target,
    pathname,
    query,
    headers: new Headers(
      request.headers.fields.filter(([name]) => {
        const lower = name.toLowerCase()
        return lower !== "content-length" && lower !== "content-type" && lower !== "transfer-encoding"
      })
    ),
    framing: "none",
    contentLength: 0,
    body: Stream.empty
  }
}

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
