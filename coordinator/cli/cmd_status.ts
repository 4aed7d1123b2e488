/**
 * `daxsim status [--coordinator ADDR | --dir RUNDIR] [--json]`: the coordinator's view — every
 * node (address, reachable, seqs) and ingest (lag, gaps, rejected messages).
 */
import { parse, flag } from "./args.js";
import { COORDINATOR_OPTIONS, coordinatorAddress } from "./run_manifest.js";
import { coordinatorClient, deadlineIn, unary } from "../control/rpc_client.js";
import { statusJson } from "../../proto/index.js";
import { CommandFailure } from "./errors.js";
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE } from "./help.js";
import type { CommandHelp } from "./help.js";

const CALL_MS = 10_000;

export const HELP: CommandHelp = {
  description: [
    "Shows every node (address, reachable, last seq, ingested seq, lag, gaps) and ingest: the events in the SQLite log in total, and those this coordinator process committed since it started.",
  ],
  options: {
    ...COORDINATOR_OPTIONS,
    json: { type: "boolean", help: "print one JSON object (docs/cli.md: numbers are JSON numbers)." },
  },
  exitCodes: [EXIT_OK, EXIT_FAILED, EXIT_USAGE],
};

export async function run(args: string[]): Promise<number> {
  const { values } = parse(args, HELP);
  const address = coordinatorAddress(values);
  const client = coordinatorClient(address);
  try {
    const [status, nodes] = await Promise.all([
      unary(client, client.status, {}, { deadline: deadlineIn(CALL_MS) }),
      unary(client, client.listNodes, {}, { deadline: deadlineIn(CALL_MS) }),
    ]);
    if (flag(values, "json")) {
      process.stdout.write(`${JSON.stringify(statusJson(status, nodes.nodes))}\n`);
      return 0;
    }
    const lines = [`coordinator ${address}  db ${status.dbFile}  nats ${status.natsUrl}`];
    lines.push(
      `log: ${status.eventsInLog} events in total (${status.nodes.map((n) => `${n.node} ${n.eventsInLog}`).join(", ") || "no node yet"})`,
    );
    lines.push(
      `ingest: this coordinator session committed ${status.eventsCommitted} events in ${status.batchesCommitted} batches; ${status.pendingMessages} messages pending, ${status.rejected} rejected${status.ingestFailure ? `, FAILED: ${status.ingestFailure}` : ""}`,
    );
    lines.push("node  reachable  grpc                   last_seq  ingested  lag  gaps");
    const ingest = new Map(status.nodes.map((n) => [n.node, n]));
    for (const n of nodes.nodes) {
      const i = ingest.get(n.node);
      const gaps = (i?.gaps ?? []).map((g) => `${g.fromSeq}-${g.toSeq}`).join(",") || "-";
      lines.push(
        `${n.node.padEnd(5)} ${String(n.reachable).padEnd(10)} ${n.grpcAddress.padEnd(22)} ${String(n.lastSeq).padStart(8)}  ${String(n.ingestedSeq).padStart(8)}  ${String(i?.lagEvents ?? 0n).padStart(3)}  ${gaps}`,
      );
    }
    process.stdout.write(`${lines.join("\n")}\n`);
    return 0;
  } catch (error) {
    throw new CommandFailure(`coordinator ${address}: ${(error as Error).message}`);
  } finally {
    client.close();
  }
}
