/**
 * The command line's failures and the messages it prints: pure functions, no I/O but `report`.
 */
import * as HelpDoc from "@effect/cli/HelpDoc"
import type * as ValidationError from "@effect/cli/ValidationError"
import * as PlatformError from "@effect/platform/Error"
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Net from "node:net"
import type * as Server from "../Server.js"
import { stripAnsi } from "./cliRuntime.js"
import { errnoOf } from "./fsFailure.js"
import { isLoopbackAddress } from "./hostCheck.js"

export const NAME = "effect-httpd"

export class CliError extends Data.TaggedError("CliError")<{
  readonly kind: "Usage" | "Startup"
  readonly message: string
  /** Already reported (by a cluster worker that failed to start): {@link report} prints nothing. */
  readonly silent?: boolean
}> {
  /** The process exit status for this failure. */
  get exitCode(): number {
    return this.kind === "Usage" ? 2 : 1
  }
}

export const usage = (message: string) => new CliError({ kind: "Usage", message })
export const startup = (message: string) => new CliError({ kind: "Startup", message })

export const urlHost = (host: string): string => (host.includes(":") ? `[${host}]` : host)

export const banner = (
  address: { readonly hostname: string; readonly port: number; readonly secure: boolean }
): string => {
  const protocol = address.secure ? "HTTPS" : "HTTP"
  return `Serving ${protocol} on ${address.hostname} port ${address.port} (${protocol.toLowerCase()}://${
    urlHost(address.hostname)
  }:${address.port}/) ...`
}

export const stopMessage = (signal: NodeJS.Signals | undefined): string =>
  signal === "SIGTERM" ? "\nSIGTERM received, exiting." : "\nKeyboard interrupt received, exiting."

export const errorLine = (error: CliError): string => `${NAME}: error: ${error.message}`

export const parseBind = (value: string): Either.Either<string, CliError> => {
  const host = value.trim().replace(/^\[(.*)\]$/, "$1")
  if (host === "") return Either.left(usage("argument -b/--bind: empty address"))
  // Caught here rather than sent to the resolver as a host name.
  if (host.includes(":") && !Net.isIPv6(host)) {
    return Either.left(usage(`argument -b/--bind: invalid IPv6 address '${value}'`))
  }
  if (/^[0-9.]+$/.test(host) && !Net.isIPv4(host)) {
    return Either.left(usage(`argument -b/--bind: invalid IPv4 address '${value}'`))
  }
  return Either.right(host)
}

export const isValidPort = (port: number): boolean => Number.isInteger(port) && port >= 0 && port <= 65535

export const isLoopback = (host: string): boolean => {
  const lower = host.toLowerCase()
  return lower === "localhost" || isLoopbackAddress(lower)
}

const where = (host: string, port: number) => `${urlHost(host)}:${port}`

export const serveErrorMessage = (error: Server.ServeError, host: string, port: number): string => {
  switch (error.reason) {
    case "AddressInUse":
      return `cannot listen on ${where(host, port)}: address already in use (try another port, or 0 for a free one)`
    case "PermissionDenied":
      return `cannot listen on ${where(host, port)}: permission denied${
        port > 0 && port < 1024 ? " (ports below 1024 need root or CAP_NET_BIND_SERVICE)" : ""
      }`
    case "AddressNotAvailable": {
      const cause = error.cause as { readonly code?: unknown } | null
      return typeof cause === "object" && cause !== null && cause.code === "ENOTFOUND"
        ? `cannot listen on ${where(host, port)}: unknown host name`
        : `cannot listen on ${where(host, port)}: address not available on this machine`
    }
    case "InvalidTls":
    case "Unknown":
      return error.message
  }
}

export const fileErrorReason = (error: PlatformError.PlatformError): string => {
  if (error._tag === "SystemError") {
    switch (error.reason) {
      case "NotFound":
        return "no such file"
      case "PermissionDenied":
        return "permission denied"
      case "BadResource":
        return "is a directory or not a regular file"
      default:
        break
    }
  }
  const cause = (error as { readonly cause?: unknown }).cause
  const code = typeof cause === "object" && cause !== null && "code" in cause ? String(cause.code) : undefined
  if (code === "EISDIR") return "is a directory"
  return error.message
}

/** {@link fileErrorReason} for `FileSystem`'s errors and for `node:fs`'s (a file named by bytes, see `osPath`). */
export const anyFileErrorReason = (error: unknown): string => {
  if (PlatformError.isPlatformError(error)) return fileErrorReason(error)
  const code = errnoOf(error)
  return code === "ENOENT"
    ? "no such file"
    : code === "EACCES"
    ? "permission denied"
    : code === "EISDIR"
    ? "is a directory"
    : String(error)
}

export const exitCode = (exit: Exit.Exit<unknown, unknown>): number => {
  if (Exit.isSuccess(exit) || Cause.isInterruptedOnly(exit.cause)) return 0
  const failure = Cause.failureOption(exit.cause)
  return Option.isSome(failure) && failure.value instanceof CliError ? failure.value.exitCode : 1
}

export const teardown = (exit: Exit.Exit<unknown, unknown>, onExit: (code: number) => void): void =>
  onExit(exitCode(exit))

export const report = (error: CliError): Effect.Effect<void> =>
  error.silent === true ? Effect.void : Console.error(errorLine(error))

export const validationMessage = (error: ValidationError.ValidationError): string => {
  const text = stripAnsi(HelpDoc.toAnsiText(error.error)).split("\n").map((line) => line.trim())
    .filter((line) => line !== "").join(" ")
  const notInteger = /^'(.*)' is not a integer$/.exec(text)
  if (notInteger !== null) {
    const value = notInteger[1]!
    return value.startsWith("-")
      ? `unrecognized option '${value}'`
      : `argument port: invalid port '${value}' (an integer from 0 to 65535)`
  }
  const choice = /^Expected one of the following cases: (.*)$/.exec(text)
  if (choice !== null) return `argument -p/--protocol: expected one of ${choice[1]}`
  const pathType = /^Expected path '(.*)' to be a (directory|regular file)$/.exec(text)
  if (pathType !== null) return `'${pathType[1]}' is not a ${pathType[2]}`
  const unknown = /^Received unknown argument: '(.*)'$/.exec(text)
  if (unknown !== null) return `unrecognized argument '${unknown[1]}'`
  return text
}
