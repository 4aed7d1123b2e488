/**
 * The public surface of node/: the emulated DIMM and its persistence model, the event log and sinks,
 * and the simulation's seeded randomness and clock. Later layers (filesystem, processes, outbox,
 * NodeControl server) are added here as they arrive.
 */
export { Dimm, DIRECT_STORE, JOURNAL_RECORDS_MAX_DEFAULT, PENDING_BYTES_MAX_DEFAULT } from "./dimm/dimm.js";
export type { DimmOptions, StoreMeta } from "./dimm/dimm.js";
export { DimmState } from "./dimm/state.js";
export type { LineCacheState } from "./dimm/state.js";
export { applyEvent, isDimmEvent, lineVersion, pendingLineVersions, tornLineVersion } from "./dimm/apply.js";
export type { PendingLine } from "./dimm/apply.js";
export { decidePowerLoss, checkPolicy } from "./dimm/power_loss.js";
export { DimmArgumentError, DimmConfigError, DimmDivergenceError, DimmRangeError } from "./dimm/errors.js";
export {
  CHUNK_BYTES,
  DIMM_BYTES_MAX,
  DIMM_BYTES_MIN,
  LINE_BYTES,
  PAGE_BYTES,
  WORD_BYTES,
  checkDimmSize,
  formatSize,
  parseSize,
} from "./dimm/geometry.js";
export { CountingSink, EventLog, MemorySink, NullSink } from "./events/event_log.js";
export type { AppendListener, EventLogOptions, EventSink } from "./events/event_log.js";
export { ManualClock, StepClock } from "./sim/clock.js";
export type { Clock } from "./sim/clock.js";
export { Prng, PrngSeedError, parseSeed } from "./sim/prng.js";
export {
  NatsOutbox,
  OUTBOX_DEFAULTS,
  OutboxClosedError,
  OutboxEventTooLargeError,
  OutboxOverflowError,
  OutboxSequenceError,
  connectOutbox,
  estimateEventBytes,
} from "./events/nats_outbox.js";
export type { NatsOutboxOptions, OutboxStats } from "./events/nats_outbox.js";
export { ensureEventStream, eventStreamConfig } from "./events/event_stream.js";
export {
  ImageCorruptError,
  ImageError,
  ImageForeignError,
  ImageInconsistentError,
  ImageIoError,
  ImageNotFoundError,
  ImageTruncatedError,
  ImageVersionError,
  machineFromImage,
  readImage,
  readImageHeader,
  saveImage,
  shutDown,
  writeImage,
} from "./image/index.js";
export type { DimmImage, ImageGeometry, ImageHeader } from "./image/index.js";
export {
  OP_NAMES,
  WorkloadFileError,
  WorkloadOpError,
  WorkloadSession,
  machineForWorkload,
  parseOp,
  parseWorkload,
} from "./workload/index.js";
export type { ExecOptions, OpRecord, ParsedOp, SessionOptions, Workload, WorkloadSettings } from "./workload/index.js";
export { XfsIo } from "./xfs_io/index.js";
export type { XfsIoOptions } from "./xfs_io/index.js";
export {
  CancelledError,
  FailedPreconditionError,
  InvalidArgumentError,
  NodeRuntime,
  NotFoundError,
  ResourceExhaustedError,
  RpcError,
  UnavailableError,
  readDurableLog,
  rpcStatusOf,
  startGrpcServer,
  startNodeProcess,
} from "./control/index.js";
export type { InjectedPowerLoss, NodeProcess, NodeProcessOptions, NodeSettings } from "./control/index.js";
