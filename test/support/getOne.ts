/**
 * One HTTP/1.0 request over a fresh connection, expecting exactly one response back.
 */
import { expect } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { type ParsedResponse, sendRaw } from "./rawClient.js"

/** `METHOD target HTTP/1.0` with the given header lines; fails the test unless exactly one response comes back. */
export const getOne = (port: number, target: string, headers: ReadonlyArray<string> = [], method = "GET") =>
  Effect.map(
    sendRaw({
      port,
      chunks: [`${method} ${target} HTTP/1.0\r\n${headers.map((h) => h + "\r\n").join("")}\r\n`],
      headRequests: [method === "HEAD"],
      timeoutMs: 10_000
    }),
    (exchange): ParsedResponse => {
      expect(exchange.responses.length).toBe(1)
      return exchange.responses[0]!
    }
  )
