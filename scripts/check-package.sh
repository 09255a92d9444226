#!/usr/bin/env bash
# The package as a new Effect user meets it (not a test: it needs the npm registry). In a fresh directory outside
# the repository: install the packed tarball with `effect` one patch version older than the one this repository
# resolves, then check that there is one copy of effect (`npm ls effect`), that a small app type-checks (strict,
# NodeNext), and that it runs: an effect-httpd Server answering a request, and an @effect/platform HttpRouter on
# NodeHttpServer with effect-httpd's StaticFiles.toHttpApp mounted, answering requests (and, once the package has
# it, an HttpRouter on PlatformServer.layerTest). The executable from the same tarball is run too, installed with the
# app and alone. Exits non-zero on the first failure.
#
#   scripts/check-package.sh            # effect = our resolved version minus one patch (e.g. 3.22.3 for 3.22.4)
#   EFFECT_VERSION=3.22.2 scripts/check-package.sh
#   KEEP=1 scripts/check-package.sh     # keep the temporary directory
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d)"
if [[ "${KEEP:-}" != "1" ]]; then trap 'rm -rf "$work"' EXIT; else echo "kept: $work"; fi

ours="$(node -p 'require(process.argv[1]).version' "$root/node_modules/effect/package.json")"
if [[ -z "${EFFECT_VERSION:-}" ]]; then
  IFS=. read -r major minor patch <<<"$ours"
  if [[ "$patch" -eq 0 ]]; then echo "effect $ours has no older patch version; set EFFECT_VERSION" >&2; exit 2; fi
  EFFECT_VERSION="$major.$minor.$((patch - 1))"
fi
echo "== effect resolved in the repository: $ours; the app installs effect@$EFFECT_VERSION"

echo "== npm pack"
(cd "$root" && npm pack --silent --pack-destination "$work" >/dev/null 2>"$work/pack.log") || { cat "$work/pack.log"; exit 1; }
tarball="$(ls "$work"/effect-httpd-*.tgz)"
tar -tzf "$tarball" | sed 's|^package/||' >"$work/contents.txt"
echo "   $(basename "$tarball"): $(wc -l <"$work/contents.txt") files, $(du -k "$tarball" | cut -f1) KiB"
if grep -Eq '^(test|scripts|bench-results|node_modules)/' "$work/contents.txt"; then
  echo "unexpected files in the tarball:" >&2; grep -E '^(test|scripts|bench-results|node_modules)/' "$work/contents.txt" >&2; exit 1
fi

app="$work/app"
mkdir -p "$app/src" "$app/public"
cd "$app"
cat >package.json <<'JSON'
{ "name": "check-app", "private": true, "type": "module" }
JSON
echo "== npm install (registry)"
npm install --silent --no-audit --no-fund "$tarball" "effect@$EFFECT_VERSION" \
  "@effect/platform@^0.97" "@effect/platform-node@^0.108" "typescript@~5.9" "@types/node@^20" 2>"$work/install.log" \
  || { cat "$work/install.log"; exit 1; }
grep -v 'install-scripts' "$work/install.log" || true

echo "== npm ls effect"
npm ls effect --all >"$work/ls.txt" || true
versions="$(grep -oE 'effect@[0-9][^ ]*' "$work/ls.txt" | sort -u)"
echo "   $(grep -c 'effect@' "$work/ls.txt") references, distinct: $(echo "$versions" | tr '\n' ' ')"
if [[ "$versions" != "effect@$EFFECT_VERSION" ]]; then cat "$work/ls.txt"; echo "more than one effect" >&2; exit 1; fi
copies="$(find . -path '*/node_modules/effect/package.json' | wc -l)"
echo "   effect directories in node_modules: $copies"
[[ "$copies" -eq 1 ]] || exit 1

cat >tsconfig.json <<'JSON'
{
  "compilerOptions": {
    "target": "ES2022",
    "module": "NodeNext",
    "moduleResolution": "NodeNext",
    "lib": ["ES2022"],
    "types": ["node"],
    "strict": true,
    "exactOptionalPropertyTypes": true,
    "skipLibCheck": true,
    "rootDir": "src",
    "outDir": "out"
  },
  "include": ["src"]
}
JSON
printf '# hi\n' >public/notes.md
cat >src/main.ts <<'TS'
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Console, Effect, Layer } from "effect"
import * as AccessLog from "effect-httpd/AccessLog"
import * as Handler from "effect-httpd/Handler"
import { MimeTypes } from "effect-httpd/MimeTypes"
import * as Response from "effect-httpd/Response"
import * as Server from "effect-httpd/Server"
import * as StaticFiles from "effect-httpd/StaticFiles"

class Greeting extends Effect.Tag("Greeting")<Greeting, { readonly word: string }>() {}

// effect-httpd's own engine, with a handler that needs a service of the app
const onEngine = Effect.gen(function*() {
  const server = yield* Server.make({ port: 0, protocolVersion: "HTTP/1.1" })
  const response = yield* Effect.promise(() => fetch(Server.url(server, "/hello")))
  const body = yield* Effect.promise(() => response.text())
  yield* Console.log(`Server.make: ${response.status} ${JSON.stringify(body)}`)
  if (response.status !== 200 || body !== "hello from 127.0.0.1\n") return yield* Effect.die("unexpected answer")
}).pipe(
  Effect.scoped,
  Effect.provide(Layer.merge(
    Handler.layer({
      GET: (request) => Effect.map(Greeting, (g) => Response.text(`${g.word} from ${request.remoteAddress}\n`))
    }),
    AccessLog.layerSilent
  )),
  Effect.provide(Layer.succeed(Greeting, { word: "hello" }))
)

