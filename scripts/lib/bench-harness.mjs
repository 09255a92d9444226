/**
 * bench-harness: the reusable pieces of scripts/bench.mjs and
 * scripts/bench-engine.mjs. Not runnable by itself; import it.
 *
 * What it gives:
 *   makeDocRoot(dir)           deterministic document root (1k/64k/10m .bin,
 *                              index.html, big/ with 1000 files).
 *   serverCandidates()         the servers both suites know (SERVER_NAMES):
 *                              how to start each, and why one is unavailable.
 *   startServer({...})         spawn a server pinned to core 0 in its own
 *                              process group, wait for its port, sample its
 *                              RSS every 100 ms; returns { stop, peakRssMiB,
 *                              resetPeak, rssMiB }.
 *   groupRssMiB(pgid)          summed VmRSS of a process group, now.
 *   runLoad({...})             one measured load run with wrk (pinned to
 *                              core 1) or, when wrk is absent, autocannon
 *                              in this process (which is pinned to core 1).
 *   interleave(servers, workloads, repeats, opts)
 *                              A B C ... A B C ... per workload, 1 s warm-up
 *                              per (server, workload), medians per cell.
 *   report(results, opts)      Markdown table + ratios on stdout, full JSON
 *                              in bench-results/<timestamp>.json.
 *   saveResults(json)          write any suite's JSON there (report uses it).
 *   parseArgs / installCleanup / detect helpers shared by both suites.
 *
 * Only 127.0.0.1 is ever contacted; every run is bounded in time; processes
 * are ended by the process group this harness created, never by name.
 */
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const SERVER_CPU = 0;
export const LOAD_CPU = 1;
// CPUs this process may use, read at import: before pinSelf() narrows it to one.
export const NPROC = os.availableParallelism();

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- detection

/** Absolute path of an executable on PATH (or the given absolute path), else null. */
export function which(cmd) {
  if (cmd.includes("/")) return isExecutable(cmd) ? cmd : null;
  const dirs = (process.env.PATH ?? "").split(":").concat(["/usr/sbin", "/sbin", "/usr/local/sbin"]);
  for (const d of dirs) {
    if (!d) continue;
    const p = path.join(d, cmd);
    if (isExecutable(p)) return p;
  }
  return null;
}
function isExecutable(p) {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

export const TASKSET = process.platform === "linux" ? which("taskset") : null;
// BENCH_TOOL=autocannon forces the fallback even where wrk is installed.
export const WRK = process.env.BENCH_TOOL === "autocannon" ? null : which("wrk");
export const INSTALL_HINT = "apt-get install wrk nginx";

/** Pin every thread of this process (the harness, and autocannon when used) to `cpu`. */
export function pinSelf(cpu = LOAD_CPU) {
  if (!TASKSET || NPROC <= cpu) return false;
  const r = spawnSync(TASKSET, ["-a", "-p", "-c", String(cpu), String(process.pid)], { stdio: "ignore" });
  return r.status === 0;
}

/** `cpu` for "any CPU": undoes the harness's own pinning (children inherit it) for unpinned runs. */
export const ALL_CPUS = "all";

const withTaskset = (cpu, cmd, args) =>
  TASKSET && cpu === ALL_CPUS && NPROC > 1
    ? { cmd: TASKSET, args: ["-c", `0-${NPROC - 1}`, cmd, ...args] }
    : TASKSET && cpu != null && NPROC > cpu
    ? { cmd: TASKSET, args: ["-c", String(cpu), cmd, ...args] }
    : { cmd, args };

export function toolDescription() {
  if (WRK) {
    const r = spawnSync(WRK, ["-v"], { encoding: "utf8" });
    const line = `${r.stdout ?? ""}${r.stderr ?? ""}`.split("\n")[0].trim();
    return line.replace(/\s*Copyright.*$/, "") || "wrk";
  }
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "node_modules/autocannon/package.json"), "utf8"));
    return `autocannon ${pkg.version}`;
  } catch {
    return "autocannon";
  }
}

export function machineInfo() {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model ?? "unknown",
    nproc: NPROC,
    onlineCpus: os.cpus().length,
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    totalMemMiB: Math.round(os.totalmem() / 2 ** 20),
    loadavgAtStart: os.loadavg(),
  };
}

// ---------------------------------------------------------------- CLI flags

/**
 * --duration S, --repeats N, --only a,b, --workloads a,b, --quick, --baseline NAME, --help,
 * plus a suite's own numeric flags: `numbers` maps a flag to its key in the result
 * (e.g. { "--slow-seconds": "slowSeconds" }). `accept`, when given, lists the only
 * shared flags this suite takes (besides --help); the others are rejected as unknown.
 */
