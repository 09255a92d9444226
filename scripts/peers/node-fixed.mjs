/**
 * node-fixed: the engine baseline for scripts/bench-engine.mjs.
 *
 * A bare `node:http` server that answers every request, whatever its method
 * or path, with the same 200-byte text/plain body (Content-Type and
 * Content-Length set, keep-alive left to node's defaults). It measures what
 * node's own HTTP engine costs per request with no file system work at all.
 *
 * Run:  node scripts/peers/node-fixed.mjs PORT      (binds 127.0.0.1)
 */
import http from "node:http";

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  console.error("usage: node scripts/peers/node-fixed.mjs PORT");
  process.exit(2);
}

// 200 bytes exactly: a line of text padded with dots, ending in a newline.
const BODY = Buffer.from("hello from node-fixed ".padEnd(199, ".") + "\n");
if (BODY.length !== 200) throw new Error(`body is ${BODY.length} bytes`);

const HEADERS = {
  "Content-Type": "text/plain",
  "Content-Length": String(BODY.length),
};

const server = http.createServer((req, res) => {
  res.writeHead(200, HEADERS);
  res.end(BODY);
});

server.listen(port, "127.0.0.1");
