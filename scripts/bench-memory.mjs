/**
 * bench-memory: memory under connections. A benchmark, not a test: it measures
 * the targets of the project's memory issue ("under 120 MiB with 1000 idle
 * keep-alive connections; flat while 50 slow clients download a 100 MiB file")
 * for effect-httpd and its peers in one run, on one generated document root.
 *
 * Per server, one at a time (started, measured, stopped):
 *   idle        RSS of the server's process group after start and one warm-up GET /1k.bin.
 *   N idle      open N (default 1000) TCP connections, at most 100 being opened at a time; each sends one
 *               `GET /1k.bin HTTP/1.1`, reads the whole response (200, the 1024-byte body,
 *               byte for byte), then stays open and idle. ~2 s after the last one is answered,
 *               RSS is sampled 4 times (max reported) and the connections still open are
 *               counted (a server may close idle ones: reported, not hidden). Then all are
 *               closed and RSS is sampled again ~2 s later.
 *   slow        M clients (default 50) each GET /100m.bin (104857600 bytes) and read it at a
 *               bounded rate (default 1024 KiB/s each) with real TCP backpressure: the socket is
 *               paused whenever a client is ahead of its rate and resumed on a timer, so the
 *               kernel buffers fill and the server's writes must wait. For --slow-seconds
 *               (default 15) RSS is sampled every 250 ms: start, peak, end, and growth =
 *               end - the sample at ~2 s. Then the clients are destroyed; RSS again after ~2 s.
 *
 * RSS = summed VmRSS of the server's process group (/proc). Servers on core 0, this
 * process (all the clients) on core 1, as in scripts/bench.mjs.
 *
 * Servers (the same command lines as scripts/bench.mjs, from the harness's table):
 *   effect-httpd  node --max-semi-space-size=4 bin/effect-httpd.js PORT --bind 127.0.0.1 --directory ROOT --protocol HTTP/1.1 --keep-alive-on-error
 *   node-static   node scripts/peers/node-static.mjs PORT ROOT
 *   http-server   node node_modules/http-server/bin/http-server ROOT -p PORT -a 127.0.0.1 -s -c-1
 *   python-1.1    python3 -m http.server PORT --bind 127.0.0.1 --directory ROOT --protocol HTTP/1.1
 *
 * Run:  node scripts/bench-memory.mjs [--only a,b] [--connections N=1000] [--slow-clients N=50]
 *                                     [--slow-rate KiB/s=1024] [--slow-seconds S=15]
 * Output: Markdown on stdout, progress on stderr, bench-results/<timestamp>.json.
 * Only 127.0.0.1 is contacted; every phase is bounded in time (a full run: ~2 minutes).
 */
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import {
  TASKSET, NPROC, DOC_FILES,
  parseArgs, installCleanup, pinSelf, freePort, makeDocRoot, settleDocRoot, startServer, serverCandidates, fetchOnce, saveResults,
} from "./lib/bench-harness.mjs";

const SERVERS = ["effect-httpd", "node-static", "http-server", "python-1.1"];
const BASELINE = "effect-httpd";
const BIG_FILE = "100m.bin";
const BIG_SIZE = 100 * 2 ** 20;
const SMALL_FILE = "1k.bin";
const WINDOW = 100; // idle connections being opened at once (a sliding window, not a barrier per batch)
// Per idle connection, connect + answer: long enough for a SYN that a full accept queue dropped to get in on the
// kernel's 4th retransmit (1 + 2 + 4 + 8 = 15 s).
const CONNECT_TIMEOUT_MS = 16_000;
const OPEN_PHASE_MS = 30_000; // no new idle connection is started after this
const SETTLE_MS = 2000;
const SAMPLE_EVERY_MS = 250;
const GROWTH_FROM_MS = 2000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const MiB = (x) => (x == null ? "–" : x.toFixed(0));
/** A signed whole number of MiB: "+3", "-12", "+0" (never "-0"). */
const signedMiB = (x) => {
  if (x == null) return "–";
  const r = Math.round(x);
  return r > 0 ? `+${r}` : r < 0 ? String(r) : "+0";
};

