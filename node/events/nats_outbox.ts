/**
 * The NATS outbox: an EventSink that ships a node's events to JetStream (stream DAXSIM_EVENTS,
 * subject daxsim.events.<node>) as protobuf EventBatch messages.
 *
 * It owns the events between the node's log and JetStream's acknowledgement. write() only buffers
 * (the simulated kernel is synchronous); a batch is sealed when it reaches batchEventsMax events or
 * about batchBytesMax bytes, after lingerMs, or at flush(). Sealed batches are published with
 * `Nats-Msg-Id: <node>:<firstSeq>`, at most inFlightBatchesMax awaiting their ack at once; a failed
 * or timed-out publish is re-sent, same bytes and same id, until acknowledged (JetStream drops the
 * copy if the first one did arrive), so nothing is lost and nothing duplicated.
 *
 * Invariants:
 *   - events arrive with consecutive seqs (starting anywhere ≥ 1: a restarted node resumes its log);
 *   - a batch's payload is never modified or reused after sealing (nats.js keeps a reference);
 *   - flush() resolves only when every event written before the call is acknowledged by JetStream:
 *     the write-ahead rule for fsync, msync(MS_SYNC), power loss and shutdown;
 *   - memory is bounded: ready() holds the node back while sealed-but-unacked plus buffered bytes
 *     are at or above unackedBytesMax, and write() refuses to go past bufferedBytesHardMax (a caller
 *     that never awaits ready() is a programming error).
 */
import { jetstream } from "@nats-io/jetstream";
import type { JetStreamClient, PubAck } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { encodeBatch } from "../../proto/codec.js";
import type { Event } from "../../proto/events.js";
import {
  EVENT_STREAM,
  EVENT_STREAM_LIMITS,
  NATS_CONNECTION,
  batchMsgId,
  checkNodeId,
  eventSubject,
} from "../../proto/subjects.js";
import type { EventSink } from "./event_log.js";
import { ensureEventStream } from "./event_stream.js";

export interface NatsOutboxOptions {
  node: string;
  /** Events per EventBatch at most. */
  batchEventsMax?: number;
  /** Estimated encoded bytes per EventBatch at most (clamped to the server's max_payload). */
  batchBytesMax?: number;
  /** A non-empty batch is sealed at the latest this long after its first event. */
  lingerMs?: number;
  /** Published batches awaiting their JetStream ack at once. */
  inFlightBatchesMax?: number;
  /** ready() waits while unacked + buffered bytes are at or above this (back-pressure). */
  unackedBytesMax?: number;
  /** write() throws OutboxOverflowError past this many unacked + buffered bytes. */
  bufferedBytesHardMax?: number;
  /** How long one publish waits for its ack before it is re-sent. */
  publishTimeoutMs?: number;
  /** Longest pause between re-sends of a failed batch (backoff doubles from 20 ms up to this). */
  retryDelayMsMax?: number;
  /** Told about every failed publish (it is retried); for logs. */
  onPublishError?: (error: unknown, msgId: string, attempt: number) => void;
}

export const OUTBOX_DEFAULTS = Object.freeze({
  batchEventsMax: 4096,
  batchBytesMax: 512 * 1024,
  lingerMs: 5,
  inFlightBatchesMax: 16,
  unackedBytesMax: 32 * 1024 * 1024,
  bufferedBytesHardMax: 1024 * 1024 * 1024,
  publishTimeoutMs: 5000,
  retryDelayMsMax: 2000,
});

/** write()/flush() after close(), or a close() that gave up: the outbox takes no more events. */
export class OutboxClosedError extends Error {
  override readonly name = "OutboxClosedError";
}

/** write() past bufferedBytesHardMax: the node did not await ready() between operations. */
export class OutboxOverflowError extends Error {
  override readonly name = "OutboxOverflowError";
}

/** One event whose encoding alone exceeds the largest message the stream accepts. */
export class OutboxEventTooLargeError extends Error {
  override readonly name = "OutboxEventTooLargeError";
  constructor(
    readonly seq: number,
    readonly bytes: number,
    readonly maxBytes: number,
  ) {
    super(`event seq ${seq} encodes to ${bytes} bytes, more than the ${maxBytes}-byte message limit`);
  }
}

