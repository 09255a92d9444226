/**
 * TEMP stand-in for the static-file handler (issue #3, branch `static`): plain GET/HEAD of files under a directory,
 * `index.html` for a directory. Only the contract the command line relies on; the real module replaces this file.
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Handler from "./Handler.js"
import * as HttpError from "./HttpError.js"
import { MimeTypes } from "./MimeTypes.js"
import * as Response from "./Response.js"

/**
 * Resolves a request path to a regular file under `root`, or fails with 404.
 *
 * @since 0.1.0
 */
export const resolveFile = (root: string, pathname: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const segments = yield* Effect.try({
      try: () => decodeURIComponent(pathname).split("/").filter((s) => s !== "" && s !== "." && s !== ".."),
      catch: () => HttpError.notFound()
    })
    let file = path.join(root, ...segments)
    let info = yield* Effect.mapError(fs.stat(file), () => HttpError.notFound())
    if (info.type === "Directory") {
      file = path.join(file, "index.html")
      info = yield* Effect.mapError(fs.stat(file), () => HttpError.notFound())
    }
    if (info.type !== "File") return yield* Effect.fail(HttpError.notFound())
    return { file, size: Number(info.size) }
  })

/**
 * The stand-in's handler map.
 *
 * @since 0.1.0
 */
export const make = (options: { readonly directory?: string } = {}) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const mime = yield* MimeTypes
    const root = path.resolve(options.directory ?? process.cwd())
    const handler: Handler.Handler<FileSystem.FileSystem | Path.Path> = (request) =>
      Effect.map(resolveFile(root, request.pathname), ({ file, size }) =>
        Response.stream(fs.stream(file), { contentType: mime.contentType(file), contentLength: size }))
    return yield* Handler.make({ GET: handler, HEAD: handler })
  })

/**
 * The stand-in as the server's `Handlers`.
 *
 * @since 0.1.0
 */
export const layer = (
  options: { readonly directory?: string } = {}
): Layer.Layer<Handler.Handlers, never, FileSystem.FileSystem | Path.Path | MimeTypes> =>
  Layer.effect(Handler.Handlers, make(options))
