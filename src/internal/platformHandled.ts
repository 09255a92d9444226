/**
 * `HttpApp.toHandled` for one request at a time, built once per `serve`: the same steps in the same order (the
 * request's scope, the tracer middleware's server span, the app, pre-response handlers, the platform's error →
 * response conversion, `middleware`, all uninterruptible), minus the context copies `toHandled` makes per request.
 *
 * Why not `toHandled` itself: each request paid for two context replacements on top of the app's own (the
 * `HttpServerRequest` service, then `Scope.extend`'s `Scope`), each a copy of the fiber's `FiberRefs` map, a structural
 * comparison of the old and new contexts and a restore on exit. Here the request's fiber gets its whole context
 * (the serve's, the request, the scope) in one write, as its first step; nothing runs after it in that fiber.
 * Measured in-process on the benchmark's router app: see the README's platform benchmark.
 *
 * Kept equal to `@effect/platform` 0.97's `internal/httpApp.ts` and `internal/httpMiddleware.ts` (`tracer`); the
 * differential tests (spans seen by a user tracer, pre-response handlers, middleware, defects, ejected scopes)
 * compare it with `NodeHttpServer`.
 */
import * as HttpApp from "@effect/platform/HttpApp"
import * as Headers from "@effect/platform/Headers"
import * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import * as ServerError from "@effect/platform/HttpServerError"
import * as ServerRequest from "@effect/platform/HttpServerRequest"
import * as ServerResponse from "@effect/platform/HttpServerResponse"
import * as TraceContext from "@effect/platform/HttpTraceContext"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as FiberRefs from "effect/FiberRefs"
import * as GlobalValue from "effect/GlobalValue"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"

/** `toHandled`'s marks: the same global symbol and the same global set, so `HttpApp`'s own functions see ours. */
const handledSymbol = Symbol.for("@effect/platform/HttpApp/handled")
const ejectedScopes = GlobalValue.globalValue(
  "@effect/platform/HttpApp/ejectedScopes",
  () => new WeakSet<Scope.Scope>()
)

type Respond = (
  request: ServerRequest.HttpServerRequest,
  response: ServerResponse.HttpServerResponse
) => Effect.Effect<unknown, unknown>

/** The app at each step: it needs the request (from the fiber's context, set below), fails with anything. */
type AnyApp = Effect.Effect<ServerResponse.HttpServerResponse, unknown, ServerRequest.HttpServerRequest>

const requestOf = (context: Context.Context<never>): ServerRequest.HttpServerRequest =>
  Context.unsafeGet(context, ServerRequest.HttpServerRequest)

/** `HttpMiddleware`'s tracer: the server span, with its attributes, around `httpApp`. */
const tracer = (httpApp: AnyApp): AnyApp =>
  Effect.withFiberRuntime((fiber) => {
    const request = requestOf(fiber.currentContext)
    const disabled = fiber.getFiberRef(HttpMiddleware.currentTracerDisabledWhen)(request)
    if (disabled) return httpApp
    const url = Option.getOrUndefined(ServerRequest.toURL(request))
    if (url !== undefined && (url.username !== "" || url.password !== "")) {
      url.username = "REDACTED"
      url.password = "REDACTED"
    }
    const redactedHeaderNames = fiber.getFiberRef(Headers.currentRedactedNames)
    const redactedHeaders = Headers.redact(request.headers, redactedHeaderNames)
    const nameGenerator = Context.get(fiber.currentContext, HttpMiddleware.SpanNameGenerator)
    return Effect.useSpan(
      nameGenerator(request),
      {
        parent: Option.getOrUndefined(TraceContext.fromHeaders(request.headers)),
        kind: "server",
        captureStackTrace: false
      },
      (span) => {
        span.attribute("http.request.method", request.method)
        if (url !== undefined) {
          span.attribute("url.full", url.toString())
          span.attribute("url.path", url.pathname)
          const query = url.search.slice(1)
          if (query !== "") span.attribute("url.query", url.search.slice(1))
          span.attribute("url.scheme", url.protocol.slice(0, -1))
        }
        if (request.headers["user-agent"] !== undefined) {
          span.attribute("user_agent.original", request.headers["user-agent"])
        }
        for (const name in redactedHeaders) {
          span.attribute(`http.request.header.${name}`, String(redactedHeaders[name]))
        }
        if (request.remoteAddress._tag === "Some") span.attribute("client.address", request.remoteAddress.value)
        return Effect.flatMap(Effect.exit(Effect.withParentSpan(httpApp, span)), (exit) => {
          const response = ServerError.exitResponse(exit)
          span.attribute("http.response.status_code", response.status)
          const redactedHeaders = Headers.redact(response.headers, redactedHeaderNames)
          for (const name in redactedHeaders) {
            span.attribute(`http.response.header.${name}`, String(redactedHeaders[name]))
          }
          return exit
        })
      }
    )
  })

