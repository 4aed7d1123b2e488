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
import { powerLossResultJson } from "../../proto/index.js";
import { isPowerLossPolicy } from "../../proto/events.js";
import { policyToWire } from "../../proto/codec.js";
import { CommandFailure, UsageError } from "./errors.js";
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE } from "./help.js";
import type { CommandHelp } from "./help.js";

export const HELP: CommandHelp = {
  description: [
    "Without a trigger every named node loses power at one instant (each is held between two ops first). Prints one JSON line per node: the seq of its PowerLoss event, the seed, how many pending cache lines were decided and how many of them were lost, the media hash.",
  ],
  options: {
    ...COORDINATOR_OPTIONS,
    node: {
      type: "string",
      value: "ID",
      help: "a node to power off; repeat it for several (a rack losing power).",
      default: "required",
      multiple: true,
    },
    "at-seq": {
      type: "string",
      value: "S",
      help: "fire when the node's log reaches seq S (per node).",
      default: "none: now",
    },
    "after-ops": {
      type: "string",
      value: "K",
      help: "fire after K more filesystem ops on the node.",
      default: "none: now",
    },
    "after-ms": {
      type: "string",
      value: "T",
      help: "fire after a delay drawn from the seed in [0, T] ms, all nodes at once.",
      default: "none: now",
    },
    policy: {
      type: "string",
      value: "POLICY",
      help: "what happens to the cache lines that were not durable: strict (none survive), random (seeded, per line), torn (seeded, per 8-byte word), eadr-like (all survive).",
      values: ["strict", "random", "torn", "eadr-like"],
      default: "strict",
    },
    seed: {
      type: "string",
      value: "S",
      help: "the power loss's seed (random and torn decisions, the --after-ms delay); printed either way.",
      default: "drawn by the coordinator",
    },
    kill: {
      type: "boolean",
      help: "SIGKILL the node process instead; its supervisor restarts it and it rebuilds from its durable log.",
    },
    "timeout-ms": {
      type: "string",
      value: "MS",
      help: "how long an --at-seq or --after-ops trigger may wait before the call fails with DEADLINE_EXCEEDED.",
      default: "600000",
    },
  },
  exitCodes: [EXIT_OK, EXIT_FAILED, EXIT_USAGE],
};

export async function run(args: string[]): Promise<number> {
  const { values } = parse(args, HELP);
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
    for (const result of reply.results) process.stdout.write(`${JSON.stringify(powerLossResultJson(result))}\n`);
    return 0;
  } catch (error) {
    throw new CommandFailure(`powerloss: ${(error as Error).message}`);
  } finally {
    client.close();
  }
}