export function parseArgs(argv, defaults = {}, { numbers = {}, accept = null } = {}) {
  const opts = { duration: 5, repeats: 3, only: null, workloads: null, baseline: "effect-httpd", help: false, ...defaults };
  const list = (v) => v.split(",").map((s) => s.trim()).filter(Boolean);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.startsWith("--") && a.includes("=") ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    if (Object.hasOwn(numbers, flag)) {
      const v = value();
      const n = Number(v);
      if (v.trim() === "" || !Number.isFinite(n)) throw new Error(`${flag} needs a number, got ${JSON.stringify(v)}`);
      opts[numbers[flag]] = n;
      continue;
    }
    if (accept && !accept.includes(flag) && flag !== "-h" && flag !== "--help") throw new Error(`unknown argument: ${a}`);
    switch (flag) {
      case "--duration": opts.duration = Number(value()); break;
      case "--repeats": opts.repeats = Number(value()); break;
      case "--only": opts.only = list(value()); break;
      case "--workloads": opts.workloads = list(value()); break;
      case "--baseline": opts.baseline = value(); break;
      case "--quick": opts.duration = 1; opts.repeats = 1; opts.quick = true; break;
      case "--no-scaling": opts.scaling = false; break;
      case "--no-platform": opts.platform = false; break;
      case "-h": case "--help": opts.help = true; break;
      default: throw new Error(`unknown argument: ${a}`);
    }
  }
  if (!(opts.duration >= 1) || !Number.isFinite(opts.duration)) throw new Error("--duration must be >= 1 second");
  opts.duration = Math.round(opts.duration);
  if (!Number.isInteger(opts.repeats) || opts.repeats < 1) throw new Error("--repeats must be a positive integer");
  return opts;
}

// ---------------------------------------------------------------- doc root

/**
 * Deterministic bytes: xorshift32 from a fixed seed, yielded in chunks of at most
 * `chunk` bytes (a multiple of 4, so the bytes do not depend on the chunk size).
 */
function* deterministicChunks(size, seed, chunk = 4 << 20) {
  let x = seed >>> 0 || 1;
  for (let off = 0; off < size; off += chunk) {
    const n = Math.min(chunk, size - off);
    const buf = Buffer.allocUnsafe(n);
    let i = 0;
    for (; i + 4 <= n; i += 4) {
      x ^= x << 13; x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5; x >>>= 0;
      buf.writeUInt32LE(x, i);
    }
    for (; i < n; i++) buf[i] = (off + i) & 0xff;
    yield buf;
  }
}

/** Write `size` deterministic bytes to `file`, a few MiB at a time (no file-sized buffer). */
function writeDeterministicFile(file, size, seed) {
  const fd = fs.openSync(file, "w");
  try {
    for (const buf of deterministicChunks(size, seed)) fs.writeSync(fd, buf);
  } finally {
    fs.closeSync(fd);
  }
}

export const DOC_FILES = { "1k.bin": 1024, "64k.bin": 64 * 1024, "10m.bin": 10 * 1024 * 1024 };
export const BIG_DIR_FILES = 1000;

/**
 * effect-httpd caches a file's response only once the file has been left alone this long (its mtime and ctime
 * older than StaticFiles' `cache.settleMs`, 2 s), so that a file being written is never cached half-way.
 * `utimes` cannot age a ctime: a freshly written root is uncached for its first seconds, which no served
 * directory is in real use. The benches wait this long after makeDocRoot before starting servers.
 */
/** Node options effect-httpd runs with, as `npm start` passes them (package.json). */
export const OUR_NODE_ARGS = ["--max-semi-space-size=4"];

/** The executable, which loads the bundle `npm run build` writes. */
export const OUR_BIN = path.join(REPO_ROOT, "bin/effect-httpd.js");
const OUR_BUNDLE = path.join(REPO_ROOT, "dist/effect-httpd.mjs");

/**
 * effect-httpd's command line for the benches: as `npm start` runs it, on 127.0.0.1, HTTP/1.1 (Python's default
 * HTTP/1.0 keeps nothing alive), then `extraArgs`.
 */
export const ourCommand = (port, root, extraArgs = []) => ({
  cmd: process.execPath,
  args: [...OUR_NODE_ARGS, OUR_BIN, String(port), "--bind", "127.0.0.1", "--directory", root, "--protocol", "HTTP/1.1", ...extraArgs],
});

/** effect-httpd as a user types it: no protocol flag (HTTP/1.0, a connection per request), then `extraArgs`. */
export const ourDefaultCommand = (port, root, extraArgs = []) => ({
  cmd: process.execPath,
  args: [...OUR_NODE_ARGS, OUR_BIN, String(port), "--bind", "127.0.0.1", "--directory", root, ...extraArgs],
});

/**
 * `node:net` doing the work of each of Python's requests and nothing more (scripts/peers/net-python-work.mjs),
 * less the pieces named in `without`.
 */
export const netPythonWorkCommand = (port, root, without = []) => ({
  cmd: process.execPath,
  args: [
    path.join(REPO_ROOT, "scripts/peers/net-python-work.mjs"), String(port), root,
    ...(without.length > 0 ? ["--without", without.join(",")] : []),
  ],
});

/** The bare `node:net` fixed-response peer (scripts/peers/net-fixed.mjs). */
export const netFixedCommand = (port) => ({
  cmd: process.execPath,
  args: [path.join(REPO_ROOT, "scripts/peers/net-fixed.mjs"), String(port)],
});

/**
 * Starts servers given by command line (`make(port)`) on free ports, one after the other, each logging to
 * `tmp/<prefix>-<i>.log`. If one fails to start, those already started are stopped before the error goes on.
 */
export async function startServers(list, { tmp, prefix, cpu = SERVER_CPU }) {
  const servers = [];
  try {
    for (const { name, make } of list) {
      const port = await freePort();
      const { cmd, args } = make(port);
      const logFile = path.join(tmp, `${prefix}-${servers.length}.log`);
      const handle = await startServer({ name, cmd, args, port, cpu, logFile });
      servers.push({ name, port, handle, cmd, args });
      console.error(`started ${name} on 127.0.0.1:${port} (pid ${handle.pid})`);
    }
  } catch (e) {
    for (const s of servers) await s.handle.stop();
    throw e;
  }
  return servers;
}

