/**
 * bench-engine: engine-only benchmark, no file system. Every request gets a
 * fixed 200-byte text/plain 200 response; keep-alive, 50 connections.
 *
 *   node-fixed    node scripts/peers/node-fixed.mjs PORT     (bare node:http)
 *   effect-httpd  node scripts/engine-fixed.mjs PORT          (our engine; skipped
 *                 with a note while scripts/engine-fixed.mjs does not exist)
 *
 * Interleaved repeats, medians, then the effect-httpd / node-fixed ratio.
 *
 * Run:  node scripts/bench-engine.mjs [--duration S=5] [--repeats N=5] [--quick]
 * Server on core 0, load generator (wrk, else autocannon) on core 1.
 * Output: Markdown on stdout, progress on stderr, bench-results/<timestamp>.json.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  REPO_ROOT, WRK, TASKSET, INSTALL_HINT,
  parseArgs, installCleanup, pinSelf, freePort, startServer, interleave, report,
} from "./lib/bench-harness.mjs";

const WORKLOADS = [{ name: "fixed-ka", label: "fixed 200 B, keep-alive (c=50)", path: "/", connections: 50, expectBytes: 200 }];

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2), { repeats: 5 });
  } catch (e) {
    console.error(String(e.message ?? e));
    opts = { help: true, bad: true };
  }
  if (opts.help) {
    console.log("usage: node scripts/bench-engine.mjs [--duration S] [--repeats N] [--only node-fixed,effect-httpd] [--quick]");
    if (opts.bad) process.exitCode = 2;
    return;
  }
  installCleanup();
  const notes = [];
  if (!WRK) notes.push(`wrk not found: using autocannon in-process (${INSTALL_HINT} for wrk)`);
  if (!TASKSET) notes.push("taskset not found: server and load generator are not pinned");
  pinSelf();

  const ours = path.join(REPO_ROOT, "scripts/engine-fixed.mjs");
  const candidates = [
    { name: "effect-httpd", script: ours },
    { name: "node-fixed", script: path.join(REPO_ROOT, "scripts/peers/node-fixed.mjs") },
  ].filter((c) => !opts.only || opts.only.includes(c.name));

  const started = [];
  const serverCommands = [];
  try {
    for (const c of candidates) {
      if (!fs.existsSync(c.script)) {
        const msg = `${c.name} skipped: ${path.relative(REPO_ROOT, c.script)} does not exist yet`;
        notes.push(msg);
        console.error(`note: ${msg}`);
        continue;
      }
      const port = await freePort();
      const args = [c.script, String(port)];
      try {
        const handle = await startServer({ name: c.name, cmd: process.execPath, args, port, logFile: path.join(os.tmpdir(), `bench-engine-${c.name}-${process.pid}.log`) });
        started.push({ name: c.name, port, handle });
        serverCommands.push({ name: c.name, cmd: process.execPath, args, pid: handle.pid });
        console.error(`started ${c.name} on 127.0.0.1:${port} (pid ${handle.pid})`);
      } catch (e) {
        notes.push(`${c.name} skipped: failed to start: ${String(e.message ?? e).split("\n")[0]}`);
        console.error(String(e.message ?? e));
      }
    }
    if (!started.length) {
      console.error("no server could be started; nothing to measure");
      process.exitCode = 1;
      return;
    }
    const results = await interleave(started, WORKLOADS, opts.repeats, { durationSec: opts.duration });
    report(results, {
      baseline: "effect-httpd",
      title: "effect-httpd engine (fixed response)",
      notes,
      meta: { suite: "bench-engine", options: opts, serverCommands },
    });
  } finally {
    for (const s of started) {
      await s.handle.stop();
      fs.rmSync(s.handle.logFile, { force: true });
    }
  }
}

await main();
