/**
 * Spreads experiment checking over machines through JetStream. The experiment publishes its chunks
 * of crash points to the work-queue stream DAXSIM_WORK; any number of `daxsim worker --nats URL`
 * processes (and the experiment's own threads) pull them through one shared durable consumer, so
 * each chunk goes to one worker at a time; a worker acknowledges a chunk only after its results are
 * stored in the stream DAXSIM_RESULTS, so a worker that dies mid-chunk has it redelivered to
 * another after the ack wait. Results are keyed by chunk: a chunk checked twice counts once.
 *
 * Invariant: the experiment's result does not depend on which workers checked what.
 */
import { createHash } from "node:crypto";
import {
  AckPolicy,
  DeliverPolicy,
  RetentionPolicy,
  StorageType,
  jetstream,
  jetstreamManager,
} from "@nats-io/jetstream";
import type { JetStreamClient, JetStreamManager, JsMsg } from "@nats-io/jetstream";
import { connect, nanos } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import type { CheckerPool, ExperimentSpec, PointResult } from "./engine.js";
import type { ThreadCheckerPool } from "./thread_pool.js";

export const WORK_STREAM = "DAXSIM_WORK";
export const RESULT_STREAM = "DAXSIM_RESULTS";
export const WORK_SUBJECT_PREFIX = "daxsim.work";
export const RESULT_SUBJECT_PREFIX = "daxsim.results";
export const WORKER_DURABLE = "daxsim-checkers";
/** A worker that holds a chunk this long without progress loses it to another worker. */
export const ACK_WAIT_MS_DEFAULT = 30_000;
const MESSAGE_BYTES_MAX = 8 << 20;

export class WorkQueueError extends Error {
  override readonly name = "WorkQueueError";
}

interface WorkMessage {
  experiment: string;
  chunk: number;
  spec: ExperimentSpec;
  points: number[];
}

interface ResultMessage {
  experiment: string;
  chunk: number;
  results?: PointResult[];
  error?: string;
  worker: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Creates the work-queue and results streams and the shared worker consumer if missing. */
export async function ensureWorkStreams(
  nc: NatsConnection,
  ackWaitMs = ACK_WAIT_MS_DEFAULT,
): Promise<JetStreamManager> {
  const jsm = await jetstreamManager(nc);
  const ensure = async (name: string, subjects: string[], retention: RetentionPolicy): Promise<void> => {
    try {
      await jsm.streams.info(name);
    } catch {
      await jsm.streams.add({
        name,
        subjects,
        retention,
        storage: StorageType.File,
        max_msg_size: MESSAGE_BYTES_MAX,
        max_age: nanos(24 * 3600_000),
        num_replicas: 1,
      });
    }
  };
  await ensure(WORK_STREAM, [`${WORK_SUBJECT_PREFIX}.>`], RetentionPolicy.Workqueue);
  await ensure(RESULT_STREAM, [`${RESULT_SUBJECT_PREFIX}.>`], RetentionPolicy.Limits);
  const existing = await jsm.consumers.info(WORK_STREAM, WORKER_DURABLE).catch(() => undefined);
  if (existing === undefined) {
    await jsm.consumers.add(WORK_STREAM, {
      durable_name: WORKER_DURABLE,
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(ackWaitMs),
      max_deliver: -1,
      filter_subject: `${WORK_SUBJECT_PREFIX}.>`,
    });
  }
  return jsm;
}

/**
 * Pulls chunks and checks them on `threads` until `stop` is called. Used by `daxsim worker` and by
 * the experiment process itself (so the machine running the experiment helps).
 */
export class NatsWorker {
  private stopped = false;
  private readonly done: Promise<void>;
  checked = 0;

  private constructor(
    private readonly js: JetStreamClient,
    private readonly threads: ThreadCheckerPool,
    private readonly name: string,
    private readonly ackWaitMs: number,
  ) {
    this.done = this.loop();
  }

  static async start(
    nc: NatsConnection,
    threads: ThreadCheckerPool,
    options: { name: string; ackWaitMs?: number },
  ): Promise<NatsWorker> {
    await ensureWorkStreams(nc, options.ackWaitMs);
    return new NatsWorker(jetstream(nc), threads, options.name, options.ackWaitMs ?? ACK_WAIT_MS_DEFAULT);
  }

