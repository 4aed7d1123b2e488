/**
 * Checks that the plain columns of the SQLite log agree with each row's encoded event
 * (docs/sqlite-schema.md says which column holds what for which kind).
 *
 * Two levels, because reading a dozen columns of every row costs SQLite more than reading the
 * encoded bytes does:
 *   - a page fingerprint: SQL computes integer sums over the page's columns (PAGE_FINGERPRINT_SQL)
 *     and pageFingerprint() computes the same sums from the decoded events. Equal sums pass.
 *   - on any difference, expectedColumns() is compared with every column of every row of the page,
 *     which names the exact seq and column (the fingerprint only says "somewhere in this page").
 * A fingerprint that differs while every column agrees (text SQLite counts differently, say) is
 * harmless: the exact check is the judge.
 *
 * Invariant: for every event, expectedColumns() gives exactly the row ingest writes
 * (coordinator/ingest/event_rows.ts); the golden fixtures, written by ingest's own code, check it.
 */
import type { Event } from "../proto/index.js";
import { EVENT_KINDS, FLUSH_KINDS } from "../proto/index.js";
import { EVENT_COLUMNS, EVENT_ROW } from "../proto/sqlite_schema.js";
import { OUTCOME_TABLE, SOURCE_TABLE } from "../proto/wire_enums.js";
import type { ColumnValue, EventColumn } from "../proto/sqlite_schema.js";

/** Columns of `events` compared with the encoded event: every column but `node` and `encoded`, in table order. */
export type CheckedColumn = EventColumn;
export const CHECKED_COLUMNS: readonly CheckedColumn[] = EVENT_COLUMNS.filter(
  (c): c is CheckedColumn => c !== "node" && c !== "encoded",
);

/** The row ingest writes for `ev` (without node and encoded). */
export function expectedColumns(ev: Event): Record<CheckedColumn, ColumnValue> {
  const row = Object.fromEntries(CHECKED_COLUMNS.map((c) => [c, null])) as Record<CheckedColumn, ColumnValue>;
  row.kind = ev.kind;
  const getters = EVENT_ROW[ev.kind] as Partial<Record<CheckedColumn, (ev: Event) => ColumnValue>>;
  for (const column of CHECKED_COLUMNS) {
    const get = getters[column];
    if (get !== undefined) row[column] = get(ev);
  }
  return row;
}

