/**
 * Python's text conventions that show up on the wire and in logs: `repr()` of a latin-1 string (error messages
 * such as "Bad request syntax ('...')") and the log line's control-character escaping.
 */

const hex2 = (code: number): string => code.toString(16).padStart(2, "0")

/** Python's `str.isprintable()` for code points 0–255. */
const isPrintableLatin1 = (code: number): boolean =>
  (code >= 0x20 && code < 0x7f) || (code > 0xa0 && code !== 0xad)

/** Python 3's `repr(s)` for a string whose code points are all ≤ 0xff (a latin-1 decoded request line). */
export const pyRepr = (s: string): string => {
  const quote = s.includes("'") && !s.includes("\"") ? "\"" : "'"
  let out = quote
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!
    const code = s.charCodeAt(i)
    if (ch === quote || ch === "\\") out += "\\" + ch
    else if (ch === "\t") out += "\\t"
    else if (ch === "\n") out += "\\n"
    else if (ch === "\r") out += "\\r"
    else if (code > 0xff) out += ch
    else if (isPrintableLatin1(code)) out += ch
    else out += "\\x" + hex2(code)
  }
  return out + quote
}

// Fast check: most log lines have nothing to escape.
const NEEDS_ESCAPE = /[\x00-\x1f\x7f-\x9f\\]/

/** `message.translate(BaseHTTPRequestHandler._control_char_table)`: C0, DEL and C1 as `\xNN`, `\` as `\\`. */
export const escapeControlChars = (message: string): string => {
  if (!NEEDS_ESCAPE.test(message)) return message
  let out = ""
  for (let i = 0; i < message.length; i++) {
    const code = message.charCodeAt(i)
    if (code === 0x5c) out += "\\\\"
    else if (code < 0x20 || (code >= 0x7f && code < 0xa0)) out += "\\x" + hex2(code)
    else out += message[i]
  }
  return out
}

// Python's str.split() with no argument splits on these in a latin-1 string.
const PY_WHITESPACE = /[\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0]+/
const ONLY_PLAIN = /^[\x21-\x7e]+(?: [\x21-\x7e]+)*$/

/** Python's `str.split()` (no separator): runs of whitespace split, leading/trailing whitespace ignored. */
export const pySplit = (s: string): Array<string> => {
  if (ONLY_PLAIN.test(s)) return s.split(" ")
  const words = s.split(PY_WHITESPACE)
  if (words.length > 0 && words[0] === "") words.shift()
  if (words.length > 0 && words[words.length - 1] === "") words.pop()
  return words
}
