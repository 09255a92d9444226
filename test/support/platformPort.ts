/**
 * The port an `@effect/platform` `HttpServer` listens on (ours or NodeHttpServer's), for raw-socket clients.
 */
import type * as HttpServer from "@effect/platform/HttpServer"

export const portOf = (server: HttpServer.HttpServer): number =>
  server.address._tag === "TcpAddress" ? server.address.port : 0