  private async loop(): Promise<void> {
    const consumer = await this.js.consumers.get(WORK_STREAM, WORKER_DURABLE);
    const inFlight = new Set<Promise<void>>();
    while (!this.stopped) {
      const want = this.threads.size - inFlight.size;
      if (want <= 0) {
        await Promise.race(inFlight);
        continue;
      }
      const batch = await consumer.fetch({ max_messages: want, expires: 1000 });
      for await (const msg of batch) {
        const job = this.handle(msg).finally(() => inFlight.delete(job));
        inFlight.add(job);
      }
    }
    await Promise.all(inFlight);
  }

  private async handle(msg: JsMsg): Promise<void> {
    let work: WorkMessage;
    try {
      work = JSON.parse(decoder.decode(msg.data)) as WorkMessage;
    } catch {
      msg.term(); // not a work message: never redeliver it
      return;
    }
    const keepAlive = setInterval(() => msg.working(), Math.max(500, this.ackWaitMs / 3));
    try {
      let reply: ResultMessage;
      try {
        reply = {
          experiment: work.experiment,
          chunk: work.chunk,
          results: await this.threads.check(work.spec, work.points),
          worker: this.name,
        };
      } catch (error) {
        reply = { experiment: work.experiment, chunk: work.chunk, error: (error as Error).message, worker: this.name };
      }
      await this.js.publish(`${RESULT_SUBJECT_PREFIX}.${work.experiment}`, encoder.encode(JSON.stringify(reply)));
      msg.ack();
      this.checked++;
    } finally {
      clearInterval(keepAlive);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }
}

/** The experiment side: publishes chunks, collects each chunk's first result. */
export class NatsCheckerPool implements CheckerPool {
  private constructor(
    private readonly nc: NatsConnection,
    private readonly local: NatsWorker | undefined,
    readonly size: number,
  ) {}

  static async connect(
    url: string,
    localThreads: ThreadCheckerPool | undefined,
    options: { ackWaitMs?: number } = {},
  ): Promise<NatsCheckerPool> {
    const nc = await connect({ servers: url, name: "daxsim-experiment" }).catch((error: unknown) => {
      throw new WorkQueueError(`cannot reach NATS at ${url}: ${(error as Error).message}`);
    });
    await ensureWorkStreams(nc, options.ackWaitMs);
    const local =
      localThreads === undefined
        ? undefined
        : await NatsWorker.start(nc, localThreads, {
            name: `local-${process.pid}`,
            ...(options.ackWaitMs !== undefined ? { ackWaitMs: options.ackWaitMs } : {}),
          });
    return new NatsCheckerPool(nc, local, Math.max(2, localThreads?.size ?? 0));
  }

  async run(spec: ExperimentSpec, chunks: number[][], onChunk: (results: PointResult[]) => void): Promise<void> {
    const js = jetstream(this.nc);
    const jsm = await jetstreamManager(this.nc);
    const experiment = `${createHash("sha256").update(JSON.stringify(spec)).digest("hex").slice(0, 12)}-${process.pid}-${Date.now()}`;
    const subject = `${RESULT_SUBJECT_PREFIX}.${experiment}`;
    // A single filter subject as a string: nats-server 2.9 (Debian) has no multi-subject filters.
    const results = await js.consumers.get(RESULT_STREAM, {
      filter_subjects: subject,
      deliver_policy: DeliverPolicy.All,
    });
    const messages = await results.consume();
    for (let i = 0; i < chunks.length; i++) {
      const work: WorkMessage = { experiment, chunk: i, spec, points: chunks[i]! };
      await js.publish(`${WORK_SUBJECT_PREFIX}.${experiment}`, encoder.encode(JSON.stringify(work)));
    }
    const seen = new Set<number>();
    try {
      for await (const msg of messages) {
        const reply = JSON.parse(decoder.decode(msg.data)) as ResultMessage;
        if (reply.error !== undefined)
          throw new WorkQueueError(`worker ${reply.worker} failed chunk ${reply.chunk}: ${reply.error}`);
        if (!seen.has(reply.chunk)) {
          seen.add(reply.chunk);
          onChunk(reply.results!);
        }
        if (seen.size === chunks.length) break;
      }
    } finally {
      await messages.close();
      await jsm.streams.purge(RESULT_STREAM, { filter: subject }).catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    await this.local?.stop();
    await this.nc.drain();
  }
}