function usage() {
  console.log(`usage: node scripts/bench-memory.mjs [--only ${SERVERS.join(",")}]
                                 [--connections N (1000)] [--slow-clients N (50)]
                                 [--slow-rate KiB/s per client (1024)] [--slow-seconds S (15)]`);
}

function parse(argv) {
  const opts = parseArgs(argv, { connections: 1000, slowClients: 50, slowRate: 1024, slowSeconds: 15 }, {
    accept: ["--only"],
    numbers: { "--connections": "connections", "--slow-clients": "slowClients", "--slow-rate": "slowRate", "--slow-seconds": "slowSeconds" },
  });
  for (const k of ["connections", "slowClients"]) {
    if (!Number.isInteger(opts[k]) || opts[k] < 1) throw new Error(`--${k === "connections" ? "connections" : "slow-clients"} must be a positive integer`);
  }
  if (!(opts.slowRate > 0)) throw new Error("--slow-rate must be > 0 (KiB/s per client)");
  if (!(opts.slowSeconds >= 3)) throw new Error("--slow-seconds must be >= 3 (growth is measured from the 2 s mark)");
  const unknown = (opts.only ?? []).filter((n) => !SERVERS.includes(n));
  if (unknown.length) throw new Error(`unknown server name(s): ${unknown.join(", ")}`);
  return opts;
}

// ---------------------------------------------------------------- sampling

/** RSS of `handle`'s process group, `n` samples `everyMs` apart: { max, samples }. */
async function sampleRss(handle, n = 3, everyMs = SAMPLE_EVERY_MS) {
  const samples = [];
  for (let i = 0; i < n; i++) {
    if (i) await sleep(everyMs);
    samples.push(handle.rssMiB());
  }
  const valid = samples.filter((x) => x != null && x > 0);
  return { max: valid.length ? Math.max(...valid) : null, samples };
}

// ---------------------------------------------------------------- idle keep-alive connections

/** TcpExt ListenOverflows of the whole machine (/proc/net/netstat), or null: accept-queue drops. */
function listenOverflows() {
  try {
    const lines = fs.readFileSync("/proc/net/netstat", "latin1").split("\n");
    for (let i = 0; i + 1 < lines.length; i++) {
      if (!lines[i].startsWith("TcpExt:")) continue;
      const keys = lines[i].split(/\s+/);
      const vals = lines[i + 1].split(/\s+/);
      const k = keys.indexOf("ListenOverflows");
      return k > 0 ? Number(vals[k]) : null;
    }
  } catch {}
  return null;
}

/**
 * One connection: GET /1k.bin, read the whole response, check it, keep the socket.
 * Resolves { ok, sock, reason }; `conn.closedAt` is set when the socket closes later.
 */
