import { isPrintable } from "./pythonPrintable.js"

/**
 * Python's text conventions that show up on the wire and in logs: `repr()` of a string (error messages
 * such as "Bad request syntax ('...')") and the log line's control-character escaping.
 */

const hex2 = (code: number): string => code.toString(16).padStart(2, "0")

/**
 * Python 3's `repr(s)`: quotes, `\\`, `\t`, `\n`, `\r`, and each code point that is not printable (Python 3.11's
 * `str.isprintable`: controls, format characters such as U+202E and U+FEFF, separators such as U+2028, unassigned
 * and private-use code points, lone surrogates) as `\xNN`, `\uNNNN` or `\UNNNNNNNN`. A log line or an error page
 * that quotes request text thus never carries a line separator or a bidi override raw.
 */
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
    else if (code <= 0xff) out += isPrintable(code) ? ch : "\\x" + hex2(code)
    else {
      const point = s.codePointAt(i)!
      const wide = point > 0xffff
      if (isPrintable(point)) out += wide ? s.slice(i, i + 2) : ch
      else out += wide ? "\\U" + point.toString(16).padStart(8, "0") : "\\u" + point.toString(16).padStart(4, "0")
      if (wide) i++
    }
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
