/**
 * The NATS contract of the event transport: subject names, the JetStream stream that keeps them,
 * the de-duplication id of each message, and the stream's limits. Node (publisher) and coordinator
 * (consumer) both take these from here, so the two ends cannot disagree.
 *
 * Invariants: a node id is one NATS subject token of [A-Za-z0-9_-] (so it is also safe inside SQL
 * text and file names); every message on `daxsim.events.<node>` is one EventBatch of that node and
 * carries `Nats-Msg-Id: <node>:<firstSeq>`, which names its content exactly: a re-send of the same
 * batch has the same id and JetStream drops it inside the duplicate window.
 */

/** Subjects are `daxsim.events.<node>`. */
export const EVENT_SUBJECT_PREFIX = "daxsim.events.";
/** Every node's events: the stream's subject filter and the consumer's. */
export const EVENT_SUBJECT_WILDCARD = "daxsim.events.*";
/** The JetStream stream holding every node's events. */
export const EVENT_STREAM = "DAXSIM_EVENTS";
/** The header JetStream de-duplicates on. */
export const MSG_ID_HEADER = "Nats-Msg-Id";

/** Longest node id accepted; keeps subjects, message ids and log lines short. */
export const NODE_ID_BYTES_MAX = 64;
const NODE_ID_PATTERN = /^[A-Za-z0-9_-]+$/;

export function isValidNodeId(node: string): boolean {
  return node.length >= 1 && node.length <= NODE_ID_BYTES_MAX && NODE_ID_PATTERN.test(node);
}

/** A node id that is not one safe subject token. */
export class NodeIdError extends Error {
  override readonly name = "NodeIdError";
  constructor(readonly node: string) {
    super(`node id "${node}" must be 1–${NODE_ID_BYTES_MAX} characters of A-Z a-z 0-9 _ -`);
  }
}

export function checkNodeId(node: string): string {
  if (!isValidNodeId(node)) throw new NodeIdError(node);
  return node;
}

export function eventSubject(node: string): string {
  return EVENT_SUBJECT_PREFIX + checkNodeId(node);
}

/** The node a subject belongs to, or undefined when it is not `daxsim.events.<valid node>`. */
export function nodeOfSubject(subject: string): string | undefined {
  if (!subject.startsWith(EVENT_SUBJECT_PREFIX)) return undefined;
  const node = subject.slice(EVENT_SUBJECT_PREFIX.length);
  return isValidNodeId(node) ? node : undefined;
}

/** `Nats-Msg-Id` of the batch of `node` whose first event has seq `firstSeq`. */
export function batchMsgId(node: string, firstSeq: number): string {
  if (!Number.isSafeInteger(firstSeq) || firstSeq < 1)
    throw new RangeError(`firstSeq ${firstSeq} must be an integer ≥ 1`);
  return `${checkNodeId(node)}:${firstSeq}`;
}

const MiB = 1024 * 1024;

/**
 * Limits of the DAXSIM_EVENTS stream (created with these when missing, by
 * node/events/event_stream.ts, which also sets the policies below). JetStream is the transport
 * and SQLite the permanent log, but nothing may be dropped before ingest has it, so:
 *   - retention "limits", discard "new": when a limit is reached the *publisher* gets an error and
 *     the node waits (back-pressure); old messages are never thrown away to make room;
 *   - no age limit and no per-subject message limit;
 *   - maxBytes: the stream's whole size on disk; a run folder's private server has room for this;
 *   - maxMsgBytes: the largest EventBatch (the server's max_payload must be at least this);
 *   - duplicateWindowMs: how long a `Nats-Msg-Id` is remembered; a node re-sends an unacknowledged
 *     batch well within it (seconds), and ingest's INSERT OR IGNORE covers anything later.
 */
export const EVENT_STREAM_LIMITS = Object.freeze({
  maxBytes: 8 * 1024 * MiB,
  maxMsgBytes: 8 * MiB,
  duplicateWindowMs: 120_000,
  maxAgeMs: 0,
  maxMsgsPerSubject: -1,
});

/**
 * Node discovery (core NATS, not JetStream): every node publishes a protobuf NodeAnnouncement
 * (node.proto) on NODE_ANNOUNCE_SUBJECT when it starts, every heartbeat while it runs, and when it
 * stops; a coordinator that starts later publishes anything on NODE_DISCOVER_SUBJECT and every node
 * answers with an announcement. So nodes on other hosts of one NATS cluster join without settings.
 */
export const NODE_ANNOUNCE_SUBJECT = "daxsim.nodes.announce";
export const NODE_DISCOVER_SUBJECT = "daxsim.nodes.discover";

/** Connection settings of daxsim's long-lived NATS clients (node, outbox, coordinator, ingest): reconnect forever, quickly, on their own. */
export const NATS_CONNECTION = Object.freeze({
  reconnect: true,
  maxReconnectAttempts: -1,
  reconnectTimeWait: 100,
  pingInterval: 5_000,
  maxPingOut: 3,
});
