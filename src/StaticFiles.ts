/**
 * Python's `SimpleHTTPRequestHandler` as handlers: GET and HEAD over a directory, with Python's path translation,
 * redirects, index pages, directory listings, `Last-Modified` and `If-Modified-Since`, byte for byte; and, beyond
 * Python (on by default, off with `pythonCompat`), `Accept-Ranges`/`Range`/`If-Range` and `ETag`/`If-None-Match`.
 *
 * Symbolic links are followed wherever they point, as Python follows them: a link inside the directory to a file
 * or directory outside it is served. Only the request path is confined (`..`, `%2e%2e`, `%2f` cannot climb out of
 * the root); the file system's links are trusted. The listing marks links with `@`. With `followSymlinks: false`
 * the file or directory is opened first and what was opened is checked (on Linux, the descriptor's own path), so
 * anything resolving outside the root answers 404 however its links are swapped (and is hidden from listings).
 *
 * Deliberate differences from Python 3.11 (see `test/StaticFiles.diff.test.ts`):
 * - a NUL byte or a surrogate no byte stands for (`%ED%A0%80`, `%ED%B0%AF`) in the decoded path answers 404; Python
 *   raises inside `open()` and closes the connection without a response. A listing title with such a surrogate
 *   shows U+FFFD where Python raises;
 * - names that differ only by case are listed in the order Node reads the directory (sorted), not `os.listdir`'s;
 * - something that is neither a regular file nor a directory (FIFO, device, socket) answers 404, decided on the
 *   `fstat` of the descriptor opened (non-blocking) for the answer, so one swapped in after a `stat` neither blocks
 *   nor streams without end; Python opens it. A file is read up to that `fstat` size. HEAD opens the file as GET
 *   does (so its answer is Python's 404 for one that cannot be opened). File bytes are read with `node:fs` on that
 *   descriptor whatever `FileSystem` is provided.
 *
 * @since 0.1.0
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as HttpApp from "@effect/platform/HttpApp"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type * as Path from "@effect/platform/Path"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Handler from "./Handler.js"
import { HttpError } from "./HttpError.js"
import * as BasicAuth from "./internal/basicAuth.js"
import * as Extras from "./internal/extras.js"
import { errorResponse, toServerResponse } from "./internal/httpAppBridge.js"
import { wantsFallback } from "./internal/spa.js"
import { serve, serveWithCache, type StaticRequest } from "./internal/staticFiles.js"
import { collapseSlashes, notFound, refusedBy, withFallback } from "./internal/staticLookup.js"
import * as resolve from "./internal/staticResolve.js"
import * as Upload from "./internal/upload.js"
import * as UrlPath from "./internal/urlPath.js"
import { DEFAULT_ERROR_MESSAGE } from "./internal/wire.js"
import type { MimeTypes } from "./MimeTypes.js"
import type { Request } from "./Request.js"

/**
 * Settings of the static-file handler.
 *
 * @since 0.1.0
 * @category options
 */