function openIdle(port, expected, conn) {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host: "127.0.0.1" });
    conn.sock = sock;
    let head = null;
    let buf = Buffer.alloc(0);
    let body = [];
    let bodyLen = 0;
    let want = -1;
    let settled = false;
    const settle = (ok, reason) => {
      if (settled) return;
      settled = true;
      sock.setTimeout(0);
      conn.ok = ok;
      conn.reason = reason;
      if (!ok) sock.destroy();
      resolve(conn);
    };
    sock.setNoDelay(true);
    sock.setTimeout(CONNECT_TIMEOUT_MS, () => settle(false, "timeout"));
    sock.once("connect", () => sock.write(`GET /${SMALL_FILE} HTTP/1.1\r\nHost: localhost\r\n\r\n`));
    sock.on("data", (d) => {
      if (settled) {
        conn.extraBytes = (conn.extraBytes ?? 0) + d.length;
        return;
      }
      if (!head) {
        buf = Buffer.concat([buf, d]);
        const end = buf.indexOf("\r\n\r\n");
        if (end < 0) return;
        head = buf.subarray(0, end).toString("latin1");
        const rest = buf.subarray(end + 4);
        buf = null;
        const status = Number(head.slice(9, 12));
        const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
        conn.status = status;
        conn.serverSaysClose = /\r\nconnection:\s*close/i.test(head);
        if (status !== 200) return settle(false, `status ${status || head.split("\r\n")[0]}`);
        if (!m) return settle(false, "no Content-Length");
        want = Number(m[1]);
        if (rest.length) d = rest;
        else return;
      }
      body.push(d);
      bodyLen += d.length;
      if (bodyLen >= want) {
        const got = Buffer.concat(body);
        body = null;
        if (want !== expected.length || got.length < want || !got.subarray(0, want).equals(expected)) settle(false, `body ${got.length}/${want} bytes differs from ${SMALL_FILE}`);
        else settle(true, null);
      }
    });
    sock.on("error", (e) => {
      conn.error = e.code ?? String(e);
      settle(false, `error ${conn.error}`);
    });
    sock.on("close", () => {
      conn.closedAt = performance.now();
      settle(false, head ? "closed mid-response" : "closed before answering");
    });
  });
}

async function idleConnections(server, handle, n, expected, log) {
  const conns = Array.from({ length: n }, () => ({ ok: false, sock: null, closedAt: null }));
  const failures = {};
  const t0 = performance.now();
  const overflows0 = listenOverflows();
  // A sliding window: a connection whose SYN a full accept queue dropped (Python's backlog is 5) waits for
  // the kernel's retransmit (after 1, 3, 7, 15 s) without holding up the others.
  let next = 0;
  let notStarted = 0;
  const worker = async () => {
    while (next < n) {
      if (performance.now() - t0 > OPEN_PHASE_MS || handle.exited()) {
        notStarted = n - next;
        next = n;
        break;
      }
      await openIdle(server.port, expected, conns[next++]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(WINDOW, n) }, worker));
  const openMs = performance.now() - t0;
  const overflows = overflows0 == null ? null : listenOverflows() - overflows0;
  if (notStarted) failures[`not started: ${OPEN_PHASE_MS / 1000} s limit`] = notStarted;
  const answered = conns.filter((c) => c.ok).length;
  for (const c of conns) if (!c.ok && c.reason) failures[c.reason] = (failures[c.reason] ?? 0) + 1;
  const openNow = () => conns.filter((c) => c.ok && c.closedAt == null).length;
  log(`${server.name}: ${answered}/${n} connections answered in ${(openMs / 1000).toFixed(1)} s, ${openNow()} open${Object.keys(failures).length ? `; failures ${JSON.stringify(failures)}` : ""}`);

  await sleep(SETTLE_MS);
  const samples = [];
  const openAtSample = [];
  for (let i = 0; i < 4; i++) {
    if (i) await sleep(SAMPLE_EVERY_MS);
    samples.push(handle.rssMiB());
    openAtSample.push(openNow());
  }
  const valid = samples.filter((x) => x != null && x > 0);
  const withIdle = valid.length ? Math.max(...valid) : null;
  const stillOpen = openNow();
  const serverClosedAnswered = conns.filter((c) => c.ok && c.closedAt != null).length;
  const serverSaysClose = conns.filter((c) => c.serverSaysClose).length;
  log(`${server.name}: RSS with ${n} idle: ${MiB(withIdle)} MiB (samples ${samples.map(MiB).join(", ")}), open at samples ${openAtSample.join(", ")}`);

  for (const c of conns) c.sock?.destroy();
  await sleep(SETTLE_MS);
  const after = await sampleRss(handle);
  log(`${server.name}: ${MiB(after.max)} MiB ~2 s after closing them`);
  return {
    connections: n,
    answered,
    failures,
    openSeconds: openMs / 1000,
    listenOverflows: overflows,
    rssMiB: withIdle,
    samplesMiB: samples,
    openAtSamples: openAtSample,
    stillOpen,
    closedByServerAfterAnswer: serverClosedAnswered,
    answeredWithConnectionClose: serverSaysClose,
    afterCloseMiB: after.max,
    afterCloseSamplesMiB: after.samples,
  };
}

