/**
 * `daxsim coordinator --nats URL --db FILE [--grpc 127.0.0.1:0]`: ingest of every node's events
 * into the SQLite file, node discovery on NATS, and the Coordinator gRPC service. Prints one JSON
 * line on stdout once it serves ({"grpc", "db", "nats", "pid"}); logs go to stderr as JSON lines.
 * SIGTERM/SIGINT stop it cleanly (ingest commits what it has decoded).
 */
import { startCoordinatorProcess } from "../control/coordinator_process.js";
import type { IngestLogRecord } from "../ingest/ingest.js";
import { parse, required, str } from "./args.js";
import { CommandFailure } from "./errors.js";
import { EXIT_OK, EXIT_USAGE } from "./help.js";
import type { CommandHelp } from "./help.js";

export const HELP: CommandHelp = {
  description: [
    'Prints one JSON line on stdout once it serves ({"grpc", "db", "nats", "pid"}) and logs JSON lines on stderr. Nodes on any host of the NATS cluster are found by their announcements. SIGTERM or SIGINT stops it cleanly. It binds 127.0.0.1 by default and has no authentication.',
  ],
  options: {
    nats: {
      type: "string",
      value: "URL",
      help: "the NATS server (or cluster) the nodes publish to.",
      default: "required",
    },
    db: {
      type: "string",
      value: "FILE",
      help: "the SQLite event log (created when missing; docs/sqlite-schema.md).",
      default: "required",
    },
    grpc: {
      type: "string",
      value: "HOST:PORT",
      help: "the address to serve the Coordinator gRPC service on (port 0: any free port, printed).",
      default: "127.0.0.1:0",
    },
  },
  exitCodes: [
    { ...EXIT_OK, meaning: "stopped by SIGINT or SIGTERM" },
    { code: 1, meaning: "ingest stopped on an error, or the service could not start" },
    EXIT_USAGE,
  ],
};

export async function run(args: string[]): Promise<number> {
  const { values } = parse(args, HELP);
  const nats = required(values, "nats", "URL");
  const db = required(values, "db", "FILE");
  const log = (record: IngestLogRecord | Record<string, unknown>): void => {
    process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), ...record })}\n`);
  };
  const coordinator = await startCoordinatorProcess({ nats, db, grpc: str(values, "grpc") ?? "127.0.0.1:0", log });
  process.stdout.write(`${JSON.stringify({ grpc: coordinator.grpc.address, db, nats, pid: process.pid })}\n`);
  log({ level: "info", msg: "serving", grpc: coordinator.grpc.address, db, nats });
  let stopRequested!: () => void;
  const stopped = new Promise<void>((resolve) => (stopRequested = resolve));
  process.once("SIGTERM", () => stopRequested());
  process.once("SIGINT", () => stopRequested());
  if (process.env.DAXSIM_SUPERVISED === "1") process.stdin.once("end", () => stopRequested()).resume();
  let failure: unknown;
  await Promise.race([stopped, coordinator.ingest.done.catch((error: unknown) => (failure = error))]);
  await coordinator.stop();
  process.stdin.pause();
  log({ level: "info", msg: "stopped" });
  if (failure !== undefined) throw new CommandFailure(`ingest stopped: ${(failure as Error).message}`);
  return 0;
}
