/**
 * bench: the full static-file suite. effect-httpd against its peers on the
 * same machine in the same run, interleaved, medians, ratios.
 *
 * Servers (each skipped with a note when unavailable):
 *   effect-httpd  node --max-semi-space-size=4 bin/effect-httpd.js PORT --bind 127.0.0.1 --directory ROOT --protocol HTTP/1.1 --keep-alive-on-error
 *                 (needs dist/effect-httpd.mjs; `npm run build` first)
 *   python-1.0    python3 -m http.server PORT --bind 127.0.0.1 --directory ROOT
 *   python-1.1    the same with --protocol HTTP/1.1 (Python >= 3.11)
 *   node-static   node scripts/peers/node-static.mjs PORT ROOT
 *   http-server   node node_modules/http-server/bin/http-server ROOT -p PORT -a 127.0.0.1 -s -c-1
 *   nginx         one process (master_process off, worker_processes 1), sendfile, autoindex
 * Workloads:
 *   1k-ka     GET /1k.bin, keep-alive, 50 connections
 *   1k-close  GET /1k.bin, new connection per request, 10 connections
 *   64k-ka    GET /64k.bin, keep-alive, 50 connections
 *   10m       GET /10m.bin, keep-alive, 4 connections (reported as MB/s)
 *   listing   GET /big/ (1000 entries), keep-alive, 20 connections
 *   404       GET /no-such-file.bin, keep-alive, 50 connections
 *
 * Run:  npm run bench      (= node scripts/bench.mjs)
 *       node scripts/bench.mjs [--duration S=5] [--repeats N=3] [--only a,b] [--workloads a,b]
 *                              [--baseline NAME=effect-httpd] [--quick]
 * Server on core 0, load generator (wrk, else autocannon) on core 1.
 * Then, unless --no-scaling, a scaling table: effect-httpd with --workers 1 and --workers 2 on the 1 KiB keep-alive
 * workload, server and load generator unpinned (all cores shared), so the second worker has a core to run on.
 * With the 404 workload, a table of the 404 with Python's close-after-error default against --keep-alive-on-error.
 * With the 1k-close workload, the default path: effect-httpd with no flags (HTTP/1.0, every connection closed by the
 * server) on 1 KiB and 404, and -p HTTP/1.1 with Connection: close requests, each beside scripts/peers/net-fixed.mjs
 * (bare node:net, fixed response, close) and scripts/peers/net-python-work.mjs (bare node:net doing the work of each
 * of Python's requests). nginx logs every request to a file (access_log on), as we and Python do.
 * Then (unless --no-platform, --only or --workloads) the platform suite of scripts/bench-platform.mjs: an
 * @effect/platform HttpRouter app on PlatformServer, on NodeHttpServer, and bare node:http.
 * Output: Markdown on stdout, progress on stderr, bench-results/<timestamp>.json.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  WRK, TASKSET, INSTALL_HINT, DOC_FILES, BIG_DIR_FILES, NPROC, SERVER_NAMES,
  parseArgs, installCleanup, pinSelf, freePort, makeDocRoot, settleDocRoot, startServer, interleave, report, toolDescription, ALL_CPUS, serverCandidates,
  SERVER_CPU, LOAD_CPU, ourCommand, ourDefaultCommand, netFixedCommand, netPythonWorkCommand, startServers,
} from "./lib/bench-harness.mjs";
import { platformSuite } from "./bench-platform.mjs";

const WORKLOADS = [
  { name: "1k-ka", label: "1 KiB keep-alive (c=50)", path: "/1k.bin", connections: 50, expectBytes: DOC_FILES["1k.bin"] },
  { name: "1k-close", label: "1 KiB new conn/request (c=10)", path: "/1k.bin", connections: 10, newConnectionPerRequest: true, expectBytes: DOC_FILES["1k.bin"] },
  { name: "64k-ka", label: "64 KiB keep-alive (c=50)", path: "/64k.bin", connections: 50, expectBytes: DOC_FILES["64k.bin"] },
  { name: "10m", label: "10 MiB keep-alive (c=4)", path: "/10m.bin", connections: 4, expectBytes: DOC_FILES["10m.bin"], reportMBps: true },
  { name: "listing", label: `listing /big/, ${BIG_DIR_FILES} entries (c=20)`, path: "/big/", connections: 20, expectText: `file-${String(BIG_DIR_FILES - 1).padStart(4, "0")}.txt` },
  { name: "404", label: "404 (c=50)", path: "/no-such-file.bin", connections: 50, expectStatus: 404 },
];

function usage() {
  console.log(`usage: node scripts/bench.mjs [--duration S] [--repeats N] [--only ${SERVER_NAMES.join(",")}]
                          [--workloads ${WORKLOADS.map((w) => w.name).join(",")}] [--baseline NAME] [--quick]`);
}

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(String(e.message ?? e));
    usage();
    process.exit(2);
  }
  if (opts.help) return usage();

  const unknown = [...(opts.only ?? []).filter((n) => !SERVER_NAMES.includes(n)), ...(opts.workloads ?? []).filter((n) => !WORKLOADS.some((w) => w.name === n))];
  if (unknown.length) {
    console.error(`unknown server/workload name(s): ${unknown.join(", ")}`);
    usage();
    process.exit(2);
  }

  installCleanup();
  const notes = [];
  if (!WRK) notes.push(`wrk not found: using autocannon in-process (${INSTALL_HINT} for wrk)`);
  if (!TASKSET) notes.push("taskset not found: server and load generator are not pinned");
  else if (NPROC < 2) notes.push("fewer than 2 CPUs: pinning disabled");
  pinSelf();

  const workloads = WORKLOADS.filter((w) => !opts.workloads || opts.workloads.includes(w.name));
  const wanted = serverCandidates().filter((c) => !opts.only || opts.only.includes(c.name));
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "effect-httpd-bench-"));
  fs.chmodSync(tmp, 0o755);
  const root = makeDocRoot(path.join(tmp, "root"));
  await settleDocRoot();
  const started = [];
  const serverMeta = [];
  try {
    for (const c of wanted) {
      if (!c.available) {
        notes.push(c.reason);
        console.error(`note: ${c.reason}`);
        continue;
      }
      const port = await freePort();
      const { cmd, args } = c.make(port, root, tmp);
      try {
        const handle = await startServer({ name: c.name, cmd, args, port, logFile: path.join(tmp, `${c.name}.log`) });
        started.push({ name: c.name, port, handle });
        serverMeta.push({ name: c.name, cmd, args, pid: handle.pid });
        console.error(`started ${c.name} on 127.0.0.1:${port} (pid ${handle.pid})`);
      } catch (e) {
        const msg = `${c.name} skipped: failed to start: ${String(e.message ?? e).split("\n")[0]}`;
        notes.push(msg);
        console.error(String(e.message ?? e));
      }
    }
    if (!started.length) {
      console.error("no server could be started; nothing to measure");
      process.exitCode = 1;
      return;
    }
    const est = workloads.length * started.length * (opts.repeats * opts.duration + 1);
    console.error(`tool: ${toolDescription()}; ${started.length} server(s) × ${workloads.length} workload(s) × ${opts.repeats} repeat(s) × ${opts.duration} s: ~${Math.ceil(est / 60)} min`);

    if (started.some((s) => s.name === "nginx")) {
      notes.push("nginx: access_log on, written to a file, as effect-httpd and Python log every request (to stderr, which the harness writes to a file)");
    }
    const results = await interleave(started, workloads, opts.repeats, { durationSec: opts.duration });
    report(results, {
      baseline: opts.baseline,
      title: "effect-httpd static-file suite",
      notes,
      meta: { suite: "bench", options: opts, serverCommands: serverMeta, docRoot: { files: DOC_FILES, bigDirFiles: BIG_DIR_FILES } },
    });
    const ours = started.some((s) => s.name === "effect-httpd");
    if (ours && opts.scaling !== false && workloads.some((w) => w.name === "1k-ka")) await scaling({ root, tmp, opts });
    if (ours && workloads.some((w) => w.name === "404")) await errorKeepAlive({ root, tmp, opts });
    if (ours && workloads.some((w) => w.name === "1k-close")) await defaultMode({ root, tmp, opts });
    if (opts.platform !== false && !opts.only && !opts.workloads) await platformSuite({ ...opts, only: undefined });
  } finally {
    for (const s of started) await s.handle.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * Variants of effect-httpd's command line on one workload, interleaved, in a table of their own. `cpu`/`loadCpu`
 * pin them as the main suite does, or ALL_CPUS.
 */