/** write() got an event whose seq does not follow the previous one (a programming error). */
export class OutboxSequenceError extends Error {
  override readonly name = "OutboxSequenceError";
}

export interface OutboxStats {
  eventsWritten: number;
  /** Every seq ≤ this is acknowledged by JetStream (firstSeq - 1 before the first ack). */
  ackedThroughSeq: number;
  batchesSealed: number;
  batchesAcked: number;
  /** Acks JetStream marked duplicate (a re-send whose first copy had arrived). */
  duplicateAcks: number;
  publishRetries: number;
  unackedBytes: number;
  bufferedEvents: number;
}

interface SealedBatch {
  readonly firstSeq: number;
  readonly lastSeq: number;
  readonly msgId: string;
  readonly payload: Uint8Array;
  state: "queued" | "in-flight" | "backoff" | "acked";
  attempts: number;
}

interface Waiter {
  resolve: () => void;
  reject: (error: Error) => void;
}

const RETRY_DELAY_MS_MIN = 20;
/** Protobuf framing of one event in a batch, generously: envelope fields, tags and lengths. */
const EVENT_OVERHEAD_BYTES = 48;
/** Room left in a message for NATS headers. */
const HEADER_ROOM_BYTES = 4096;

/** An upper bound on the encoded size of `ev` inside a batch (never an underestimate). */
export function estimateEventBytes(ev: Event, nodeBytes: number): number {
  const base = EVENT_OVERHEAD_BYTES + nodeBytes;
  switch (ev.kind) {
    case "store":
      return base + 96 + ev.data.length;
    case "flush":
    case "fence":
      return base + 64;
    case "powerLoss": {
      let lines = 0;
      for (const d of ev.lines) lines += 32 + 6 * d.wordKept.length;
      return base + 64 + ev.mediaSha256.length + 3 * ev.reason.length + lines;
    }
    case "fault":
      return base + 96 + 24 * ev.unmapped.length;
    case "op":
      return base + 96 + 3 * (ev.name.length + ev.argsJson.length + ev.errno.length + ev.signal.length);
    case "mount":
      return base + 64 + ev.mediaSha256.length + 3 * ev.options.length;
  }
}

export class NatsOutbox implements EventSink {
  readonly node: string;
  private readonly subject: string;
  private readonly js: JetStreamClient;
  private readonly options: Required<Omit<NatsOutboxOptions, "onPublishError">>;
  private readonly onPublishError: NatsOutboxOptions["onPublishError"];
  private readonly messageBytesMax: number;
  private readonly nodeBytes: number;

  private pending: Event[] = [];
  private pendingBytes = 0;
  private nextSeq: number | undefined;
  private lingerTimer: NodeJS.Timeout | undefined;
  /** Sealed batches in seq order, until every batch before them is acked too. */
  private readonly batches: SealedBatch[] = [];
  private inFlight = 0;
  private unackedBytes = 0;
  private readonly flushWaiters: Array<Waiter & { seq: number }> = [];
  private readonly readyWaiters: Waiter[] = [];
  private closed = false;
  private readonly counters = {
    eventsWritten: 0,
    batchesSealed: 0,
    batchesAcked: 0,
    duplicateAcks: 0,
    publishRetries: 0,
  };

  /**
   * An outbox over a connection someone else owns. `ownedConnection` is closed by close() when set
   * (connectOutbox() does that).
   */
  constructor(
    private readonly nc: NatsConnection,
    options: NatsOutboxOptions,
    private readonly ownedConnection = false,
  ) {
    this.node = checkNodeId(options.node);
    this.subject = eventSubject(this.node);
    this.nodeBytes = Buffer.byteLength(this.node);
    const o = { ...OUTBOX_DEFAULTS, ...withoutUndefined(options), node: this.node };
    this.options = o;
    this.onPublishError = options.onPublishError;
    const serverMax = nc.info?.max_payload ?? EVENT_STREAM_LIMITS.maxMsgBytes;
    this.messageBytesMax = Math.min(serverMax, EVENT_STREAM_LIMITS.maxMsgBytes) - HEADER_ROOM_BYTES;
    for (const [name, value] of Object.entries(o)) {
      if (typeof value === "number" && (!Number.isSafeInteger(value) || value < 1))
        throw new RangeError(`outbox option ${name} ${value} must be an integer ≥ 1`);
    }
    if (o.unackedBytesMax > o.bufferedBytesHardMax)
      throw new RangeError("outbox: unackedBytesMax must be ≤ bufferedBytesHardMax");
    this.options.batchBytesMax = Math.min(o.batchBytesMax, this.messageBytesMax);
    this.js = jetstream(nc, { timeout: o.publishTimeoutMs });
  }

