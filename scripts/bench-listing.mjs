/**
 * bench-listing: what listings of a big directory cost, and whether they stall other clients. A measurement, not a
 * test (nothing passes or fails): issue 12, item 6.
 *
 * Builds ROOT/big/ with --entries empty files (or symbolic links to them with --links), ROOT/small.txt, starts the
 * built server (`npm run build` first) with the --mode's options, then runs --clients concurrent GETs of the
 * listing while one client GETs /small.txt in a loop (a new connection each time, one at a time). Reports: peak RSS
 * of the server (VmRSS sampled every 100 ms, and VmHWM), the time for all listings, the slowest /small.txt answer
 * while they ran, and the listing's size.
 *
 *   modes: json   --json-listing, GET /big/?format=json
 *          rich   --rich-listing, GET /big/
 *          html   Python's page, GET /big/ (the listing cache holds a page up to its byte cap)
 *          links  --json-listing --no-follow-symlinks over --entries symbolic links, GET /big/?format=json
 *
 * Run: node scripts/bench-listing.mjs [--mode json] [--entries 100000] [--clients 10] [--long 1]
 * Only 127.0.0.1 is contacted; the temporary tree is removed at the end.
 */
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { freePort, installCleanup, ourCommand, startServer } from "./lib/bench-harness.mjs";

const args = { mode: "json", entries: 100000, clients: 10, long: 0 };
for (let i = 2; i < process.argv.length; i += 2) {
  const key = process.argv[i].replace(/^--/, "");
  if (!Object.hasOwn(args, key) || process.argv[i + 1] === undefined) throw new Error(`unknown argument: ${process.argv[i]}`);
  args[key] = key === "mode" ? process.argv[i + 1] : Number(process.argv[i + 1]);
}
const MODES = {
  json: { options: ["--json-listing"], query: "?format=json", links: false },
  rich: { options: ["--rich-listing"], query: "", links: false },
  html: { options: [], query: "", links: false },
  links: { options: ["--json-listing", "--no-follow-symlinks"], query: "?format=json", links: true },
};
const mode = MODES[args.mode];
if (mode === undefined) throw new Error(`--mode: one of ${Object.keys(MODES).join(", ")}`);

installCleanup();
const root = fs.mkdtempSync(path.join(os.tmpdir(), "bench-listing-"));
const big = path.join(root, "big");
fs.mkdirSync(big);
fs.writeFileSync(path.join(root, "small.txt"), "small\n");
if (mode.links) fs.mkdirSync(path.join(root, "targets"));
for (let i = 0; i < args.entries; i++) {
  // --long 1: 255-byte names (125 × "é" and a counter), the longest Linux takes: what a listing costs at worst.
  const name = args.long ? "é".repeat(125) + String(i).padStart(5, "0") : `file-${String(i).padStart(6, "0")}.txt`;
  if (mode.links) {
    fs.writeFileSync(path.join(root, "targets", name), "");
    fs.symlinkSync(path.join("..", "targets", name), path.join(big, name));
  } else {
    fs.writeFileSync(path.join(big, name), "");
  }
}

const get = (port, target) =>
  new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const request = http.get({ host: "127.0.0.1", port, path: target, agent: false }, (response) => {
      let bytes = 0;
      response.on("data", (chunk) => (bytes += chunk.length));
      response.on("end", () =>
        resolve({ status: response.statusCode, bytes, ms: Number(process.hrtime.bigint() - started) / 1e6, headers: response.headers }));
    });
    request.setTimeout(300_000, () => request.destroy(new Error(`${target}: no answer in 300 s`)));
    request.on("error", reject);
  });

const hwmMiB = (pid) => {
  const line = fs.readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("VmHWM:"));
  return line === undefined ? null : Number(line.split(/\s+/)[1]) / 1024;
};

const port = await freePort();
const { args: serverArgs, cmd } = ourCommand(port, root, mode.options);
const server = await startServer({ name: "effect-httpd", cmd, args: serverArgs, port });
try {
  await get(port, "/small.txt");
  const idle = server.rssMiB();
  server.resetPeak();
  let running = true;
  let slowest = 0;
  let smallCount = 0;
  const smallLoop = (async () => {
    while (running) {
      const { ms } = await get(port, "/small.txt");
      slowest = Math.max(slowest, ms);
      smallCount++;
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const started = Date.now();
  const results = await Promise.all(Array.from({ length: args.clients }, () => get(port, `/big/${mode.query}`)));
  const elapsed = Date.now() - started;
  running = false;
  await smallLoop;
  const statuses = [...new Set(results.map((r) => r.status))].join(",");
  const truncated = results[0].headers["x-listing-truncated"];
  console.log(`mode=${args.mode} entries=${args.entries} clients=${args.clients}${args.long ? " (255-byte names)" : ""}`);
  console.log(`  idle RSS ${idle.toFixed(0)} MiB; peak RSS while listing ${server.peakRssMiB().toFixed(0)} MiB; VmHWM ${hwmMiB(server.pid)?.toFixed(0)} MiB`);
  console.log(`  listings: status ${statuses}, ${results[0].bytes} bytes each${truncated ? `, X-Listing-Truncated: ${truncated}` : ""}, all done in ${elapsed} ms`);
  console.log(`  /small.txt meanwhile: ${smallCount} requests, slowest ${slowest.toFixed(0)} ms`);
} finally {
  await server.stop();
  fs.rmSync(root, { recursive: true, force: true });
}