export const CACHE_SETTLE_MS = 2_100;

/** Resolves once a document root written now has settled (see CACHE_SETTLE_MS). */
export const settleDocRoot = () => new Promise((resolve) => setTimeout(resolve, CACHE_SETTLE_MS));

/**
 * Write the benchmark document root into `dir` (created if needed). Returns dir.
 * `extraFiles` ({ name: size }) adds more deterministic files, e.g. { "100m.bin": 100 * 2 ** 20 }.
 */
export function makeDocRoot(dir, { extraFiles = {} } = {}) {
  fs.mkdirSync(dir, { recursive: true });
  fs.chmodSync(dir, 0o755);
  let seed = 0x9e3779b9;
  const files = { ...DOC_FILES, ...extraFiles };
  for (const [name, size] of Object.entries(files)) writeDeterministicFile(path.join(dir, name), size, seed++);
  fs.writeFileSync(
    path.join(dir, "index.html"),
    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>bench</title></head>\n" +
      "<body><h1>effect-httpd bench root</h1><p><a href=\"big/\">big/</a></p></body></html>\n",
  );
  const big = path.join(dir, "big");
  fs.mkdirSync(big, { recursive: true });
  for (let i = 0; i < BIG_DIR_FILES; i++) {
    const name = `file-${String(i).padStart(4, "0")}.txt`;
    fs.writeFileSync(path.join(big, name), `file ${i}\n`);
  }
  // Fixed mtimes, so Last-Modified and listings do not depend on when it ran.
  const t = new Date("2024-01-01T00:00:00Z");
  for (const name of [...Object.keys(files), "index.html"]) fs.utimesSync(path.join(dir, name), t, t);
  return dir;
}

// ---------------------------------------------------------------- servers

export const SERVER_NAMES = ["effect-httpd", "python-1.0", "python-1.1", "node-static", "http-server", "nginx"];

function nginxConf({ tmp, port, root }) {
  const t = (p) => path.join(tmp, p);
  return `# generated by scripts/lib/bench-harness.mjs: one process, nothing written outside ${tmp}
worker_processes 1;
daemon off;
master_process off;
error_log stderr warn;
pid ${t("nginx.pid")};
lock_file ${t("nginx.lock")};
events { worker_connections 1024; }
http {
  # On, to a file, as effect-httpd and Python log every request (to stderr, which the harness writes to a file).
  access_log ${t("access.log")};
  sendfile on;
  # node's and Python's servers put no cap on requests per keep-alive connection
  keepalive_requests 1000000;
  types { text/html html; text/plain txt; application/octet-stream bin; }
  default_type application/octet-stream;
  client_body_temp_path ${t("body")};
  proxy_temp_path ${t("proxy")};
  fastcgi_temp_path ${t("fastcgi")};
  uwsgi_temp_path ${t("uwsgi")};
  scgi_temp_path ${t("scgi")};
  server {
    listen 127.0.0.1:${port};
    root ${root};
    autoindex on;
  }
}
`;
}

/**
 * Every candidate server, in SERVER_NAMES order: { name, available, reason?, make(port, root, tmp) -> {cmd,args} }.
 * Shared by scripts/bench.mjs and scripts/bench-memory.mjs, so both start the same command lines.
 */
export function serverCandidates() {
  const node = process.execPath;
  const python = which("python3");
  let pyVersion = null;
  if (python) {
    const r = spawnSync(python, ["-c", "import sys; print('%d.%d' % sys.version_info[:2])"], { encoding: "utf8" });
    pyVersion = r.status === 0 ? r.stdout.trim() : null;
  }
  const pyAtLeast = (maj, min) => {
    if (!pyVersion) return false;
    const [a, b] = pyVersion.split(".").map(Number);
    return a > maj || (a === maj && b >= min);
  };
  const nginx = which("nginx");
  const httpServerBin = path.join(REPO_ROOT, "node_modules/http-server/bin/http-server");
  const missing = (p) => !fs.existsSync(p);

  return [
    {
      name: "effect-httpd",
      available: !missing(OUR_BUNDLE),
      reason: `effect-httpd skipped: ${path.relative(REPO_ROOT, OUR_BUNDLE)} missing (run \`npm run build\`)`,
      // A 404 keeps the connection, as the node servers and nginx do (bench.mjs also measures without).
      make: (port, root) => ourCommand(port, root, ["--keep-alive-on-error"]),
    },
    {
      name: "python-1.0",
      available: !!python && pyAtLeast(3, 7),
      reason: python ? `python-1.0 skipped: python3 ${pyVersion} lacks --directory (needs >= 3.7)` : "python-1.0 skipped: no python3 on PATH",
      make: (port, root) => ({ cmd: python, args: ["-m", "http.server", String(port), "--bind", "127.0.0.1", "--directory", root] }),
    },
    {
      name: "python-1.1",
      available: !!python && pyAtLeast(3, 11),
      reason: python ? `python-1.1 skipped: python3 ${pyVersion} lacks --protocol (needs >= 3.11)` : "python-1.1 skipped: no python3 on PATH",
      make: (port, root) => ({ cmd: python, args: ["-m", "http.server", String(port), "--bind", "127.0.0.1", "--directory", root, "--protocol", "HTTP/1.1"] }),
    },
    {
      name: "node-static",
      available: true,
      make: (port, root) => ({ cmd: node, args: [path.join(REPO_ROOT, "scripts/peers/node-static.mjs"), String(port), root] }),
    },
    {
      name: "http-server",
      available: !missing(httpServerBin),
      reason: "http-server skipped: node_modules/http-server missing (it is a devDependency: npm ci)",
      make: (port, root) => ({ cmd: node, args: [httpServerBin, root, "-p", String(port), "-a", "127.0.0.1", "-s", "-c-1"] }),
    },
    {
      name: "nginx",
      available: !!nginx,
      reason: `nginx skipped: not installed (${INSTALL_HINT})`,
      make: (port, root, tmp) => {
        const dir = path.join(tmp, "nginx");
        fs.mkdirSync(dir, { recursive: true });
        fs.writeFileSync(path.join(dir, "nginx.conf"), nginxConf({ tmp: dir, port, root }));
        return { cmd: nginx, args: ["-p", dir + "/", "-c", path.join(dir, "nginx.conf"), "-e", "stderr"] };
      },
    },
  ];
}