export interface StaticFilesOptions {
  /** The directory served (Python's `directory`). Default: the current directory when the handler is built. */
  readonly directory?: string
  /**
   * Extension → content type, consulted before the `MimeTypes` service, exact extension first, then lower-cased,
   * as Python's `extensions_map` (e.g. `{ ".md": "text/markdown; charset=utf-8" }`).
   */
  readonly extensionsMap?: Record<string, string>
  /** Files tried, in order, for a directory requested with a trailing slash. Default `["index.html", "index.htm"]`. */
  readonly indexPages?: ReadonlyArray<string>
  /**
   * `Accept-Ranges: bytes`, `Range` (206/416) and `If-Range`, for GET of files. Several ranges are answered with
   * `multipart/byteranges` (parts in the order asked), except more than 16 ranges or overlapping ones, which get
   * the whole file (200) as RFC 9110 §14.3 allows. A malformed `Range` is ignored. Default: on, unless
   * `pythonCompat`.
   */
  readonly rangeRequests?: boolean
  /** `ETag` on files and `If-None-Match` (304). Default: on, unless `pythonCompat`. */
  readonly etag?: boolean
  /** Answer exactly as Python 3.11 does: turns the defaults of `rangeRequests` and `etag` off. */
  readonly pythonCompat?: boolean
  /** Files up to this many bytes are read whole and sent in one write; larger ones stream. Default 64 KiB. */
  readonly smallFileLimit?: number
  /** Read size of a streamed file: what a download holds in memory besides the socket buffer. Default 256 KiB. */
  readonly chunkSize?: number
  /**
   * The response cache for small files (on by default). Files up to `maxFileSize` (default: `smallFileLimit`) are
   * kept in memory with their ready-made responses, at most `maxEntries` (default 1000) and `maxBytes` (default
   * 32 MiB), least recently used first out. Every request still stats the file (synchronously), so a file that
   * changed, vanished or became a directory is never served from the cache; a file changed less than `settleMs`
   * ago (default 2000) is not cached, because file-system timestamps are too coarse to tell two writes within one
   * tick apart. Directory listings are cached too (100 directories, 8 MiB), validated by the directory's own
   * stat, except listings that contain symbolic links (their targets can change unseen).
   *
   * With the cache on, the handler uses `node:fs` directly for its hot paths (the per-request stat, listings
   * through `readdir` with file types, reads of large files on the opened descriptor), so it serves the real file system whatever `FileSystem` layer is
   * provided. `cache: false` keeps every file-system access on `FileSystem` (e.g. for a virtual one).
   */
  readonly cache?: boolean | {
    readonly maxEntries?: number
    readonly maxBytes?: number
    readonly maxFileSize?: number
    readonly settleMs?: number
  }
  /**
   * Extra response fields (Python 3.15's `extra_response_headers`, the CLI's `-H`), sent after the handler's own on
   * 200 and 206 answers (files and listings, GET and HEAD), never on errors, redirects or 304, as Python does. A
   * field replaces the handler's field of the same name (case-insensitively: one `Content-Type`, not two). A
   * name must be a token and not one the server owns (`Content-Length`, `Transfer-Encoding`, `Connection`,
   * `Content-Range`); a value must not contain CR, LF or other control characters but HTAB, nor characters beyond
   * latin-1. An invalid field is a defect when the handler is built. Default: none.
   */
  readonly headers?: ReadonlyArray<readonly [name: string, value: string]>
  /**
   * Python 3.14's `<style>` with `color-scheme: light dark` in directory listings (browsers then follow the
   * reader's dark mode). Default `false`: the page stays byte-identical to Python 3.11's. For the error pages, which
   * the server renders, pass {@link COLOR_SCHEME_ERROR_MESSAGE} as `Server.make`'s `errorMessageFormat` (`toHttpApp`
   * uses it itself when this is on).
   */
  readonly colorScheme?: boolean
  /**
   * CORS for any origin: `Access-Control-Allow-Origin: *` on every answer (errors and redirects included, so a
   * cross-origin script can read a 404), and `OPTIONS` answered as a preflight: 204 with
   * `Access-Control-Allow-Methods: GET, HEAD, OPTIONS` (`, PUT` with `upload` and `basicAuth` both on, never
   * without a password: any page the user visits could otherwise write files), `Access-Control-Allow-Headers` echoing the request's
   * `Access-Control-Request-Headers` when all of them are tokens (not sent otherwise, so the browser refuses),
   * `Access-Control-Max-Age: 86400`. No credentials. Default `false`: `OPTIONS` answers 501 as in Python.
   */
  readonly cors?: boolean
  /**
   * `Cache-Control` on file and listing answers (200, 206 and 304), e.g. `"no-cache"` or `"public, max-age=3600"`.
   * A value with CR, LF or other control characters but HTAB, or empty, is a defect when the handler is built.
   * Default: none (Python sends none).
   */
  readonly cacheControl?: string
  /**
   * Hide dot files: a request whose path has a component starting with `.` (after `%`-decoding, at any depth:
   * `/.git/config`, `/a/.env`, `/%2eenv`) answers 404, and such names are left out of listings. The resolved
   * names count too: a link to a dot name (`gitlink -> .git`) is refused and not listed (below the root the real
   * path's components are checked; for a link leading outside the root, all of them), and what is opened is checked
   * as with `followSymlinks: false`. An `indexPages` entry that is a dot name is a defect. Default `false` (Python
   * serves and lists them).
   */
  readonly hideDotfiles?: boolean
  /**
   * `false`: serve nothing whose real path leaves the directory. Each request's path is resolved (`realpath`, at
   * request time, before the response cache is consulted) and answers 404 when a link anywhere in it (the file, a
   * directory, an index page) points outside the root; such links are left out of listings. Then the file (or the
   * listed directory) is opened and what was opened is checked again, on its descriptor (Linux: `/proc/self/fd/N`;
   * elsewhere its inode against the real path's), so a writer swapping a link in between gains nothing; validators
   * and bytes come from that descriptor, and the response cache only holds bytes read from one. The checks use
   * `node:fs` whatever `FileSystem` is provided. Default `true`: links are followed wherever they point, as Python
   * does.
   */
  readonly followSymlinks?: boolean
  /**
   * URL paths of directories (`"/cgi-bin"`) nothing in or below which is served as a file or listed, however it is
   * reached: judged on the real path of what was opened (a link, an index page, the SPA fallback or a `.gz`
   * sibling leading into one answers 404). `Cgi.make` sets it to its `cgiDirectories`, so a script's source is
   * never sent. Default: none.
   */
  readonly notServed?: ReadonlyArray<string>
  /**
   * Directory listings as JSON for scripts, where the HTML listing would be sent (a directory without an index
   * page), when the query has `format=json` or the `Accept` field prefers `application/json` to `text/html`
   * (RFC 9110 quality values: `application/json;q=0` does not count, `*\/*` alone is a tie and gets HTML). The
   * body is `[{ "name", "type": "file" | "directory" | "symlink", "size", "mtime" }]` in the HTML listing's order,
   * `size` in bytes and `mtime` in ISO 8601 UTC, both of the link's target for a link (`null` when it is missing);
   * `Content-Type: application/json`. `hideDotfiles` and `followSymlinks: false` leave out what they leave out of
   * the HTML listing. At most 10,000 entries, the first in name order, with `X-Listing-Truncated: shown/total`
   * when the directory has more. Every listing (HTML too) then carries `Vary: Accept`. JSON listings are not cached. Default
   * `false`: listings are Python's HTML whatever is asked.
   */
  readonly jsonListing?: boolean
  /**
   * A single-page application's page (e.g. `"index.html"`), relative to `directory`, answered with 200 in place
   * of a 404 when all of these hold: the method is GET or HEAD; nothing is served at the path (missing, or refused
   * by `hideDotfiles`/`followSymlinks: false`, which look missing; an unlistable directory keeps its 404); the
   * path's last non-empty segment has no extension (`/deep/route` and `/users/` qualify, `/assets/missing.js`
   * and `/file.txt/` do not); and
   * `Accept` names `text/html` or `text/*` with a quality above 0 (`*\/*` alone does not count, so `fetch` and
   * `curl` defaults keep their 404). The page is served as its own URL would be (validators, ranges, extra
   * headers). The name must be relative, without `..`, and the file must exist when the handler is built (a
   * defect otherwise; the CLI also checks that its real path is inside the directory). Default: none (404s stay).
   */
  readonly spaFallback?: string
  /**
   * HTTP Basic authentication (RFC 7617): every request (every method the handlers answer, and the
   * `Expect: 100-continue` hook, so no body is uploaded first) without one of these user names and passwords
   * answers `401` with `WWW-Authenticate: Basic realm="effect-httpd", charset="UTF-8"`. Credentials are decoded
   * as UTF-8; the user name ends at the first colon, the password may contain colons. The comparison runs in
   * constant time over SHA-256 digests, against every entry. A user name must be non-empty without `:`, and
   * neither may contain control characters (a defect when the handler is built). Basic sends the password in
   * clear: use it over TLS or on loopback (the CLI refuses otherwise). `Cgi.make` protects its scripts with it too.
   * Default: none.
   */
  readonly basicAuth?: BasicAuth.Credentials | ReadonlyArray<BasicAuth.Credentials>
  /**
   * Precompressed siblings: a GET or HEAD of a file `f` that has a regular file `f.br` or `f.gz` beside it (links
   * followed, within the root with `followSymlinks: false`) is answered with the sibling's bytes when
   * `Accept-Encoding` allows (RFC 9110 §12.5.3 quality values; `x-gzip` is gzip): the highest quality wins, identity
   * competing only when rated (its own `q`, else `*`'s: `gzip;q=0.5, identity` gets the file itself,
   * `gzip;q=0.5` gets gzip); at equal quality br beats gzip beats identity; `q=0` excludes.
   * No `Accept-Encoding` gets the file itself. When nothing is acceptable (`identity;q=0` and no acceptable
   * sibling) the file itself is sent rather than 406, as RFC 9110 lets a server disregard the field. The answer
   * keeps the original's `Content-Type`, adds `Content-Encoding`, and has the sibling's length, `Last-Modified` and
   * an `ETag` of its own suffixed `-br` / `-gzip`; `Range` applies to the compressed bytes (RFC 9110 §14.1.2).
   * Every answer for a file that has a sibling, 304 included, carries `Vary: Accept-Encoding`. Index pages are
   * served as they are (only a file named by the path itself is negotiated). zstd is not offered: Node 20's
   * `zlib` has none. The sibling lookup stats synchronously with `node:fs` when the response cache is on; the
   * cache keeps one entry per coding. Default `false`.
   */
  readonly precompressed?: boolean
  /**
   * `PUT /path` stores the request body as that file (RFC 9110 §9.3.4): 201 Created with `Location` for a new file,
   * 204 No Content for a replaced one. The body is streamed (with backpressure) into a temporary file in the
   * target's directory (`.effect-httpd-upload-…`), renamed over the target only once complete: a client gone
   * mid-body, a write error or a body over `maxBytes` (default 100 MiB; 413, also while a chunked body streams)
   * removes it and leaves the target untouched. Refused: no `Content-Length` nor chunked body (411); a declared
   * length over the cap (413, before reading, and in answer to `Expect: 100-continue`); a symbolic link anywhere
   * below the root on the way or as the target, checked with `lstat` per component before and after the body
   * (403); a directory, a missing or non-directory parent, or something not a regular file as target (409); a
   * path with a component starting with `.` (`.git/config`, `%2egit`), always, whatever `hideDotfiles` says
   * (403); a control character (C0, DEL, C1) in the name (400) or a component over 255 bytes or a path over 4095
   * (414), before the body. A replaced file keeps its permission bits (the new contents are 0600 until then).
   * The temporary file and the rename go through the target's directory opened and verified by its real path
   * (`/proc/self/fd/N` on Linux), so a component swapped for a link mid-upload writes nothing outside the root.
   * Temporary files are never listed nor served. The path is confined as GET's (`translatePath`: `..`, `%2e%2e`,
   * `%2f` stay inside the root). Without this option `PUT` answers 501. `basicAuth` guards it like every method.
   * Writes use `node:fs` whatever `FileSystem` is provided; `toHttpApp` does not offer `PUT`. Default: off.
   */
  readonly upload?: boolean | { readonly maxBytes?: number }
  /**
   * On-the-fly compression: a GET of a file of a compressible type (`text/*`, `application/json`,
   * `application/javascript`, `application/xml`, `image/svg+xml`, `+json` / `+xml` suffixes; parameters ignored)
   * of at least `minBytes` (default 1024) is sent gzip- or brotli-encoded (brotli at quality 4) when
   * `Accept-Encoding` allows it, negotiated as `precompressed` does (q-values, br before gzip at equal quality,
   * identity when it rates higher; no field: identity). Not applied to a request with `Range` (it gets the
   * identity bytes, ranges as usual), nor when a precompressed sibling was chosen. Files up to `smallFileLimit`
   * (64 KiB) are compressed in memory and sent with `Content-Length` (keep-alive holds); larger ones stream
   * through zlib without a length, so the connection closes after the body. HEAD gets the GET's fields without
   * `Content-Length`. A compressed answer has a weak `ETag` (`W/"…-gzip"`, `W/"…-br"`), matched by
   * `If-None-Match` only for its own coding; every answer for an eligible file (identity and 304 too) carries
   * `Vary: Accept-Encoding`. Listings are not compressed. Files over `maxBytes` (default 10 MiB) are sent as they
   * are (no `Vary`), so one request cannot cost seconds of CPU. Default: off.
   */
  readonly compress?: boolean | { readonly minBytes?: number; readonly maxBytes?: number }
  /**
   * Directory listings as a browser page: breadcrumbs, a filter box (script), type icons, a table of name, size
   * (binary units; exact bytes in its `title`) and modification time (UTC, rewritten in local time by the script;
   * the exact instant in `title`), directories first, sorted by `?sort=name|size|time&order=asc|desc` (unknown or
   * missing values: name, ascending; ties in the name order), a summary line, dark mode, phone width; links to the
   * JSON form (`jsonListing`) and the archives (`archives`); with `upload`, a drop zone with per-file progress
   * (one `PUT` per file). Names are HTML-escaped (bidi controls shown as `\u202e`) and their links `%`-encoded
   * exactly as in Python's listing (`/` after a directory, `@` after a link). Sent with a
   * `Content-Security-Policy` allowing only the page's own inline style and script, by hash. `hideDotfiles` and
   * `followSymlinks: false` apply as to the plain listing. At most 10 000 entries. Not cached. Default `false`:
   * Python's page, byte for byte.
   */
  readonly richListing?: boolean
  /**
   * `GET /dir/?download=tar.gz` or `?download=zip` sends the directory's tree as an archive, built while it is
   * sent (`Content-Disposition: attachment; filename="dir.tar.gz"`; no `Content-Length`, so the connection closes
   * after it). Memory stays flat whatever the files' sizes: one chunk in flight per stage, read as the client takes
   * the bytes; a client gone mid-way closes every file at once. In it: directories, regular files, and links to
   * regular files whose real path is under the root (never a link leaving the root, whatever `followSymlinks`
   * says; links to directories are left out); no dot names with `hideDotfiles`; no upload temporary files; nothing
   * else (FIFOs, devices). Over `maxEntries` (default 100 000) or `maxBytes` of file content (default 16 GiB),
   * the answer is 413 before any byte. At most `maxConcurrent` (default 2) archives are built at once (each costs a
   * core): one more answers 503 with `Retry-After: 1`. The rich listing links to both. tar via `tar-stream` + `node:zlib`, zip via
   * `yazl`. Default: off.
   */
  readonly archives?: boolean | {
    readonly maxEntries?: number
    readonly maxBytes?: number
    readonly maxConcurrent?: number
  }
}

