/** Handlers for abuse tests: GET answers `path=<path>`, POST reads the body and answers `got <n>: <body>`. */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type * as Handler from "../../src/Handler.js"
import { HttpError } from "../../src/HttpError.js"
import * as Response from "../../src/Response.js"

/** A body error becomes 400, or 413 when the body is larger than `limits.maxBodyBytes`. */
export const echoRoutes: Handler.Routes<never> = {
  GET: (request) => Effect.succeed(Response.text(`path=${request.path}\n`)),
  POST: (request) =>
    Stream.runCollect(request.body).pipe(
      Effect.map((chunks) => {
        const body = Buffer.concat(Chunk.toReadonlyArray(chunks))
        return Response.text(`got ${body.length}: ${body.toString("latin1")}\n`)
      }),
      Effect.catchAll((error) =>
        Effect.fail(new HttpError({ status: error.reason === "TooLarge" ? 413 : 400, message: error.message }))
      )
    )
}
