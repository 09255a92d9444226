/**
 * net-fixed: the floor for a connection per request. A bare `node:net` server that reads a request head and
 * answers it with a fixed response, then closes (FIN with the last byte): `GET /1k.bin` → 200 with 1 KiB,
 * anything else → 404 with a page the size of Python's. No parsing beyond the blank line, no file system, no log.
 *
 * Run:  node scripts/peers/net-fixed.mjs PORT      (binds 127.0.0.1)
 */
import net from "node:net";

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  console.error("usage: node scripts/peers/net-fixed.mjs PORT");
  process.exit(2);
}

const answer = (status, body) =>
  Buffer.concat([
    Buffer.from(`HTTP/1.0 ${status}\r\nServer: net-fixed\r\nContent-Type: application/octet-stream\r\nContent-Length: ${body.length}\r\n\r\n`, "latin1"),
    body,
  ]);
const OK = answer("200 OK", Buffer.alloc(1024, 0x61));
const NOT_FOUND = answer("404 File not found", Buffer.alloc(335, 0x2e));

net.createServer({ allowHalfOpen: true }, (socket) => {
  let head = "";
  socket.on("error", () => {});
  socket.on("data", (chunk) => {
    if (head === null) return;
    head += chunk.toString("latin1");
    if (!head.includes("\r\n\r\n")) return;
    socket.end(head.startsWith("GET /1k.bin ") ? OK : NOT_FOUND);
    head = null;
  });
  socket.on("end", () => socket.destroy());
}).listen(port, "127.0.0.1");
