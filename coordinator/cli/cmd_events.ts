/**
 * `daxsim events [--node n1] [--kind store]… [--from-seq S] [--max N] [--follow]`: events from the
 * coordinator's SQLite log (Coordinator.WatchEvents), one JSON object per line (the protobuf JSON
 * form of daxsim.v1.Event); with --follow it keeps printing events as they are ingested until
 * Ctrl-C.
 */
import { countOption, parse, flag, str, strs } from "./args.js";
import { COORDINATOR_OPTIONS, coordinatorAddress } from "./run_manifest.js";
import { coordinatorClient } from "../control/rpc_client.js";
import { Event } from "../../proto/gen/daxsim/v1/events.js";
import { CommandFailure } from "./errors.js";

export async function run(args: string[]): Promise<number> {
  const { values } = parse(
    args,
    {
      ...COORDINATOR_OPTIONS,
      node: { type: "string" },
      kind: { type: "string", multiple: true },
      "from-seq": { type: "string" },
      max: { type: "string" },
      follow: { type: "boolean" },
    },
    false,
  );
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
        if (!process.stdout.write(`${JSON.stringify(Event.toJSON(ev))}\n`)) {
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
