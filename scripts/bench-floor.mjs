/**
 * bench-floor: what each piece of the work of one of Python's requests costs on bare `node:net`, a connection per
 * request: the price list behind the default-mode tables of `npm run bench` (issue 14's "≥ 0.8× the bare node:net
 * server"). A measurement, not a test.
 *
 * Servers, all on core 0, interleaved, the load generator on core 1; ratios are each ÷ the fixed answer:
 *   node:net fixed         scripts/peers/net-fixed.mjs: a fixed answer, nothing looked at
 *   line + head            scripts/peers/net-python-work.mjs --without peer,stat,date,log,timers: the request line
 *                          split, the path joined to the root, the head built per request; nothing else
 *   + peer, + stat, + Date, + log, + timers
 *                          that, with one piece of Python's work added back (see net-python-work.mjs for each)
 *   node:net + Python's work   all of it
 *   effect-httpd (default)     the executable with no flags (`npm run build` first)
 * Workloads: GET /1k.bin and a 404, each a new connection closed by the server, 10 connections.
 *
 * Run:  node scripts/bench-floor.mjs [--duration S=3] [--repeats N=3] [--workloads 1k-default,404-default]
 * Output: Markdown on stdout, progress on stderr, bench-results/<timestamp>.json. Only 127.0.0.1 is contacted.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  DOC_FILES, installCleanup, interleave, makeDocRoot, netFixedCommand, netPythonWorkCommand, ourDefaultCommand, parseArgs,
  pinSelf, saveResults, settleDocRoot, startServers, toolDescription,
} from "./lib/bench-harness.mjs";

const PIECES = [
  { piece: "peer", label: "+ peer address (getpeername)" },
  { piece: "stat", label: "+ stat per request" },
  { piece: "date", label: "+ Date" },
  { piece: "log", label: "+ access log" },
  { piece: "timers", label: "+ header timeout and linger" },
];
const WORKLOADS = [
  { name: "1k-default", label: "1 KiB, server closes (c=10)", path: "/1k.bin", connections: 10, expectBytes: DOC_FILES["1k.bin"] },
  { name: "404-default", label: "404, server closes (c=10)", path: "/no-such-file.bin", connections: 10, expectStatus: 404 },
];

const USAGE = `usage: node scripts/bench-floor.mjs [--duration S] [--repeats N] [--workloads ${WORKLOADS.map((w) => w.name).join(",")}]`;
let opts;
try {
  opts = parseArgs(process.argv.slice(2), { duration: 3, repeats: 3 });
  const unknown = (opts.workloads ?? []).filter((name) => !WORKLOADS.some((w) => w.name === name));
  if (unknown.length > 0) throw new Error(`unknown workload(s): ${unknown.join(", ")}`);
  // The servers are this script's own list.
  if (opts.only) throw new Error("--only: not an option of bench-floor");
} catch (e) {
  console.error(String(e.message ?? e));
  console.error(USAGE);
  process.exit(2);
}
if (opts.help) {
  console.log(USAGE);
  process.exit(0);
}

const FIXED = "node:net fixed";
const BARE = "line + head";
const ALL = "node:net + Python's work";
const everything = PIECES.map(({ piece }) => piece);
const list = (root) => [
  { name: FIXED, make: (port) => netFixedCommand(port) },
  { name: BARE, make: (port) => netPythonWorkCommand(port, root, everything) },
  ...PIECES.map(({ piece, label }) => ({
    name: label,
    make: (port) => netPythonWorkCommand(port, root, everything.filter((other) => other !== piece)),
  })),
  { name: ALL, make: (port) => netPythonWorkCommand(port, root) },
  { name: "effect-httpd (default)", make: (port) => ourDefaultCommand(port, root) },
];

/** One row per server: median req/s, ÷ the fixed answer, server CPU per request, and what it adds to "line + head". */
const render = (results) => {
  const lines = [
    "## the work of one of Python's requests on bare node:net, piece by piece (a connection per request)",
    "",
    `${toolDescription()} · ${results.durationSec} s × ${results.repeats} interleaved repeat(s) · medians · ` +
      "÷ fixed: req/s over the fixed answer's · CPU: server CPU µs per request · Δ: CPU over \"line + head\"",
    "",
    `| server | ${results.workloads.map((w) => `${w.label}: req/s · ÷ fixed · CPU µs · Δ µs`).join(" | ")} |`,
    `|---|${results.workloads.map(() => "---").join("|")}|`,
  ];
  for (const server of results.servers) {
    const row = results.workloads.map((w) => {
      const m = results.cells[w.name]?.[server]?.median;
      const fixed = results.cells[w.name]?.[FIXED]?.median;
      const bare = results.cells[w.name]?.[BARE]?.median;
      if (!m) return "–";
      const ratio = fixed?.rps ? (m.rps / fixed.rps).toFixed(2) + "×" : "–";
      const cpu = m.cpuUsPerReq == null ? "–" : m.cpuUsPerReq.toFixed(0);
      const delta = m.cpuUsPerReq == null || bare?.cpuUsPerReq == null || server === FIXED
        ? "" : ` · ${m.cpuUsPerReq - bare.cpuUsPerReq >= 0 ? "+" : ""}${(m.cpuUsPerReq - bare.cpuUsPerReq).toFixed(0)}`;
      return `${Math.round(m.rps)} · ${ratio} · ${cpu}${delta}`;
    });
    lines.push(`| ${server} | ${row.join(" | ")} |`);
  }
  lines.push(
    "",
    `- ${BARE}: scripts/peers/net-python-work.mjs --without ${everything.join(",")}: the request line split, the ` +
      "path joined to the root, the head built per request, nothing else; each + row adds one piece back",
    `- ${ALL}: every piece (the floor of the default-mode tables of npm run bench)`,
    "",
  );
  return lines.join("\n");
};

installCleanup();
pinSelf();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "effect-httpd-bench-floor-"));
fs.chmodSync(tmp, 0o755);
try {
  const root = makeDocRoot(path.join(tmp, "root"));
  await settleDocRoot();
  const servers = await startServers(list(root), { tmp, prefix: "floor" });
  try {
    const workloads = WORKLOADS.filter((w) => !opts.workloads || opts.workloads.includes(w.name));
    const results = await interleave(servers, workloads, opts.repeats, { durationSec: opts.duration });
    console.log(render(results));
    const file = saveResults({
      title: "bench-floor",
      tool: toolDescription(),
      options: opts,
      serverCommands: servers.map(({ name, cmd, args }) => ({ name, cmd, args })),
      durationSec: results.durationSec,
      repeats: results.repeats,
      servers: results.servers,
      workloads: results.workloads,
      cells: results.cells,
    });
    console.log(`JSON: ${path.relative(process.cwd(), file)}`);
  } finally {
    for (const s of servers) await s.handle.stop();
  }
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