// ---------------------------------------------------------------- processes

const live = new Set(); // servers and load children, for emergency cleanup

/** On SIGINT/SIGTERM/uncaught error: SIGKILL every process group we started, then exit. */
export function installCleanup() {
  const killAll = () => {
    for (const p of live) {
      try { process.kill(p.groupKill ? -p.pid : p.pid, "SIGKILL"); } catch {}
    }
    live.clear();
  };
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
    process.on(sig, () => {
      console.error(`\n${sig}: stopping every process this harness started`);
      killAll();
      process.exit(130);
    });
  }
  process.on("exit", killAll);
  process.on("uncaughtException", (e) => {
    console.error(e);
    killAll();
    process.exit(1);
  });
}

/** A free TCP port on 127.0.0.1 (ask the kernel, then release it). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function tryConnect(port, timeoutMs = 500) {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host: "127.0.0.1" });
    const done = (ok) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once("connect", () => done(true));
    sock.once("error", () => done(false));
  });
}

/** Pids whose process group is `pgid` (Linux /proc; [] elsewhere). */
function groupPids(pgid) {
  const out = [];
  let names;
  try {
    names = fs.readdirSync("/proc");
  } catch {
    return out;
  }
  for (const n of names) {
    if (n.charCodeAt(0) < 48 || n.charCodeAt(0) > 57) continue;
    try {
      const stat = fs.readFileSync(`/proc/${n}/stat`, "latin1");
      // pid (comm) state ppid pgrp ...   comm may contain spaces or ')'
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(rest[2]) === pgid && rest[0] !== "Z") out.push(Number(n));
    } catch {}
  }
  return out;
}

function rssKiB(pid) {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "latin1"));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/**
 * Summed VmRSS (MiB) of every live process in process group `pgid` (a server
 * from startServer: its pid), read now; null without /proc.
 */
export function groupRssMiB(pgid) {
  if (!fs.existsSync("/proc/self/status")) return null;
  let sum = 0;
  for (const p of groupPids(pgid)) sum += rssKiB(p);
  return sum / 1024;
}

/** CPU time (user + system, ms) of every live process in process group `pgid` so far; null without /proc. */
export function groupCpuMs(pgid) {
  if (!fs.existsSync("/proc/self/stat")) return null;
  let ticks = 0;
  for (const p of groupPids(pgid)) {
    try {
      const stat = fs.readFileSync(`/proc/${p}/stat`, "latin1");
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(rest[11]) + Number(rest[12]); // utime, stime
    } catch {}
  }
  return (ticks * 1000) / CLOCK_TICKS;
}
const CLOCK_TICKS = (() => {
  try {
    return Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;
  } catch {
    return 100;
  }
})();

