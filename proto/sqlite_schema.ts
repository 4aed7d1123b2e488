/**
 * The schema of the coordinator's SQLite event log (`events.sqlite`), DESIGN §5. Documented with
 * example queries in docs/sqlite-schema.md; this module is the single source of the DDL.
 *
 * Invariants: `events` has exactly one row per (node, seq) and `encoded` decodes (decodeEvent) to
 * the event the other columns describe; side tables (power_losses, mounts, fault_unmapped) are
 * written in the same transaction as their event row, so a reader never sees one without the
 * other. Every statement is idempotent (IF NOT EXISTS), so opening an existing file is safe.
 */

import type { Event } from "./events.js";

export const SCHEMA_VERSION = 1;

/** Column order of `events`, as ingest writes it. */
export const EVENT_COLUMNS = [
  "node",
  "seq",
  "boot",
  "kind",
  "time",
  "address",
  "length",
  "pid",
  "vaddr",
  "inode",
  "file_offset",
  "beyond_eof",
  "op_id",
  "source",
  "flush_kind",
  "fault_outcome",
  "is_write",
  "op_name",
  "errno",
  "result",
  "encoded",
] as const;

/** A value of one `events` column as SQLite stores it. */
export type ColumnValue = number | string | null;
/** The `events` columns an event fills from its own fields (all but `node` and `encoded`). */
export type EventColumn = Exclude<(typeof EVENT_COLUMNS)[number], "node" | "encoded">;

type ColumnGetters<E extends Event> = Partial<Record<Exclude<EventColumn, "kind">, (ev: E) => ColumnValue>>;

const FAULT_MAPS_DIMM_PAGE = new Set(["allocated", "mapped", "mkwrite"]);
const PAGE_BYTES = 4096;
const safeOrNull = (value: number): number | null => (Number.isSafeInteger(value) ? value : null);
const header = { seq: (ev: Event) => ev.seq, boot: (ev: Event) => ev.boot, time: (ev: Event) => ev.time };

/**
 * What each kind of event writes into the `events` columns besides `kind` (its name): a getter per
 * column; a column not listed is NULL. Ingest writes rows with it and replay checks rows against it,
 * so the two cannot disagree.
 */
export const EVENT_ROW: { [K in Event["kind"]]: ColumnGetters<Extract<Event, { kind: K }>> } = {
  store: {
    ...header,
    address: (ev) => ev.addr,
    length: (ev) => ev.data.length,
    pid: (ev) => ev.pid,
    vaddr: (ev) => ev.vaddr,
    inode: (ev) => ev.inode,
    file_offset: (ev) => ev.fileOffset,
    beyond_eof: (ev) => (ev.beyondEof ? 1 : 0),
    op_id: (ev) => ev.opId,
    source: (ev) => ev.source,
  },
  flush: {
    ...header,
    address: (ev) => ev.addr,
    length: (ev) => ev.lines * 64,
    pid: (ev) => ev.pid,
    vaddr: (ev) => ev.vaddr,
    op_id: (ev) => ev.opId,
    source: (ev) => ev.source,
    flush_kind: (ev) => ev.flushKind,
  },
  fence: { ...header, pid: (ev) => ev.pid, vaddr: (ev) => ev.vaddr, op_id: (ev) => ev.opId, source: (ev) => ev.source },
  fault: {
    ...header,
    address: (ev) => (FAULT_MAPS_DIMM_PAGE.has(ev.outcome) ? safeOrNull(ev.pfn * PAGE_BYTES) : null),
    pid: (ev) => ev.pid,
    vaddr: (ev) => ev.vaddr,
    inode: (ev) => ev.inode,
    file_offset: (ev) => safeOrNull(ev.page * PAGE_BYTES),
    op_id: (ev) => ev.opId,
    fault_outcome: (ev) => ev.outcome,
    is_write: (ev) => (ev.write ? 1 : 0),
  },
  op: {
    ...header,
    pid: (ev) => ev.pid,
    inode: (ev) => ev.inode,
    op_id: (ev) => ev.startSeq,
    op_name: (ev) => ev.name,
    errno: (ev) => ev.errno,
    result: (ev) => ev.result,
  },
  powerLoss: { ...header },
  mount: { ...header },
};

