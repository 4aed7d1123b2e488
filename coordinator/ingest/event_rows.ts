/**
 * The SQL that stores one decoded EventBatch: multi-row `INSERT OR IGNORE` statements into
 * `events` (and the side tables power_losses, mounts, fault_unmapped), keyed by (node, seq).
 *
 * Speed matters here (it is the ingest ceiling), so rows are written as SQL literals and only the
 * batch's bytes are bound: `encoded` is `substr(?1, offset, length)` of the batch, the event's
 * own embedded message (proto/batch_layout.ts). Binding ~20 parameters per row through the sqlite3
 * package costs more than SQLite spends on the row. Literals are only ever integers that the codec
 * checked to be safe integers, and fixed enum words; free text (op names, errno) is bound.
 *
 * Invariant: the statements for a batch write each of its events exactly once (or leave an
 * existing row for the same (node, seq) alone); the callers run them in one transaction.
 */
import type { DecodedBatch } from "../../proto/codec.js";
import type { Event, FaultEvent, MountEvent, PowerLossEvent } from "../../proto/events.js";
import { linesLost } from "../../proto/events.js";
import type { BatchLayout } from "../../proto/batch_layout.js";
import { EVENT_COLUMNS, EVENT_ROW } from "../../proto/sqlite_schema.js";
import type { ColumnValue, EventColumn } from "../../proto/sqlite_schema.js";
import type { SqlParam, SqlStatement } from "./event_db.js";

/** Rows per INSERT statement at most (bounds the SQL text: under 100 bytes a row). */
export const ROWS_PER_STATEMENT_MAX = 2048;

/** A SQL string literal. */
export function sqlText(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** A value of one column of one row, before it is written as SQL. */
type Cell = ColumnValue;

/** Strings that may be written as literals: printable ASCII. Anything else is bound. */
const PLAIN_TEXT = /^[\x20-\x7e]*$/;

/** Writes a cell as SQL: integers and plain text as literals, other text as a bound parameter. */
function literal(value: Cell, bind: (value: SqlParam) => string): string {
  if (value === null) return "NULL";
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) throw new RangeError(`SQL literal ${value} is not a safe integer`);
    return String(value);
  }
  return PLAIN_TEXT.test(value) ? sqlText(value) : bind(value);
}

/** Where each event sits in the batch, for `encoded`. */
interface Place {
  offset: number;
  length: number;
}

/**
 * A cell getter per column (EVENT_ROW, shared with replay's row check). A column whose value is the
 * same in every row of a statement is written once in the SELECT list instead of once per row,
 * which cuts the text SQLite parses by half or more.
 */
type Getter = (ev: Event, place: Place) => Cell;
const offset: Getter = (_ev, place) => place.offset + 1;
const length: Getter = (_ev, place) => place.length;

const INSERT_EVENTS = `INSERT OR IGNORE INTO events (${EVENT_COLUMNS.join(", ")}) SELECT `;

/** One multi-row INSERT for `events` (all of one kind) — constant columns folded into the SELECT. */
function insertStatement(
  nodeLiteral: string,
  kind: Event["kind"],
  events: readonly Event[],
  places: readonly Place[],
  whole: Buffer,
): SqlStatement {
  const params: SqlParam[] = [whole];
  const bind = (value: SqlParam): string => {
    params.push(value);
    return `?${params.length}`;
  };
  // Columns whose cells vary become VALUES columns; `seq` always does, so VALUES is never empty.
  const varying: Getter[] = [];
  const cellOf = (getter: Getter, alwaysVarying = false): string => {
    const first = getter(events[0]!, places[0]!);
    let constant = !alwaysVarying;
    for (let i = 1; constant && i < events.length; i++) constant = getter(events[i]!, places[i]!) === first;
    if (constant) return literal(first, bind);
    varying.push(getter);
    return `column${varying.length}`;
  };
  const getters = EVENT_ROW[kind] as Partial<Record<EventColumn, Getter>>;
  const select: string[] = [];
  for (const column of EVENT_COLUMNS) {
    if (column === "node") select.push(nodeLiteral);
    else if (column === "encoded") select.push(`substr(?1, ${cellOf(offset)}, ${cellOf(length)})`);
    else if (column === "kind") select.push(sqlText(kind));
    else {
      const getter = getters[column];
      select.push(getter === undefined ? "NULL" : cellOf(getter, column === "seq"));
    }
  }
  const tuples: string[] = new Array(events.length);
  for (let i = 0; i < events.length; i++) {
    const ev = events[i]!;
    const place = places[i]!;
    let tuple = "(";
    for (let c = 0; c < varying.length; c++) tuple += (c === 0 ? "" : ",") + literal(varying[c]!(ev, place), bind);
    tuples[i] = `${tuple})`;
  }
  return { sql: `${INSERT_EVENTS}${select.join(", ")} FROM (VALUES ${tuples.join(",")})`, params };
}

