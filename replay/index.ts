/**
 * The public surface of replay/: reading a node's event log back (SQLite or memory), rebuilding its
 * DIMM at any seq with the node's own pure apply function (node/dimm/apply.ts) while checking every
 * media hash the node recorded, the survival report of a power loss, and exports (DIMM image,
 * PMDK pmreorder store log). replay/ imports proto and node only, never coordinator.
 */
export {
  DimmGeometryError,
  EventLogFileError,
  LogCorruptEventError,
  LogDuplicateError,
  LogGapError,
  LogRowMismatchError,
  LogTruncatedError,
  NodeNotFoundError,
  PowerLossNotFoundError,
  ReplayDivergenceError,
  ReplayError,
  ReplayLimitError,
} from "./errors.js";
export { MemoryEventLog } from "./event_source.js";
export type { DimmGeometry, EventLogSource, LogInfo } from "./event_source.js";
export { PAGE_EVENTS_DEFAULT, PAGE_EVENTS_MAX, SqliteEventLog } from "./sqlite_log.js";
export type { SqliteEventLogOptions } from "./sqlite_log.js";
export type { GeometrySource, ResolvedGeometry } from "./geometry.js";
export { replayLog } from "./replayer.js";
export type { HashCheck, ReplayObserver, ReplayOptions, ReplayResult } from "./replayer.js";
export { writeMediaImage } from "./media_image.js";
export { STORES_MAX_DEFAULT, SURVIVAL_CATEGORIES, survivalCategory, survivalReport } from "./survival.js";
export type {
  BeyondEofOutcome,
  LineOutcome,
  StoreOutcome,
  SurvivalCategory,
  SurvivalOptions,
  SurvivalReport,
  SurvivalTotals,
  ZeroReason,
  ZeroingRef,
} from "./survival.js";
export { SURVIVAL_FORMATS, formatSurvival } from "./survival_format.js";
export type { FormatOptions, SurvivalFormat } from "./survival_format.js";
export {
  PMREORDER_MAP_BASE_DEFAULT,
  PmreorderExportError,
  PmreorderParseError,
  exportPmreorder,
  parsePmreorderLog,
  writeRawMedia,
} from "./pmreorder.js";
export type { PmreorderEntry, PmreorderExportOptions, PmreorderExportStats } from "./pmreorder.js";
export { decodeEventFast } from "./wire_decode.js";