/**
 * Python 3.14's error page: 3.11's with a `color-scheme: light dark` style block (gh-123430), for
 * `Server.make({ errorMessageFormat })`.
 *
 * @since 0.1.0
 * @category constants
 */
export const COLOR_SCHEME_ERROR_MESSAGE: string = DEFAULT_ERROR_MESSAGE.replace(
  "        <title>",
  "        <style type=\"text/css\">\n            :root {\n                color-scheme: light dark;\n            }\n" +
    "        </style>\n        <title>"
)

/**
 * Python's `translate_path`: the file-system path for a request path under `root`. Query and fragment are
 * dropped, `%`-escapes decoded (UTF-8, `surrogatepass`, falling back to U+FFFD replacement), the path normalised
 * and `''`, `.` and `..` components skipped, so the result stays under `root`; a trailing slash is kept.
 *
 * @since 0.1.0
 * @category utils
 */
export const translatePath: (root: string, path: string) => string = UrlPath.translatePath

/**
 * `basicAuth` as a list, checked (a defect when invalid, as the other options).
 *
 * @since 0.1.0
 * @category utils
 */
export const validCredentials: (
  value: BasicAuth.Credentials | ReadonlyArray<BasicAuth.Credentials>
) => Effect.Effect<ReadonlyArray<BasicAuth.Credentials>> = resolve.validCredentials

