/**
 * The line grammars of a chunked request body (RFC 9112 §7.1): chunk-size lines and trailer lines.
 */
import type { DecoderLimits } from "../Decoder.js"

/**
 * RFC 9112 §7.1.1: `chunk-size [ chunk-ext ]`, each extension `BWS ";" BWS token [ BWS "=" BWS ( token /
 * quoted-string ) ]`, then CRLF (or a bare LF, as the head accepts). No other whitespace, NUL or bare CR.
 */
export const CHUNK_SIZE_LINE =
  /^([0-9A-Fa-f]{1,15})(?:[ \t]*;[ \t]*[!#$%&'*+\-.^_`|~0-9A-Za-z]+(?:[ \t]*=[ \t]*(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+|"(?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x20-\x7e\x80-\xff])*"))?)*\r?$/
/** A trailer line: the header-line grammar of `Request.HeaderBlockText`. */
const TRAILER_LINE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[\t\x20-\x7e\x80-\xff]*\r?$/
/** The longest chunk-size line, extensions and line ending included. */
export const MAX_CHUNK_SIZE_LINE = 4096

/** The size a chunk-size line (from `offset` to its `\n` at `nl`) announces; -1 when the line is malformed. */
export const chunkSize = (data: Buffer, offset: number, nl: number): number => {
  const match = CHUNK_SIZE_LINE.exec(data.toString("latin1", offset, nl))
  return match === null ? -1 : parseInt(match[1]!, 16)
}

/**
 * Why a trailer line (from `start` to its `\n` at `nl`) is refused, given the section's bytes and lines so far, this
 * one counted; `undefined` when it is fine.
 */
export const trailerProblem = (
  data: Buffer,
  start: number,
  nl: number,
  bytes: number,
  lines: number,
  limits: DecoderLimits
): string | undefined => {
  if (bytes > limits.maxHeaderLine) return "trailer section too long"
  if (lines > limits.maxHeaders) return "too many trailer lines"
  if (!TRAILER_LINE.test(data.toString("latin1", start, nl))) return "bad trailer line"
  return undefined
}
