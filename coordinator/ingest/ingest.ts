/**
 * Ingest: every node's EventBatch messages from the JetStream stream DAXSIM_EVENTS into the SQLite
 * event log, through a durable pull consumer.
 *
 * Each message is decoded (decodeBatch) and turned into multi-row INSERT OR IGNORE statements
 * keyed by (node, seq); one SQLite transaction holds a batch whole (several waiting batches may share
 * one, never split one), together with the node's progress, any gap it opened or closed, and the
 * stream position; the message is acked only after COMMIT. A message that is not a valid batch
 * (not protobuf, node of subject ≠ node of batch, impossible seqs, wrong Nats-Msg-Id) is recorded in
 * ingest_rejected in the same way and terminated, so it is never redelivered; ingest goes on.
 *
 * Invariants:
 *   - SQLite is the authority on position: at start the durable consumer is placed right after the
 *     last stream message SQLite committed, so a killed ingest neither loses nor waits for
 *     redelivery of what it had been handed; a duplicate delivery is harmless (INSERT OR IGNORE);
 *   - a gap in a node's seqs is logged as an error and kept in ingest_gaps (open) and in status()
 *     until the missing events arrive; it is never skipped;
 *   - a SQLite failure stops ingest (done rejects) without acking what it did not commit.
 */
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { ConsumerConfig, ConsumerMessages, JetStreamManager, JsMsg, StreamInfo } from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { eventBatchLayout } from "../../proto/batch_layout.js";
import { decodeBatch } from "../../proto/codec.js";
import type { DecodedBatch } from "../../proto/codec.js";
import { WireFormatError } from "../../proto/errors.js";
import {
  EVENT_STREAM,
  EVENT_SUBJECT_WILDCARD,
  MSG_ID_HEADER,
  batchMsgId,
  nodeOfSubject,
} from "../../proto/subjects.js";
import { ensureEventStream } from "../../node/events/event_stream.js";
import type { EventDb, SqlStatement } from "./event_db.js";
import { batchStatements } from "./event_rows.js";
import type { SeqRange } from "./gap_tracker.js";
import { GapTracker } from "./gap_tracker.js";

export const INGEST_DURABLE_DEFAULT = "daxsim-ingest";

export interface IngestOptions {
  nc: NatsConnection;
  db: EventDb;
  /** Durable consumer name; one ingest process per name. */
  durable?: string;
  /** Where log records go (default: nowhere). */
  log?: (record: IngestLogRecord) => void;
  /** Messages the consumer pulls ahead at most. */
  pullMessagesMax?: number;
  /** Decoded messages waiting for SQLite at most; the consumer pauses beyond. */
  queuedMessagesMax?: number;
  /** Waiting batches that may share one transaction. */
  transactionBatchesMax?: number;
}

export interface IngestLogRecord {
  level: "info" | "warn" | "error";
  msg: string;
  [field: string]: unknown;
}

export interface NodeIngestStatus {
  /** Every seq in 1..lastContiguousSeq is in SQLite. */
  lastContiguousSeq: number;
  highestSeq: number;
  /** Open gaps: seqs missing below highestSeq. Each is an error. */
  gaps: SeqRange[];
}

/** A node's ingest status as status() reports it. */
export interface NodeIngestReport extends NodeIngestStatus {
  /** Events of the node in the SQLite log, whoever wrote them: every seq ≤ highestSeq not in a gap. */
  eventsInLog: number;
}

/** Events a node has in the log: seqs start at 1, so all up to the highest but the gaps. */
export function eventsInLog(s: NodeIngestStatus): number {
  let missing = 0;
  for (const g of s.gaps) missing += g.toSeq - g.fromSeq + 1;
  return s.highestSeq - missing;
}

export interface IngestStatus {
  nodes: Record<string, NodeIngestReport>;
  /** Events in the SQLite log in total (every node, every coordinator session that wrote it). */
  eventsInLog: number;
  /** Messages rejected since the database was created. */
  rejected: number;
  /** Batches and events committed by this process (this coordinator session) since it started. */
  batchesCommitted: number;
  eventsCommitted: number;
  /** Stream messages not yet delivered to the consumer, as of the last message (lag). */
  pendingMessages: number;
  /** Stream sequence of the last message committed. */
  lastStreamSeq: number;
  /** Set when ingest stopped on an error. */
  failure?: string;
}

