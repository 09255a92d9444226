#!/usr/bin/env node
// The command line, bundled into one file by scripts/bundle-bin.mjs (why: see there).
// `npm start` runs this with node's --max-semi-space-size=4 (see the README's "Memory"); a #! line cannot pass it
// portably (`env -S` is missing from BusyBox, e.g. Alpine images), so elsewhere set it in NODE_OPTIONS.
import v8 from "node:v8"

// Old space: V8 lets it grow up to 4× the live heap between full collections, and the executable's live heap is
// ~10.5 MiB (almost all of it the bundle's compiled code and source, which nothing can make lazy), so connection
// churn peaked at 110–114 MiB RSS. A growth of 100% (Go's GOGC default) keeps it at ~92 MiB for the same CPU per
// request, the listing and keep-alive workloads within noise (README, "Memory"). Unlike the semi-space size, V8
// reads this flag at every full collection, so it can be set here, at run time; the executable only, never the
// library (an application's process is its own), and not over a value the user gave node.
// (NODE_OPTIONS refuses V8 flags like this one, so node's own arguments are the only place a user can give it.)
if (!process.execArgv.some((arg) => /^--heap[-_]growing[-_]percent/.test(arg))) {
  v8.setFlagsFromString("--heap-growing-percent=100")
}
await import("../dist/effect-httpd.mjs")
