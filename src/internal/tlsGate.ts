/**
 * The front door of a TLS port: every accepted TCP connection passes here before it is a `Connection`.
 *
 * A `tls.Server` listening by itself leaves a connection that never completes its handshake to its
 * `tlsClientError` listeners: one that closes (a port scan, a load balancer's TCP check) or stays silent was never
 * destroyed, and kept its descriptor for good (CLOSE-WAIT). Here a plain `net` server accepts, and each socket is
 * owned by the gate until its handshake completes:
 *
 * - its first bytes are peeked (read, then `unshift`ed back): a TLS record (0x16) or anything unknown goes to the
 *   `tls.Server` by injecting the raw socket as its `connection` event (documented for exactly this); a method token
 *   and a space is a plain HTTP request, answered in plain text (nginx's "The plain HTTP request was sent to HTTPS
 *   port");
 * - one deadline covers the peek and the handshake; a FIN before the handshake, a `tlsClientError`, the deadline or
 *   `closeAll` (the server's shutdown) destroy it.
 *
 * Why peek on a `net` server rather than in a `tls.Server`'s own `connection` event: `tls.Server` wraps the socket in
 * that event, synchronously, and its TLSWrap then reads the descriptor natively, so bytes read by another listener
 * would be lost to it; with the `net` server the order is ours (peek, then hand over), and `TLSSocket` first consumes
 * what the raw socket has buffered, the unshifted bytes included. Why inject into a `tls.Server` rather than build a
 * `TLSSocket` ourselves: the server keeps everything the caller's `tls` options configure (client certificates and
 * their verification, SNI contexts, session tickets, ALPN), and reports every pre-handshake failure through one
 * documented event.
 */
import * as Exit from "effect/Exit"
import type * as Net from "node:net"
import type * as Tls from "node:tls"
import type { Handler } from "../Handler.js"
import { HttpError } from "../HttpError.js"
import { TOKEN } from "../Request.js"
import type { Engine } from "./connection.js"

/** What the first bytes on a TLS port are. */
export type FirstBytes = "Tls" | "PlainHttp" | "NeedMore"

/** Longer than any method token a client sends first (`VERSION-CONTROL`, 15); a longer run is not HTTP. */
const MAX_METHOD = 24
const TLS_HANDSHAKE_RECORD = 0x16

/**
 * Classifies the first bytes of a connection to a TLS port: an ASCII method token followed by a space is a plain
 * HTTP request; a TLS handshake record, or anything else (which TLS then refuses), is TLS; a token with no space yet
 * needs more bytes.
 */
export const classifyFirstBytes = (bytes: Uint8Array): FirstBytes => {
  if (bytes.length === 0) return "NeedMore"
  if (bytes[0] === TLS_HANDSHAKE_RECORD) return "Tls"
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, MAX_METHOD + 1)).toString("latin1")
  let i = 0
  while (i < text.length && TOKEN.test(text[i]!)) i++
  if (i > MAX_METHOD || i === 0) return "Tls"
  if (i === bytes.length) return "NeedMore"
  return bytes[i] === 0x20 ? "PlainHttp" : "Tls"
}

/** A TLS port's gate; see the module's comment. */
export interface TlsGate {
  /** Takes a freshly accepted (or long-waiting) TCP socket. */
  readonly accept: (raw: Net.Socket) => void
  /** Sockets accepted and not yet secured, handed over or closed. */
  readonly pending: () => number
  /** Destroys every socket still before its handshake. */
  readonly closeAll: () => void
}

export interface TlsGateOptions {
  /** Configured by the caller's `tls` options; never listens itself. */
  readonly tlsServer: Tls.Server
  /** From accept to a completed handshake; 0 for none. */
  readonly deadlineMs: number
  /** A completed handshake: the socket is now the caller's. */
  readonly onSecure: (socket: Tls.TLSSocket) => void
  /** A plain HTTP request: the raw socket, its first bytes unshifted back, is now the caller's. */
  readonly onPlainHttp: (raw: Net.Socket) => void
  /** A pending socket left the gate by closing: a slot is free. */
  readonly onDropped: () => void
}

interface Pending {
  readonly raw: Net.Socket
  timer: ReturnType<typeof setTimeout> | undefined
}

