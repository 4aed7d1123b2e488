/**
 * `daxsim ingest --nats URL --db FILE [--durable NAME]`: only the ingest loop (JetStream → SQLite),
 * until SIGTERM or SIGINT. Log records go to stderr as JSON lines; the final status goes to stdout.
 * The coordinator runs the same loop in-process; this command exists for operations and for tests
 * that kill ingest as a process.
 */
import { connect } from "@nats-io/transport-node";
import { NATS_CONNECTION } from "../../proto/subjects.js";
import { EventDb } from "../ingest/event_db.js";
import { EventIngest, INGEST_DURABLE_DEFAULT } from "../ingest/ingest.js";
import type { IngestLogRecord } from "../ingest/ingest.js";
import { parse, required, str } from "./args.js";
import { CommandFailure } from "./errors.js";
import { EXIT_OK, EXIT_USAGE } from "./help.js";
import type { CommandHelp } from "./help.js";

export const HELP: CommandHelp = {
  description: [
    "The coordinator runs the same loop in-process; this command exists for operations and for tests that kill ingest as a process. Log records go to stderr as JSON lines, the final status to stdout.",
  ],
  options: {
    nats: { type: "string", value: "URL", help: "the NATS server with the DAXSIM_EVENTS stream.", default: "required" },
    db: {
      type: "string",
      value: "FILE",
      help: "the SQLite event log to write (created when missing; docs/sqlite-schema.md).",
      default: "required",
    },
    durable: {
      type: "string",
      value: "NAME",
      help: "the JetStream durable consumer's name: one per SQLite file.",
      default: INGEST_DURABLE_DEFAULT,
    },
  },
  exitCodes: [
    { ...EXIT_OK, meaning: "stopped by SIGINT or SIGTERM after committing what it had decoded" },
    { code: 1, meaning: "ingest stopped on an error (NATS or SQLite); the message says which" },
    EXIT_USAGE,
  ],
};

export async function run(args: string[]): Promise<number> {
  const { values } = parse(args, HELP);
  const url = required(values, "nats", "URL");
  const file = required(values, "db", "FILE");
  const durable = str(values, "durable") ?? INGEST_DURABLE_DEFAULT;

  const log = (record: IngestLogRecord): void => {
    process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), ...record })}\n`);
  };
  const db = await EventDb.open(file);
  const nc = await connect({ servers: url, name: `daxsim-ingest-${durable}`, ...NATS_CONNECTION });
  const ingest = await EventIngest.start({ nc, db, durable, log });
  log({ level: "info", msg: "ingesting", nats: url, db: file, durable });

  const stop = (): void => void ingest.stop();
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  let failure: unknown;
  await ingest.done.catch((error: unknown) => (failure = error));
  process.off("SIGTERM", stop);
  process.off("SIGINT", stop);
  process.stdout.write(`${JSON.stringify(ingest.status())}\n`);
  await nc.drain().catch(() => undefined);
  await db.close();
  if (failure !== undefined) throw new CommandFailure(`ingest stopped: ${(failure as Error).message}`);
  return 0;
}