  /** Buffers one event. Seals a batch when it is full. Never waits. */
  write(ev: Event): void {
    if (this.closed) throw new OutboxClosedError(`outbox of ${this.node} is closed`);
    if (this.nextSeq === undefined) this.nextSeq = ev.seq;
    if (ev.seq !== this.nextSeq)
      throw new OutboxSequenceError(`outbox of ${this.node}: event seq ${ev.seq}, expected ${this.nextSeq}`);
    const bytes = estimateEventBytes(ev, this.nodeBytes);
    if (this.unackedBytes + this.pendingBytes + bytes > this.options.bufferedBytesHardMax) {
      throw new OutboxOverflowError(
        `outbox of ${this.node}: ${this.unackedBytes + this.pendingBytes} bytes unacknowledged; the node must await ready() between operations`,
      );
    }
    if (this.pending.length > 0 && this.pendingBytes + bytes > this.options.batchBytesMax) this.seal();
    this.nextSeq++;
    this.pending.push(ev);
    this.pendingBytes += bytes;
    this.counters.eventsWritten++;
    if (this.pending.length >= this.options.batchEventsMax || this.pendingBytes >= this.options.batchBytesMax) {
      this.seal();
    } else if (this.lingerTimer === undefined) {
      this.lingerTimer = setTimeout(() => {
        this.lingerTimer = undefined;
        this.seal();
      }, this.options.lingerMs);
    }
  }

  /** Resolves once JetStream has acknowledged every event written so far (write-ahead rule). */
  flush(): Promise<void> {
    if (this.closed && this.batches.length === 0 && this.pending.length === 0) return Promise.resolve();
    this.seal();
    const seq = this.lastWrittenSeq;
    if (seq <= this.ackedThroughSeq) return Promise.resolve();
    return new Promise((resolve, reject) => this.flushWaiters.push({ seq, resolve, reject }));
  }

