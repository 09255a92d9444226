/**
 * The CGI path and environment helpers against CPython itself: thousands of generated paths go through Python's
 * own functions in one `python3` run, and ours must agree on every one.
 */
import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import { execFileSync } from "node:child_process"
import { authVariables, pyBase64Decode, scriptArguments } from "../src/internal/cgiEnv.js"
import { findHeadEnd, parseHead } from "../src/internal/cgiOutput.js"
import { isCgi, translatePath, unquote, urlCollapsePath } from "../src/internal/cgiPath.js"

const PYTHON = String.raw`
import json, sys, binascii, urllib.parse
from http.server import _url_collapse_path, SimpleHTTPRequestHandler, CGIHTTPRequestHandler
data = json.load(sys.stdin)
class H: pass
def collapse(p):
    try: return _url_collapse_path(p)
    except IndexError: return None
def is_cgi(p, dirs):
    h = H(); h.path = p; h.cgi_directories = dirs
    try:
        return list(h.cgi_info) if CGIHTTPRequestHandler.is_cgi(h) else False
    except IndexError:
        return None
def translate(p):
    h = H(); h.directory = "/srv/root"
    return SimpleHTTPRequestHandler.translate_path(h, p)
def b64(s):
    try: return binascii.a2b_base64(s.encode("ascii")).hex()
    except binascii.Error: return None
out = {
  "unquote": [urllib.parse.unquote(p) for p in data["paths"]],
  "collapse": [collapse(p) for p in data["paths"]],
  "is_cgi": [is_cgi(p, ["/cgi-bin", "/htbin", "/a/b"]) for p in data["paths"]],
  "translate": [translate(p) for p in data["paths"]],
  "b64": [b64(s) for s in data["b64"]],
}
json.dump(out, sys.stdout)
`

const pathPiece = fc.constantFrom(
  "/", "/", "/", ".", "..", "cgi-bin", "htbin", "a", "b", "x.sh", "%2e", "%2E%2e", "%2f", "%2F", "%25", "%252e",
  "%3F", "?", "+", "=", "#", "%C3%A9", "%C3", "%zz", "%", "%FF", "é", " ", "%20", "//", "a/b"
)
const paths = fc.array(pathPiece, { minLength: 1, maxLength: 9 }).map((parts) => "/" + parts.join(""))
const b64Piece = fc.constantFrom("Q", "W", "Jh", "bGFk", "=", "==", "!", " ", "dXNlcjpwYXNz", "+", "/", "\n", "a")
const b64s = fc.array(b64Piece, { maxLength: 8 }).map((parts) => parts.join(""))

describe("CGI paths, differential against CPython's http.server", () => {
  const samplePaths = [
    "/cgi-bin/x.sh",
    "/cgi-bin",
    "/cgi-bin/",
    "/../cgi-bin/x.sh",
    "/cgi-bin/../cgi-bin/x.sh/extra?q",
    "/cgi-bin/%2e%2e/x.sh",
    "/cgi-bin/%252e%252e/x.sh",
    "/a/b/c/d",
    "/htbin/sub/script.py/p/a%2Fth?x=1&y",
    "/x/%2e%2e/cgi-bin/t?q",
    ...fc.sample(paths, { numRuns: 3000, seed: 42 })
  ]
  const sampleB64 = ["", "dXNlcjpwYXNz", "dXNlcjpwYXNz=", "dXNlcjpwYXN", "Zm9v=YmFy", "Zg", "Zg=", "Zg==", "Z", ...
    fc.sample(b64s, { numRuns: 1500, seed: 7 })]
  const python = JSON.parse(
    execFileSync("python3", ["-c", PYTHON], {
      input: JSON.stringify({ paths: samplePaths, b64: sampleB64 }),
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024
    })
  ) as Record<string, Array<unknown>>

  it("the samples exercise every outcome", () => {
    const cgi = python.is_cgi!
    expect(cgi.filter((x) => x === null).length).toBeGreaterThan(50)
    expect(cgi.filter((x) => x === false).length).toBeGreaterThan(50)
    expect(cgi.filter((x) => Array.isArray(x)).length).toBeGreaterThan(50)
    expect(python.b64!.filter((x) => x === null).length).toBeGreaterThan(50)
    expect(python.b64!.filter((x) => typeof x === "string" && x.length > 0).length).toBeGreaterThan(50)
  })

  it("unquote", () => {
    expect(samplePaths.map(unquote)).toEqual(python.unquote)
  })

  it("_url_collapse_path (null where Python raises IndexError)", () => {
    expect(samplePaths.map((p) => urlCollapsePath(p) ?? null)).toEqual(python.collapse)
  })

  it("is_cgi and cgi_info", () => {
    const ours = samplePaths.map((p) => {
      const m = isCgi(p, ["/cgi-bin", "/htbin", "/a/b"])
      return m._tag === "Cgi" ? [m.dir, m.rest] : m._tag === "NotCgi" ? false : null
    })
    expect(ours).toEqual(python.is_cgi)
  })

  it("translate_path", () => {
    expect(samplePaths.map((p) => translatePath("/srv/root", p))).toEqual(python.translate)
  })

  it("binascii.a2b_base64 (non-strict)", () => {
    const ours = sampleB64.map((s) => {
      const bytes = pyBase64Decode(s)
      return bytes === undefined ? null : Buffer.from(bytes).toString("hex")
    })
    expect(ours).toEqual(python.b64)
  })
})

