/**
 * Bytes kept for the whole process and sent to many connections (cached error pages, cached files). A socket
 * copies what it is given into the kernel, but the Stream driver hands chunks to its consumer, which may write
 * into them: such bytes must reach a consumer as a copy. They are marked by their `ArrayBuffer`, so a slice of them
 * (a range) is recognised too, and the check costs one `WeakSet` lookup, not a copy of every chunk.
 */
const shared = new WeakSet<ArrayBufferLike>()

/**
 * `bytes` marked as shared, in an `ArrayBuffer` of their own (small buffers come from Node's pool, whose other
 * slices must not be copied needlessly): the copy is made once, when the bytes are cached.
 */
export const markShared = (bytes: Uint8Array): Buffer => {
  const own = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
    ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    : Buffer.from(Buffer.allocUnsafeSlow(bytes.byteLength).fill(bytes))
  shared.add(own.buffer)
  return own
}

/** Whether `bytes` are (part of) bytes marked by {@link markShared}. */
export const isShared = (bytes: Uint8Array): boolean => shared.has(bytes.buffer)
