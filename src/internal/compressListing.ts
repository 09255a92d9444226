/**
 * `compress` for directory listings (HTML, rich and JSON): a listing is generated text, as compressible as any
 * file, and a big directory's page is megabytes. Listings have no `ETag` (Python sends none), so only `Vary` and
 * the length change.
 */
import * as Effect from "effect/Effect"
import type { HeaderField } from "../Headers.js"
import * as Response from "../Response.js"
import { chooseCoding, compressBytes, type CompressConfig, eligible } from "./compress.js"

const fieldIndex = (headers: ReadonlyArray<HeaderField>, lower: string): number =>
  headers.findIndex(([name]) => name.toLowerCase() === lower)

/**
 * The listing compressed when `Accept-Encoding` allows it; `Vary: Accept-Encoding` (joined to a `Vary: Accept` the
 * JSON negotiation put there) whenever its size and type make it eligible, compressed or not.
 */
export const compressListing = <E, R>(
  config: CompressConfig | undefined,
  acceptEncoding: string | undefined,
  listing: Effect.Effect<Response.Response, E, R>
): Effect.Effect<Response.Response, E, R> =>
  config === undefined ? listing : Effect.flatMap(listing, (response) => {
    const body = response.body
    const typeAt = fieldIndex(response.headers, "content-type")
    if (response.status !== 200 || body._tag !== "Bytes" || typeAt < 0) return Effect.succeed(response)
    if (!eligible(config, response.headers[typeAt]![1], body.bytes.length)) return Effect.succeed(response)
    const headers = [...response.headers]
    const varyAt = fieldIndex(headers, "vary")
    if (varyAt < 0) headers.push(["Vary", "Accept-Encoding"])
    else headers[varyAt] = [headers[varyAt]![0], `${headers[varyAt]![1]}, Accept-Encoding`]
    const coding = chooseCoding(acceptEncoding)
    const options = { headers, reason: response.reason, standardHeaders: response.standardHeaders, endHeaders: response.endHeaders }
    if (coding === undefined) return Effect.succeed(Response.make(200, body, options))
    // zlib failing on bytes in memory is a defect, as for files.
    return Effect.map(Effect.orDie(compressBytes(coding, body.bytes)), (compressed) => {
      const lengthAt = fieldIndex(headers, "content-length")
      if (lengthAt >= 0) headers[lengthAt] = [headers[lengthAt]![0], String(compressed.length)]
      headers.splice(typeAt + 1, 0, ["Content-Encoding", coding])
      return Response.make(200, { _tag: "Bytes", bytes: compressed }, options)
    })
  })
