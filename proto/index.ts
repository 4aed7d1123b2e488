/** The public surface of proto/: the event contract (domain and wire forms) and its codec. */
export type {
  DimmEvent,
  Event,
  EventHeader,
  EventKind,
  FaultEvent,
  FaultOutcome,
  FenceEvent,
  FlushEvent,
  FlushKind,
  LineDecision,
  LineFate,
  MountEvent,
  OpEvent,
  Persistence,
  PowerLossEvent,
  PowerLossPolicy,
  Provenance,
  Source,
  StoreEvent,
  UnmappedPte,
} from "./events.js";
export {
  DIRECT,
  EVENT_KINDS,
  FLUSH_KINDS,
  PERSISTENCE_DOMAINS,
  POWER_LOSS_POLICIES,
  isPersistence,
  isPowerLossPolicy,
  lineFate,
  linesLost,
  linesPartlyLost,
} from "./events.js";
export {
  decodeBatch,
  decodeEvent,
  encodeBatch,
  encodeEvent,
  persistenceToWire,
  policyFromWire,
  policyToWire,
} from "./codec.js";
export type { DecodedBatch } from "./codec.js";
export { WireFormatError } from "./errors.js";
export {
  EVENT_STREAM,
  EVENT_STREAM_LIMITS,
  EVENT_SUBJECT_PREFIX,
  EVENT_SUBJECT_WILDCARD,
  MSG_ID_HEADER,
  NODE_ANNOUNCE_SUBJECT,
  NODE_DISCOVER_SUBJECT,
  NODE_ID_BYTES_MAX,
  NodeIdError,
  batchMsgId,
  checkNodeId,
  eventSubject,
  isValidNodeId,
  nodeOfSubject,
} from "./subjects.js";
export { EVENT_COLUMNS, SCHEMA_DDL, SCHEMA_VERSION, SQLITE_PRAGMAS } from "./sqlite_schema.js";
export { eventBatchLayout } from "./batch_layout.js";
export type { BatchLayout } from "./batch_layout.js";

export { decodeEventInRunFast, decodeEventRange } from "./fast_codec.js";
export { eventJson, jsonInteger, opRecordJson, powerLossResultJson, statusJson, toPlainJson } from "./json_shapes.js";
