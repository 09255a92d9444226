/**
 * Method-routed handlers: Python's `do_GET`, `do_POST`, `do_SPAM`… as a typed map provided by a `Layer`, instead of
 * methods on a subclass.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type { HttpError } from "./HttpError.js"
import type { Request } from "./Request.js"
import type { Response } from "./Response.js"

/**
 * A handler for one method. It runs in the request's `Scope`: what it acquires there (a file handle, a child
 * process) is released when the response has been written, when the client goes away, or when the server stops.
 *
 * @since 0.1.0
 * @category models
 */
export type Handler<R = never> = (request: Request) => Effect.Effect<Response, HttpError, R | Scope.Scope>

/**
 * What to do with `Expect: 100-continue` (Python's `handle_expect_100`): `"continue"` sends `100 Continue`, a
 * failure answers with that error instead (e.g. 417) and the handler does not run.
 *
 * @since 0.1.0
 * @category models
 */
export type ExpectContinue = (request: Request) => Effect.Effect<"continue", HttpError>

/**
 * The handlers a server dispatches to, with their services already provided.
 *
 * @since 0.1.0
 * @category models
 */
export interface HandlerMap {
  readonly byMethod: ReadonlyMap<string, Handler>
  readonly expectContinue: ExpectContinue | undefined
  /**
   * `false`: the handlers never use the engine's request `Scope` (an `@effect/platform` app brings its own), so the
   * engine makes none: a scope per request costs more than the rest of a small fiber-run request. Default: a scope.
   */
  readonly scoped?: false
}

/**
 * The service holding the server's handlers.
 *
 * @since 0.1.0
 * @category tags
 */
export class Handlers extends Context.Tag("effect-httpd/Handlers")<Handlers, HandlerMap>() {}

/**
 * Handlers by method name. Methods are case-sensitive tokens, as in Python (`do_GET` answers `GET`, not `get`).
 *
 * @since 0.1.0
 * @category models
 */
export type Routes<R> = { readonly [method: string]: Handler<R> }

/**
 * Builds the handler map from routes, providing the services the handlers need from the layer's context, so a test
 * can swap them by providing another layer.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <R>(
  routes: Routes<R>,
  options: { readonly expectContinue?: ExpectContinue } = {}
): Effect.Effect<HandlerMap, never, Exclude<R, Scope.Scope>> =>
  Effect.map(Effect.context<Exclude<R, Scope.Scope>>(), (context) => {
    const byMethod = new Map<string, Handler>()
    for (const [method, handler] of Object.entries(routes)) {
      byMethod.set(method, (request) => {
        const effect = handler(request)
        // A handler that answered synchronously (`Effect.succeed`/`Effect.fail` are `Exit`s) needs no services and
        // no fiber: the engine writes its answer on the spot.
        if (Exit.isExit(effect)) return effect as Exit.Exit<Response, HttpError>
        return Effect.mapInputContext(
          effect as Effect.Effect<Response, HttpError, Scope.Scope | Exclude<R, Scope.Scope>>,
          (current: Context.Context<Scope.Scope>) => Context.merge(context, current)
        )
      })
    }
    return { byMethod, expectContinue: options.expectContinue }
  })

/**
 * A layer of handlers by method.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as Handler from "effect-httpd/Handler"
 * import { HttpError } from "effect-httpd/HttpError"
 * import * as Response from "effect-httpd/Response"
 *
 * class Clock extends Effect.Tag("Clock")<Clock, { readonly now: () => Date }>() {}
 *
 * // Layer<Handlers, never, Clock>: the application provides Clock, a test provides a stub
 * export const handlers = Handler.layer({
 *   GET: (request) =>
 *     request.pathname === "/time"
 *       ? Effect.map(Clock.now(), (now) => Response.text(`${now.toISOString()}\n`))
 *       : Effect.fail(new HttpError({ status: 404 })),
 *   // a method without an entry answers 501, as Python's missing do_X
 *   DELETE: () => Effect.fail(new HttpError({ status: 405 }))
 * })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = <R>(
  routes: Routes<R>,
  options: { readonly expectContinue?: ExpectContinue } = {}
): Layer.Layer<Handlers, never, Exclude<R, Scope.Scope>> => Layer.effect(Handlers, make(routes, options))

/**
 * Combines handler maps; later maps win for a method both define.
 *
 * @since 0.1.0
 * @category combinators
 */
export const combine = (...maps: ReadonlyArray<HandlerMap>): HandlerMap => {
  const byMethod = new Map<string, Handler>()
  let expectContinue: ExpectContinue | undefined
  for (const map of maps) {
    for (const [method, handler] of map.byMethod) byMethod.set(method, handler)
    expectContinue = map.expectContinue ?? expectContinue
  }
  return { byMethod, expectContinue }
}