function variants({ root, tmp, opts, title, suite, workload, baseline, cpu, loadCpu, notes = [], list }) {
  return table({
    tmp, opts, title, suite, baseline, cpu, loadCpu, notes,
    list: list.map(({ name, extraArgs }) => ({ name, make: (port) => ourCommand(port, root, extraArgs) })),
    workloads: [workload],
  });
}

/** Servers given by command line (`make(port)`) on workloads, interleaved, in a table of their own. */
async function table({ tmp, opts, title, suite, baseline, cpu = SERVER_CPU, loadCpu = LOAD_CPU, notes = [], list, workloads }) {
  const servers = await startServers(list, { tmp, prefix: suite, cpu });
  try {
    const results = await interleave(servers, workloads, opts.repeats, { durationSec: opts.duration, loadCpu });
    report(results, {
      baseline,
      title,
      notes,
      meta: { suite, options: opts, serverCommands: servers.map((s) => ({ name: s.name, cmd: s.cmd, args: s.args, pid: s.handle.pid })) },
    });
  } finally {
    for (const s of servers) await s.handle.stop();
  }
}

/**
 * The default path: effect-httpd with no protocol flag (HTTP/1.0: the server closes every connection, wrk sends
 * its keep-alive request and reconnects), and `-p HTTP/1.1` with `Connection: close` requests, each beside two
 * `node:net` servers: one answering a fixed response and closing (the floor for a connection per request), one
 * doing the work of each of Python's requests and nothing more (peer address, stat, Date, access log, header
 * timeout, linger: the floor for a server that does what Python does). Ratios are effect-httpd ÷ each.
 */
