/**
 * net-python-work: the floor for a connection per request *with the work every request of `python -m http.server`
 * needs*, hand-written on bare `node:net` with nothing else: no framework, no Effect, no header validation, no
 * limits. Beside `net-fixed.mjs` (a fixed answer, nothing looked at) it shows what is left for a server to cut once
 * it does what Python does per connection:
 *
 * - the peer's address for the log line (`getpeername`, a system call);
 * - the request line split, the path percent-decoded and joined to the root;
 * - a `stat` of the file on every request, so a changed file is never answered stale (the body comes from memory
 *   while size and mtime are unchanged, as effect-httpd's cache does; Python opens and reads the file every time);
 * - the head with `Server`, `Date`, `Content-type`, `Content-Length`, `Last-Modified` (Python's fields), or Python's
 *   404 page;
 * - an access-log line in Python's format, written to stderr at most every 10 ms (as effect-httpd batches it);
 * - a header timeout armed at accept and a bounded linger after the close (a client that never closes its side),
 *   as effect-httpd has: without them one slow client holds a descriptor forever.
 *
 * Run:  node scripts/peers/net-python-work.mjs PORT ROOT [--without PIECES]      (binds 127.0.0.1)
 *
 * `--without` leaves pieces of that work out, to price each one (scripts/bench-floor.mjs): a comma list of `peer`
 * (the log line says 127.0.0.1), `stat` (the first stat's answer is reused), `date` (a fixed Date), `log` (no
 * access log), `timers` (neither the header timeout nor the linger). The request line split and the head built per
 * request always stay: they are what separates any server from a fixed answer.
 */
import fs from "node:fs";
import net from "node:net";
import path from "node:path";

const port = Number(process.argv[2]);
const root = process.argv[3] === undefined ? undefined : path.resolve(process.argv[3]);
const PIECES = ["peer", "stat", "date", "log", "timers"];
const without = new Set(process.argv[4] === "--without" ? (process.argv[5] ?? "").split(",").filter(Boolean) : []);
if (
  !Number.isInteger(port) || port <= 0 || root === undefined ||
  (process.argv.length > 4 && (process.argv[4] !== "--without" || process.argv.length !== 6)) ||
  [...without].some((piece) => !PIECES.includes(piece))
) {
  console.error(`usage: node scripts/peers/net-python-work.mjs PORT ROOT [--without ${PIECES.join(",")}]`);
  process.exit(2);
}
const withPeer = !without.has("peer");
const withStat = !without.has("stat");
const withDate = !without.has("date");
const withLog = !without.has("log");
const withTimers = !without.has("timers");
const FIXED_DATE = new Date(0).toUTCString();
/** `--without stat`: the first stat of each path, answered again. */
const firstStats = new Map();
const statOnce = (file) => {
  if (!firstStats.has(file)) firstStats.set(file, fs.statSync(file, { throwIfNoEntry: false }));
  return firstStats.get(file);
};

const SERVER = "SimpleHTTP/0.6 Python/3.11.7";
const HEADER_TIMEOUT_MS = 30_000;
const LINGER_MS = 2_000;
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const NOT_FOUND_BODY = Buffer.from(
  '<!DOCTYPE HTML>\n<html lang="en">\n    <head>\n        <meta charset="utf-8">\n' +
    "        <title>Error response</title>\n    </head>\n    <body>\n        <h1>Error response</h1>\n" +
    "        <p>Error code: 404</p>\n        <p>Message: File not found.</p>\n" +
    "        <p>Error code explanation: 404 - Nothing matches the given URI.</p>\n    </body>\n</html>\n",
  "latin1"
);

/** path → { size, mtimeMs, body } */
const cache = new Map();
const bodyOf = (file, st) => {
  const hit = cache.get(file);
  if (hit !== undefined && hit.size === st.size && hit.mtimeMs === st.mtimeMs) return hit.body;
  const body = fs.readFileSync(file);
  cache.set(file, { size: st.size, mtimeMs: st.mtimeMs, body });
  return body;
};

let pending = "";
let flushTimer;
const log = (line) => {
  pending += line;
  flushTimer ??= setTimeout(() => {
    flushTimer = undefined;
    process.stderr.write(pending);
    pending = "";
  }, 10);
};
const two = (n) => (n < 10 ? "0" + n : String(n));
const logTime = (d) =>
  `${two(d.getDate())}/${MONTHS[d.getMonth()]}/${d.getFullYear()} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;

const answer = (line) => {
  const [method, target = "/"] = line.split(" ");
  let rel;
  try {
    rel = decodeURIComponent(target.split("?")[0]);
  } catch {
    rel = target;
  }
  const file = path.join(root, path.normalize(rel));
  const inRoot = method === "GET" && file.startsWith(root);
  const st = !inRoot ? undefined : withStat ? fs.statSync(file, { throwIfNoEntry: false }) : statOnce(file);
  const date = withDate ? new Date().toUTCString() : FIXED_DATE;
  if (st === undefined || !st.isFile()) {
    const head = `HTTP/1.0 404 File not found\r\nServer: ${SERVER}\r\nDate: ${date}\r\nConnection: close\r\n` +
      `Content-Type: text/html;charset=utf-8\r\nContent-Length: ${NOT_FOUND_BODY.length}\r\n\r\n`;
    return { status: 404, head, body: NOT_FOUND_BODY };
  }
  const head = `HTTP/1.0 200 OK\r\nServer: ${SERVER}\r\nDate: ${date}\r\nContent-type: application/octet-stream\r\n` +
    `Content-Length: ${st.size}\r\nLast-Modified: ${st.mtime.toUTCString()}\r\n\r\n`;
  return { status: 200, head, body: bodyOf(file, st) };
};

net.createServer({ allowHalfOpen: true }, (socket) => {
  const address = withPeer ? socket.remoteAddress : "127.0.0.1";
  let head = "";
  const headTimer = withTimers ? setTimeout(() => socket.destroy(), HEADER_TIMEOUT_MS) : undefined;
  socket.on("error", () => {});
  if (withTimers) {
    socket.on("timeout", () => socket.destroy());
    socket.on("close", () => clearTimeout(headTimer));
  }
  socket.on("data", (chunk) => {
    if (head === null) return;
    head += chunk.toString("latin1");
    if (!head.includes("\r\n\r\n")) return;
    if (withTimers) clearTimeout(headTimer);
    const line = head.slice(0, head.indexOf("\r\n"));
    head = null;
    const { status, head: out, body } = answer(line);
    const bytes = Buffer.allocUnsafe(out.length + body.length);
    bytes.write(out, 0, "latin1");
    body.copy(bytes, out.length);
    socket.end(bytes);
    if (withTimers) socket.setTimeout(LINGER_MS);
    if (!withLog) return;
    if (status === 404) log(`${address} - - [${logTime(new Date())}] code 404, message File not found\n`);
    log(`${address} - - [${logTime(new Date())}] "${line}" ${status} -\n`);
  });
  socket.on("end", () => socket.destroy());
}).listen(port, "127.0.0.1");
