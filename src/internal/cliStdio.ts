/**
 * `--stdio`: one connection on standard input and output, through the Stream driver (`Server.serveStream`). Standard
 * output is the wire, so nothing else is written to it; the access log goes to standard error.
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type { AccessLog } from "../AccessLog.js"
import type { Handlers } from "../Handler.js"
import * as Server from "../Server.js"
import { ClientGone, drained } from "./responseWriter.js"

/**
 * The client's address as the launcher tells it: systemd (`Accept=yes`) and many inetd flavours set `REMOTE_ADDR`
 * and `REMOTE_PORT`; ssh sets `SSH_CLIENT` ("address port local-port"). Else unknown (`-` in the log).
 */
export const peerFromEnvironment = (env: NodeJS.ProcessEnv): { readonly address: string; readonly port: number } => {
  const portOf = (text: string | undefined) => {
    const port = Number(text)
    return Number.isInteger(port) && port > 0 && port < 65536 ? port : 0
  }
  const remote = env["REMOTE_ADDR"]
  if (remote !== undefined && remote !== "") return { address: remote, port: portOf(env["REMOTE_PORT"]) }
  const ssh = env["SSH_CLIENT"]?.split(" ")
  if (ssh !== undefined && ssh[0] !== undefined && ssh[0] !== "") return { address: ssh[0], port: portOf(ssh[1]) }
  return { address: "-", port: 0 }
}

/**
 * Writes one chunk to standard output, waiting for `drain` when its buffer is full (backpressure to the driver); a
 * closed output (the peer went away: EPIPE destroys it) fails.
 */
const writeOut = (chunk: Uint8Array): Effect.Effect<void, ClientGone> => {
  const out = process.stdout
  if (out.destroyed || out.writableEnded) return Effect.fail(new ClientGone())
  return out.write(chunk) ? Effect.void : drained(out)
}

/**
 * Standard input as a stream, read only when the stream is pulled (the driver's backpressure reaches the pipe or
 * socket). Written with `read()` rather than the async iterator, whose `return` waits for a pending read: a
 * connection that ends before the client closes its side would never exit.
 */
const readStdin = (stdin: NodeJS.ReadStream): Stream.Stream<Uint8Array, Error> => {
  let ended = false
  let failure: Error | undefined
  stdin.once("end", () => {
    ended = true
  })
  stdin.once("error", (error) => {
    failure = error
  })
  return Stream.repeatEffectChunkOption(Effect.async<Chunk.Chunk<Uint8Array>, Option.Option<Error>>((resume) => {
    const attempt = (): boolean => {
      const chunk = stdin.read() as Buffer | null
      if (chunk !== null) resume(Effect.succeed(Chunk.of(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length))))
      else if (failure !== undefined) resume(Effect.fail(Option.some(failure)))
      else if (ended) resume(Effect.fail(Option.none()))
      else return false
      return true
    }
    if (attempt()) return
    const wake = () => {
      if (attempt()) cleanup()
    }
    const cleanup = () => {
      stdin.off("readable", wake)
      stdin.off("end", wake)
      stdin.off("error", wake)
    }
    stdin.on("readable", wake)
    stdin.on("end", wake)
    stdin.on("error", wake)
    return Effect.sync(cleanup)
  }))
}

/** Waits until what was written to standard output has been handed to the system. */
const flushOut: Effect.Effect<void> = Effect.async<void>((resume) => {
  const out = process.stdout
  if (out.destroyed || out.writableLength === 0) return resume(Effect.void)
  out.write("", () => resume(Effect.void))
})

/**
 * Serves the connection on standard input and output until it closes (the client's end, `Connection: close`, a
 * timeout). An input error or a closed output ends it too: the request in flight is interrupted.
 */
export const serve = (options: Server.ServerOptions): Effect.Effect<void, never, Handlers | AccessLog> => {
  const peer = peerFromEnvironment(process.env)
  // A write to a peer that has gone raises EPIPE on the stream: it ends the connection, never the process.
  process.stdout.on("error", () => {})
  const input = readStdin(process.stdin)
  // Socket activation (systemd `Accept=yes`, inetd): standard input is the accepted socket. Its local address decides
  // the DNS-rebinding rule as a listener's does (a unit bound to 127.0.0.1 is as exposed as `--bind 127.0.0.1`); a
  // pipe or terminal has none.
  const localAddress = process.stdin.localAddress
  const local = typeof localAddress === "string" && localAddress !== ""
    ? { localAddress, localPort: process.stdin.localPort ?? 0 }
    : {}
  return Server.serveStream(input, { ...options, ...local, remoteAddress: peer.address, remotePort: peer.port }).pipe(
    Stream.runForEach(writeOut),
    Effect.ignore,
    Effect.zipRight(flushOut),
    // The input is no longer read; standard input may still be open (a client that has not closed its side).
    Effect.ensuring(Effect.sync(() => process.stdin.destroy()))
  )
}
