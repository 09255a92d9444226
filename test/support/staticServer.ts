/**
 * A static-files server on a free port, and one-request helpers, for the option tests.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as AccessLog from "../../src/AccessLog.js"
import { MimeTypes } from "../../src/MimeTypes.js"
import * as Server from "../../src/Server.js"
import * as StaticFiles from "../../src/StaticFiles.js"
import { getOne } from "./getOne.js"
import type { ParsedResponse } from "./rawClient.js"

/** `StaticFiles.layer(options)` served on 127.0.0.1, a free port, logging off. */
export const startStatic = (options: StaticFiles.StaticFilesOptions, server: Partial<Server.ServerOptions> = {}) =>
  Server.make({ port: 0, ...server }).pipe(
    Effect.provide(Layer.mergeAll(
      StaticFiles.layer(options).pipe(Layer.provide(Layer.merge(NodeContext.layer, MimeTypes.layerWithoutFiles()))),
      AccessLog.layerSilent
    ))
  )

/** One HTTP/1.0 request, exactly one response expected. */
export const request = (port: number, method: string, target: string, headers: ReadonlyArray<string> = []) =>
  getOne(port, target, headers, method)

/** Every value of a header field, in order. */
export const headerValues = (response: ParsedResponse, name: string): Array<string> =>
  response.headers.filter(([n]) => n.toLowerCase() === name.toLowerCase()).map(([, v]) => v)