describe("CGI environment helpers", () => {
  it("AUTH_TYPE and REMOTE_USER as run_cgi derives them", () => {
    const basic = (s: string) => "Basic " + Buffer.from(s, "latin1").toString("base64")
    expect(authVariables(basic("alice:secret"))).toEqual({ AUTH_TYPE: "Basic", REMOTE_USER: "alice" })
    // Exactly one colon, else no user (the password stays out either way).
    expect(authVariables(basic("alice:se:cret"))).toEqual({ AUTH_TYPE: "Basic" })
    expect(authVariables(basic("alice"))).toEqual({ AUTH_TYPE: "Basic" })
    // Non-ASCII user names are refused by Python's .decode('ascii').
    expect(authVariables(basic("al\xe9:x"))).toEqual({ AUTH_TYPE: "Basic" })
    expect(authVariables("bAsIc " + Buffer.from("bob:x").toString("base64"))).toEqual({
      AUTH_TYPE: "bAsIc",
      REMOTE_USER: "bob"
    })
    expect(authVariables("Bearer abc")).toEqual({ AUTH_TYPE: "Bearer" })
    expect(authVariables("Bearer")).toEqual({})
    expect(authVariables("Basic a b")).toEqual({})
    expect(authVariables(undefined)).toEqual({})
    // Garbage decodes to nothing (non-strict base64): no user.
    expect(authVariables("Basic !!!")).toEqual({ AUTH_TYPE: "Basic" })
    expect(authVariables("Basic dXNlcjpwYXN")).toEqual({ AUTH_TYPE: "Basic" })
  })

  it("script arguments: ISINDEX query, never an option", () => {
    expect(scriptArguments("")).toEqual([""])
    expect(scriptArguments("word")).toEqual(["word"])
    expect(scriptArguments("two+words")).toEqual(["two words"])
    expect(scriptArguments("%41")).toEqual(["%41"])
    expect(scriptArguments("a=1")).toEqual([])
    expect(scriptArguments("-s")).toEqual([])
    expect(scriptArguments("-dallow_url_include=1")).toEqual([])
    expect(scriptArguments("+-s")).toEqual([" -s"])
  })
})

describe("RFC 3875 output head", () => {
  it("finds the blank line with LF, CRLF or a mix", () => {
    const end = (s: string) => findHeadEnd(Buffer.from(s))
    expect(end("A: b\n\nbody")).toBe(6)
    expect(end("A: b\r\n\r\nbody")).toBe(8)
    expect(end("A: b\n\r\nbody")).toBe(7)
    expect(end("\nbody")).toBe(1)
    expect(end("A: b\nC: d\n")).toBe(-1)
  })

  it("parses Status, Location, Content-Length and drops what the server owns", () => {
    expect(parseHead("Status: 404 Not Here\nContent-Type: text/plain\nConnection: keep-alive\nDate: x\nX-A: 1\n")).toEqual({
      status: { code: 404, reason: "Not Here" },
      location: undefined,
      contentLength: undefined,
      headers: [["Content-Type", "text/plain"], ["X-A", "1"]]
    })
    expect(parseHead("Location: /x\r\nContent-Length: 12\r\n")).toEqual({
      status: undefined,
      location: "/x",
      contentLength: 12,
      headers: [["Location", "/x"], ["Content-Length", "12"]]
    })
    expect(parseHead("Status: 201")?.status).toEqual({ code: 201, reason: undefined })
  })

  it("refuses malformed heads", () => {
    for (
      const bad of [
        "no colon here",
        "Bad Name: x",
        ": empty",
        "Status: abc",
        "Status: 99 x",
        "Status: 100 Continue",
        "Status: 600 x",
        "Content-Length: -1",
        "Content-Length: 1\nContent-Length: 2",
        " folded: x"
      ]
    ) expect(parseHead(bad), bad).toBeUndefined()
  })
})
