/**
 * `daxsim worker --nats URL [--threads N] [--ack-wait-ms T]`: checks crash states for experiments
 * run anywhere on the NATS cluster (their `--nats URL`), pulling chunks from the JetStream work
 * queue until SIGINT/SIGTERM. Each chunk is checked once; a worker that dies mid-chunk has it
 * redelivered to another after the ack wait.
 */
import { cpus } from "node:os";
import { intOption, parse, required } from "./args.js";
import { CommandFailure } from "./errors.js";

export async function run(args: string[]): Promise<number> {
  const { values } = parse(
    args,
    { nats: { type: "string" }, threads: { type: "string" }, "ack-wait-ms": { type: "string" } },
    false,
  );
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
