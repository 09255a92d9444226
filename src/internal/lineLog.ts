/**
 * An access log for processes sharing one standard error (cluster workers): lines batched per event-loop turn as
 * `AccessLog.makeStreamLog` does, but every `write` holds whole lines and at most `PIPE_BUF` bytes, the size POSIX
 * writes to a pipe atomically. Two workers' batches can then alternate, but never inside a line.
 */
import { type AccessLogService, makeStreamLog } from "../AccessLog.js"

/** Linux's `PIPE_BUF`: writes up to this size to a pipe are never interleaved with other writers'. */
export const PIPE_BUF = 4096

/** Splits `text` (whole lines, each ending in `\n`) into chunks of whole lines of at most `limit` bytes each; a
 * longer line is a chunk of its own (it cannot be atomic anyway). */
export const chunkLines = (text: string, limit: number = PIPE_BUF): Array<string> => {
  const chunks: Array<string> = []
  let current = ""
  let currentBytes = 0
  let start = 0
  while (start < text.length) {
    const end = text.indexOf("\n", start)
    const line = end < 0 ? text.slice(start) : text.slice(start, end + 1)
    start += line.length
    const bytes = Buffer.byteLength(line)
    if (currentBytes > 0 && currentBytes + bytes > limit) {
      chunks.push(current)
      current = ""
      currentBytes = 0
    }
    current += line
    currentBytes += bytes
  }
  if (current !== "") chunks.push(current)
  return chunks
}

/** A log over `stream` whose writes are whole lines, at most {@link PIPE_BUF} bytes each but for longer lines. */
export const makeLineAtomicLog = (stream: NodeJS.WritableStream): AccessLogService =>
  makeStreamLog(stream, (text) => chunkLines(text))
