/**
 * `daxsim events [--node n1] [--kind store]… [--from-seq S] [--max N] [--follow]`: events from the
 * coordinator's SQLite log (Coordinator.WatchEvents), one JSON object per line (the protobuf JSON
 * form of daxsim.v1.Event); with --follow it keeps printing events as they are ingested until
 * Ctrl-C.
 */
import { countOption, parse, flag, str, strs } from "./args.js";
import { COORDINATOR_OPTIONS, coordinatorAddress } from "./run_manifest.js";
import { coordinatorClient } from "../control/rpc_client.js";
import type { Event } from "../../proto/gen/daxsim/v1/events.js";
import { eventJson } from "../../proto/index.js";
import { EVENT_KINDS } from "../../proto/events.js";
import { CommandFailure } from "./errors.js";
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE } from "./help.js";
import type { CommandHelp } from "./help.js";

export const HELP: CommandHelp = {
  description: [
    "One JSON object per line (docs/cli.md): node, seq, boot, kind and the event's fields, numbers as JSON numbers, bytes as hex.",
  ],
  options: {
    ...COORDINATOR_OPTIONS,
    node: { type: "string", value: "ID", help: "only this node's events.", default: "every node" },
    kind: {
      type: "string",
      value: "KIND",
      help: "only events of this kind.",
      values: EVENT_KINDS,
      default: "every kind",
      multiple: true,
    },
    "from-seq": { type: "string", value: "S", help: "start at seq S.", default: "1" },
    max: { type: "string", value: "N", help: "stop after N events.", default: "no limit" },
    follow: { type: "boolean", help: "keep printing events as they are ingested, until Ctrl-C." },
  },
  exitCodes: [{ ...EXIT_OK, meaning: "success (also when stopped by Ctrl-C with --follow)" }, EXIT_FAILED, EXIT_USAGE],
};

export async function run(args: string[]): Promise<number> {
  const { values } = parse(args, HELP);
  const address = coordinatorAddress(values);
  const client = coordinatorClient(address);
  const call = client.watchEvents({
    node: str(values, "node") ?? "",
    kinds: strs(values, "kind"),
    fromSeq: countOption(values, "from-seq", 1) ?? 0n,
    follow: flag(values, "follow"),
    maxEvents: countOption(values, "max", 1) ?? 0n,
  });
  const stop = (): void => call.cancel();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  try {
    await new Promise<void>((resolve, reject) => {
      call.on("data", (ev: Event) => {
        if (!process.stdout.write(`${JSON.stringify(eventJson(ev))}\n`)) {
          call.pause();
          process.stdout.once("drain", () => call.resume());
        }
      });
      call.on("end", () => resolve());
      call.on("error", (error: Error & { code?: number }) => (error.code === 1 ? resolve() : reject(error)));
    });
    return 0;
  } catch (error) {
    throw new CommandFailure(`events: ${(error as Error).message}`);
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
    client.close();
  }
}
