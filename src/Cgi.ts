/**
 * TEMP stand-in for the CGI handler (issue #4, branch `cgi`): files under `/cgi-bin/` are run and their output
 * passed through after `200 Script output follows`, everything else is served as a file. Only the contract the
 * command line relies on; the real module replaces this file.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/platform/Command"
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Handler from "./Handler.js"
import * as HttpError from "./HttpError.js"
import type { MimeTypes } from "./MimeTypes.js"
import * as Response from "./Response.js"
import * as StaticFiles from "./StaticFiles.js"

/**
 * The stand-in as the server's `Handlers`.
 *
 * @since 0.1.0
 */
export const layer = (
  options: { readonly directory?: string } = {}
): Layer.Layer<
  Handler.Handlers,
  never,
  FileSystem.FileSystem | Path.Path | MimeTypes | CommandExecutor.CommandExecutor
> =>
  Layer.effect(
    Handler.Handlers,
    Effect.gen(function*() {
      const files = yield* StaticFiles.make(options)
      const root = options.directory ?? process.cwd()
      const get = files.byMethod.get("GET")!
      const handler: Handler.Handler<CommandExecutor.CommandExecutor | FileSystem.FileSystem | Path.Path> = (
        request
      ) =>
        request.pathname.startsWith("/cgi-bin/")
          ? Effect.gen(function*() {
            const { file } = yield* StaticFiles.resolveFile(root, request.pathname)
            const command = Command.make(file).pipe(
              Command.env({
                GATEWAY_INTERFACE: "CGI/1.1",
                REQUEST_METHOD: request.method,
                QUERY_STRING: request.query,
                SCRIPT_NAME: request.pathname
              })
            )
            const process = yield* Effect.mapError(Command.start(command), () => HttpError.make(403))
            return Response.make(200, { _tag: "Stream", stream: process.stdout }, {
              reason: "Script output follows",
              endHeaders: false
            })
          })
          : get(request)
      return yield* Handler.make({ GET: handler, HEAD: handler })
    })
  )