/**
 * The statements that store `batch` (decoded from `bytes`, whose event offsets are `layout`): one
 * INSERT per event kind present (and per ROWS_PER_STATEMENT_MAX rows), then the side tables.
 * The caller checked that layout and batch agree on the number of events.
 */
export function batchStatements(batch: DecodedBatch, bytes: Uint8Array, layout: BatchLayout): SqlStatement[] {
  const byKind = new Map<Event["kind"], { events: Event[]; places: Place[] }>();
  batch.events.forEach((ev, i) => {
    let group = byKind.get(ev.kind);
    if (group === undefined) byKind.set(ev.kind, (group = { events: [], places: [] }));
    group.events.push(ev);
    group.places.push({ offset: layout.offsets[i]!, length: layout.lengths[i]! });
  });
  const whole = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const nodeLiteral = sqlText(batch.node);
  const statements: SqlStatement[] = [];
  for (const [kind, group] of byKind) {
    for (let start = 0; start < group.events.length; start += ROWS_PER_STATEMENT_MAX) {
      const end = start + ROWS_PER_STATEMENT_MAX;
      statements.push(
        insertStatement(nodeLiteral, kind, group.events.slice(start, end), group.places.slice(start, end), whole),
      );
    }
  }
  for (const ev of batch.events) {
    if (ev.kind === "powerLoss") statements.push(powerLossRow(batch.node, ev));
    else if (ev.kind === "mount") statements.push(mountRow(batch.node, ev));
    else if (ev.kind === "fault" && ev.unmapped.length > 0) statements.push(...faultUnmappedRows(batch.node, ev));
  }
  return statements;
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

function powerLossRow(node: string, ev: PowerLossEvent): SqlStatement {
  return {
    sql: "INSERT OR IGNORE INTO power_losses (node, seq, boot, policy, seed, persistence, reason, media_sha256, lines_decided, lines_lost) VALUES (?,?,?,?,?,?,?,?,?,?)",
    params: [
      node,
      ev.seq,
      ev.boot,
      ev.policy,
      ev.seed.toString(),
      ev.persistence,
      ev.reason,
      hex(ev.mediaSha256),
      ev.lines.length,
      linesLost(ev),
    ],
  };
}

function mountRow(node: string, ev: MountEvent): SqlStatement {
  return {
    sql: "INSERT OR IGNORE INTO mounts (node, seq, boot, options, recovered_txns, fsck_clean, fsck_problems, media_sha256, formatted) VALUES (?,?,?,?,?,?,?,?,?)",
    params: [
      node,
      ev.seq,
      ev.boot,
      ev.options,
      ev.recoveredTxns,
      ev.fsckClean ? 1 : 0,
      ev.fsckProblems,
      hex(ev.mediaSha256),
      ev.formatted ? 1 : 0,
    ],
  };
}

function faultUnmappedRows(node: string, ev: FaultEvent): SqlStatement[] {
  const out: SqlStatement[] = [];
  for (let start = 0; start < ev.unmapped.length; start += ROWS_PER_STATEMENT_MAX) {
    const chunk = ev.unmapped.slice(start, start + ROWS_PER_STATEMENT_MAX);
    const params: SqlParam[] = [];
    for (const u of chunk) params.push(node, ev.seq, u.pid, u.vaddr, u.zeroPage ? 1 : 0);
    out.push({
      sql: `INSERT OR IGNORE INTO fault_unmapped (node, seq, pid, vaddr, zero_page) VALUES ${chunk.map(() => "(?,?,?,?,?)").join(",")}`,
      params,
    });
  }
  return out;
}
