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
} from "./events.js";
export {
  decodeBatch,
  decodeEvent,
  encodeBatch,
  encodeEvent,
  eventFromWire,
  eventToWire,
} from "./codec.js";
export type { DecodedBatch } from "./codec.js";
export { WireFormatError } from "./errors.js";
