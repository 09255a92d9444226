/**
 * Keep-alive connections idle between requests, oldest first, so that a server at its connection cap can close one
 * to make room for a newcomer (nginx's `ngx_drain_connections`: reusable keep-alive connections are closed when
 * `worker_connections` run out). Without it, clients that send one request and stay silent hold every slot for the
 * idle timeout while new clients wait unread.
 */

/** A connection the pool can close. */
export interface Reclaimable {
  /** Closes the connection if it is still idle (no request, nothing buffered or being written); whether it did. */
  readonly reclaim: () => boolean
}

/**
 * The idle set. A `Set` keeps insertion order, and a connection is deleted when its next request starts and added
 * again when it ends: the first entry is always the longest idle, and the hot path costs one delete and one add.
 */
export class IdleConnections<C extends Reclaimable = Reclaimable> {
  private readonly idle = new Set<C>()

  /** `pressure`: whether accepted connections are waiting for a slot. */
  constructor(private readonly pressure: () => boolean) {}

  /** A connection finished a request and waits for the next: it is reclaimed at once when newcomers wait. */
  enter(connection: C): void {
    if (this.pressure() && connection.reclaim()) return
    this.idle.add(connection)
  }

  /** A request started, or the connection closed. */
  leave(connection: C): void {
    this.idle.delete(connection)
  }

  /** Closes the longest-idle connection that can be closed; whether one was. */
  closeOldest(): boolean {
    for (const connection of this.idle) {
      this.idle.delete(connection)
      if (connection.reclaim()) return true
    }
    return false
  }

  get size(): number {
    return this.idle.size
  }
}
