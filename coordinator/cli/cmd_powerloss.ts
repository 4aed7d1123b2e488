/**
 * `daxsim powerloss --node n1 [--node n2 …] [--at-seq S | --after-ops K | --after-ms T]
 * [--policy strict|random|torn|eadr-like] [--seed X] [--kill] [--timeout-ms MS]`: power loss on one
 * node or several at one instant (Coordinator.InjectPowerLoss). --after-ms T waits a delay drawn
 * from the seed in [0, T] ms. Prints one JSON line per node: the seq of its PowerLoss event, the
 * seed, the media hash; with --kill the node process is SIGKILLed and its supervisor restarts it.
 */
import { countOption, parse, flag, seedOption, str, strs } from "./args.js";
import { COORDINATOR_OPTIONS, coordinatorAddress } from "./run_manifest.js";
import { coordinatorClient, unary } from "../control/rpc_client.js";
import type { InjectPowerLossRequest } from "../../proto/gen/daxsim/v1/coordinator.js";
import { PowerLossResult } from "../../proto/gen/daxsim/v1/node.js";
import { isPowerLossPolicy } from "../../proto/events.js";
import { policyToWire } from "../../proto/codec.js";
import { CommandFailure, UsageError } from "./errors.js";

export async function run(args: string[]): Promise<number> {
  const { values } = parse(
    args,
    {
      ...COORDINATOR_OPTIONS,
      node: { type: "string", multiple: true },
      "at-seq": { type: "string" },
      "after-ops": { type: "string" },
      "after-ms": { type: "string" },
      policy: { type: "string" },
      seed: { type: "string" },
      kill: { type: "boolean" },
      "timeout-ms": { type: "string" },
    },
    false,
  );
  const nodes = strs(values, "node");
  if (nodes.length === 0) throw new UsageError("--node NODE is required (repeat it for several nodes)");
  const triggers = ["at-seq", "after-ops", "after-ms"].filter((t) => str(values, t) !== undefined);
  if (triggers.length > 1)
    throw new UsageError(
      `give at most one of --at-seq, --after-ops, --after-ms (got ${triggers.map((t) => `--${t}`).join(", ")})`,
    );
  const atSeq = countOption(values, "at-seq", 1);
  const afterOps = countOption(values, "after-ops", 1);
  const afterMs = countOption(values, "after-ms", 0);
  let trigger: InjectPowerLossRequest["trigger"] = { $case: "now", value: {} };
  if (atSeq !== undefined) trigger = { $case: "atSeq", value: atSeq };
  if (afterOps !== undefined) trigger = { $case: "afterOps", value: afterOps };
  if (afterMs !== undefined) trigger = { $case: "delayMaxMs", value: afterMs };
  const policy = str(values, "policy") ?? "strict";
  if (!isPowerLossPolicy(policy))
    throw new UsageError(`--policy ${policy}: expected strict, random, torn or eadr-like`);
  const seed = seedOption(values);
  const timeout = countOption(values, "timeout-ms", 1);
  const request: InjectPowerLossRequest = {
    nodes,
    trigger,
    policy: policyToWire(policy),
    kill: flag(values, "kill"),
    timeoutMs: timeout === undefined ? 0 : Number(timeout),
    ...(seed !== undefined ? { seed } : {}),
  };
  const address = coordinatorAddress(values);
  const client = coordinatorClient(address);
  try {
    const reply = await unary(client, client.injectPowerLoss, request);
    for (const result of reply.results) process.stdout.write(`${JSON.stringify(PowerLossResult.toJSON(result))}\n`);
    return 0;
  } catch (error) {
    throw new CommandFailure(`powerloss: ${(error as Error).message}`);
  } finally {
    client.close();
  }
}
