/**
 * RFC 9110 §5.6.3 optional whitespace: SP and HTAB only. `String.prototype.trim` also strips NBSP, NEL's
 * neighbours and every Unicode space, so `Content-Length: \xa03` would read as `3`; request-derived text is
 * trimmed with this instead.
 */

/** `s` without leading and trailing SP/HTAB. */
export const trimOws = (s: string): string => {
  let a = 0
  let b = s.length
  while (a < b && (s.charCodeAt(a) === 32 || s.charCodeAt(a) === 9)) a++
  while (b > a && (s.charCodeAt(b - 1) === 32 || s.charCodeAt(b - 1) === 9)) b--
  return a === 0 && b === s.length ? s : s.slice(a, b)
}