function tail(file, lines = 20) {
  try {
    return fs.readFileSync(file, "utf8").split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}

/**
 * Spawn a server and wait until 127.0.0.1:port accepts connections.
 * @param {{name:string, cmd:string, args:string[], port:number, env?:object, cpu?:number, cwd?:string, logFile?:string}} o
 * @returns {Promise<{name:string, pid:number, port:number, stop:()=>Promise<void>, peakRssMiB:()=>number|null, resetPeak:()=>void, rssMiB:()=>number|null, exited:()=>object|null, logFile:string}>}
 */
export async function startServer({ name, cmd, args = [], port, env, cpu = SERVER_CPU, cwd = REPO_ROOT, logFile }) {
  if (!port) throw new Error(`${name}: startServer needs a port`);
  logFile ??= path.join(os.tmpdir(), `bench-${name}-${process.pid}.log`);
  const logFd = fs.openSync(logFile, "w");
  const run = withTaskset(cpu, cmd, args);
  const child = spawn(run.cmd, run.args, {
    cwd,
    env: { ...process.env, ...env },
    detached: true, // own process group: pgid === child.pid
    stdio: ["ignore", logFd, logFd],
  });
  fs.closeSync(logFd);
  const entry = { pid: child.pid, groupKill: true };
  live.add(entry);

  let exited = null;
  const exitPromise = new Promise((resolve) => {
    child.once("exit", (code, signal) => {
      exited = { code, signal };
      resolve(exited);
    });
    child.once("error", (err) => {
      exited = { code: null, signal: null, error: err };
      resolve(exited);
    });
  });

  // RSS sampling: membership of the group refreshed every second, VmRSS every 100 ms.
  const hasProc = fs.existsSync("/proc/self/status");
  let members = [child.pid];
  let peakKiB = 0;
  let ticks = 0;
  const sampler = hasProc
    ? setInterval(() => {
        if (exited) return;
        if (ticks++ % 10 === 0) {
          const g = groupPids(child.pid);
          if (g.length) members = g;
        }
        let sum = 0;
        for (const p of members) sum += rssKiB(p);
        if (sum > peakKiB) peakKiB = sum;
      }, 100)
    : null;
  sampler?.unref();

  const stop = async () => {
    if (sampler) clearInterval(sampler);
    const signalGroup = (sig) => {
      try {
        process.kill(-child.pid, sig);
      } catch {}
    };
    signalGroup("SIGTERM");
    const timedOut = await Promise.race([exitPromise.then(() => false), sleep(2000).then(() => true)]);
    if (timedOut || groupPids(child.pid).length) {
      signalGroup("SIGKILL");
      await Promise.race([exitPromise, sleep(2000)]);
    }
    // Confirm the whole group is gone (children of the server included).
    for (let i = 0; i < 20 && groupPids(child.pid).length; i++) await sleep(100);
    const left = groupPids(child.pid);
    if (left.length) console.error(`warning: ${name}: pids ${left.join(",")} still alive in group ${child.pid}`);
    live.delete(entry);
  };

  const deadline = Date.now() + 10_000;
  for (;;) {
    if (exited) {
      live.delete(entry);
      throw new Error(`${name} exited during start-up (${JSON.stringify(exited)}); log ${logFile}:\n${tail(logFile)}`);
    }
    if (await tryConnect(port)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${name} did not accept on 127.0.0.1:${port} within 10 s; log ${logFile}:\n${tail(logFile)}`);
    }
    await sleep(50);
  }

  return {
    name,
    pid: child.pid,
    port,
    logFile,
    stop,
    peakRssMiB: () => (hasProc ? peakKiB / 1024 : null),
    /** The group's summed VmRSS right now (members looked up afresh), MiB. */
    rssMiB: () => groupRssMiB(child.pid),
    /** null while the server runs; { code, signal } once it has exited. */
    exited: () => exited,
    resetPeak: () => {
      let sum = 0;
      for (const p of members) sum += rssKiB(p);
      peakKiB = sum;
    },
  };
}

// ---------------------------------------------------------------- sanity check

/**
 * One GET on a fresh connection that asks for keep-alive; returns
 * { status, bytes, body (first MiB), serverCloses } where serverCloses says
 * the response announces that the server closes the connection after it
 * (Connection: close, or HTTP/1.0 without keep-alive).
 */
export function fetchOnce(url, { timeoutMs = 10_000, connection = "keep-alive", method = "GET", headers = {}, body } = {}) {
  return new Promise((resolve) => {
    const req = http.request(url, { method, agent: false, timeout: timeoutMs, headers: { ...headers, connection } }, (res) => {
      const conn = String(res.headers.connection ?? "").toLowerCase();
      const serverCloses = conn === "close" || (res.httpVersion === "1.0" && conn !== "keep-alive");
      let bytes = 0;
      const chunks = [];
      res.on("data", (c) => {
        bytes += c.length;
        if (bytes <= 1 << 20) chunks.push(c);
      });
      res.on("end", () => resolve({ status: res.statusCode, bytes, body: Buffer.concat(chunks).toString("latin1"), serverCloses }));
      res.on("error", (e) => resolve({ status: 0, bytes, error: String(e) }));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", (e) => resolve({ status: 0, bytes: 0, error: String(e) }));
    req.end(body);
  });
}

// ---------------------------------------------------------------- load

const WRK_LUA = `-- written by scripts/lib/bench-harness.mjs: print wrk's summary as one JSON line
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%.0f,"bytes":%.0f,"durationUs":%.0f,"connect":%.0f,"read":%.0f,"write":%.0f,"status":%.0f,"timeout":%.0f,"p50Us":%.0f,"p99Us":%.0f,"maxUs":%.0f}\\n',
    summary.requests, summary.bytes, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
`;
let wrkLuaPath = null;
function wrkLua() {
  if (!wrkLuaPath) {
    wrkLuaPath = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "bench-wrk-")), "summary.lua");
    fs.writeFileSync(wrkLuaPath, WRK_LUA);
    process.on("exit", () => fs.rmSync(path.dirname(wrkLuaPath), { recursive: true, force: true }));
  }
  return wrkLuaPath;
}

/**
 * One measured run.
 * `errors`     socket errors (connect/read/write/timeout).
 * `non2xx`     responses outside 2xx/3xx (wrk: status > 399).
 * `unexpected` responses whose status class is not the expected one
 *              (== non2xx unless expectStatus is 4xx/5xx).
 * `mbPerSec`   10^6 bytes per second received, headers included.
 * `serverCloses` (autocannon fallback only) the server closes after every
 *              response, so use the connection-per-request loop instead of
 *              autocannon, whose timings break on server-closed sockets.
 * @returns {Promise<{rps:number, p99Ms:number, p50Ms:number, errors:number, non2xx:number, unexpected:number, mbPerSec:number, requests:number, seconds:number}>}
 */
export async function runLoad({ url, connections, durationSec, newConnectionPerRequest = false, cpu = LOAD_CPU, expectStatus = 200, serverCloses = false, method, headers, body }) {
  // wrk's script here sends GETs only: a request with a body goes through autocannon.
  const r = WRK && body === undefined
    ? await runWrk({ url, connections, durationSec, newConnectionPerRequest, cpu })
    : await runAutocannon({ url, connections, durationSec, newConnectionPerRequest: newConnectionPerRequest || serverCloses, method, headers, body });
  const expectError = expectStatus >= 400;
  if (!r.requests) {
    // Nothing completed within the run (e.g. responses slower than the
    // duration): there is no latency to report, and that is not a 0 ms p99.
    r.p50Ms = null;
    r.p99Ms = null;
  }
  return {
    ...r,
    unexpected: expectError ? r.requests - r.non2xx + r.other : r.non2xx + r.other,
  };
}

function runWrk({ url, connections, durationSec, newConnectionPerRequest, cpu }) {
  const args = ["-t1", `-c${connections}`, `-d${Math.max(1, Math.round(durationSec))}s`, "--timeout", "10s", "-s", wrkLua()];
  if (newConnectionPerRequest) args.push("-H", "Connection: close");
  args.push(url);
  const run = withTaskset(cpu, WRK, args);
  return new Promise((resolve, reject) => {
    const child = spawn(run.cmd, run.args, { stdio: ["ignore", "pipe", "pipe"] });
    const entry = { pid: child.pid, groupKill: false };
    live.add(entry);
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    const hardLimit = setTimeout(() => child.kill("SIGKILL"), (durationSec + 30) * 1000);
    child.on("error", (e) => {
      clearTimeout(hardLimit);
      live.delete(entry);
      reject(e);
    });
    child.on("close", (code) => {
      clearTimeout(hardLimit);
      live.delete(entry);
      const line = out.split("\n").find((l) => l.startsWith("BENCH_JSON "));
      if (!line) return reject(new Error(`wrk failed (exit ${code}): ${err || out}`));
      const s = JSON.parse(line.slice("BENCH_JSON ".length));
      const seconds = s.durationUs / 1e6;
      resolve({
        rps: s.requests / seconds,
        p50Ms: s.p50Us / 1000,
        p99Ms: s.p99Us / 1000,
        errors: s.connect + s.read + s.write + s.timeout,
        non2xx: s.status,
        other: 0,
        mbPerSec: s.bytes / seconds / 1e6,
        requests: s.requests,
        seconds,
      });
    });
  });
}

/**
 * Fallback for "new connection per request" without wrk. autocannon writes
 * the next request on a socket the server is closing and then times later
 * responses against that lost request (p99 of ~500 ms that is not the
 * server's), so this loop does it plainly: connect, write one request with
 * "Connection: close", read to EOF, repeat. Latency is timed from the write,
 * as wrk does.
 */
function runCloseLoop({ url, connections, durationSec }) {
  const u = new URL(url);
  const request = Buffer.from(`GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nConnection: close\r\n\r\n`);
  const latencies = [];
  let requests = 0, bytes = 0, errors = 0, non2xx = 0;
  const t0 = performance.now();
  const end = t0 + durationSec * 1000;
  const one = () =>
    new Promise((resolve) => {
      const sock = net.connect({ port: Number(u.port), host: u.hostname });
      let start = 0, got = 0, head = "", done = false;
      const finish = (ok) => {
        if (done) return;
        done = true;
        sock.destroy();
        if (ok) {
          const status = Number(head.slice(9, 12));
          requests++;
          bytes += got;
          latencies.push(performance.now() - start);
          if (!(status >= 200 && status < 400)) non2xx++;
        } else errors++;
        resolve();
      };
      sock.setTimeout(10_000, () => finish(false));
      sock.once("connect", () => {
        start = performance.now();
        sock.write(request);
      });
      sock.on("data", (d) => {
        got += d.length;
        if (head.length < 12) head += d.toString("latin1", 0, Math.min(d.length, 12));
      });
      sock.once("end", () => finish(head.startsWith("HTTP/1.")));
      sock.once("error", () => finish(false));
    });
  const worker = async () => {
    while (performance.now() < end) await one();
  };
  return Promise.all(Array.from({ length: connections }, worker)).then(() => {
    const seconds = (performance.now() - t0) / 1000;
    latencies.sort((a, b) => a - b);
    const pct = (p) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor((latencies.length * p) / 100))] : null);
    return { rps: requests / seconds, p50Ms: pct(50), p99Ms: pct(99), errors, non2xx, other: 0, mbPerSec: bytes / seconds / 1e6, requests, seconds };
  });
}

let autocannonMod = null;
async function runAutocannon({ url, connections, durationSec, newConnectionPerRequest, method = "GET", headers = {}, body }) {
  if (newConnectionPerRequest) return runCloseLoop({ url, connections, durationSec });
  autocannonMod ??= (await import("autocannon")).default;
  const res = await autocannonMod({
    url,
    method,
    headers,
    body,
    connections,
    duration: durationSec,
    timeout: 10,
  });
  const seconds = res.duration;
  const requests = res.requests.total;
  return {
    rps: requests / seconds,
    p50Ms: res.latency.p50,
    p99Ms: res.latency.p99,
    errors: res.errors, // includes timeouts
    non2xx: (res["1xx"] ?? 0) + (res["4xx"] ?? 0) + (res["5xx"] ?? 0),
    other: 0,
    mbPerSec: res.throughput.total / seconds / 1e6,
    requests,
    seconds,
  };
}

// ---------------------------------------------------------------- interleave

export const median = (xs) => {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};

/**
 * For each workload: repeats × (A B C ...). Each (server, workload) gets one
 * sanity GET and a 1 s warm-up right before its first measured run.
 * @param {Array<{name:string, port:number, handle:object}>} servers  handle from startServer
 * @param {Array<{name:string, path:string, connections:number, newConnectionPerRequest?:boolean, expectStatus?:number, expectBytes?:number, expectText?:string, label?:string}>} workloads
 * @param {number} repeats
 * @param {{durationSec:number, warmupSec?:number, loadCpu?:number|string|null, log?:(s:string)=>void}} opts
 */
export async function interleave(servers, workloads, repeats, { durationSec, warmupSec = 1, loadCpu = LOAD_CPU, log = (s) => console.error(s) }) {
  const cells = {};
  const total = workloads.length * servers.length * repeats;
  let n = 0;
  for (const w of workloads) {
    cells[w.name] = {};
    const broken = new Set();
    for (let rep = 0; rep < repeats; rep++) {
      for (const s of servers) {
        const cell = (cells[w.name][s.name] ??= { runs: [], check: null });
        const url = `http://127.0.0.1:${s.port}${w.path}`;
        const loadOpts = { serverCloses: !!cell.check?.serverCloses, url, connections: w.connections, newConnectionPerRequest: !!w.newConnectionPerRequest, expectStatus: w.expectStatus ?? 200, cpu: loadCpu, method: w.method, headers: w.headers, body: w.body };
        n++;
        if (rep === 0) {
          cell.check = await checkOnce(url, w);
          loadOpts.serverCloses = !!cell.check.serverCloses;
          if (!cell.check.ok) {
            broken.add(s.name);
            log(`[${n}/${total}] ${w.name} ${s.name}: sanity check failed (${cell.check.reason}); skipping this cell`);
          } else {
            await runLoad({ ...loadOpts, durationSec: warmupSec });
          }
        }
        if (broken.has(s.name)) continue;
        s.handle.resetPeak();
        // The server's CPU time per answered request: unlike req/s, barely moved by other jobs on a shared machine.
        const cpuBefore = groupCpuMs(s.handle.pid);
        const r = await runLoad({ ...loadOpts, durationSec });
        const cpuAfter = groupCpuMs(s.handle.pid);
        r.cpuUsPerReq = cpuBefore == null || cpuAfter == null || !r.requests ? null : ((cpuAfter - cpuBefore) * 1000) / r.requests;
        r.peakRssMiB = s.handle.peakRssMiB();
        cell.runs.push(r);
        log(
          `[${n}/${total}] ${w.name} ${s.name} #${rep + 1}: ${fmtInt(r.rps)} req/s, p99 ${fmtMs(r.p99Ms)}, ` +
            `${fmtMB(r.mbPerSec)} MB/s, err ${r.errors}, bad status ${r.unexpected}, peak RSS ${fmtMiB(r.peakRssMiB)} MiB`,
        );
      }
    }
    for (const s of servers) {
      const cell = cells[w.name][s.name];
      if (!cell?.runs.length) continue;
      const col = (k) => cell.runs.map((r) => r[k]);
      cell.median = {
        rps: median(col("rps")),
        p99Ms: median(col("p99Ms")),
        p50Ms: median(col("p50Ms")),
        mbPerSec: median(col("mbPerSec")),
        errors: col("errors").reduce((a, b) => a + b, 0), // summed over repeats
        unexpected: col("unexpected").reduce((a, b) => a + b, 0), // summed over repeats
        peakRssMiB: col("peakRssMiB").every((x) => x == null) ? null : Math.max(...col("peakRssMiB").filter((x) => x != null)),
        cpuUsPerReq: col("cpuUsPerReq").every((x) => x == null) ? null : median(col("cpuUsPerReq").filter((x) => x != null)),
      };
    }
  }
  return { servers: servers.map((s) => s.name), workloads, repeats, durationSec, cells };
}

