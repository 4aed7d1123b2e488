/**
 * `daxsim exec --node n1 WORKLOAD.json [--session NAME] [--coordinator ADDR | --dir RUNDIR]`: runs a
 * workload (docs/workload.md: a JSON array of ops, or {"ops": [...]}) on a running node through the
 * coordinator and prints one JSON record per op, as `daxsim run --json` does. "-" reads standard
 * input. Exit 1 when an op did not run or an expectation failed.
 */
import { readFileSync } from "node:fs";
import { parse, required, str } from "./args.js";
import { COORDINATOR_OPTIONS, coordinatorAddress } from "./run_manifest.js";
import { coordinatorClient, unary } from "../control/rpc_client.js";
import { opRecordJson, powerLossResultJson } from "../../proto/index.js";
import { CommandFailure, UsageError } from "./errors.js";
import { EXIT_OK, EXIT_USAGE } from "./help.js";
import type { CommandHelp } from "./help.js";

export const HELP: CommandHelp = {
  description: [
    "Sends the whole file as one batch through the coordinator to the node, which refuses dimm, mount and seed settings (they are fixed when it starts). Prints one JSON record per op, in the shape of `daxsim run --json` plus the op's events (firstSeq, lastSeq, boot).",
  ],
  arguments: [{ name: "WORKLOAD.json", help: "the workload (docs/workload.md); - reads standard input." }],
  options: {
    ...COORDINATOR_OPTIONS,
    node: { type: "string", value: "ID", help: "the node to run it on.", default: "required" },
    session: {
      type: "string",
      value: "NAME",
      help: 'a session: variables bound with "as" and the op index carry over between exec calls of one session.',
      default: "a fresh session for this call",
    },
  },
  exitCodes: [
    { ...EXIT_OK, meaning: "every op ran and every expectation held" },
    { code: 1, meaning: "an op did not run or an expectation failed, or the call failed" },
    EXIT_USAGE,
  ],
};

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, HELP);
  const node = required(values, "node", "NODE");
  if (positionals.length !== 1) throw new UsageError("give one workload file (or - for standard input)");
  const file = positionals[0]!;
  let text: string;
  try {
    text = readFileSync(file === "-" ? 0 : file, "utf8");
  } catch (error) {
    throw new UsageError(`cannot read ${file}: ${(error as Error).message}`);
  }
  const address = coordinatorAddress(values);
  const client = coordinatorClient(address);
  try {
    const reply = await unary(client, client.exec, { node, workloadJson: text, session: str(values, "session") ?? "" });
    let failed = 0;
    for (const record of reply.records) {
      if (record.error !== "" || record.mismatch !== "") failed++;
      process.stdout.write(`${JSON.stringify(opRecordJson(record))}\n`);
    }
    if (reply.powerLoss !== undefined)
      process.stdout.write(`${JSON.stringify({ powerLoss: powerLossResultJson(reply.powerLoss) })}\n`);
    if (failed > 0)
      throw new CommandFailure(`${failed} op${failed === 1 ? "" : "s"} did not run or did not meet expectations`);
    return 0;
  } catch (error) {
    if (error instanceof CommandFailure) throw error;
    throw new CommandFailure(`exec on ${node}: ${(error as Error).message}`);
  } finally {
    client.close();
  }
}