/** Compares one row with its event; returns the first column that differs, or undefined. */
export function firstDifference(
  row: Record<string, unknown>,
  ev: Event,
): { column: CheckedColumn; rowValue: unknown; eventValue: ColumnValue } | undefined {
  const expected = expectedColumns(ev);
  for (const column of CHECKED_COLUMNS) {
    const want = expected[column];
    const got = row[column];
    if (got === want) continue;
    // SQLite hands back INTEGER columns as JS numbers; anything else (text, real, bigint) differs.
    return { column, rowValue: got, eventValue: want };
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Page fingerprint
//
// Two integer sums per page, cheap enough for SQLite to compute over every row while it reads the
// encoded bytes (reading a dozen columns is what costs; each is read once, inside one expression):
//   fp_int  = Σ weight(seq) · Σ_c k_c · v_c   over the integer columns, large ones reduced mod P
//   fp_text = Σ Σ_c k_c · code(v_c)            over the text columns
// NULL has its own value per column, unknown words their own code, so a column set to NULL or to a
// word it never holds shows. The weight (seq % 8 + 1) makes values swapped between rows show too.
// Bounds: |fp_int| < 2^49 and fp_text < 2^50 for any page of ≤ 65536 rows of real events, so the
// JS numbers below are exact; a tampered row with huge values can make SQLite's sum overflow,
// which the reader treats as "check this page row by row".

/** A prime below 2^20: large columns are reduced modulo it so page sums stay exact. */
const P = 1048573;
const SOURCES = SOURCE_TABLE.map(([source]) => source);
const OUTCOMES = OUTCOME_TABLE.map(([outcome]) => outcome);
/** Code of a text column that holds none of the known words (never produced by a real event). */
const UNKNOWN_WORD = 99;

/** column, coefficient, reduced modulo P, value used for NULL. */
const INT_TERMS: ReadonlyArray<[CheckedColumn, number, boolean, number]> = [
  ["boot", 1, false, -2],
  ["time", 3, true, -3],
  ["address", 5, true, -5],
  ["length", 7, false, -7],
  ["pid", 11, false, -11],
  ["vaddr", 13, true, -13],
  ["inode", 17, true, -17],
  ["file_offset", 19, true, -19],
  ["beyond_eof", 23, false, -23],
  ["op_id", 29, true, -29],
  ["is_write", 31, false, -31],
  ["result", 37, true, -37],
];

/** column, coefficient, known words (undefined: free text coded by length and first character). */
const TEXT_TERMS: ReadonlyArray<[CheckedColumn, number, readonly string[] | undefined]> = [
  ["kind", 41, EVENT_KINDS],
  ["source", 43, SOURCES],
  ["flush_kind", 47, FLUSH_KINDS],
  ["fault_outcome", 53, OUTCOMES],
  ["op_name", 59, undefined],
  ["errno", 61, undefined],
];

function sqlIntTerm([column, k, mod, nul]: (typeof INT_TERMS)[number]): string {
  const value = mod ? `${column} % ${P}` : column;
  return column === "boot" || column === "time" ? `${k} * (${value})` : `${k} * ifnull(${value}, ${nul})`;
}

function sqlTextTerm([column, k, words]: (typeof TEXT_TERMS)[number]): string {
  if (words === undefined)
    return `${k} * (CASE WHEN ${column} IS NULL THEN 0 ELSE length(${column}) * 131 + ifnull(unicode(${column}), 0) + 1 END)`;
  const whens = words.map((w, i) => `WHEN '${w}' THEN ${i + 1}`).join(" ");
  return `${k} * (CASE ${column} ${whens} ELSE ${UNKNOWN_WORD} - ${UNKNOWN_WORD} * (${column} IS NULL) END)`;
}

function jsTextCode(value: ColumnValue, words: readonly string[] | undefined): number {
  if (value === null) return 0;
  const text = String(value);
  if (words === undefined) return text.length * 131 + (text.length > 0 ? text.codePointAt(0)! : 0) + 1;
  const at = words.indexOf(text);
  return at < 0 ? UNKNOWN_WORD : at + 1;
}

/** SQL select-list fragment: the page's fingerprint as fp_int and fp_text. */
export const PAGE_FINGERPRINT_SQL = `sum((seq % 8 + 1) * (${INT_TERMS.map(sqlIntTerm).join(" + ")})) AS fp_int, sum(${TEXT_TERMS.map(sqlTextTerm).join(" + ")}) AS fp_text`;

const SOURCE_CODE = new Map<string, number>(SOURCES.map((s, i) => [s, i + 1]));
/** The text sum of a store row: kind 'store' (1), its source, and NULL for the rest. */
const STORE_KIND_TEXT = 41 * 1;

/** Accumulates the fingerprint of events as SQLite computes it for their rows. */
export class FingerprintAccumulator {
  fpInt = 0;
  fpText = 0;

  reset(): void {
    this.fpInt = 0;
    this.fpText = 0;
  }

  add(ev: Event): void {
    const weight = (ev.seq % 8) + 1;
    if (ev.kind === "store") {
      // The hot kind without building the expected row (same terms as INT_TERMS / TEXT_TERMS).
      this.fpInt +=
        weight *
        (ev.boot +
          3 * (ev.time % P) +
          5 * (ev.addr % P) +
          7 * ev.data.length +
          11 * ev.pid +
          13 * (ev.vaddr % P) +
          17 * (ev.inode % P) +
          19 * (ev.fileOffset % P) +
          23 * (ev.beyondEof ? 1 : 0) +
          29 * (ev.opId % P) +
          31 * -31 +
          37 * -37);
      this.fpText += STORE_KIND_TEXT + 43 * (SOURCE_CODE.get(ev.source) ?? UNKNOWN_WORD);
      return;
    }
    const row = expectedColumns(ev);
    let ints = 0;
    for (const [column, k, mod, nul] of INT_TERMS) {
      const v = row[column] as number | null;
      ints += k * (v === null ? nul : mod ? v % P : v);
    }
    this.fpInt += weight * ints;
    for (const [column, k, words] of TEXT_TERMS) this.fpText += k * jsTextCode(row[column], words);
  }

  equals(other: { fp_int: unknown; fp_text: unknown }): boolean {
    return other.fp_int === this.fpInt && other.fp_text === this.fpText;
  }
}