async function checkOnce(url, w) {
  const r = await fetchOnce(url, { connection: w.newConnectionPerRequest ? "close" : "keep-alive", method: w.method, headers: w.headers, body: w.body });
  const want = w.expectStatus ?? 200;
  if (r.status !== want) return { ok: false, reason: `GET ${w.path} -> ${r.status || r.error}, expected ${want}`, status: r.status };
  if (w.expectBytes != null && r.bytes !== w.expectBytes)
    return { ok: false, reason: `GET ${w.path} body ${r.bytes} bytes, expected ${w.expectBytes}`, status: r.status, bytes: r.bytes };
  if (w.expectText && !r.body.includes(w.expectText))
    return { ok: false, reason: `GET ${w.path} body lacks ${JSON.stringify(w.expectText)}`, status: r.status, bytes: r.bytes };
  // For a connection-per-request workload, serverCloses false means the server
  // closes without saying so: wrk then finds out on its next write and counts
  // one read error per request (the response itself is counted fine).
  return w.newConnectionPerRequest
    ? { ok: true, status: r.status, bytes: r.bytes, announcesClose: r.serverCloses }
    : { ok: true, status: r.status, bytes: r.bytes, serverCloses: r.serverCloses };
}

// ---------------------------------------------------------------- report

const fmtInt = (x) => (x == null ? "–" : Math.round(x).toLocaleString("en-US"));
const fmtMs = (x) => (x == null ? "–" : x >= 100 ? `${Math.round(x)} ms` : `${x.toFixed(x >= 10 ? 1 : 2)} ms`);
const fmtMB = (x) => (x == null ? "–" : x >= 100 ? Math.round(x).toString() : x.toFixed(1));
const fmtMiB = (x) => (x == null ? "–" : x.toFixed(0));
const fmtRatio = (x) => (x == null || !Number.isFinite(x) ? "–" : `${x >= 10 ? x.toFixed(1) : x.toFixed(2)}×`);

