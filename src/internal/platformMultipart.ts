/**
 * `multipart/form-data` parts of an engine request body, for `PlatformRequest`. `@effect/platform`'s
 * `Multipart.makeChannel` spins forever when its input ends or fails inside a file part (the file's reader calls the
 * parser's `end()` again and again; measured: a client reset mid-upload kept a core busy and its scope open), and
 * also when a body ends between parts without the closing delimiter. This parser pulls the body itself and ends every
 * reader, parts and file contents alike, with the body's failure or a parse error.
 */
import * as Multipart from "@effect/platform/Multipart"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Inspectable from "effect/Inspectable"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type * as MPTypes from "multipasta"
import { createRequire } from "node:module"

/** `multipasta` as `@effect/platform` has it (its own dependency, resolved wherever it is installed). */
const MP = createRequire(createRequire(import.meta.url).resolve("@effect/platform/package.json"))(
  "multipasta"
) as typeof MPTypes

abstract class PartBase extends Inspectable.Class {
  readonly [Multipart.TypeId]: Multipart.TypeId = Multipart.TypeId
}

class FieldPart extends PartBase implements Multipart.Field {
  readonly _tag = "Field"
  constructor(readonly key: string, readonly contentType: string, readonly value: string) {
    super()
  }
  toJSON(): unknown {
    return { _id: "@effect/platform/Multipart/Part", _tag: "Field", key: this.key, contentType: this.contentType, value: this.value }
  }
}

class FilePart extends PartBase implements Multipart.File {
  readonly _tag = "File"
  readonly key: string
  readonly name: string
  readonly contentType: string
  readonly contentEffect: Effect.Effect<Uint8Array, Multipart.MultipartError>
  constructor(info: MPTypes.PartInfo, readonly content: Stream.Stream<Uint8Array, Multipart.MultipartError>) {
    super()
    this.key = info.name
    this.name = info.filename ?? info.name
    this.contentType = info.contentType
    this.contentEffect = Effect.map(Stream.runCollect(content), (chunks) => Buffer.concat(Chunk.toReadonlyArray(chunks)))
  }
  toJSON(): unknown {
    return { _id: "@effect/platform/Multipart/Part", _tag: "File", key: this.key, name: this.name, contentType: this.contentType }
  }
}

const convertError = (cause: MPTypes.MultipartError): Multipart.MultipartError => {
  if (cause._tag === "ReachedLimit") {
    const reason = cause.limit === "MaxParts"
      ? "TooManyParts"
      : cause.limit === "MaxFieldSize"
      ? "FieldTooLarge"
      : cause.limit === "MaxPartSize"
      ? "FileTooLarge"
      : "BodyTooLarge"
    return new Multipart.MultipartError({ reason, cause })
  }
  return new Multipart.MultipartError({ reason: "Parse", cause })
}

type Pull<A> = Effect.Effect<Chunk.Chunk<A>, Option.Option<Multipart.MultipartError>>

/**
 * The parts of `body` (with `headers`' boundary and the fiber's `Multipart` limits). A part's file content is read
 * before the next part, as with the platform's parser; every reader fails once the body has failed or ended early.
 */
export const parts = <E>(
  body: Stream.Stream<Uint8Array, E>,
  headers: Record<string, string>
): Stream.Stream<Multipart.Part, Multipart.MultipartError> =>
  Stream.unwrapScoped(Effect.gen(function*() {
    const config = yield* Multipart.makeConfig(headers)
    const pullBody = yield* Stream.toPull(body)
    // One reader of the body at a time, even if an app reads a file's content in another fiber.
    const lock = yield* Effect.makeSemaphore(1)
    let ready: Array<Multipart.Part> = []
    let failure: Multipart.MultipartError | undefined
    let done = false
    const parser = MP.make({
      ...config,
      onField(info, value) {
        ready.push(new FieldPart(info.name, info.contentType, MP.decodeField(info, value)))
      },
      onFile(info) {
        let chunks: Array<Uint8Array> = []
        let finished = false
        const pull: Pull<Uint8Array> = Effect.suspend(() => {
          if (chunks.length > 0) {
            const out = Chunk.unsafeFromArray(chunks)
            chunks = []
            return Effect.succeed(out)
          }
          if (finished) return Effect.fail(Option.none())
          if (failure !== undefined) return Effect.fail(Option.some(failure))
          return Effect.zipRight(step, pull)
        })
        ready.push(new FilePart(info, Stream.repeatEffectChunkOption(pull)))
        return (chunk) => {
          if (chunk === null) finished = true
          else chunks.push(chunk)
        }
      },
      onError(error) {
        failure ??= convertError(error)
      },
      onDone() {
        done = true
      }
    })
    // Feeds the parser one piece of body; the body's end without the closing delimiter is a parse error.
    const step: Effect.Effect<void> = lock.withPermits(1)(Effect.matchEffect(pullBody, {
      onSuccess: (chunk) =>
        Effect.sync(() => {
          for (const piece of chunk) parser.write(piece)
        }),
      onFailure: (end) =>
        Effect.sync(() => {
          if (Option.isSome(end)) {
            failure ??= new Multipart.MultipartError({ reason: "InternalError", cause: end.value })
          } else {
            parser.end()
            if (!done) failure ??= new Multipart.MultipartError({ reason: "Parse", cause: "the body ended early" })
          }
        })
    }))
    const pullParts: Pull<Multipart.Part> = Effect.suspend(() => {
      if (ready.length > 0) {
        const out = Chunk.unsafeFromArray(ready)
        ready = []
        return Effect.succeed(out)
      }
      if (failure !== undefined) return Effect.fail(Option.some(failure))
      if (done) return Effect.fail(Option.none())
      return Effect.zipRight(step, pullParts)
    })
    return Stream.repeatEffectChunkOption(pullParts)
  }))
