#!/usr/bin/env -S node --max-semi-space-size=4
// The command line, bundled into one file by scripts/bundle-bin.mjs (why: see there).
// The flag caps V8's young generation at 3 × 4 MiB (Node 20's default lets it grow to 3 × 16 MiB under load):
// peak RSS under load fell from 107–131 MiB to 74–82 MiB at no measured throughput cost. It applies to every direct
// run of this file (`npm start` runs it directly). `node bin/effect-httpd.js` skips this line: pass the flag yourself.
import "../dist/effect-httpd.mjs"
