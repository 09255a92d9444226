/**
 * node-static: the "node:http static server people write" peer for
 * scripts/bench.mjs.
 *
 * Small and honest on purpose: `node:http` + `fs.promises.stat` +
 * `fs.createReadStream(file).pipe(res)`, Content-Type from a tiny extension
 * map, Content-Length, Last-Modified, 404, a 301 to add the trailing slash on
 * a directory, index.html when a directory has one, and otherwise an HTML
 * directory listing built like Python's http.server builds it (readdir,
 * case-insensitive sort, "/" after directories, "@" after symlinks), so the
 * listing workload has a node:http peer too. GET and HEAD only. No caching
 * of any kind, no conditional requests, no ranges.
 *
 * Run:  node scripts/peers/node-static.mjs PORT ROOT      (binds 127.0.0.1)
 */
import http from "node:http";
import fs from "node:fs";
import path from "node:path";

const port = Number(process.argv[2]);
const root = process.argv[3] ? path.resolve(process.argv[3]) : "";
if (!Number.isInteger(port) || port <= 0 || !root) {
  console.error("usage: node scripts/peers/node-static.mjs PORT ROOT");
  process.exit(2);
}

const TYPES = {
  ".html": "text/html",
  ".htm": "text/html",
  ".txt": "text/plain",
  ".css": "text/css",
  ".js": "text/javascript",
  ".mjs": "text/javascript",
  ".json": "application/json",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".svg": "image/svg+xml",
};
const contentType = (file) => TYPES[path.extname(file).toLowerCase()] ?? "application/octet-stream";

const escapeHtml = (s) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
// Python quotes with urllib.parse.quote: "/" stays, everything unsafe is %XX.
const quote = (s) => encodeURIComponent(s).replace(/%2F/g, "/");

function send(res, status, type, body, head) {
  res.writeHead(status, { "Content-Type": type, "Content-Length": Buffer.byteLength(body) });
  res.end(head ? undefined : body);
}

function notFound(res, head) {
  send(res, 404, "text/html;charset=utf-8", "<!DOCTYPE HTML>\n<title>404 Not Found</title>\n<h1>404 File not found</h1>\n", head);
}

async function listing(res, dir, urlPath, head) {
  const entries = await fs.promises.readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => {
    const x = a.name.toLowerCase(), y = b.name.toLowerCase();
    return x < y ? -1 : x > y ? 1 : 0;
  });
  const title = escapeHtml(`Directory listing for ${urlPath}`);
  const items = [];
  for (const e of entries) {
    let display = e.name, link = e.name;
    if (e.isDirectory()) { display += "/"; link += "/"; }
    if (e.isSymbolicLink()) display += "@";
    items.push(`<li><a href="${quote(link)}">${escapeHtml(display)}</a></li>`);
  }
  const html =
    `<!DOCTYPE HTML>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>${title}</title>\n</head>\n` +
    `<body>\n<h1>${title}</h1>\n<hr>\n<ul>\n${items.join("\n")}\n</ul>\n<hr>\n</body>\n</html>\n`;
  send(res, 200, "text/html; charset=utf-8", html, head);
}

async function handle(req, res) {
  const head = req.method === "HEAD";
  if (req.method !== "GET" && !head) return send(res, 501, "text/plain", "Not Implemented\n", false);

  let urlPath;
  try {
    urlPath = decodeURIComponent(new URL(req.url, "http://x").pathname);
  } catch {
    return notFound(res, head);
  }
  let file = path.join(root, path.normalize(urlPath));
  if (file !== root && !file.startsWith(root + path.sep)) return notFound(res, head);

  let st;
  try {
    st = await fs.promises.stat(file);
    if (st.isDirectory()) {
      if (!urlPath.endsWith("/")) {
        res.writeHead(301, { Location: urlPath + "/", "Content-Length": 0 });
        return res.end();
      }
      try {
        const index = path.join(file, "index.html");
        st = await fs.promises.stat(index);
        file = index;
      } catch {
        return await listing(res, file, urlPath, head);
      }
    }
  } catch {
    return notFound(res, head);
  }

  res.writeHead(200, {
    "Content-Type": contentType(file),
    "Content-Length": st.size,
    "Last-Modified": st.mtime.toUTCString(),
  });
  if (head) return res.end();
  const stream = fs.createReadStream(file);
  stream.on("error", () => res.destroy());
  stream.pipe(res);
}

const server = http.createServer((req, res) => {
  handle(req, res).catch(() => {
    if (!res.headersSent) send(res, 500, "text/plain", "Internal Server Error\n", false);
    else res.destroy();
  });
});
server.listen(port, "127.0.0.1");
