/**
 * Shim: package.json's "bench" script runs `node scripts/bench.js`; the suite
 * lives in scripts/bench.mjs (see it for what it measures and its flags).
 * Run:  npm run bench [-- --quick]      or      node scripts/bench.mjs
 */
import "./bench.mjs";
