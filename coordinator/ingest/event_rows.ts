/**
 * The SQL that stores one decoded EventBatch: multi-row `INSERT OR IGNORE` statements into
 * `events` (and the side tables power_losses, mounts, fault_unmapped), keyed by (node, seq).
 *
 * Speed matters here (it is the ingest ceiling), so rows are written as SQL literals and only the
 * batch's bytes are bound: `encoded` is `substr(?1, offset, length)` of the batch, the event's
 * own embedded message (proto/batch_layout.ts). Binding ~20 parameters per row through the sqlite3
 * package costs twice as much as SQLite spends on the row. Literals are only ever integers that
 * the codec checked to be safe integers, and fixed enum words; free text (op names, errno) is bound.
 *
 * Invariant: the statements for a batch write each of its events exactly once (or leave an
 * existing row for the same (node, seq) alone); the callers run them in one transaction.
 */
import type { DecodedBatch } from "../../proto/codec.js";
import type { Event, FaultEvent, MountEvent, PowerLossEvent } from "../../proto/events.js";
import type { BatchLayout } from "../../proto/batch_layout.js";
import { EVENT_COLUMNS } from "../../proto/sqlite_schema.js";
import type { SqlParam, SqlStatement } from "./event_db.js";

/** Rows per INSERT statement at most (SQLite's limit on bound parameters is far above 2×this). */
export const ROWS_PER_STATEMENT_MAX = 1024;

const INSERT_EVENTS = `INSERT OR IGNORE INTO events (${EVENT_COLUMNS.join(", ")}) VALUES `;

/** A SQL string literal. */
export function sqlText(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

function int(value: number): string {
  if (!Number.isSafeInteger(value)) throw new RangeError(`SQL literal ${value} is not a safe integer`);
  return String(value);
}

const FAULT_MAPS_DIMM_PAGE = new Set(["allocated", "mapped", "mkwrite"]);

/**
 * One row of `events` as SQL, columns in EVENT_COLUMNS order. `blob` is the literal for the
 * encoded column; `bind` adds a parameter and returns its `?N`.
 */
function eventRow(nodeLiteral: string, ev: Event, blob: string, bind: (value: SqlParam) => string): string {
  const head = `(${nodeLiteral},${int(ev.seq)},${int(ev.boot)},'${ev.kind}',${int(ev.time)},`;
  switch (ev.kind) {
    case "store":
      // address, length, pid, vaddr, inode, file_offset, beyond_eof, op_id, source, flush_kind, fault_outcome, is_write, op_name, errno, result
      return `${head}${int(ev.addr)},${ev.data.length},${int(ev.pid)},${int(ev.vaddr)},${int(ev.inode)},${int(ev.fileOffset)},${ev.beyondEof ? 1 : 0},${int(ev.opId)},'${ev.source}',NULL,NULL,NULL,NULL,NULL,NULL,${blob})`;
    case "flush":
      return `${head}${int(ev.addr)},${int(ev.lines * 64)},${int(ev.pid)},${int(ev.vaddr)},NULL,NULL,NULL,${int(ev.opId)},'${ev.source}','${ev.flushKind}',NULL,NULL,NULL,NULL,NULL,${blob})`;
    case "fence":
      return `${head}NULL,NULL,${int(ev.pid)},${int(ev.vaddr)},NULL,NULL,NULL,${int(ev.opId)},'${ev.source}',NULL,NULL,NULL,NULL,NULL,NULL,${blob})`;
    case "fault": {
      const address = FAULT_MAPS_DIMM_PAGE.has(ev.outcome) && Number.isSafeInteger(ev.pfn * 4096) ? String(ev.pfn * 4096) : "NULL";
      const fileOffset = Number.isSafeInteger(ev.page * 4096) ? String(ev.page * 4096) : "NULL";
      return `${head}${address},NULL,${int(ev.pid)},${int(ev.vaddr)},${int(ev.inode)},${fileOffset},NULL,${int(ev.opId)},NULL,NULL,'${ev.outcome}',${ev.write ? 1 : 0},NULL,NULL,NULL,${blob})`;
    }
    case "op":
      return `${head}NULL,NULL,${int(ev.pid)},NULL,${int(ev.inode)},NULL,NULL,${int(ev.startSeq)},NULL,NULL,NULL,NULL,${bind(ev.name)},${bind(ev.errno)},${int(ev.result)},${blob})`;
    case "powerLoss":
    case "mount":
      return `${head}NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,${blob})`;
  }
}

/**
 * The statements that store `batch` (decoded from `bytes`, whose event offsets are `layout`).
 * The caller checked that layout and batch agree on the number of events.
 */
export function batchStatements(batch: DecodedBatch, bytes: Uint8Array, layout: BatchLayout): SqlStatement[] {
  const statements: SqlStatement[] = [];
  const nodeLiteral = sqlText(batch.node);
  const events = batch.events;
  for (let start = 0; start < events.length; start += ROWS_PER_STATEMENT_MAX) {
    const end = Math.min(events.length, start + ROWS_PER_STATEMENT_MAX);
    // Bind just the span of the batch these rows come from; offsets are relative to it (1-based).
    const spanStart = layout.offsets[start]!;
    const spanEnd = layout.offsets[end - 1]! + layout.lengths[end - 1]!;
    const params: SqlParam[] = [Buffer.from(bytes.buffer, bytes.byteOffset + spanStart, spanEnd - spanStart)];
    const bind = (value: SqlParam): string => {
      params.push(value);
      return `?${params.length}`;
    };
    let sql = INSERT_EVENTS;
    for (let i = start; i < end; i++) {
      const blob = `substr(?1,${layout.offsets[i]! - spanStart + 1},${layout.lengths[i]!})`;
      sql += (i === start ? "" : ",") + eventRow(nodeLiteral, events[i]!, blob, bind);
    }
    statements.push({ sql, params });
  }
  for (const ev of events) {
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
  let linesLost = 0;
  for (const d of ev.lines) {
    const keptNothing = d.wordKept.length > 0 ? d.wordKept.every((k) => k === 0) : d.kept === 0;
    if (keptNothing) linesLost++;
  }
  return {
    sql: "INSERT OR IGNORE INTO power_losses (node, seq, boot, policy, seed, persistence, reason, media_sha256, lines_decided, lines_lost) VALUES (?,?,?,?,?,?,?,?,?,?)",
    params: [node, ev.seq, ev.boot, ev.policy, ev.seed.toString(), ev.persistence, ev.reason, hex(ev.mediaSha256), ev.lines.length, linesLost],
  };
}

function mountRow(node: string, ev: MountEvent): SqlStatement {
  return {
    sql: "INSERT OR IGNORE INTO mounts (node, seq, boot, options, recovered_txns, fsck_clean, fsck_problems, media_sha256, formatted) VALUES (?,?,?,?,?,?,?,?,?)",
    params: [node, ev.seq, ev.boot, ev.options, ev.recoveredTxns, ev.fsckClean ? 1 : 0, ev.fsckProblems, hex(ev.mediaSha256), ev.formatted ? 1 : 0],
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