/** SQLite failed under ingest, or the consumer could not be set up. Ingest has stopped. */
export class IngestError extends Error {
  override readonly name = "IngestError";
}

interface Plan {
  msg: JsMsg;
  statements: SqlStatement[];
  action: "ack" | "term";
  streamSeq: number;
  /** The node's state once this plan commits, and the gaps it opens and closes (absent for a rejection). */
  node?: { id: string; status: NodeIngestStatus; opened: SeqRange[]; closed: SeqRange[] };
  events: number;
  rejectReason?: string;
}

const DEFAULTS = { pullMessagesMax: 64, queuedMessagesMax: 32, transactionBatchesMax: 16 };
const ACK_WAIT_MS = 60_000;
const MAX_ACK_PENDING = 1024;

export class EventIngest {
  private readonly tracker = new GapTracker();
  private readonly committed = new Map<string, NodeIngestStatus>();
  private readonly knownNodes = new Set<string>();
  private readonly queue: Plan[] = [];
  private readonly seqWaiters: Array<{ node: string; seq: number; resolve: () => void; reject: (e: Error) => void }> =
    [];
  private roomWaiter: (() => void) | undefined;
  private writerWake: (() => void) | undefined;
  private messages: ConsumerMessages | undefined;
  private stopping = false;
  private failure: Error | undefined;
  private rejected = 0;
  private batchesCommitted = 0;
  private eventsCommitted = 0;
  private pendingMessages = 0;
  private lastStreamSeq = 0;
  private streamCreated = "";
  private readonly options: Required<Omit<IngestOptions, "log">> & Pick<IngestOptions, "log">;
  /** Settles when ingest has stopped: resolves after stop(), rejects on a fatal error. */
  readonly done: Promise<void>;
  private settleDone!: { resolve: () => void; reject: (e: Error) => void };

  private constructor(options: IngestOptions) {
    this.options = { ...DEFAULTS, durable: INGEST_DURABLE_DEFAULT, ...options };
    this.done = new Promise((resolve, reject) => (this.settleDone = { resolve, reject }));
    // Callers that only use stop() must not see an unhandled rejection.
    this.done.catch(() => undefined);
  }

  /** Loads progress from SQLite, places the durable consumer, and starts consuming. */
  static async start(options: IngestOptions): Promise<EventIngest> {
    const ingest = new EventIngest(options);
    await ingest.loadProgress();
    const jsm = await jetstreamManager(options.nc);
    const startSeq = await ingest.startSequence(await ensureEventStream(options.nc, jsm));
    await ingest.placeConsumer(jsm, startSeq);
    const consumer = await jetstream(options.nc).consumers.get(EVENT_STREAM, ingest.options.durable);
    ingest.messages = await consumer.consume({ max_messages: ingest.options.pullMessagesMax });
    void ingest.consumeLoop();
    void ingest.writeLoop();
    return ingest;
  }

  status(): IngestStatus {
    const nodes: Record<string, NodeIngestReport> = {};
    let total = 0;
    for (const [node, s] of [...this.committed.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
      nodes[node] = {
        lastContiguousSeq: s.lastContiguousSeq,
        highestSeq: s.highestSeq,
        gaps: s.gaps.map((g) => ({ ...g })),
        eventsInLog: eventsInLog(s),
      };
      total += nodes[node].eventsInLog;
    }
    return {
      nodes,
      eventsInLog: total,
      rejected: this.rejected,
      batchesCommitted: this.batchesCommitted,
      eventsCommitted: this.eventsCommitted,
      pendingMessages: this.pendingMessages,
      lastStreamSeq: this.lastStreamSeq,
      ...(this.failure ? { failure: this.failure.message } : {}),
    };
  }

  /** Resolves once every seq in 1..seq of `node` is committed to SQLite. */
  waitForSeq(node: string, seq: number): Promise<void> {
    if ((this.committed.get(node)?.lastContiguousSeq ?? 0) >= seq) return Promise.resolve();
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => this.seqWaiters.push({ node, seq, resolve, reject }));
  }

  /** Resolves once `count` rejections are committed (since the database was created). */
  async waitForRejected(count: number): Promise<void> {
    while (this.rejected < count) {
      if (this.failure !== undefined) throw this.failure;
      await new Promise<void>((resolve) =>
        this.seqWaiters.push({ node: "", seq: Infinity, resolve, reject: () => resolve() }),
      );
    }
  }

