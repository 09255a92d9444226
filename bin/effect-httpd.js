#!/usr/bin/env node
// The command line, bundled into one file by scripts/bundle-bin.mjs (why: see there).
// `npm start` runs this with node's --max-semi-space-size=4 (see the README's "Memory"); a #! line cannot pass it
// portably (`env -S` is missing from BusyBox, e.g. Alpine images), so elsewhere set it in NODE_OPTIONS.
import "../dist/effect-httpd.mjs"
