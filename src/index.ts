/**
 * effect-httpd: Python's `http.server` as an Effect HTTP/1.x server. Import modules by subpath
 * (`effect-httpd/Server`) to load only what you use; this barrel re-exports them as namespaces.
 *
 * @since 0.1.0
 */
/**
 * @since 0.1.0
 * @category modules
 */
export * as AccessLog from "./AccessLog.js"
/**
 * @since 0.1.0
 * @category modules
 */
export * as Cgi from "./Cgi.js"
/**
 * @since 0.1.0
 * @category modules
 */
export * as Cluster from "./Cluster.js"
/**
 * @since 0.1.0
 * @category modules
 */
export * as Decoder from "./Decoder.js"
/**
 * @since 0.1.0
 * @category modules
 */
export * as Handler from "./Handler.js"
/**
 * @since 0.1.0
 * @category modules
 */
export * as Headers from "./Headers.js"
/**
 * @since 0.1.0
 * @category modules
 */
export * as HttpError from "./HttpError.js"
/**
 * @since 0.1.0
 * @category modules
 */
export * as MimeTypes from "./MimeTypes.js"
/**
 * @since 0.1.0
 * @category modules
 */
export * as PlatformServer from "./PlatformServer.js"
/**
 * @since 0.1.0
 * @category modules
 */
export * as Request from "./Request.js"
/**
 * @since 0.1.0
 * @category modules
 */
export * as Response from "./Response.js"
/**
 * @since 0.1.0
 * @category modules
 */
export * as Server from "./Server.js"
/**
 * @since 0.1.0
 * @category modules
 */
export * as StaticFiles from "./StaticFiles.js"
/**
 * @since 0.1.0
 * @category modules
 */
export * as Status from "./Status.js"
/**
 * @since 0.1.0
 * @category modules
 */
export * as TestKit from "./TestKit.js"