  /** Stops consuming, commits what was already decoded, and resolves. Unacked messages stay in the stream. */
  async stop(): Promise<void> {
    if (!this.stopping) {
      this.stopping = true;
      await this.messages?.close().catch(() => undefined);
      this.writerWake?.();
      this.roomWaiter?.();
    }
    await this.done.catch(() => undefined);
  }

  private log(record: IngestLogRecord): void {
    this.options.log?.(record);
  }

  // ---- start-up -------------------------------------------------------------------------------

  private async loadProgress(): Promise<void> {
    const db = this.options.db;
    const rows = await db.all<{ node: string; last_contiguous_seq: number; highest_seq: number }>(
      "SELECT node, last_contiguous_seq, highest_seq FROM ingest_progress ORDER BY node",
    );
    for (const row of rows) {
      // The ranges received beyond the contiguous end, as islands of consecutive seqs.
      const ahead = await db.all<{ fromSeq: number; toSeq: number }>(
        `SELECT min(seq) AS fromSeq, max(seq) AS toSeq FROM (
           SELECT seq, seq - row_number() OVER (ORDER BY seq) AS island FROM events WHERE node = ? AND seq > ?
         ) GROUP BY island ORDER BY fromSeq`,
        [row.node, row.last_contiguous_seq],
      );
      this.tracker.restore(row.node, {
        lastContiguousSeq: row.last_contiguous_seq,
        highestSeq: row.highest_seq,
        ahead,
      });
      this.knownNodes.add(row.node);
      this.committed.set(row.node, {
        lastContiguousSeq: row.last_contiguous_seq,
        highestSeq: row.highest_seq,
        gaps: this.tracker.gaps(row.node),
      });
      for (const gap of this.tracker.gaps(row.node))
        this.log({ level: "error", msg: "gap: events missing", node: row.node, ...gap });
    }
    const rejected = await db.get<{ n: number }>("SELECT count(*) AS n FROM ingest_rejected");
    this.rejected = rejected?.n ?? 0;
  }

  /** The first stream sequence SQLite does not have yet. */
  private async startSequence(info: StreamInfo): Promise<number> {
    this.streamCreated = info.created;
    const cursor = await this.options.db.get<{ stream_created: string; last_stream_seq: number }>(
      "SELECT stream_created, last_stream_seq FROM ingest_cursor WHERE stream = ?",
      [EVENT_STREAM],
    );
    if (cursor === undefined) return 1;
    if (cursor.stream_created !== info.created || cursor.last_stream_seq > info.state.last_seq) {
      this.log({
        level: "warn",
        msg: "the stream is not the one this database was reading; reading it from its start",
        streamCreated: info.created,
        databaseSaw: cursor.stream_created,
      });
      return 1;
    }
    this.lastStreamSeq = cursor.last_stream_seq;
    return cursor.last_stream_seq + 1;
  }