/**
 * Print the Markdown tables and write bench-results/<timestamp>.json.
 * @param results  from interleave()
 * @param {{baseline?:string, title?:string, meta?:object, outDir?:string, notes?:string[]}} opts
 * @returns {string} path of the JSON file
 */
export function report(results, { baseline = "effect-httpd", title = "benchmark", meta = {}, outDir = path.join(REPO_ROOT, "bench-results"), notes = [] } = {}) {
  const { servers, workloads, cells } = results;
  const lines = [];
  lines.push(`## ${title}`, "");
  lines.push(
    `${meta.tool ?? toolDescription()} · ${results.durationSec} s × ${results.repeats} interleaved repeat(s) · ` +
      `median req/s and p99 · errors = socket errors + unexpected statuses, summed · peak RSS = max over repeats`,
    "",
  );
  lines.push(`| workload | ${servers.join(" | ")} |`);
  lines.push(`|---|${servers.map(() => "---").join("|")}|`);
  for (const w of workloads) {
    const row = servers.map((s) => {
      const c = cells[w.name]?.[s];
      if (!c?.median) return c?.check && !c.check.ok ? `check failed: ${c.check.reason}` : "–";
      const m = c.median;
      const none = c.runs.every((r) => !r.requests) ? " (none completed)" : "";
      const thr = (w.reportMBps ? `${fmtMB(m.mbPerSec)} MB/s (${fmtInt(m.rps)} req/s)` : `${fmtInt(m.rps)} req/s`) + none;
      const cpu = m.cpuUsPerReq == null ? "" : ` · ${Math.round(m.cpuUsPerReq)} µs CPU/req`;
      return `${thr} · p99 ${fmtMs(m.p99Ms)} · ${m.errors + m.unexpected} err · ${fmtMiB(m.peakRssMiB)} MiB${cpu}`;
    });
    lines.push(`| ${w.label ?? w.name} | ${row.join(" | ")} |`);
  }
  lines.push("");

  const peers = servers.filter((s) => s !== baseline);
  const ratios = {};
  if (servers.includes(baseline) && peers.length) {
    lines.push(`### ${baseline} vs each peer (throughput ratio, >1 = ${baseline} faster; p99 ratio, <1 = ${baseline} lower; CPU/req: peer's server CPU per request ÷ ${baseline}'s, >1 = ${baseline} cheaper)`, "");
    lines.push(`| workload | ${peers.map((p) => `vs ${p}`).join(" | ")} |`);
    lines.push(`|---|${peers.map(() => "---").join("|")}|`);
    for (const w of workloads) {
      ratios[w.name] = {};
      const ours = cells[w.name]?.[baseline]?.median;
      const row = peers.map((p) => {
        const theirs = cells[w.name]?.[p]?.median;
        if (!ours || !theirs) return "–";
        const num = w.reportMBps ? ours.mbPerSec : ours.rps;
        const den = w.reportMBps ? theirs.mbPerSec : theirs.rps;
        const thr = den > 0 ? num / den : null;
        const p99 = ours.p99Ms != null && theirs.p99Ms ? ours.p99Ms / theirs.p99Ms : null;
        // CPU efficiency: their server CPU per request over ours (>1 = ours spends less).
        const cpu = ours.cpuUsPerReq && theirs.cpuUsPerReq ? theirs.cpuUsPerReq / ours.cpuUsPerReq : null;
        ratios[w.name][p] = { throughput: thr, p99, cpuPerRequest: cpu };
        if (thr == null) return `${p} completed none`;
        return `${fmtRatio(thr)} · p99 ${fmtRatio(p99)}${cpu == null ? "" : ` · CPU/req ${fmtRatio(cpu)}`}`;
      });
      lines.push(`| ${w.label ?? w.name} | ${row.join(" | ")} |`);
    }
    lines.push("");
  } else {
    lines.push(`(no ratios: ${servers.includes(baseline) ? "no peer measured" : `${baseline} was not measured`})`, "");
  }
  notes = [...notes];
  for (const w of workloads) {
    for (const s of servers) {
      const c = cells[w.name]?.[s];
      if (c?.check?.announcesClose === false && WRK)
        notes.push(`${s} on ${w.name}: closes after "Connection: close" without answering "Connection: close", so wrk counts ~1 read error per request there (not failed responses)`);
    }
  }
  for (const n of notes) lines.push(`- ${n}`);
  if (notes.length) lines.push("");

  const file = saveResults({
    title,
    tool: meta.tool ?? toolDescription(),
    baseline,
    notes,
    ...meta,
    durationSec: results.durationSec,
    repeats: results.repeats,
    servers,
    workloads,
    cells,
    ratios,
  }, { outDir });
  lines.push(`JSON: ${path.relative(process.cwd(), file) || file}`);
  console.log(lines.join("\n"));
  return file;
}

/**
 * Write `json` to bench-results/<timestamp>.json (or `outDir`), after the
 * fields every run records: title, finishedAt, machine, pinning. Returns the path.
 */
export function saveResults(json, { outDir = path.join(REPO_ROOT, "bench-results") } = {}) {
  fs.mkdirSync(outDir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const file = path.join(outDir, `${stamp}.json`);
  const { title, ...rest } = json;
  const out = {
    title,
    finishedAt: new Date().toISOString(),
    machine: machineInfo(),
    pinning: { taskset: !!TASKSET, serverCpu: SERVER_CPU, loadCpu: LOAD_CPU },
    ...rest,
  };
  fs.writeFileSync(file, JSON.stringify(out, null, 2) + "\n");
  return file;
}
