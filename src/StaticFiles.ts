/**
 * TEMP stand-in for the static-file handler (issue #3, branch `static`), with the agreed contract only, so the CGI
 * handler can be built and tested before the real one lands. Drop this file when merging `static`.
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Effect from "effect/Effect"
import * as Handler from "./Handler.js"
import * as HttpError from "./HttpError.js"
import { MimeTypes } from "./MimeTypes.js"
import type { Request } from "./Request.js"
import * as Response from "./Response.js"

/**
 * Options of the static handler.
 *
 * @since 0.1.0
 */
export interface StaticFilesOptions {
  /** The directory served; default the current directory. */
  readonly directory?: string
}

/**
 * GET and HEAD for plain files (no listings, no redirects, no conditional requests: a stand-in).
 *
 * @since 0.1.0
 */
export const make = (
  options: StaticFilesOptions = {}
): Effect.Effect<Handler.HandlerMap, never, FileSystem.FileSystem | Path.Path | MimeTypes> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const mime = yield* MimeTypes
    const root = options.directory ?? process.cwd()
    const serve = (request: Request) =>
      Effect.gen(function*() {
        const words = decodeURIComponent(request.pathname).split("/").filter((w) => w !== "" && w !== "." && w !== "..")
        const file = path.join(root, ...words)
        const info = yield* fs.stat(file).pipe(Effect.orElseFail(() => HttpError.notFound()))
        if (info.type !== "File") return yield* Effect.fail(HttpError.notFound())
        const bytes = yield* fs.readFile(file).pipe(Effect.orElseFail(() => HttpError.notFound()))
        return Response.bytes(bytes, { contentType: mime.contentType(file) })
      })
    return yield* Handler.make({ GET: serve, HEAD: serve })
  })
