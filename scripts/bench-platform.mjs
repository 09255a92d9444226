/**
 * bench-platform: an `@effect/platform` `HttpRouter` app (scripts/platform-app.mjs) on `PlatformServer.layer`
 * (our engine), on `NodeHttpServer.layer`, and a bare `node:http` handler answering the same bytes.
 *
 *   get   GET /users/42: a JSON answer built from a path param, keep-alive, 50 connections
 *   post  POST /orders: a ~1 KiB JSON body validated by a Schema, answered with JSON, keep-alive, 50 connections
 *
 * Interleaved repeats, medians, ratios against PlatformServer. `npm run bench` runs it after the static-file suite
 * (`--no-platform` skips it); alone: node scripts/bench-platform.mjs [--duration S=5] [--repeats N=3] [--quick].
 * Server on core 0, load generator on core 1 (wrk for the GET, autocannon for the POST: wrk's script here sends
 * GETs only). Each cell also reports the server's CPU time per request, steadier than req/s on a shared machine.
 * Output: Markdown on stdout, progress on stderr, bench-results/<timestamp>.json.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  REPO_ROOT, TASKSET, WRK, parseArgs, installCleanup, pinSelf, freePort, startServer, interleave, report,
} from "./lib/bench-harness.mjs";

/** A deterministic order of about 1 KiB that the app's Schema accepts. */
export const orderBody = () => {
  const items = [];
  for (let i = 0; ; i++) {
    const next = [...items, { id: i, name: `item ${i}`, tags: ["a", "b"] }];
    if (JSON.stringify({ customer: "ada lovelace", items: next }).length > 1024) break;
    items.push(next[next.length - 1]);
  }
  return JSON.stringify({ customer: "ada lovelace", items });
};

export const WORKLOADS = [
  { name: "get", label: "GET /users/:id → JSON (c=50)", path: "/users/42", connections: 50, expectText: "\"user 42\"" },
  {
    name: "post",
    label: "POST 1 KiB JSON, Schema-validated (c=50)",
    path: "/orders",
    connections: 50,
    method: "POST",
    headers: { "content-type": "application/json" },
    body: orderBody(),
    expectText: "\"ok\":true",
  },
];

export const SERVERS = [
  { name: "PlatformServer", kind: "platform" },
  { name: "NodeHttpServer", kind: "node-platform" },
  { name: "node:http", kind: "node-bare" },
];

/** Runs the suite with parsed harness options; returns the report's JSON path. */
export async function platformSuite(opts) {
  const notes = [WRK ? "wrk drives the GET, autocannon the POST (wrk's script here sends GETs only)" : "autocannon drives both workloads"];
  if (!TASKSET) notes.push("taskset not found: server and load generator are not pinned");
  const app = path.join(REPO_ROOT, "scripts/platform-app.mjs");
  if (!fs.existsSync(path.join(REPO_ROOT, "dist/PlatformServer.js"))) {
    console.error("bench-platform skipped: dist/PlatformServer.js missing (npm run build)");
    return;
  }
  const started = [];
  try {
    for (const s of SERVERS.filter((c) => !opts.only || opts.only.includes(c.name))) {
      const port = await freePort();
      const args = [app, String(port), s.kind];
      const handle = await startServer({
        name: s.name,
        cmd: process.execPath,
        args,
        port,
        logFile: path.join(os.tmpdir(), `bench-platform-${s.kind}-${process.pid}.log`),
      });
      started.push({ name: s.name, port, handle, cmd: process.execPath, args });
      console.error(`started ${s.name} on 127.0.0.1:${port} (pid ${handle.pid})`);
    }
    const results = await interleave(started, WORKLOADS, opts.repeats, { durationSec: opts.duration });
    return report(results, {
      baseline: "PlatformServer",
      title: "@effect/platform HttpRouter app: PlatformServer vs NodeHttpServer vs bare node:http",
      notes,
      meta: {
        suite: "bench-platform",
        options: opts,
        serverCommands: started.map((s) => ({ name: s.name, cmd: s.cmd, args: s.args, pid: s.handle.pid })),
      },
    });
  } finally {
    for (const s of started) {
      await s.handle.stop();
      fs.rmSync(s.handle.logFile, { force: true });
    }
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.help) {
    console.log("usage: node scripts/bench-platform.mjs [--duration S] [--repeats N] [--only PlatformServer,NodeHttpServer,node:http] [--quick]");
  } else {
    installCleanup();
    pinSelf();
    await platformSuite(opts);
  }
}
