/**
 * What the connection core talks to: a byte transport with a `net.Socket`'s shape (the socket driver passes the
 * socket itself; the Stream driver, `streamDriver.ts`, implements it over a `Stream`), and the engine's settings.
 */
import type * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import type { AccessLogService } from "../AccessLog.js"
import type { DecoderLimits } from "../Decoder.js"
import type { HandlerMap } from "../Handler.js"
import type { HostPolicy } from "./hostCheck.js"
import type { IdleConnections } from "./idleConnections.js"

/** The parts of a `net.Socket` a connection uses; a test transport implements the same. */
export interface Transport {
  write(data: Uint8Array | string, encoding?: BufferEncoding): boolean
  write(data: Uint8Array, callback: (error?: Error | null) => void): boolean
  cork(): void
  uncork(): void
  end(callback?: () => void): void
  destroy(): void
  pause(): unknown
  resume(): unknown
  setTimeout(ms: number): unknown
  /** Nagle's algorithm off (a socket's; a transport without one leaves it out). */
  setNoDelay?(noDelay?: boolean): unknown
  on(event: "data", listener: (chunk: Buffer) => void): unknown
  on(event: "end" | "close" | "drain" | "timeout", listener: () => void): unknown
  on(event: "error", listener: (error: Error) => void): unknown
  off(event: "drain" | "close" | "end" | "timeout", listener: () => void): unknown
  off(event: "data", listener: (chunk: Buffer) => void): unknown
  readonly destroyed: boolean
  /** Bytes accepted by `write` and not yet handed to the kernel (a socket's; a test transport may leave it out). */
  readonly writableLength?: number
  /** `false`: not a `Duplex` a protocol switch can take over (`Connection.detach` refuses). */
  readonly detachable?: boolean
  readonly remoteAddress?: string | undefined
  readonly remotePort?: number | undefined
  readonly localAddress?: string | undefined
  readonly localPort?: number | undefined
}

/** Everything a connection needs, resolved once per server. */
export interface Engine {
  readonly protocolVersion: string
  /** `protocol_version >= "HTTP/1.1"`: keep-alive and 100-continue are possible. */
  readonly protocol11: boolean
  /** `Server` header: `server_version + " " + sys_version`. */
  readonly versionString: string
  readonly errorMessageFormat: string
  readonly errorContentType: string
  readonly limits: Partial<DecoderLimits>
  /** Close a connection idle (between requests, or mid-head) this long; 0 disables. */
  readonly idleTimeoutMs: number
  /** Drop a client that does not read a response for this long; 0 disables. */
  readonly writeTimeoutMs: number
  /** Close a connection whose head is incomplete this long after its first byte; 0 disables. */
  readonly headerTimeoutMs: number
  /** Close a connection whose request body is silent this long (reading not paused by us); 0 disables. */
  readonly bodyTimeoutMs: number
  /** Bytes a second a request body must average, after `bodyTimeoutMs` of grace; 0 disables. */
  readonly bodyMinRate: number
  /** An unread request body up to this size is read and dropped to keep the connection; larger closes it. */
  readonly maxDrainBytes: number
  readonly keepAliveOnError: boolean
  readonly handlers: HandlerMap
  readonly log: AccessLogService
  readonly runFork: <A, E>(effect: Effect.Effect<A, E>) => Fiber.RuntimeFiber<A, E>
  readonly secure: boolean
  /** The DNS-rebinding rule (`hostCheck.hostPolicy`), set once the listener knows its address; none: no check. */
  hostPolicy: HostPolicy | undefined
  /** Keep-alive connections between requests, for the server to close under its connection cap; none: not tracked. */
  idle: IdleConnections | undefined
  /**
   * Every connection's local address and port when the listener is bound to one address (set by the server once it
   * listens); none: each connection asks its socket (`getsockname`, a system call per connection).
   */
  localEndpoint?: { readonly address: string; readonly port: number } | undefined
}
