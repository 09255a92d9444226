/**
 * The Host rules as small functions: syntax (RFC 9110 §7.2) and the DNS-rebinding policy of a loopback-bound server.
 */
import { describe, expect, it } from "@effect/vitest"
import { hostName, hostPolicy, isValidAbsoluteAuthority, isValidHost, requestAuthority } from "../src/internal/hostCheck.js"

describe("isValidHost", () => {
  it.each([
    "localhost", "localhost:8000", "example.com", "EXAMPLE.com:80", "127.0.0.1", "127.0.0.1:", "[::1]", "[::1]:8000",
    "[::ffff:127.0.0.1]:1", "[v1.x]", "a%41b", "xn--caf-dma.example", "a_b~c!$&'()*+,;=", "", "localhost:65535",
    "localhost:0", "localhost:00080"
  ])("accepts %j", (value) => expect(isValidHost(value)).toBe(true))

  it.each([
    "a b", "a\tb", "user@host", "a/b", "a?b", "a#b", "a:http", "a:80:80", "::1", "[::g]", "[::1", "::1]", "[::1%25lo]",
    "[fe80::1%lo]", "caf\xe9", "a%zz", "a%4", "a, b", "[v1.]", "localhost:65536", "localhost:99999",
    "[::1]:99999", "localhost:1e3"
  ])("refuses %j", (value) => expect(isValidHost(value)).toBe(false))
})

describe("isValidAbsoluteAuthority", () => {
  it.each(["localhost", "localhost:8000", "[::1]:80", "127.0.0.1", "localhost:"])(
    "accepts %j",
    (value) => expect(isValidAbsoluteAuthority(value)).toBe(true)
  )
  // Userinfo (RFC 9110 §4.2.4), an empty host (§4.2.1), or anything isValidHost refuses.
  it.each(["localhost:x@evil.example", "[::1]@evil.example", "user@localhost", "@localhost", "", ":80", "a b", "a:99999"])(
    "refuses %j",
    (value) => expect(isValidAbsoluteAuthority(value)).toBe(false)
  )
})

describe("hostName", () => {
  it.each([
    ["LocalHost:8000", "localhost"],
    ["[::1]:8000", "::1"],
    ["[::1]", "::1"],
    ["localhost.", "localhost"],
    ["127.0.0.1:80", "127.0.0.1"],
    ["example.com", "example.com"]
  ])("%j → %j", (authority, name) => expect(hostName(authority)).toBe(name))
})

describe("requestAuthority", () => {
  it("is Host for origin-form, the target's authority for absolute-form (RFC 9112 §3.2.2)", () => {
    expect(requestAuthority("/x", "a:1")).toBe("a:1")
    expect(requestAuthority("/x", undefined)).toBe(undefined)
    expect(requestAuthority("http://evil.example:8000/x?y", "localhost")).toBe("evil.example:8000")
    expect(requestAuthority("HTTPS://evil.example", "localhost")).toBe("evil.example")
    expect(requestAuthority("http://localhost", "evil.example")).toBe("localhost")
    expect(requestAuthority("*", "a")).toBe("a")
    expect(requestAuthority("example.com:443", "a")).toBe("a")
  })
})

describe("hostPolicy (DNS rebinding)", () => {
  it("applies only on a loopback address", () => {
    for (const bound of ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"]) expect(hostPolicy(bound)).toBeDefined()
    for (const bound of ["0.0.0.0", "::", "192.168.1.5", "10.0.0.1", "fe80::1"]) expect(hostPolicy(bound)).toBeUndefined()
  })

  it.each([
    "localhost", "localhost:8000", "LOCALHOST:1", "localhost.", "app.localhost:3000", "127.0.0.1", "127.0.0.1:8000",
    "127.255.0.9:1", "[::1]", "[::1]:8000", "[0:0:0:0:0:0:0:1]:80", "[::ffff:127.0.0.1]:80"
  ])("serves %j", (authority) => expect(hostPolicy("127.0.0.1")!(authority)).toBe(true))

  it.each([
    "evil.example", "evil.example:8000", "localhost.evil.example", "evillocalhost", "127.0.0.1.evil.example",
    "128.0.0.1", "0.0.0.0", "[::2]", "192.168.1.5:8000", "2130706433", "127.1", "user@localhost", ""
  ])("refuses %j", (authority) => expect(hostPolicy("127.0.0.1")!(authority)).toBe(false))

  it("serves a request naming no host (HTTP/1.0 without Host: nothing to rebind)", () => {
    expect(hostPolicy("::1")!(undefined)).toBe(true)
  })

  it("adds names without case or port; \"*\" turns the rule off", () => {
    const policy = hostPolicy("127.0.0.1", ["Dev.Example", "[fd00::1]"])!
    expect(policy("dev.example:8000")).toBe(true)
    expect(policy("DEV.EXAMPLE")).toBe(true)
    expect(policy("[fd00::1]:80")).toBe(true)
    expect(policy("sub.dev.example")).toBe(false)
    expect(policy("evil.example")).toBe(false)
    expect(hostPolicy("127.0.0.1", ["*"])).toBeUndefined()
  })

  it("answers repeated authorities the same (the one-entry cache)", () => {
    const policy = hostPolicy("127.0.0.1")!
    for (let i = 0; i < 3; i++) {
      expect(policy("evil.example")).toBe(false)
      expect(policy("localhost")).toBe(true)
      expect(policy("localhost")).toBe(true)
      expect(policy("evil.example")).toBe(false)
    }
  })
})
