/** A byte buffer that grows by doubling, so a head trickled byte by byte costs linear, not quadratic, copying. */
export class Accumulator {
  buf: Buffer = Buffer.allocUnsafe(0)
  len = 0
  append(chunk: Uint8Array): void {
    if (this.len + chunk.length > this.buf.length) {
      const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + chunk.length, 1024))
      this.buf.copy(next, 0, 0, this.len)
      this.buf = next
    }
    this.buf.set(chunk, this.len)
    this.len += chunk.length
  }
  /** Keeps bytes from `from` on, moved to the front. */
  keepFrom(from: number): void {
    if (from >= this.len) this.len = 0
    else if (from > 0) {
      this.buf.copy(this.buf, 0, from, this.len)
      this.len -= from
    }
  }
}