// ---------------------------------------------------------------- slow downloads

/**
 * One slow client: GET /100m.bin, read at most `rate` bytes/s (headers included) by pausing
 * the socket whenever it is ahead and resuming on a timer. Never resolves: read `state`.
 */
function slowClient(port, rate, state) {
  const sock = net.connect({ port, host: "127.0.0.1" });
  state.sock = sock;
  let t0 = 0;
  let head = "";
  let timer = null;
  sock.once("connect", () => {
    t0 = performance.now();
    sock.write(`GET /${BIG_FILE} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
  });
  sock.on("data", (d) => {
    state.bytes += d.length;
    if (state.status == null) {
      head += d.toString("latin1", 0, Math.min(d.length, 4096));
      const end = head.indexOf("\r\n\r\n");
      if (end >= 0 || head.length > 8192) {
        state.status = Number(head.slice(9, 12));
        const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
        state.contentLength = m ? Number(m[1]) : null;
        if (state.status !== 200) state.error ??= `status ${state.status || head.split("\r\n")[0]}`;
        state.headBytes = end >= 0 ? end + 4 : 0;
      }
    }
    if (state.contentLength != null && state.bytes - state.headBytes >= state.contentLength) state.completed = true;
    const waitMs = t0 + (state.bytes / rate) * 1000 - performance.now();
    if (waitMs > 2 && !timer) {
      sock.pause();
      state.pauses++;
      timer = setTimeout(() => {
        timer = null;
        sock.resume();
      }, waitMs);
    }
  });
  sock.on("error", (e) => {
    state.error ??= e.code ?? String(e);
  });
  sock.on("close", () => {
    if (timer) clearTimeout(timer);
    if (!state.destroyedByUs && !state.completed) state.error ??= "closed by server before the end";
  });
}

async function slowDownloads(server, handle, { clients, rateKiB, seconds }, log) {
  const rate = rateKiB * 1024;
  const startMiB = handle.rssMiB();
  const states = Array.from({ length: clients }, () => ({ bytes: 0, status: null, error: null, completed: false, pauses: 0, destroyedByUs: false, sock: null }));
  const timeline = [];
  const t0 = performance.now();
  for (const s of states) slowClient(server.port, rate, s);
  const sampler = setInterval(() => {
    timeline.push({ t: Math.round(performance.now() - t0), mib: handle.rssMiB(), bytes: states.reduce((a, s) => a + s.bytes, 0) });
  }, SAMPLE_EVERY_MS);
  const endAt = t0 + seconds * 1000;
  let logged = 0;
  while (performance.now() < endAt) {
    await sleep(Math.min(1000, endAt - performance.now()));
    if (handle.exited()) break;
    const secs = Math.floor((performance.now() - t0) / 1000);
    if (secs >= logged + 5 && timeline.length) {
      logged = secs - (secs % 5);
      log(`${server.name}: slow ${secs}s RSS ${MiB(timeline.at(-1).mib)} MiB, ${(timeline.at(-1).bytes / 1e6).toFixed(0)} MB received`);
    }
  }
  clearInterval(sampler);
  timeline.push({ t: Math.round(performance.now() - t0), mib: handle.rssMiB(), bytes: states.reduce((a, s) => a + s.bytes, 0) });
  const elapsed = (performance.now() - t0) / 1000;
  const received = states.reduce((a, s) => a + s.bytes, 0);
  const errors = states.filter((s) => s.error);
  const errorKinds = {};
  for (const s of errors) errorKinds[s.error] = (errorKinds[s.error] ?? 0) + 1;
  const valid = timeline.filter((x) => x.mib != null && x.mib > 0);
  const at2s = valid.find((x) => x.t >= GROWTH_FROM_MS) ?? null;
  const end = valid.at(-1) ?? null;
  const peak = valid.length ? Math.max(...valid.map((x) => x.mib)) : null;
  for (const s of states) {
    s.destroyedByUs = true;
    s.sock?.destroy();
  }
  log(`${server.name}: slow done: peak ${MiB(peak)} MiB, end ${MiB(end?.mib)} MiB, ${(received / 1e6).toFixed(0)} MB, ${errors.length} client error(s)`);
  await sleep(SETTLE_MS);
  const after = await sampleRss(handle);
  log(`${server.name}: ${MiB(after.max)} MiB ~2 s after destroying the slow clients`);
  return {
    clients,
    rateKiBPerSec: rateKiB,
    seconds: elapsed,
    startMiB,
    at2sMiB: at2s?.mib ?? null,
    peakMiB: peak,
    endMiB: end?.mib ?? null,
    growthMiB: at2s && end ? end.mib - at2s.mib : null,
    receivedBytes: received,
    nominalBytes: clients * rate * elapsed,
    perClientBytes: { min: Math.min(...states.map((s) => s.bytes)), max: Math.max(...states.map((s) => s.bytes)) },
    statuses: [...new Set(states.map((s) => s.status))],
    completed: states.filter((s) => s.completed).length,
    errors: errors.length,
    errorKinds,
    afterMiB: after.max,
    afterSamplesMiB: after.samples,
    timeline,
  };
}

// ---------------------------------------------------------------- one server

async function measure(c, root, tmp, opts, expected1k, log) {
  const port = await freePort();
  const { cmd, args } = c.make(port, root, tmp);
  const result = { name: c.name, cmd, args };
  let handle;
  try {
    handle = await startServer({ name: c.name, cmd, args, port, logFile: path.join(tmp, `${c.name}.log`) });
  } catch (e) {
    result.failed = `failed to start: ${String(e.message ?? e).split("\n")[0]}`;
    log(String(e.message ?? e));
    return result;
  }
  result.pid = handle.pid;
  log(`started ${c.name} on 127.0.0.1:${port} (pid ${handle.pid})`);
  const server = { name: c.name, port };
  const died = () => {
    const x = handle.exited();
    return x ? `server exited (${x.signal ?? `code ${x.code}`})` : null;
  };
  try {
    const warm = await fetchOnce(`http://127.0.0.1:${port}/${SMALL_FILE}`);
    if (warm.status !== 200 || warm.bytes !== expected1k.length) {
      result.failed = `warm-up GET /${SMALL_FILE} -> ${warm.status || warm.error}, ${warm.bytes} bytes`;
      return result;
    }
    await sleep(1000);
    const idle = await sampleRss(handle);
    result.idleMiB = idle.max;
    result.idleSamplesMiB = idle.samples;
    log(`${c.name}: idle ${MiB(idle.max)} MiB`);

    result.idleConns = await idleConnections(server, handle, opts.connections, expected1k, log);
    if ((result.died = died())) return result;
    result.slow = await slowDownloads(server, handle, { clients: opts.slowClients, rateKiB: opts.slowRate, seconds: opts.slowSeconds }, log);
    result.died = died();
    return result;
  } finally {
    result.died ??= died();
    await handle.stop();
  }
}

// ---------------------------------------------------------------- report

function table(results, opts) {
  const n = opts.connections;
  const lines = [];
  lines.push(`## memory under connections`, "");
  lines.push(
    `RSS = summed VmRSS of the server's process group, MiB. idle: after one warm-up GET; ${n} idle: max of 4 samples ~2 s after ` +
      `${n} keep-alive connections each got one GET /${SMALL_FILE}; slow: ${opts.slowClients} clients reading /${BIG_FILE} at ` +
      `≤ ${opts.slowRate} KiB/s each for ${opts.slowSeconds} s, sampled every ${SAMPLE_EVERY_MS} ms; growth = end − the sample at ~2 s.`,
    "",
  );
  lines.push(`| server | idle | with ${n} idle | open | KiB/conn | after close | slow start | slow peak | slow end | growth | MB received | errors | after slow |`);
  lines.push(`|---|${Array(12).fill("---").join("|")}|`);
  for (const r of results) {
    if (r.failed && r.idleMiB == null) {
      lines.push(`| ${r.name} | ${r.failed} |${Array(11).fill(" ").join("|")}|`);
      continue;
    }
    const ic = r.idleConns;
    const s = r.slow;
    const perConn = ic && ic.rssMiB != null && r.idleMiB != null && ic.stillOpen > 0 ? (((ic.rssMiB - r.idleMiB) * 1024) / ic.stillOpen).toFixed(0) : "–";
    const open = ic ? `${ic.stillOpen}/${n}${ic.answered < n ? ` (${ic.answered} answered)` : ""}` : "–";
    const growth = signedMiB(s?.growthMiB);
    const mb = s ? `${(s.receivedBytes / 1e6).toFixed(0)} (${Math.round((100 * s.receivedBytes) / s.nominalBytes)}%)` : "–";
    const errs = s ? String(s.errors) : "–";
    const cells = [MiB(r.idleMiB), MiB(ic?.rssMiB), open, perConn, MiB(ic?.afterCloseMiB), MiB(s?.startMiB), MiB(s?.peakMiB), MiB(s?.endMiB), growth, mb, errs, MiB(s?.afterMiB)];
    lines.push(`| ${r.name}${r.died ? ` (${r.died})` : ""} | ${cells.join(" | ")} |`);
  }
  lines.push("");
  lines.push(`"open": connections still open at the last sample / opened; "KiB/conn": (with ${n} idle − idle) ÷ open. "MB received": 10⁶ bytes, headers included, (% of ${opts.slowClients} × ${opts.slowRate} KiB/s × the time).`, "");

  const ours = results.find((r) => r.name === BASELINE && r.idleMiB != null);
  const peers = results.filter((r) => r.name !== BASELINE && r.idleMiB != null);
  const ratios = {};
  if (ours && peers.length) {
    const ratio = (a, b) => (a != null && b ? `${(a / b).toFixed(2)}×` : "–");
    const diff = (a, b) => (a != null && b != null ? `${signedMiB(a - b)} MiB` : "–");
    const rows = [
      ["idle RSS", (r) => r.idleMiB, ratio],
      [`RSS with ${n} idle`, (r) => r.idleConns?.rssMiB, ratio],
      ["RSS after closing them", (r) => r.idleConns?.afterCloseMiB, ratio],
      ["slow-download peak RSS", (r) => r.slow?.peakMiB, ratio],
      ["slow-download end RSS", (r) => r.slow?.endMiB, ratio],
      ["slow-download growth (difference)", (r) => r.slow?.growthMiB, diff],
    ];
    lines.push(`### ${BASELINE} vs each peer (RSS ratio, <1 = ${BASELINE} smaller; growth as a difference)`, "");
    lines.push(`| measure | ${peers.map((p) => `vs ${p.name}`).join(" | ")} |`);
    lines.push(`|---|${peers.map(() => "---").join("|")}|`);
    for (const [label, get, f] of rows) {
      ratios[label] = {};
      lines.push(`| ${label} | ${peers.map((p) => (ratios[label][p.name] = f(get(ours), get(p)))).join(" | ")} |`);
    }
    lines.push("");
  } else {
    lines.push(`(no ratios: ${ours ? "no peer measured" : `${BASELINE} was not measured`})`, "");
  }
  return { text: lines.join("\n"), ratios };
}

function notesFor(results, opts) {
  const notes = [];
  for (const r of results) {
    const ic = r.idleConns;
    if (r.failed) notes.push(`${r.name}: ${r.failed}`);
    if (r.died) notes.push(`${r.name}: ${r.died}`);
    if (ic) {
      if (ic.answered < ic.connections)
        notes.push(
          `${r.name}: only ${ic.answered} of ${ic.connections} connections were answered in ${ic.openSeconds.toFixed(1)} s (${JSON.stringify(ic.failures)}` +
            `${ic.listenOverflows ? `; the kernel counted ${ic.listenOverflows} listen-queue overflows meanwhile: its accept queue was full` : ""})`,
        );
      if (ic.closedByServerAfterAnswer) notes.push(`${r.name}: closed ${ic.closedByServerAfterAnswer} of the answered idle connections itself (open at the 4 samples: ${ic.openAtSamples.join(", ")}; opening all took ${ic.openSeconds.toFixed(1)} s)`);
      if (ic.answeredWithConnectionClose) notes.push(`${r.name}: ${ic.answeredWithConnectionClose} responses said Connection: close`);
    }
    const s = r.slow;
    if (s) {
      if (s.errors) notes.push(`${r.name}: ${s.errors} slow client(s) saw an error: ${JSON.stringify(s.errorKinds)}`);
      if (s.completed) notes.push(`${r.name}: ${s.completed} slow client(s) got the whole file (raise --slow-seconds or lower --slow-rate to keep it in flight)`);
      if (s.receivedBytes < 0.9 * s.nominalBytes) notes.push(`${r.name}: the clients received ${Math.round((100 * s.receivedBytes) / s.nominalBytes)}% of the nominal rate: the server, not the clients, set the pace`);
    }
  }
  return notes;
}

// ---------------------------------------------------------------- main

async function main() {
  let opts;
  try {
    opts = parse(process.argv.slice(2));
  } catch (e) {
    console.error(String(e.message ?? e));
    usage();
    process.exit(2);
  }
  if (opts.help) return usage();

  installCleanup();
  const log = (s) => console.error(s);
  const notes = [];
  if (!TASKSET) notes.push("taskset not found: servers and clients are not pinned");
  else if (NPROC < 2) notes.push("fewer than 2 CPUs: pinning disabled");
  pinSelf();
  if (!fs.existsSync("/proc/self/status")) notes.push("no /proc: RSS cannot be read, the table will be empty");

  const wanted = serverCandidates().filter((c) => SERVERS.includes(c.name) && (!opts.only || opts.only.includes(c.name)));
  wanted.sort((a, b) => SERVERS.indexOf(a.name) - SERVERS.indexOf(b.name));
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "effect-httpd-bench-memory-"));
  fs.chmodSync(tmp, 0o755);
  process.on("exit", () => fs.rmSync(tmp, { recursive: true, force: true }));
  log(`generating the document root in ${tmp} (with ${BIG_FILE}, ${BIG_SIZE} bytes)`);
  const root = makeDocRoot(path.join(tmp, "root"), { extraFiles: { [BIG_FILE]: BIG_SIZE } });
  await settleDocRoot();
  const expected1k = fs.readFileSync(path.join(root, SMALL_FILE));
  if (expected1k.length !== DOC_FILES[SMALL_FILE]) throw new Error(`${SMALL_FILE} is ${expected1k.length} bytes`);

  const results = [];
  const t0 = Date.now();
  try {
    for (const c of wanted) {
      if (!c.available) {
        notes.push(c.reason);
        log(`note: ${c.reason}`);
        continue;
      }
      results.push(await measure(c, root, tmp, opts, expected1k, log));
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  if (!results.length) {
    console.error("no server could be measured");
    process.exitCode = 1;
    return;
  }
  notes.push(...notesFor(results, opts));
  const { text, ratios } = table(results, opts);
  const file = saveResults({
    title: "effect-httpd memory under connections",
    suite: "bench-memory",
    options: opts,
    notes,
    docRoot: { files: { ...DOC_FILES, [BIG_FILE]: BIG_SIZE } },
    totalSeconds: (Date.now() - t0) / 1000,
    results,
    ratios,
  });
  const out = [text];
  for (const n of notes) out.push(`- ${n}`);
  if (notes.length) out.push("");
  out.push(`JSON: ${path.relative(process.cwd(), file) || file}`);
  console.log(out.join("\n"));
}

await main();