  /** Creates the durable consumer, or re-creates it when it is not positioned at startSeq. */
  private async placeConsumer(jsm: JetStreamManager, startSeq: number): Promise<void> {
    const durable = this.options.durable;
    const existing = await jsm.consumers.info(EVENT_STREAM, durable).catch(() => undefined);
    if (existing !== undefined) {
      if (existing.num_ack_pending === 0 && existing.delivered.stream_seq === startSeq - 1) return;
      // Messages handed to a previous ingest and never committed would come back only after the ack
      // wait; placing the consumer at SQLite's position gets them at once.
      this.log({
        level: "info",
        msg: "re-placing durable consumer at the database's position",
        durable,
        startSeq,
        consumerWasAt: existing.delivered.stream_seq,
      });
      await jsm.consumers.delete(EVENT_STREAM, durable);
    }
    const config: Partial<ConsumerConfig> = {
      durable_name: durable,
      ack_policy: AckPolicy.Explicit,
      filter_subject: EVENT_SUBJECT_WILDCARD,
      ack_wait: nanos(ACK_WAIT_MS),
      max_ack_pending: MAX_ACK_PENDING,
      ...(startSeq <= 1
        ? { deliver_policy: DeliverPolicy.All }
        : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: startSeq }),
    };
    await jsm.consumers.add(EVENT_STREAM, config);
  }

  // ---- consuming: message → plan --------------------------------------------------------------

  private async consumeLoop(): Promise<void> {
    try {
      for await (const msg of this.messages!) {
        if (this.stopping) break;
        this.queue.push(this.plan(msg));
        this.writerWake?.();
        while (this.queue.length >= this.options.queuedMessagesMax && !this.stopping) {
          await new Promise<void>((resolve) => (this.roomWaiter = resolve));
        }
      }
    } catch (error) {
      this.fail(new IngestError(`consumer failed: ${(error as Error).message}`, { cause: error }));
    }
    this.stopping = true;
    this.writerWake?.();
  }

  /** Decodes and checks one message and builds the statements that store it (or reject it). */
  private plan(msg: JsMsg): Plan {
    this.pendingMessages = msg.info.pending;
    const subjectNode = nodeOfSubject(msg.subject);
    if (subjectNode === undefined) return this.rejection(msg, `subject ${msg.subject} is not daxsim.events.<node>`);
    let batch: DecodedBatch;
    let layout;
    try {
      batch = decodeBatch(msg.data);
      layout = eventBatchLayout(msg.data);
    } catch (error) {
      if (!(error instanceof WireFormatError)) throw error;
      return this.rejection(msg, error.message);
    }
    if (batch.node !== subjectNode)
      return this.rejection(msg, `batch of node ${batch.node} on the subject of node ${subjectNode}`);
    if (layout.offsets.length !== batch.events.length)
      return this.rejection(msg, `layout found ${layout.offsets.length} events, decoder ${batch.events.length}`);
    const lastSeq = batch.firstSeq + batch.events.length - 1;
    if (!Number.isSafeInteger(lastSeq)) return this.rejection(msg, `seqs beyond 2^53 (first ${batch.firstSeq})`);
    const msgId = msg.headers?.get(MSG_ID_HEADER) ?? "";
    const expectedId = batchMsgId(batch.node, batch.firstSeq);
    if (msgId !== expectedId) return this.rejection(msg, `${MSG_ID_HEADER} "${msgId}", expected "${expectedId}"`);
    return this.batchPlan(msg, batch, layout, lastSeq);
  }

  private batchPlan(
    msg: JsMsg,
    batch: DecodedBatch,
    layout: ReturnType<typeof eventBatchLayout>,
    lastSeq: number,
  ): Plan {
    const node = batch.node;
    const effect = this.tracker.add(node, batch.firstSeq, lastSeq);
    const now = new Date().toISOString();
    const statements: SqlStatement[] = effect.duplicate ? [] : batchStatements(batch, msg.data, layout);
    if (!this.knownNodes.has(node)) {
      this.knownNodes.add(node);
      statements.push({
        sql: "INSERT OR IGNORE INTO nodes (node, first_ingested_at) VALUES (?, ?)",
        params: [node, now],
      });
    }
    const progress = this.tracker.progress(node)!;
    statements.push({
      sql: `INSERT INTO ingest_progress (node, last_contiguous_seq, highest_seq, updated_at) VALUES (?, ?, ?, ?)
            ON CONFLICT (node) DO UPDATE SET last_contiguous_seq = excluded.last_contiguous_seq, highest_seq = excluded.highest_seq, updated_at = excluded.updated_at`,
      params: [node, progress.lastContiguousSeq, progress.highestSeq, now],
    });
    const opened = rangesNotIn(effect.gapsAfter, effect.gapsBefore);
    const closed = rangesNotIn(effect.gapsBefore, effect.gapsAfter);
    statements.push(...gapStatements(node, opened, closed, now));
    return {
      msg,
      statements,
      action: "ack",
      streamSeq: msg.info.streamSequence,
      node: {
        id: node,
        status: {
          lastContiguousSeq: progress.lastContiguousSeq,
          highestSeq: progress.highestSeq,
          gaps: effect.gapsAfter,
        },
        opened,
        closed,
      },
      events: effect.duplicate ? 0 : batch.events.length,
    };
  }

  private rejection(msg: JsMsg, reason: string): Plan {
    return {
      msg,
      statements: [
        {
          sql: "INSERT OR IGNORE INTO ingest_rejected (stream, stream_seq, subject, bytes, reason, at) VALUES (?, ?, ?, ?, ?, ?)",
          params: [
            EVENT_STREAM,
            msg.info.streamSequence,
            msg.subject,
            msg.data.length,
            reason,
            new Date().toISOString(),
          ],
        },
      ],
      action: "term",
      streamSeq: msg.info.streamSequence,
      events: 0,
      rejectReason: reason,
    };
  }

  // ---- writing: plans → SQLite → ack ----------------------------------------------------------

  private async writeLoop(): Promise<void> {
    try {
      for (;;) {
        if (this.queue.length === 0) {
          if (this.stopping) break;
          await new Promise<void>((resolve) => (this.writerWake = resolve));
          this.writerWake = undefined;
          continue;
        }
        const plans = this.queue.splice(0, this.options.transactionBatchesMax);
        this.roomWaiter?.();
        this.roomWaiter = undefined;
        await this.commit(plans);
      }
      this.settleDone.resolve();
    } catch (error) {
      this.fail(
        error instanceof IngestError
          ? error
          : new IngestError(`SQLite write failed: ${(error as Error).message}`, { cause: error }),
      );
    }
  }

  private async commit(plans: Plan[]): Promise<void> {
    const last = plans[plans.length - 1]!;
    const statements = plans.flatMap((p) => p.statements);
    statements.push({
      sql: `INSERT INTO ingest_cursor (stream, stream_created, last_stream_seq, updated_at) VALUES (?, ?, ?, ?)
            ON CONFLICT (stream) DO UPDATE SET stream_created = excluded.stream_created, last_stream_seq = max(last_stream_seq, excluded.last_stream_seq), updated_at = excluded.updated_at`,
      params: [EVENT_STREAM, this.streamCreated, last.streamSeq, new Date().toISOString()],
    });
    await this.options.db.transaction(statements);
    for (const plan of plans) this.committedPlan(plan);
    this.wakeSeqWaiters();
  }

  private committedPlan(plan: Plan): void {
    if (plan.action === "term") {
      plan.msg.term(plan.rejectReason);
      this.rejected++;
      this.log({
        level: "error",
        msg: "rejected message",
        streamSeq: plan.streamSeq,
        subject: plan.msg.subject,
        reason: plan.rejectReason,
      });
    } else {
      plan.msg.ack();
    }
    this.lastStreamSeq = Math.max(this.lastStreamSeq, plan.streamSeq);
    if (plan.node === undefined) return;
    for (const gap of plan.node.opened)
      this.log({ level: "error", msg: "gap: events missing", node: plan.node.id, ...gap });
    for (const gap of plan.node.closed)
      this.log({ level: "info", msg: "gap closed or narrowed", node: plan.node.id, ...gap });
    this.committed.set(plan.node.id, plan.node.status);
    this.batchesCommitted++;
    this.eventsCommitted += plan.events;
  }

  private wakeSeqWaiters(): void {
    for (let i = this.seqWaiters.length - 1; i >= 0; i--) {
      const w = this.seqWaiters[i]!;
      const done = w.node === "" || (this.committed.get(w.node)?.lastContiguousSeq ?? 0) >= w.seq;
      if (done) {
        this.seqWaiters.splice(i, 1);
        w.resolve();
      }
    }
  }

  private fail(error: Error): void {
    if (this.failure !== undefined) return;
    this.failure = error;
    this.stopping = true;
    this.log({ level: "error", msg: "ingest stopped", error: error.message });
    for (const w of this.seqWaiters.splice(0)) w.reject(error);
    void this.messages?.close().catch(() => undefined);
    this.writerWake?.();
    this.roomWaiter?.();
    this.settleDone.reject(error);
  }
}

/** The ranges of `ranges` that are not exactly a range of `others`. */
function rangesNotIn(ranges: SeqRange[], others: SeqRange[]): SeqRange[] {
  return ranges.filter((r) => !others.some((o) => o.fromSeq === r.fromSeq && o.toSeq === r.toSeq));
}

/** Rows of ingest_gaps to close (gone or changed) and to open (new). */
function gapStatements(node: string, opened: SeqRange[], closed: SeqRange[], now: string): SqlStatement[] {
  const out: SqlStatement[] = [];
  for (const gap of closed) {
    out.push({
      sql: "UPDATE ingest_gaps SET closed_at = ? WHERE node = ? AND from_seq = ? AND to_seq = ? AND closed_at IS NULL",
      params: [now, node, gap.fromSeq, gap.toSeq],
    });
  }
  for (const gap of opened) {
    out.push({
      sql: "INSERT INTO ingest_gaps (node, from_seq, to_seq, opened_at) VALUES (?, ?, ?, ?)",
      params: [node, gap.fromSeq, gap.toSeq, now],
    });
  }
  return out;
}