  /**
   * Resolves when unacked + buffered bytes are below unackedBytesMax (back-pressure). While batches
   * are on their way it resolves through setImmediate, never as a bare microtask: a node looping
   * `work(); await ready()` must let the event loop write publishes and read acks, or nothing is
   * sent until it stops.
   */
  ready(): Promise<void> {
    if (this.closed) return Promise.reject(new OutboxClosedError(`outbox of ${this.node} is closed`));
    if (this.unackedBytes + this.pendingBytes < this.options.unackedBytesMax) {
      return this.batches.length === 0 ? Promise.resolve() : new Promise((resolve) => setImmediate(resolve));
    }
    this.seal();
    return new Promise((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
  }

  /** Flushes everything, then stops taking events (and closes the connection when it owns it). */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    if (this.ownedConnection) await this.nc.drain();
  }

  /**
   * Stops at once without waiting for acks, as a crashing node would: pending waiters are rejected
   * with OutboxClosedError and the owned connection is closed. Unacked events are lost to this
   * process (JetStream may or may not have them).
   */
  async abandon(): Promise<void> {
    this.closed = true;
    if (this.lingerTimer !== undefined) clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
    const error = new OutboxClosedError(`outbox of ${this.node} was abandoned`);
    for (const w of this.flushWaiters.splice(0)) w.reject(error);
    for (const w of this.readyWaiters.splice(0)) w.reject(error);
    if (this.ownedConnection) await this.nc.close();
  }

  get stats(): OutboxStats {
    return {
      ...this.counters,
      ackedThroughSeq: this.ackedThroughSeq,
      unackedBytes: this.unackedBytes,
      bufferedEvents: this.pending.length,
    };
  }

  /** seq of the last event written (0 before the first). */
  get lastWrittenSeq(): number {
    return this.nextSeq === undefined ? 0 : this.nextSeq - 1;
  }

  /** Every seq ≤ this is acknowledged. */
  get ackedThroughSeq(): number {
    const head = this.batches[0];
    if (head !== undefined) return head.firstSeq - 1;
    return this.lastWrittenSeq - this.pending.length;
  }

  /** Turns the buffered events into one sealed batch and starts publishing it. */
  private seal(): void {
    if (this.lingerTimer !== undefined) {
      clearTimeout(this.lingerTimer);
      this.lingerTimer = undefined;
    }
    const events = this.pending;
    const first = events[0];
    if (first === undefined) return;
    this.pending = [];
    this.pendingBytes = 0;
    const payload = encodeBatch(this.node, events);
    if (payload.length > this.messageBytesMax) {
      // The estimate never undercounts, so only a single oversized event can get here.
      throw new OutboxEventTooLargeError(first.seq, payload.length, this.messageBytesMax);
    }
    const lastSeq = first.seq + events.length - 1;
    this.batches.push({
      firstSeq: first.seq,
      lastSeq,
      msgId: batchMsgId(this.node, first.seq),
      payload,
      state: "queued",
      attempts: 0,
    });
    this.unackedBytes += payload.length;
    this.counters.batchesSealed++;
    this.pump();
  }

  /** Publishes queued batches in seq order while in-flight acks are below their bound. */
  private pump(): void {
    for (const batch of this.batches) {
      if (this.inFlight >= this.options.inFlightBatchesMax) return;
      if (batch.state === "queued") this.publish(batch);
    }
  }

  private publish(batch: SealedBatch): void {
    batch.state = "in-flight";
    batch.attempts++;
    this.inFlight++;
    this.js.publish(this.subject, batch.payload, { msgID: batch.msgId, timeout: this.options.publishTimeoutMs }).then(
      (ack) => this.onAck(batch, ack),
      (error: unknown) => this.onPublishFailed(batch, error),
    );
  }

  private onAck(batch: SealedBatch, ack: PubAck): void {
    this.inFlight--;
    if (ack.stream !== EVENT_STREAM) {
      this.onPublishFailed(batch, new Error(`ack from stream ${ack.stream}, expected ${EVENT_STREAM}`), false);
      return;
    }
    batch.state = "acked";
    this.counters.batchesAcked++;
    if (ack.duplicate) this.counters.duplicateAcks++;
    this.unackedBytes -= batch.payload.length;
    while (this.batches[0]?.state === "acked") this.batches.shift();
    this.wakeWaiters();
    this.pump();
  }

  private onPublishFailed(batch: SealedBatch, error: unknown, inFlight = true): void {
    if (inFlight) this.inFlight--;
    this.counters.publishRetries++;
    this.onPublishError?.(error, batch.msgId, batch.attempts);
    batch.state = "backoff";
    const delayMs = Math.min(this.options.retryDelayMsMax, RETRY_DELAY_MS_MIN * 2 ** Math.min(batch.attempts - 1, 16));
    setTimeout(() => {
      if (this.closed && this.flushWaiters.length === 0) return;
      batch.state = "queued";
      this.pump();
    }, delayMs);
    this.pump();
  }

  private wakeWaiters(): void {
    const acked = this.ackedThroughSeq;
    while (this.flushWaiters.length > 0 && this.flushWaiters[0]!.seq <= acked) this.flushWaiters.shift()!.resolve();
    if (this.unackedBytes + this.pendingBytes < this.options.unackedBytesMax) {
      for (const w of this.readyWaiters.splice(0)) w.resolve();
    }
  }
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Connects to NATS, makes sure the stream exists, and returns an outbox that owns the connection. */
export async function connectOutbox(servers: string | string[], options: NatsOutboxOptions): Promise<NatsOutbox> {
  const nc = await connect({ servers, name: `daxsim-node-${checkNodeId(options.node)}`, ...NATS_CONNECTION });
  try {
    await ensureEventStream(nc);
  } catch (error) {
    await nc.close();
    throw error;
  }
  return new NatsOutbox(nc, options, true);
}
