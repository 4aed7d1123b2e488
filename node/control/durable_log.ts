/**
 * A node's durable log, read back from JetStream when its process starts: every EventBatch on its
 * subject daxsim.events.<node>, in stream order, through an ordered consumer. This is what a node
 * killed with SIGKILL rebuilds its media from (node_runtime.ts), so it must be exactly the events
 * that JetStream acknowledged — no more (nothing from memory) and no less.
 *
 * Invariants: the events returned have consecutive seqs 1..lastSeq; a batch re-sent after the
 * duplicate window (so stored twice) contributes its events once; a hole in the seqs is an error
 * (DurableLogGapError), never skipped; messages that are not this node's batches are ignored, as
 * ingest rejects them. Only DIMM events (and the last event's envelope) are kept in memory.
 */
import { jetstream, jetstreamManager, JetStreamApiError } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { decodeBatch } from "../../proto/codec.js";
import { WireFormatError } from "../../proto/errors.js";
import type { DimmEvent, Event, Persistence } from "../../proto/events.js";
import { EVENT_STREAM, eventSubject } from "../../proto/subjects.js";
import { isDimmEvent } from "../dimm/apply.js";
import { ensureEventStream } from "../events/event_stream.js";

/** Store bytes a restore keeps in memory at most (the DIMM events of the whole log). */
export const RESTORE_BYTES_MAX = 8 * 1024 * 1024 * 1024;
/** JetStream API error code of "no message found". */
const NO_MESSAGE_FOUND_CODE = 10037;
const FETCH_BATCH_MESSAGES = 256;

/** The stored log has a hole: events are missing, so the media cannot be rebuilt. */
export class DurableLogGapError extends Error {
  override readonly name = "DurableLogGapError";
  constructor(
    readonly node: string,
    readonly expectedSeq: number,
    readonly foundSeq: number,
  ) {
    super(`the durable log of ${node} has a gap: expected seq ${expectedSeq}, found ${foundSeq}`);
  }
}

/** The stored log does not fit this node's settings (persistence domain), or memory. */
export class DurableLogMismatchError extends Error {
  override readonly name = "DurableLogMismatchError";
}

export interface DurableLog {
  /** DIMM events (store, flush, fence, powerLoss) in seq order. */
  dimmEvents: DimmEvent[];
  /** Envelope of the last event (undefined: the node has no log yet). */
  last: Event | undefined;
  lastSeq: number;
  /** Batches stored twice (re-sent after the duplicate window), skipped. */
  duplicateBatches: number;
  /** Messages on the subject that were not a valid batch of this node, skipped. */
  ignoredMessages: number;
  /** Persistence domain recorded by the log's power losses, if any. */
  persistence: Persistence | undefined;
}

export async function readDurableLog(nc: NatsConnection, node: string): Promise<DurableLog> {
  const subject = eventSubject(node);
  const jsm = await jetstreamManager(nc);
  await ensureEventStream(nc, jsm);
  const result: DurableLog = {
    dimmEvents: [],
    last: undefined,
    lastSeq: 0,
    duplicateBatches: 0,
    ignoredMessages: 0,
    persistence: undefined,
  };
  let lastStreamSeq: number;
  try {
    const lastMessage = await jsm.streams.getMessage(EVENT_STREAM, { last_by_subj: subject });
    if (lastMessage === null) return result;
    lastStreamSeq = lastMessage.seq;
  } catch (error) {
    if (error instanceof JetStreamApiError && error.code === NO_MESSAGE_FOUND_CODE) return result;
    throw error;
  }
  const consumer = await jetstream(nc).consumers.get(EVENT_STREAM, { filter_subjects: subject });
  let bytes = 0;
  for (;;) {
    const messages = await consumer.fetch({ max_messages: FETCH_BATCH_MESSAGES, expires: 5_000 });
    let streamSeq = 0;
    for await (const msg of messages) {
      streamSeq = msg.seq;
      bytes += foldMessage(result, node, msg.data);
      if (bytes > RESTORE_BYTES_MAX)
        throw new DurableLogMismatchError(
          `the durable log of ${node} holds more than ${RESTORE_BYTES_MAX} bytes of DIMM events; too large to restore in memory`,
        );
      if (streamSeq >= lastStreamSeq) break;
    }
    if (streamSeq >= lastStreamSeq) break;
  }
  await consumer.delete().catch(() => undefined);
  return result;
}

/** Adds one message's events to the log; returns the store bytes kept. */
function foldMessage(log: DurableLog, node: string, data: Uint8Array): number {
  let batch;
  try {
    batch = decodeBatch(data);
  } catch (error) {
    if (!(error instanceof WireFormatError)) throw error;
    log.ignoredMessages++;
    return 0;
  }
  if (batch.node !== node) {
    log.ignoredMessages++;
    return 0;
  }
  const lastOfBatch = batch.firstSeq + batch.events.length - 1;
  if (lastOfBatch <= log.lastSeq) {
    log.duplicateBatches++;
    return 0;
  }
  let bytes = 0;
  for (const ev of batch.events) {
    if (ev.seq <= log.lastSeq) continue;
    if (ev.seq !== log.lastSeq + 1) throw new DurableLogGapError(node, log.lastSeq + 1, ev.seq);
    log.lastSeq = ev.seq;
    log.last = ev;
    if (!isDimmEvent(ev)) continue;
    if (ev.kind === "powerLoss") log.persistence = ev.persistence;
    if (ev.kind === "store") bytes += ev.data.length;
    log.dimmEvents.push(ev);
  }
  return bytes;
}