/** Answers `response` through the pre-response handlers, as `toHandled` does; the response they made. */
const answer = (
  context: Context.Context<never>,
  handler: Option.Option<HttpApp.PreResponseHandler>,
  response: ServerResponse.HttpServerResponse,
  respond: Respond
): Effect.Effect<ServerResponse.HttpServerResponse, unknown> => {
  const request = requestOf(context)
  if (handler._tag === "None") {
    ;(request as unknown as Record<symbol, boolean>)[handledSymbol] = true
    return Effect.as(respond(request, response), response)
  }
  return Effect.tap(handler.value(request, response), (response) => {
    ;(request as unknown as Record<symbol, boolean>)[handledSymbol] = true
    return respond(request, response)
  })
}

/** The part of effect's `FiberRuntime` that replaces a fiber's refs in one write (not in `RuntimeFiber`'s type). */
interface RefsWritable {
  setFiberRefs(fiberRefs: FiberRefs.FiberRefs): void
}
const canWriteRefs = (fiber: unknown): fiber is RefsWritable =>
  typeof (fiber as Partial<RefsWritable>).setFiberRefs === "function"

/**
 * The per-request runner of `app`: given the request, an Effect to run as the first thing of a fresh fiber. It gives
 * that fiber the serve's fiber refs (`serveRefs`: a tracer, `withTracerDisabledWhen`, log settings provided to the
 * serve layer, as `NodeHttpServer`'s `Effect.runtime` captures them) with the serve's context plus the request and
 * its scope, in one write (`Runtime.runFork`'s own step). Succeeds once the response was handed to `respond`; fails
 * only with the app's unhandled cause or an interruption.
 */
export const makeHandled = <E, R>(
  app: HttpApp.Default<E, R>,
  respond: Respond,
  middleware: HttpMiddleware.HttpMiddleware | undefined,
  serveRefs: FiberRefs.FiberRefs
): (request: ServerRequest.HttpServerRequest) => Effect.Effect<void, unknown> => {
  const serveContext = FiberRefs.getOrDefault(serveRefs, FiberRef.currentContext)
  const responded: AnyApp = Effect.withFiberRuntime((fiber) =>
    Effect.flatMap(app as AnyApp, (response) =>
      answer(fiber.currentContext, fiber.getFiberRef(HttpApp.currentPreResponseHandlers), response, respond))
  )
  const withErrorHandling: AnyApp = Effect.catchAllCause(responded, (cause) =>
    Effect.withFiberRuntime((fiber) =>
      Effect.flatMap(ServerError.causeResponse(cause), ([response, cause]) =>
        Effect.zipRight(
          answer(fiber.currentContext, fiber.getFiberRef(HttpApp.currentPreResponseHandlers), response, respond),
          Cause.isEmptyType(cause) ? Effect.succeed(response) : Effect.failCause(cause)
        ))
    ))
  const withMiddleware: Effect.Effect<unknown, unknown, ServerRequest.HttpServerRequest> = middleware === undefined
    ? tracer(withErrorHandling)
    : Effect.matchCauseEffect(tracer(middleware(withErrorHandling)), {
      onFailure: (cause) =>
        Effect.withFiberRuntime((fiber) => {
          const request = requestOf(fiber.currentContext)
          if (handledSymbol in request) return Effect.void
          return Effect.matchCauseEffect(ServerError.causeResponse(cause), {
            onFailure: (_cause) => respond(request, ServerResponse.empty({ status: 500 })),
            onSuccess: ([response]) => respond(request, response)
          })
        }),
      onSuccess: (response) =>
        Effect.withFiberRuntime((fiber) => {
          const request = requestOf(fiber.currentContext)
          return handledSymbol in request ? Effect.void : respond(request, response as ServerResponse.HttpServerResponse)
        })
    })
  const run = (scope: Scope.CloseableScope) =>
    Effect.onExit(withMiddleware as Effect.Effect<unknown, unknown>, (exit) =>
      ejectedScopes.has(scope) ? Effect.void : Scope.close(scope, exit))
  return (request) =>
    Effect.uninterruptible(Effect.flatMap(Scope.make(), (scope) =>
      Effect.withFiberRuntime((fiber) => {
        // One copy of the serve's services (`Context.add` twice would copy them twice).
        const services = new Map(serveContext.unsafeMap)
        services.set(ServerRequest.HttpServerRequest.key, request)
        services.set(Scope.Scope.key, scope)
        const context = Context.unsafeMake<never>(services)
        const id = fiber.id()
        const refs = FiberRefs.updateManyAs(serveRefs, {
          forkAs: id,
          entries: [[FiberRef.currentContext, [[id, context]]]]
        })
        if (canWriteRefs(fiber)) {
          fiber.setFiberRefs(refs)
          return run(scope)
        }
        return Effect.zipRight(Effect.setFiberRefs(refs), run(scope))
      })))
}