/**
 * The GET and HEAD handlers, reading files through `FileSystem` and content types from `MimeTypes`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: StaticFilesOptions = {}
): Effect.Effect<Handler.HandlerMap, never, FileSystem.FileSystem | Path.Path | MimeTypes> =>
  Effect.flatMap(resolve.resolveConfig(options), ({ auth, cache, config, extras, fs, listings, spa, upload }) => {
    const finish = Extras.apply(extras)
    const refused = refusedBy(config)
    const lookup = (request: Request, path: string) => {
      if (refused(path)) return Exit.fail(notFound)
      const staticRequest: StaticRequest = {
        method: request.method,
        path,
        publicPath: path,
        header: (name) => request.headers.get(name)
      }
      return cache === undefined || listings === undefined
        ? serve(fs, config, staticRequest)
        : serveWithCache(fs, config, cache, listings, staticRequest)
    }
    const handler: Handler.Handler = spa === undefined
      ? (request) => finish(lookup(request, request.path))
      : (request) =>
        finish(withFallback(
          lookup(request, request.path),
          () => wantsFallback(request.method, request.path, request.headers.get("accept")),
          () => lookup(request, spa)
        ))
    const routes: Record<string, Handler.Handler> = { GET: handler, HEAD: handler }
    // A preflight allowing PUT from any origin would let every page the user visits write files: only with a
    // password, which such a page does not have.
    const methods = upload === undefined || auth === undefined ? "GET, HEAD, OPTIONS" : "GET, HEAD, OPTIONS, PUT"
    if (extras.cors) routes["OPTIONS"] = (request) => Extras.preflight((name) => request.headers.get(name), methods)
    if (upload !== undefined) routes["PUT"] = (request) => finish(Upload.makePut(upload)(request))
    const map = upload === undefined
      ? Handler.make(routes)
      : Handler.make(routes, { expectContinue: Upload.expectContinue(upload) })
    return auth === undefined ? map : Effect.map(map, (handlers) => BasicAuth.protect(handlers, auth))
  })

/**
 * The static-file handlers as the server's `Handlers`.
 *
 * @example
 * ```ts
 * import * as NodeContext from "@effect/platform-node/NodeContext"
 * import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
 * import { Layer } from "effect"
 * import * as AccessLog from "effect-httpd/AccessLog"
 * import { MimeTypes } from "effect-httpd/MimeTypes"
 * import * as Server from "effect-httpd/Server"
 * import * as StaticFiles from "effect-httpd/StaticFiles"
 *
 * // `python3 -m http.server -d ./public`, with ranges and ETags
 * const files = StaticFiles.layer({ directory: "./public" }).pipe(
 *   Layer.provide(MimeTypes.layer()),
 *   Layer.provide(NodeContext.layer)
 * )
 *
 * Server.layer({ port: 8000 }).pipe(
 *   Layer.provide(Layer.merge(files, AccessLog.layerStderr)),
 *   Layer.launch,
 *   NodeRuntime.runMain
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: StaticFilesOptions = {}
): Layer.Layer<Handler.Handlers, never, FileSystem.FileSystem | Path.Path | MimeTypes> =>
  Layer.effect(Handler.Handlers, make(options))

/**
 * The static files as an `@effect/platform` `HttpApp`, to mount in an `HttpRouter` of an existing application
 * (`HttpRouter.mountApp("/static", app)`): the request's URL below the mount point is looked up, while the
 * redirect's `Location` and the listing's title use the full URL the client sent. Methods other than GET and
 * HEAD answer 501 as Python does; errors use Python's error page. The file is opened in the request's scope,
 * which `@effect/platform` closes after the response is written.
 *
 * @since 0.1.0
 * @category conversions
 */
