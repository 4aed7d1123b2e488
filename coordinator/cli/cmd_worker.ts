/**
 * `daxsim worker --nats URL [--threads N] [--ack-wait-ms T]`: checks crash states for experiments
 * run anywhere on the NATS cluster (their `--nats URL`), pulling chunks from the JetStream work
 * queue until SIGINT/SIGTERM. Each chunk is checked once; a worker that dies mid-chunk has it
 * redelivered to another after the ack wait.
 */
import { cpus } from "node:os";
import { intOption, parse, required } from "./args.js";
import { CommandFailure } from "./errors.js";
import { EXIT_OK, EXIT_USAGE } from "./help.js";
import type { CommandHelp } from "./help.js";

export const HELP: CommandHelp = {
  description: [
    "Runs until SIGINT or SIGTERM. Any number of workers may serve the same cluster; each chunk is checked once, and a chunk whose worker dies is handed to another after the ack wait.",
  ],
  options: {
    nats: {
      type: "string",
      value: "URL",
      help: "the NATS server (or any server of the cluster) the experiments were started with (`daxsim experiment --nats URL`).",
      default: "required",
    },
    threads: {
      type: "string",
      value: "N",
      help: "checker threads, 1..64.",
      default: "the number of CPUs",
    },
    "ack-wait-ms": {
      type: "string",
      value: "MS",
      help: "how long a chunk may take before JetStream hands it to another worker, 1000..3600000 ms.",
      default: "30000",
    },
  },
  exitCodes: [
    { ...EXIT_OK, meaning: "stopped by SIGINT or SIGTERM" },
    { code: 1, meaning: "the worker failed while checking" },
    { ...EXIT_USAGE, meaning: `${EXIT_USAGE.meaning}; also: no NATS server answers at --nats URL` },
  ],
};

export async function run(args: string[]): Promise<number> {
  const { values } = parse(args, HELP);
  const url = required(values, "nats", "URL");
  const threads = intOption(values, "threads", Math.max(1, cpus().length), 1, 64);
  const ackWaitMs = intOption(values, "ack-wait-ms", 30_000, 1000, 3_600_000);
  const { connect } = await import("@nats-io/transport-node");
  const { NatsWorker } = await import("../experiment/nats_queue.js");
  const { ThreadCheckerPool } = await import("../experiment/thread_pool.js");
  const nc = await connect({ servers: url, name: `daxsim-worker-${process.pid}` }).catch((error: unknown) => {
    throw new CommandFailure(`cannot reach NATS at ${url}: ${(error as Error).message}`, 2);
  });
  const pool = new ThreadCheckerPool(threads);
  const worker = await NatsWorker.start(nc, pool, { name: `worker-${process.pid}`, ackWaitMs });
  process.stderr.write(`daxsim worker ${process.pid}: checking crash states from ${url} with ${threads} thread(s)\n`);
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  await worker.stop();
  await pool.close();
  await nc.drain();
  process.stderr.write(`daxsim worker ${process.pid}: stopped after ${worker.checked} chunk(s)\n`);
  return 0;
}
