/**
 * Test support for the event pipeline: a sink that copies a node's events into memory while they
 * go to the outbox, a node whose DIMM writes through an outbox, and a way to wait for the SQLite
 * log (read-only, as another process would) to hold a node's seqs. Waiting polls until a condition
 * holds; no test asserts on elapsed time.
 */
import { existsSync } from "node:fs";
import { Dimm } from "../../node/dimm/dimm.js";
import { EventLog, MemorySink } from "../../node/events/event_log.js";
import type { EventSink } from "../../node/events/event_log.js";
import { connectOutbox } from "../../node/events/nats_outbox.js";
import type { NatsOutbox, NatsOutboxOptions } from "../../node/events/nats_outbox.js";
import { StepClock } from "../../node/sim/clock.js";
import type { Event } from "../../proto/events.js";
import { EventDb } from "./event_db.js";

/** Writes every event to all sinks, in order. */
export class TeeSink implements EventSink {
  private readonly sinks: EventSink[];
  constructor(...sinks: EventSink[]) {
    this.sinks = sinks;
  }
  write(ev: Event): void {
    for (const sink of this.sinks) sink.write(ev);
  }
}

/** A simulated node for pipeline tests: a DIMM whose event log goes to an outbox and to memory. */
export interface TestNode {
  node: string;
  dimm: Dimm;
  log: EventLog;
  outbox: NatsOutbox;
  /** Every event the node produced, as produced. */
  produced: Event[];
}

export async function startTestNode(
  url: string,
  node: string,
  options: { nextSeq?: number; outbox?: Partial<NatsOutboxOptions> } = {},
): Promise<TestNode> {
  const outbox = await connectOutbox(url, { node, ...options.outbox });
  const memory = new MemorySink();
  const log = new EventLog(
    new TeeSink(outbox, memory),
    new StepClock(),
    options.nextSeq === undefined ? {} : { nextSeq: options.nextSeq },
  );
  const dimm = new Dimm({ sizeBytes: 1 << 20 }, log);
  return { node, dimm, log, outbox, produced: memory.events };
}

/** `count` store/flush/fence events' worth of DIMM work, awaiting back-pressure between steps. */
export async function produceStores(n: TestNode, count: number, salt = 0): Promise<void> {
  for (let i = 0; i < count; i++) {
    const addr = ((i * 72 + salt * 8) % 65536) & ~7;
    if (i % 3 === 0) n.dimm.ntStore(addr, new Uint8Array(8).fill((i + salt) & 0xff));
    else n.dimm.store(addr, new Uint8Array(8).fill((i + salt) & 0xff));
    if (i % 50 === 49) {
      n.dimm.flush(addr & ~63, 64, "clwb");
      n.dimm.fence();
    }
    if (i % 256 === 255) await n.outbox.ready();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` every few milliseconds until it returns true; throws `failure()` if it says so. */
export async function pollUntil(check: () => Promise<boolean>, failure?: () => Error | undefined): Promise<void> {
  for (;;) {
    if (await check()) return;
    const error = failure?.();
    if (error !== undefined) throw error;
    await sleep(25);
  }
}

/** The last contiguous seq ingest recorded for `node` in `file` (0 when none yet). */
export async function ingestedThrough(file: string, node: string): Promise<number> {
  if (!existsSync(file)) return 0;
  const db = await EventDb.open(file, { readOnly: true });
  try {
    const row = await db
      .get<{ s: number }>("SELECT last_contiguous_seq AS s FROM ingest_progress WHERE node = ?", [node])
      .catch(() => undefined);
    return row?.s ?? 0;
  } finally {
    await db.close();
  }
}

/** Reads rows from the log with a read-only connection of its own. */
export async function query<T>(file: string, sql: string, params: (string | number)[] = []): Promise<T[]> {
  const db = await EventDb.open(file, { readOnly: true });
  try {
    return await db.all<T>(sql, params);
  } finally {
    await db.close();
  }
}
