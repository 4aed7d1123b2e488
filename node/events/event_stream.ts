/**
 * The JetStream stream DAXSIM_EVENTS, created with the documented limits (proto/subjects.ts) when it
 * is missing. Both ends call this: a node may start before the coordinator and must not lose its
 * first batches for want of a stream; the coordinator may start first and attach its consumer.
 *
 * Invariant: an existing stream is never reconfigured here; only its absence is repaired.
 */
import { DiscardPolicy, JetStreamApiError, jetstreamManager, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import type { JetStreamManager, StreamConfig, StreamInfo } from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { EVENT_STREAM, EVENT_STREAM_LIMITS, EVENT_SUBJECT_WILDCARD } from "../../proto/subjects.js";

export function eventStreamConfig(): Partial<StreamConfig> & { name: string } {
  const limits = EVENT_STREAM_LIMITS;
  return {
    name: EVENT_STREAM,
    subjects: [EVENT_SUBJECT_WILDCARD],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.New,
    max_bytes: limits.maxBytes,
    max_msg_size: limits.maxMsgBytes,
    max_age: nanos(limits.maxAgeMs),
    max_msgs_per_subject: limits.maxMsgsPerSubject,
    duplicate_window: nanos(limits.duplicateWindowMs),
    num_replicas: 1,
  };
}

/** Creates DAXSIM_EVENTS if missing; returns its info either way. */
export async function ensureEventStream(nc: NatsConnection, jsm?: JetStreamManager): Promise<StreamInfo> {
  const manager = jsm ?? (await jetstreamManager(nc));
  try {
    return await manager.streams.info(EVENT_STREAM);
  } catch (error) {
    if (!isStreamNotFound(error)) throw error;
  }
  // Two processes may race here; the server accepts an identical config twice.
  return manager.streams.add(eventStreamConfig());
}

/** JetStream API error code of "stream not found". */
const STREAM_NOT_FOUND_CODE = 10059;

function isStreamNotFound(error: unknown): boolean {
  return error instanceof JetStreamApiError && error.code === STREAM_NOT_FOUND_CODE;
}
