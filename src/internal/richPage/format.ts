/**
 * How the rich listing writes sizes and times (the exact values go in `title` / `datetime` beside them).
 */

/** Bytes in binary units, one decimal above 1 KiB (`532 B`, `1.5 KiB`, `12.0 MiB`). */
export const humanSize = (bytes: number): string => {
  if (bytes < 1024) return `${bytes} B`
  const units = ["KiB", "MiB", "GiB", "TiB", "PiB"]
  let value = bytes / 1024
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${value.toFixed(1)} ${units[unit]}`
}

const pad = (n: number): string => String(n).padStart(2, "0")

/** `YYYY-MM-DD HH:MM:SS` in UTC (the page's script rewrites it in the reader's local time). */
export const formatTime = (ms: number): string => {
  const d = new Date(ms)
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`
}

/** `1 file`, `2 files`. */
export const plural = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`
