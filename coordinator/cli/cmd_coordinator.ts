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

export async function run(args: string[]): Promise<number> {
  const { values } = parse(args, { nats: { type: "string" }, db: { type: "string" }, grpc: { type: "string" } }, false);
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