/** Per-connection settings, run on every open (WAL: readers never block the writer). */
export const SQLITE_PRAGMAS: readonly string[] = [
  "PRAGMA journal_mode = WAL",
  // FULL: a commit is on disk before ingest acks the message to JetStream, so even an OS crash
  // cannot lose an acknowledged batch. (NORMAL would be safe against a killed process only.)
  "PRAGMA synchronous = FULL",
  "PRAGMA foreign_keys = OFF",
  "PRAGMA busy_timeout = 10000",
];

export const SCHEMA_DDL: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS schema_meta (
     key   TEXT PRIMARY KEY,
     value TEXT NOT NULL
   )`,
  // One row per event. Columns that do not apply to a kind are NULL (see docs/sqlite-schema.md).
  `CREATE TABLE IF NOT EXISTS events (
     node          TEXT    NOT NULL,
     seq           INTEGER NOT NULL,
     boot          INTEGER NOT NULL,
     kind          TEXT    NOT NULL,  -- store | flush | fence | powerLoss | fault | op | mount
     time          INTEGER NOT NULL,  -- logical ns of the node's clock
     address       INTEGER,           -- store, flush: physical DIMM address; fault: pfn * 4096 (DIMM page mapped)
     length        INTEGER,           -- store: bytes; flush: lines * 64
     pid           INTEGER,           -- store, flush, fence, fault, op (0 = no process)
     vaddr         INTEGER,           -- store, flush, fence, fault: virtual address
     inode         INTEGER,           -- store, fault, op (0 = none)
     file_offset   INTEGER,           -- store: file offset of the first byte; fault: page * 4096
     beyond_eof    INTEGER,           -- store: 1 when at or past i_size
     op_id         INTEGER,           -- the Op (its start seq) an event belongs to; op: its own start_seq
     source        TEXT,              -- store, flush, fence: direct | syscall | mmap | metadata | ...
     flush_kind    TEXT,              -- flush: clwb | clflushopt | clflush | evict
     fault_outcome TEXT,              -- fault: zero-page | allocated | mapped | mkwrite | cow | sigbus | ...
     is_write      INTEGER,           -- fault: 1 for a write fault, 0 for a read fault
     op_name       TEXT,              -- op: open | pwrite | fsync | msync | ...
     errno         TEXT,              -- op: '' on success, else ENOSPC, EBADF, ...
     result        INTEGER,           -- op: return value
     encoded       BLOB    NOT NULL,  -- the event alone as a daxsim.v1.Event (decodeEvent)
     PRIMARY KEY (node, seq)
   ) WITHOUT ROWID`,
  // Partial indexes: the rare rows people look for, without making every store row pay for an
  // index entry (a full (node, kind) index costs a quarter of ingest throughput). A query uses one
  // when its WHERE repeats the index's condition (op_name = ..., fault_outcome = ..., beyond_eof = 1).
  `CREATE INDEX IF NOT EXISTS events_ops ON events (op_name, node) WHERE op_name IS NOT NULL`,
  `CREATE INDEX IF NOT EXISTS events_faults ON events (fault_outcome, node) WHERE fault_outcome IS NOT NULL`,
  `CREATE INDEX IF NOT EXISTS events_beyond_eof ON events (node, seq) WHERE beyond_eof = 1`,
  `CREATE TABLE IF NOT EXISTS nodes (
     node              TEXT PRIMARY KEY,
     first_ingested_at TEXT NOT NULL   -- wall-clock ISO time ingest first saw the node
   )`,
  `CREATE TABLE IF NOT EXISTS power_losses (
     node          TEXT    NOT NULL,
     seq           INTEGER NOT NULL,
     boot          INTEGER NOT NULL,   -- the boot that ended
     policy        TEXT    NOT NULL,
     seed          TEXT    NOT NULL,   -- uint64 in decimal (does not fit SQLite's signed INTEGER)
     persistence   TEXT    NOT NULL,
     reason        TEXT    NOT NULL,
     media_sha256  TEXT    NOT NULL,   -- lower-case hex
     lines_decided INTEGER NOT NULL,   -- non-durable lines whose fate was decided
     lines_lost    INTEGER NOT NULL,   -- of those, lines that kept none of their pending stores
     PRIMARY KEY (node, seq)
   ) WITHOUT ROWID`,
  `CREATE TABLE IF NOT EXISTS mounts (
     node           TEXT    NOT NULL,
     seq            INTEGER NOT NULL,
     boot           INTEGER NOT NULL,
     options        TEXT    NOT NULL,
     recovered_txns INTEGER NOT NULL,
     fsck_clean     INTEGER NOT NULL,
     fsck_problems  INTEGER NOT NULL,
     media_sha256   TEXT    NOT NULL,
     formatted      INTEGER NOT NULL,
     PRIMARY KEY (node, seq)
   ) WITHOUT ROWID`,
  // A fault's "pages unmapped elsewhere" list, one row per PTE removed.
  `CREATE TABLE IF NOT EXISTS fault_unmapped (
     node      TEXT    NOT NULL,
     seq       INTEGER NOT NULL,   -- the fault event
     pid       INTEGER NOT NULL,
     vaddr     INTEGER NOT NULL,
     zero_page INTEGER NOT NULL,   -- 1 when the removed PTE mapped the zero page
     PRIMARY KEY (node, seq, pid, vaddr)
   ) WITHOUT ROWID`,
  // Ingest bookkeeping: how far each node's log is complete.
  `CREATE TABLE IF NOT EXISTS ingest_progress (
     node                TEXT PRIMARY KEY,
     last_contiguous_seq INTEGER NOT NULL,  -- every seq in 1..this is in events
     highest_seq         INTEGER NOT NULL,  -- highest seq in events
     updated_at          TEXT    NOT NULL
   )`,
  // Holes in a node's log: open while closed_at is NULL. A gap is an error, never skipped.
  `CREATE TABLE IF NOT EXISTS ingest_gaps (
     id        INTEGER PRIMARY KEY,
     node      TEXT    NOT NULL,
     from_seq  INTEGER NOT NULL,
     to_seq    INTEGER NOT NULL,
     opened_at TEXT    NOT NULL,
     closed_at TEXT                  -- when the missing events arrived (a late re-send)
   )`,
  `CREATE INDEX IF NOT EXISTS ingest_gaps_open ON ingest_gaps (node, closed_at)`,
  // Messages on the event subjects that were not a valid batch; terminated, never redelivered.
  `CREATE TABLE IF NOT EXISTS ingest_rejected (
     stream     TEXT    NOT NULL,
     stream_seq INTEGER NOT NULL,
     subject    TEXT    NOT NULL,
     bytes      INTEGER NOT NULL,
     reason     TEXT    NOT NULL,
     at         TEXT    NOT NULL,
     PRIMARY KEY (stream, stream_seq)
   )`,
  // Where ingest stands in the stream: every message up to last_stream_seq is committed (or
  // rejected). stream_created tells a recreated stream (a new server) from the one seen before.
  `CREATE TABLE IF NOT EXISTS ingest_cursor (
     stream          TEXT PRIMARY KEY,
     stream_created  TEXT    NOT NULL,
     last_stream_seq INTEGER NOT NULL,
     updated_at      TEXT    NOT NULL
   )`,
  // Crash-consistency experiments (daxsim experiment --db, Coordinator RunExperiment): one row per
  // experiment, one per crash point checked, one per violation found.
  `CREATE TABLE IF NOT EXISTS experiments (
     id              TEXT PRIMARY KEY,
     started_at      TEXT    NOT NULL,
     workload_json   TEXT    NOT NULL,
     options_json    TEXT    NOT NULL,
     crash_points    INTEGER NOT NULL,
     states          INTEGER NOT NULL,
     distinct_images INTEGER NOT NULL,
     violations      INTEGER NOT NULL,
     elapsed_ms      INTEGER NOT NULL
   )`,
  `CREATE TABLE IF NOT EXISTS crash_states (
     experiment_id   TEXT    NOT NULL,
     crash_seq       INTEGER NOT NULL,
     states          INTEGER NOT NULL,
     distinct_images INTEGER NOT NULL,
     violations      INTEGER NOT NULL,
     PRIMARY KEY (experiment_id, crash_seq)
   )`,
  `CREATE TABLE IF NOT EXISTS violations (
     experiment_id TEXT    NOT NULL,
     state_id      TEXT    NOT NULL,
     crash_seq     INTEGER NOT NULL,
     state_index   INTEGER NOT NULL,
     oracle        TEXT    NOT NULL,
     message       TEXT    NOT NULL,
     chosen_json   TEXT    NOT NULL
   )`,
  `CREATE INDEX IF NOT EXISTS violations_by_experiment ON violations (experiment_id, oracle)`,
  `INSERT OR IGNORE INTO schema_meta (key, value) VALUES ('schema_version', '${SCHEMA_VERSION}')`,
];
