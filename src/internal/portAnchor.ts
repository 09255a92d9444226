/**
 * Keeps a `--workers` port bound and listening while no worker is alive.
 *
 * Under `node:cluster`'s round-robin scheduling (Linux's default) the primary owns the listening socket: a
 * `RoundRobinHandle` per address (Node 20's `lib/internal/cluster/round_robin_handle.js`) creates it with
 * `net.createServer(...).listen({ port, host, ipv6Only, backlog })`, and closes it in `remove()` when its last
 * worker leaves. With every worker dead at once (a crash of all of them, the OOM killer), the port was free until a
 * replacement listened again (measured: another process bound it ~80 ms after the `kill -9`, and then every
 * replacement failed with `EADDRINUSE`; with port 0 the replacements listened on a new port).
 *
 * No public API reaches that handle, so this module wraps `net.createServer` in the primary (the cluster code looks
 * it up on the same exports object at each call): the listening handle of each such server is kept when the cluster
 * closes it, still listening (a connection arriving meanwhile is accepted and handed to the next worker), and the
 * next server asked to listen on the same address and port (the replacement's `RoundRobinHandle`, port 0 included)
 * is given that handle instead of binding a new socket. `release()` closes the kept handles and restores
 * `net.createServer`; the primary calls it when it stops.
 */
import Net from "node:net"

/** The parts of Node's `TCPWrap` (a listening handle, or an accepted connection's) used here. */
interface TcpHandle {
  close: (callback?: () => void) => void
  onconnection: ((status: number, client: TcpHandle | undefined) => void) | null
  ref: () => void
  unref: () => void
}

/** What `RoundRobinHandle` passes to `listen` for a TCP port. */
interface PortOptions {
  readonly port: number
  readonly host?: string | null
  readonly ipv6Only?: boolean
  readonly backlog?: number
}

const isPortOptions = (value: unknown): value is PortOptions =>
  typeof value === "object" && value !== null && typeof (value as { port?: unknown }).port === "number"

/** The anchor of one primary. */
export interface PortAnchor {
  /** Closes every handle kept or watched and restores `net.createServer`. */
  readonly release: () => void
}

/** Installs the anchor (in a cluster primary, before the first worker is forked). */
export const install = (): PortAnchor => {
  const original = Net.createServer
  /** Listening handles no worker uses now, by address, with the connections accepted meanwhile. */
  const kept = new Map<string, { readonly handle: TcpHandle; readonly waiting: Array<TcpHandle> }>()
  /** Every listening handle seen, with its own `close`. */
  const closers = new Map<TcpHandle, (callback?: () => void) => void>()
  let released = false

  const adopt = (key: string, server: Net.Server, waiting: ReadonlyArray<TcpHandle>) => {
    const handle = (server as unknown as { readonly _handle: TcpHandle | null })._handle
    if (handle === null) return
    // The cluster sets its own `onconnection` in its 'listening' listener, which runs just after this one.
    if (waiting.length > 0) setImmediate(() => waiting.forEach((client) => handle.onconnection?.(0, client)))
    if (closers.has(handle)) return
    const close = handle.close
    closers.set(handle, close)
    handle.close = (callback) => {
      if (released) return Reflect.apply(close, handle, [callback])
      // The last worker left: stay bound and listening; connections wait here for the next worker.
      const parked = { handle, waiting: [] as Array<TcpHandle> }
      handle.onconnection = (_status, client) => {
        if (client !== undefined) parked.waiting.push(client)
      }
      handle.unref()
      kept.set(key, parked)
    }
  }

  const createServer = function(this: unknown, ...args: Array<unknown>): Net.Server {
    const server = Reflect.apply(original, this, args) as Net.Server
    const listen = server.listen
    server.listen = function(this: Net.Server, ...listenArgs: Array<unknown>): Net.Server {
      const options = listenArgs[0]
      if (!isPortOptions(options)) return Reflect.apply(listen, this, listenArgs) as Net.Server
      const key = `${options.host ?? ""}|${options.port}|${options.ipv6Only === true}`
      const parked = kept.get(key)
      kept.delete(key)
      server.once("listening", () => adopt(key, server, parked?.waiting ?? []))
      if (parked === undefined) return Reflect.apply(listen, this, listenArgs) as Net.Server
      parked.handle.ref()
      return Reflect.apply(listen, this, [parked.handle, options.backlog]) as Net.Server
    } as Net.Server["listen"]
    return server
  }
  Net.createServer = createServer as typeof Net.createServer

  return {
    release: () => {
      if (released) return
      released = true
      Net.createServer = original
      for (const { handle, waiting } of kept.values()) {
        waiting.forEach((client) => client.close())
        Reflect.apply(closers.get(handle)!, handle, [])
      }
      kept.clear()
    }
  }
}