export const makeTlsGate = (options: TlsGateOptions): TlsGate => {
  const { deadlineMs, tlsServer } = options
  /**
   * Pending sockets by peer (address and port): `secureConnection` hands us the TLS socket, not the raw one it wraps,
   * and one listener never has two live connections from the same address and port.
   */
  const pending = new Map<string, Pending>()
  const peerKey = (socket: Net.Socket): string => `${socket.remoteAddress}|${socket.remotePort}`

  const release = (key: string, entry: Pending): void => {
    if (pending.get(key) !== entry) return
    pending.delete(key)
    clearTimeout(entry.timer)
    entry.timer = undefined
  }

  tlsServer.on("secureConnection", (socket: Tls.TLSSocket) => {
    const key = peerKey(socket)
    const entry = pending.get(key)
    if (entry === undefined) {
      // No peer address: the connection is already gone.
      socket.destroy()
      return
    }
    release(key, entry)
    // The raw socket was made to close on a FIN before the handshake; from here on a half-close is the client's
    // right (a request, then FIN, still gets its answer).
    socket.allowHalfOpen = true
    // A client-initiated renegotiation (TLS 1.2) costs us a full handshake each time: refuse it, as nginx does. Node
    // then reports an error on the socket, which the connection answers by destroying it.
    socket.disableRenegotiation()
    options.onSecure(socket)
  })
  // A failed or abandoned handshake: the socket is ours to destroy (Node leaves it open when anyone listens here).
  tlsServer.on("tlsClientError", (_error: Error, socket: Tls.TLSSocket) => socket.destroy())

  const accept = (raw: Net.Socket): void => {
    const key = peerKey(raw)
    if (raw.remoteAddress === undefined || pending.has(key)) {
      raw.destroy()
      return
    }
    const entry: Pending = { raw, timer: undefined }
    pending.set(key, entry)
    if (deadlineMs > 0) entry.timer = setTimeout(() => raw.destroy(), deadlineMs)
    raw.once("close", () => {
      if (pending.get(key) !== entry) return
      release(key, entry)
      options.onDropped()
    })
    let head: Buffer = Buffer.alloc(0)
    const onEnd = () => raw.destroy()
    const onError = () => raw.destroy()
    const onReadable = () => {
      let chunk: Buffer | null
      while ((chunk = raw.read() as Buffer | null) !== null) head = head.length === 0 ? chunk : Buffer.concat([head, chunk])
      const kind = classifyFirstBytes(head)
      if (kind === "NeedMore") return
      raw.off("readable", onReadable)
      raw.off("end", onEnd)
      raw.off("error", onError)
      raw.unshift(head)
      if (kind === "PlainHttp") {
        release(key, entry)
        options.onPlainHttp(raw)
        return
      }
      // The TLS socket inherits this: a FIN before the handshake then closes it (see `secureConnection`).
      raw.allowHalfOpen = false
      tlsServer.emit("connection", raw)
    }
    raw.on("readable", onReadable)
    raw.on("end", onEnd)
    raw.on("error", onError)
  }

  return {
    accept,
    pending: () => pending.size,
    closeAll: () => {
      for (const entry of [...pending.values()]) entry.raw.destroy()
    }
  }
}

/** The answer to a plain HTTP request on a TLS port: nginx's words, as a 400 error page. */
export const PLAIN_HTTP_ERROR = new HttpError({
  status: 400,
  message: "The plain HTTP request was sent to HTTPS port",
  explain: "This port speaks HTTPS only: use an https:// URL"
})

/** Every method, known or not, gets the same answer (a `Map` that answers `get` for any key). */
class EveryMethod extends Map<string, Handler> {
  override get(_method: string): Handler {
    return refusePlainHttp
  }
}
const refusePlainHttp: Handler = () => Exit.fail(PLAIN_HTTP_ERROR)

/**
 * The engine for a plain HTTP connection on a TLS port: the ordinary connection (decoding, the error page, the log
 * line, closing after the answer) with every request refused as {@link PLAIN_HTTP_ERROR}.
 */
export const plainHttpEngine = (engine: Engine): Engine => ({
  ...engine,
  handlers: { byMethod: new EveryMethod(), expectContinue: undefined },
  keepAliveOnError: false,
  secure: false,
  // Every request here gets the same 400 and nothing is served, so the Host rule has nothing to protect; the hint
  // must win over its 403.
  hostPolicy: undefined
})
