/**
 * The command's options and arguments as `@effect/cli` declares them, with their `--help` text, and the command.
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as Path from "@effect/platform/Path"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { CliConfig, CliError } from "../Cli.js"
import * as Server from "../Server.js"
import { NAME } from "./cliMessages.js"
import { validate } from "./cliValidate.js"
import { osCwd } from "./osArgs.js"

export const DEFAULT_PORT = 8000

const port = Args.integer({ name: "port" }).pipe(
  Args.withDescription(`Port to listen on, 0 for any free port (default: ${DEFAULT_PORT}). Example: 8080`),
  // Optional rather than defaulted: `--stdio` refuses a port, so whether one was given must be known.
  Args.optional
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
const stdio = Options.boolean("stdio").pipe(
  Options.withDescription(
    "Serve one connection on standard input and output instead of listening (inetd, systemd socket activation " +
      "with Accept=yes, an ssh forced command); the access log goes to standard error, nothing else is printed. " +
      "Example: --stdio -p HTTP/1.1"
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

export const makeCommand = <R>(execute: (config: CliConfig) => Effect.Effect<void, CliError, R>) =>
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
      keepAliveOnError,
      stdio
    },
    ({ port, ...rest }) =>
      Effect.gen(function*() {
        const path = yield* Path.Path
        const raw = { ...rest, port: Option.getOrElse(port, () => DEFAULT_PORT), portGiven: Option.isSome(port) }
        const config = yield* validate(raw, osCwd(), (from, to) => path.resolve(from, to))
        return yield* execute(config)
      })
  ).pipe(
    Command.withDescription(
      "Serve a directory over HTTP or HTTPS, like Python's `python -m http.server`. Stop with Ctrl-C."
    )
  )

export const appInfo = {
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
    HelpDoc.p(`${NAME} -p HTTP/1.1 --keep-alive-on-error      a 404 keeps the connection, as most servers do`),
    HelpDoc.p(`${NAME} --stdio -p HTTP/1.1 -d /srv/www         one connection on stdin/stdout (inetd, systemd Accept=yes)`)
  ])
}

export { normalizeArgs } from "./cliArgv.js"
