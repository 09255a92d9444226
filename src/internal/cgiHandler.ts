/**
 * The CGI handler's body: scripts run per request, under the process cap and the timeout, their output answered.
 */
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Chunk from "effect/Chunk"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { AccessLog, formatLine } from "../AccessLog.js"
import type { CgiOptions } from "../Cgi.js"
import * as Handler from "../Handler.js"
import { Headers } from "../Headers.js"
import { HttpError } from "../HttpError.js"
import { type Request, splitPath } from "../Request.js"
import * as Response from "../Response.js"
import { VERSION } from "../Server.js"
import * as StaticFiles from "../StaticFiles.js"
import { protect } from "./basicAuth.js"
import { buildEnvironment, scriptArguments } from "./cgiEnv.js"
import { findSetpriv, isExecutable, isPython, nobodyIds } from "./cgiExec.js"
import { underCgiDirectory, verifyScript } from "./cgiGate.js"
import { makeProcessLimit } from "./cgiLimit.js"
import { exactly, MAX_HEADER_BYTES, readHead } from "./cgiOutput.js"
import { isCgi, locateScript, translatePath, unquote } from "./cgiPath.js"
import * as Script from "./cgiProcess.js"
import { getfqdn } from "./fqdn.js"
import { osCwd } from "./osArgs.js"
import { fsPath } from "./osPath.js"
import { pyRepr } from "./pythonText.js"
import { printable } from "./extras.js"
import { fallbackPath } from "./spa.js"

export class CgiTimeout extends Data.TaggedError("CgiTimeout")<{ readonly message: string }> {
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

// Typed where it is exported, in Cgi.ts.
export const make = (options: CgiOptions = {}) =>
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

    const directory = options.directory ?? osCwd()
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
      return yield* Effect.dieMessage(`Cgi: spaFallback '${printable(options.spaFallback)}' is inside a CGI directory`)
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
        // `stat` and `spawn` below take strings: a path that is not UTF-8 (the script's name, or the served
        // directory's) would name its U+FFFD twin, which may exist, even outside the root.
        if (runnable === undefined || typeof fsPath(runnable) !== "string") return yield* Effect.fail(noSuchScript)
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
