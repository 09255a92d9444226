/**
 * Header blocks already validated, shared by every connection of the process.
 *
 * Validating a head's field block against the Schema cost ~3 µs and ~3.5 KB of garbage per request, a tenth of a
 * whole request on the default path (every request a new connection, so the per-connection memory of the last block
 * never hits). A client sends the same block again and again (same Host, User-Agent, Accept), on new connections too.
 * Whether a block is valid depends on its text alone (the Schema and the Host check are fixed), so a block that passed
 * once passes again. Bounded: at most `MAX_BLOCKS` blocks of at most `MAX_BLOCK_LENGTH` characters (128 KiB), the
 * oldest dropped first.
 */

const MAX_BLOCKS = 64
const MAX_BLOCK_LENGTH = 2048

const known = new Set<string>()

/** Whether `block` passed the whole head validation before (Schema and Host). */
export const isKnownValidBlock = (block: string): boolean => known.has(block)

/** Remembers a block that passed the whole head validation. */
export const rememberValidBlock = (block: string): void => {
  if (block.length > MAX_BLOCK_LENGTH || known.has(block)) return
  if (known.size >= MAX_BLOCKS) known.delete(known.values().next().value!)
  known.add(block)
}