async function defaultMode({ root, tmp, opts }) {
  const netFixed = { name: "node:net fixed", make: (port) => netFixedCommand(port) };
  const netPythonWork = { name: "node:net + Python's work", make: (port) => netPythonWorkCommand(port, root) };
  const closes = { connections: 10, expectBytes: DOC_FILES["1k.bin"] };
  const notes = [
    "node:net fixed: scripts/peers/net-fixed.mjs, a fixed response and close, no parsing, no file system, no log",
    "node:net + Python's work: scripts/peers/net-python-work.mjs, bare node:net doing per request what Python's server does and no more: getpeername for the log, the request line split, a stat of the file (its bytes kept in memory while unchanged), Python's head fields with Date, an access-log line (batched, as ours), a header timeout and a bounded linger; no header validation, no limits, no Effect",
  ];
  const ours = "effect-httpd (default)";
  await table({
    tmp, opts,
    title: "default mode (no flags: HTTP/1.0, the server closes each connection) vs bare node:net servers",
    suite: "bench-default",
    baseline: ours,
    notes,
    list: [netFixed, netPythonWork, { name: ours, make: (port) => ourDefaultCommand(port, root) }],
    workloads: [
      { name: "1k-default", label: "1 KiB, server closes (c=10)", path: "/1k.bin", ...closes },
      { name: "404-default", label: "404, server closes (c=10)", path: "/no-such-file.bin", connections: 10, expectStatus: 404 },
    ],
  });
  await table({
    tmp, opts,
    title: "-p HTTP/1.1 with Connection: close requests vs bare node:net servers",
    suite: "bench-close",
    baseline: "effect-httpd -p HTTP/1.1",
    notes,
    list: [netFixed, netPythonWork, { name: "effect-httpd -p HTTP/1.1", make: (port) => ourCommand(port, root) }],
    workloads: [{ name: "1k-close", label: "1 KiB new conn/request (c=10)", path: "/1k.bin", newConnectionPerRequest: true, ...closes }],
  });
}

/**
 * effect-httpd with 1 and 2 workers, 1 KiB keep-alive, nothing pinned: on a 2-core box the load generator competes
 * with the workers for the same cores, so the ratio understates what a second core gives a server alone.
 */
function scaling({ root, tmp, opts }) {
  if (NPROC < 2) {
    console.error("scaling skipped: fewer than 2 CPUs");
    return;
  }
  const workload = WORKLOADS.find((w) => w.name === "1k-ka");
  return variants({
    root, tmp, opts,
    title: "scaling: --workers 1 vs 2 (server and load generator unpinned, sharing all cores)",
    suite: "bench-scaling",
    workload: { ...workload, label: `${workload.label}, unpinned` },
    baseline: "effect-httpd ×2",
    cpu: ALL_CPUS,
    loadCpu: ALL_CPUS,
    notes: [`unpinned: server workers and ${WRK ? "wrk" : "the harness (autocannon)"} share all ${NPROC} cores; peak RSS sums the primary and its workers`],
    list: [1, 2].map((n) => ({ name: `effect-httpd ×${n}`, extraArgs: ["--workers", String(n)] })),
  });
}

/**
 * The 404 workload with Python's send_error behaviour (every error closes the connection: the load generator
 * reconnects for each request) against --keep-alive-on-error, pinned as the main suite.
 */
function errorKeepAlive({ root, tmp, opts }) {
  return variants({
    root, tmp, opts,
    title: "404: Python's close-after-error (the default) vs --keep-alive-on-error",
    suite: "bench-errors",
    workload: WORKLOADS.find((w) => w.name === "404"),
    baseline: "--keep-alive-on-error",
    cpu: SERVER_CPU,
    loadCpu: LOAD_CPU,
    list: [{ name: "default (closes)", extraArgs: [] }, { name: "--keep-alive-on-error", extraArgs: ["--keep-alive-on-error"] }],
  });
}

await main();
