/**
 * The `effect-httpd` executable: the command line on Node's runtime. Ctrl-C and SIGTERM interrupt it, which closes
 * the server gracefully; the exit status is 0 then, 2 for a usage error, 1 for a failure to start.
 *
 * @since 0.1.0
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Effect from "effect/Effect"
import * as Cli from "./Cli.js"

Cli.run(process.argv).pipe(
  Effect.tapError(Cli.report),
  Effect.provide(NodeContext.layer),
  // runMain would log a failure a second time, as a structured log: Cli.report printed it already.
  NodeRuntime.runMain({ disableErrorReporting: true, teardown: Cli.teardown })
)