// an @effect/platform HttpRouter on NodeHttpServer, with effect-httpd's static files mounted
const onRouter = Effect.gen(function*() {
  const files = yield* StaticFiles.toHttpApp({ directory: "public" })
  const router = HttpRouter.empty.pipe(
    HttpRouter.get("/api/:name", Effect.map(HttpRouter.params, (p) => HttpServerResponse.unsafeJson({ hello: p["name"] }))),
    HttpRouter.mountApp("/static", files)
  )
  yield* HttpServer.serveEffect(router)
  const client = yield* HttpClient.HttpClient
  const api = yield* Effect.flatMap(client.get("/api/effect"), (r) => r.json)
  const notes = yield* client.get("/static/notes.md")
  const text = yield* notes.text
  yield* Console.log(`HttpRouter: /api/effect ${JSON.stringify(api)}; /static/notes.md ${notes.status} ${JSON.stringify(text)}`)
  if (JSON.stringify(api) !== `{"hello":"effect"}` || notes.status !== 200 || text !== "# hi\n") {
    return yield* Effect.die("unexpected answer")
  }
}).pipe(
  Effect.scoped,
  Effect.provide(NodeHttpServer.layerTest),
  Effect.provide(MimeTypes.layer()),
  Effect.provide(NodeContext.layer)
)

Effect.all([onEngine, onRouter], { discard: true }).pipe(NodeRuntime.runMain)
TS

# PlatformServer (issue 13, item 1), once the package has it: the same HttpRouter app on our engine.
if grep -q '^dist/PlatformServer.js$' "$work/contents.txt"; then
  cat >src/platform.ts <<'TS'
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Console, Effect } from "effect"
import * as PlatformServer from "effect-httpd/PlatformServer"

const router = HttpRouter.empty.pipe(
  HttpRouter.get("/api/:name", Effect.map(HttpRouter.params, (p) => HttpServerResponse.unsafeJson({ hello: p["name"] })))
)

Effect.gen(function*() {
  yield* HttpServer.serveEffect(router)
  const client = yield* HttpClient.HttpClient
  const api = yield* Effect.flatMap(client.get("/api/effect"), (r) => r.json)
  yield* Console.log(`HttpRouter on PlatformServer: /api/effect ${JSON.stringify(api)}`)
  if (JSON.stringify(api) !== `{"hello":"effect"}`) return yield* Effect.die("unexpected answer")
}).pipe(Effect.scoped, Effect.provide(PlatformServer.layerTest), NodeRuntime.runMain)
TS
fi

echo "== tsc (strict, NodeNext, exactOptionalPropertyTypes)"
npx tsc -p . && echo "   0 errors"

echo "== node out/main.js"
node out/main.js 2>&1 | tee "$work/run.txt" | sed 's/^/   /'
if grep -qi 'version' "$work/run.txt"; then echo "version warnings at run time" >&2; exit 1; fi
[[ "$(grep -c '' "$work/run.txt")" -eq 2 ]] || exit 1
if [[ -e out/platform.js ]]; then
  echo "== node out/platform.js"
  node out/platform.js 2>&1 | tee "$work/platform.txt" | sed 's/^/   /'
  [[ "$(cat "$work/platform.txt")" == 'HttpRouter on PlatformServer: /api/effect {"hello":"effect"}' ]] || exit 1
else
  echo "== (no effect-httpd/PlatformServer in this package yet: its HttpRouter check is skipped)"
fi

echo "== the executable from the tarball"
echo "   npx effect-httpd --version: $(npx --no-install effect-httpd --version)"
printf '' >"$work/bin.txt"
./node_modules/.bin/effect-httpd 0 -b 127.0.0.1 -d public >"$work/bin.txt" 2>&1 &
pid=$!
port=""
for _ in $(seq 1 100); do
  port="$(grep -oE 'port [0-9]+' "$work/bin.txt" | cut -d' ' -f2 || true)"
  [[ -n "$port" ]] && break
  sleep 0.1
done
answer="$(node -e 'fetch(process.argv[1]).then(async (r) => console.log(r.status, JSON.stringify(await r.text())))' "http://127.0.0.1:$port/notes.md")"
kill -INT "$pid"
wait "$pid" || true
echo "   GET /notes.md: $answer"
[[ "$answer" == '200 "# hi\n"' ]] || exit 1

echo "== the executable installed alone (global, peers not installed): the bundle brings its own Effect"
npm install --silent --no-audit --no-fund -g --prefix "$work/global" --legacy-peer-deps "$tarball" 2>/dev/null
deps="$work/global/lib/node_modules/effect-httpd/node_modules"
# The library's own dependencies (tar-stream, yazl and theirs) install as usual; no Effect package may come along.
echo "   $(ls "$deps" 2>/dev/null | wc -l) dependencies installed; effect-httpd --version: $("$work/global/bin/effect-httpd" --version)"
if [[ -e "$deps/effect" || -e "$deps/@effect" ]]; then echo "an Effect package was installed beside the bundle" >&2; exit 1; fi

echo "== OK"