export const toHttpApp = (
  options: StaticFilesOptions = {}
): Effect.Effect<
  HttpApp.Default<never, Scope.Scope>,
  never,
  FileSystem.FileSystem | Path.Path | MimeTypes
> =>
  Effect.map(resolve.resolveConfig(options), ({ auth, config, extras, fs, spa }) => {
    const finish = Extras.apply(extras)
    const template = config.colorScheme ? COLOR_SCHEME_ERROR_MESSAGE : DEFAULT_ERROR_MESSAGE
    const refused = refusedBy(config)
    const authorized = auth === undefined ? () => true : BasicAuth.makeCheck(auth)
    return Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
      // node:http keeps the first of repeated `Authorization` fields: only the preflight rule applies here.
      const header = (name: string): string | undefined => request.headers[name]
      if (!BasicAuth.isPreflight(request.method, header) && !authorized(header("authorization"))) {
        return Effect.succeed(errorResponse(
          new HttpError({ status: 401, headers: [["WWW-Authenticate", BasicAuth.CHALLENGE]] }),
          template
        ))
      }
      if (request.method === "OPTIONS" && extras.cors) {
        return Effect.map(Extras.preflight((name) => request.headers[name.toLowerCase()]), toServerResponse)
      }
      if (request.method !== "GET" && request.method !== "HEAD") {
        return Effect.succeed(errorResponse(
          new HttpError({ status: 501, message: `Unsupported method ('${request.method}')` }),
          template
        ))
      }
      const staticRequest: StaticRequest = {
        method: request.method,
        path: collapseSlashes(request.url),
        publicPath: collapseSlashes(request.originalUrl),
        header: (name) => request.headers[name.toLowerCase()]
      }
      const lookup = (one: StaticRequest) => refused(one.path) ? Exit.fail(notFound) : serve(fs, config, one)
      const result = spa === undefined ? lookup(staticRequest) : withFallback(
        lookup(staticRequest),
        () => wantsFallback(request.method, staticRequest.path, staticRequest.header("accept")),
        () => lookup({ ...staticRequest, path: spa, publicPath: spa })
      )
      return finish(result).pipe(
        Effect.map(toServerResponse),
        Effect.catchAll((error) => Effect.succeed(errorResponse(error, template)))
      )
    })
  })
