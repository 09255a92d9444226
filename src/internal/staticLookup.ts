/**
 * What the static-file handlers do to a request before and after `serve`: the paths refused up front, the SPA
 * fallback on a missing file, and Python's collapse of a leading `//`.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import { HttpError } from "../HttpError.js"
import type * as Response from "../Response.js"
import { hasDotComponent } from "./extras.js"
import { isMissing } from "./spa.js"
import type { StaticConfig } from "./staticFiles.js"
import * as Upload from "./upload.js"
import * as UrlPath from "./urlPath.js"

/**
 * `result`, or the SPA page when it is the missing-file 404 and the request qualifies. An \`Exit\` that needs no
 * fallback is passed on as it is (answered without a fiber).
 */
export const withFallback = <R>(
  result: Effect.Effect<Response.Response, HttpError, R>,
  qualifies: () => boolean,
  fallback: () => Effect.Effect<Response.Response, HttpError, R>
): Effect.Effect<Response.Response, HttpError, R> => {
  if (Exit.isExit(result)) {
    const exit = result as Exit.Exit<Response.Response, HttpError>
    if (Exit.isSuccess(exit)) return result
    const failure = Cause.failureOption(exit.cause)
    return Option.isSome(failure) && isMissing(failure.value) && qualifies() ? fallback() : result
  }
  return Effect.catchIf(result, (error) => isMissing(error) && qualifies(), fallback)
}

export const notFound = new HttpError({ status: 404, message: "File not found" })

/**
 * Whether `hideDotfiles` or `followSymlinks: false` refuse a request path, checked before `serve` and its cache
 * (the answer is Python's 404 for a missing file, so a refused path looks like an absent one).
 */
export const refusedBy = (config: StaticConfig): (requestPath: string) => boolean => {
  const { confine, hideDotfiles, root } = config
  return (requestPath) => {
    // Without a `%`, the path names an upload's temporary file only if it spells its prefix: most requests skip
    // the translation.
    const mayBeTemp = requestPath.includes("%") || requestPath.includes(Upload.TEMP_PREFIX)
    if (!mayBeTemp && !hideDotfiles && confine === undefined) return false
    const path = UrlPath.translatePath(root, requestPath)
    // An upload's temporary file is never served (its body may be incomplete), whatever the options.
    if (mayBeTemp && path.split("/").some(Upload.isUploadTemp)) return true
    return (hideDotfiles && hasDotComponent(root, path)) || (confine !== undefined && !confine(path))
  }
}

// Python's parse_request collapses a leading "//" so that the directory redirect cannot point to another host.
export const collapseSlashes = (url: string): string => url.startsWith("//") ? "/" + url.replace(/^\/+/, "") : url
