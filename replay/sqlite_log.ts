/**
 * A node's events read back from the coordinator's SQLite event log (proto/sqlite_schema.ts),
 * read-only, in seq order, one bounded page at a time.
 *
 * Each page is one aggregate SELECT over a seq range of the primary key: it returns the count, the
 * first and last seq, the encoded events concatenated in one blob with their lengths, and a
 * fingerprint of the plain columns (row_check.ts). One row per page instead of one JS object per
 * event is what makes reading cheap; the next page's query runs on SQLite's thread while replay
 * applies the current one.
 *
 * Invariant: an event leaves this module only if its row exists at its seq, decodes, belongs to the
 * node, and its plain columns (and its power_losses / mounts side row) agree with it; otherwise a
 * typed ReplayError names the row. A page that looks wrong in any way is re-read row by row to name
 * the first bad row precisely.
 */
import { existsSync } from "node:fs";
import sqlite3 from "sqlite3";
import type { Event, MountEvent, PowerLossEvent } from "../proto/index.js";
import { WireFormatError, isPersistence, linesLost } from "../proto/index.js";
import {
  EventLogFileError,
  LogCorruptEventError,
  LogDuplicateError,
  LogGapError,
  LogRowMismatchError,
  NodeNotFoundError,
  ReplayError,
} from "./errors.js";
import type { DimmGeometry, EventLogSource, LogInfo } from "./event_source.js";
import { POWER_LOSSES_MAX } from "./event_source.js";
import { CHECKED_COLUMNS, FingerprintAccumulator, PAGE_FINGERPRINT_SQL, firstDifference } from "./row_check.js";
import { decodeEventFast, decodeEventInRun } from "./wire_decode.js";

/** Events per page by default, and the bounds a caller may choose from. */
export const PAGE_EVENTS_DEFAULT = 8192;
export const PAGE_EVENTS_MAX = 65536;
/** Node names listed in a NodeNotFoundError at most. */
const KNOWN_NODES_MAX = 100;

export interface SqliteEventLogOptions {
  pageEvents?: number;
  /**
   * Compare the plain columns with the encoded events (default true). Reading the columns costs
   * SQLite about as much as the rest of replay; turning it off keeps every other check (seqs,
   * decoding, node, side tables, media hashes) and is for logs known not to be edited by hand.
   */
  columnCheck?: boolean;
  /** Connections reading pages in parallel (pages alternate between them); default READERS_DEFAULT. */
  readers?: number;
}

/**
 * One reader with one page read ahead: on two cores, SQLite's thread reads the next page while
 * replay applies this one. A second reader measured slower here (three busy threads on two cores).
 */
const READERS_DEFAULT = 1;
const READERS_MAX = 4;

interface PageRow {
  n: number;
  last: number | null;
  packed: Buffer | null;
  fp_int: unknown;
  fp_text: unknown;
}

interface FetchedPage {
  from: number;
  to: number;
  row: PageRow;
}

type SqlParam = string | number;

export class SqliteEventLog implements EventLogSource {
  private readonly pageSql: string;
  private readonly fingerprint = new FingerprintAccumulator();
  /**
   * The page query, prepared once: one trip to SQLite's thread per page (db.get would prepare it
   * again each time, a second trip that cannot start while replay is busy applying a page).
   */
  private readonly pageStatements: (sqlite3.Statement | undefined)[];

  private constructor(
    private readonly db: sqlite3.Database,
    /** Connections for page reads; readers[0] is `db`. */
    private readonly readers: sqlite3.Database[],
    readonly file: string,
    readonly node: string,
    private readonly pageEvents: number,
    readonly columnCheck: boolean,
  ) {
    this.pageStatements = readers.map(() => undefined);
    // The encoded events of a page back to back in one blob: each canonical Event ends after its
    // oneof field (wire_decode.ts eventEnd), so no per-row lengths are needed to split them.
    this.pageSql =
      "SELECT count(*) AS n, max(seq) AS last, CAST(group_concat(encoded, '') AS BLOB) AS packed, " +
      `${columnCheck ? PAGE_FINGERPRINT_SQL : "NULL AS fp_int, NULL AS fp_text"} ` +
      "FROM events WHERE node = ? AND seq BETWEEN ? AND ?";
  }

  /** Opens `file` read-only for `node`. Throws EventLogFileError or NodeNotFoundError. */
  static async open(file: string, node: string, options: SqliteEventLogOptions = {}): Promise<SqliteEventLog> {
    const pageEvents = options.pageEvents ?? PAGE_EVENTS_DEFAULT;
    if (!Number.isSafeInteger(pageEvents) || pageEvents < 1 || pageEvents > PAGE_EVENTS_MAX) {
      throw new RangeError(`pageEvents ${pageEvents} must be an integer in [1, ${PAGE_EVENTS_MAX}]`);
    }
    const readerCount = options.readers ?? READERS_DEFAULT;
    if (!Number.isSafeInteger(readerCount) || readerCount < 1 || readerCount > READERS_MAX)
      throw new RangeError(`readers ${readerCount} must be an integer in [1, ${READERS_MAX}]`);
    if (!existsSync(file)) throw new EventLogFileError(file, `${file}: no such event log file`);
    const readers: sqlite3.Database[] = [];
    const log = new SqliteEventLog(
      await openReadOnly(file),
      readers,
      file,
      node,
      pageEvents,
      options.columnCheck ?? true,
    );
    readers.push(log.db);
    try {
      for (let i = 1; i < readerCount; i++) readers.push(await openReadOnly(file));
      for (const reader of readers)
        await run(reader, "PRAGMA busy_timeout = 10000").catch((error: Error) =>
          Promise.reject(log.wrap(error, "PRAGMA")),
        );
      const table = await log.get<{ name: string }>(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'events'",
        [],
      );
      if (table === undefined)
        throw new EventLogFileError(file, `${file} is not a daxsim event log: it has no events table`);
      const any = await log.get<{ seq: number }>("SELECT seq FROM events WHERE node = ? LIMIT 1", [node]);
      if (any === undefined) throw new NodeNotFoundError(node, await log.knownNodes());
    } catch (error) {
      await log.close().catch(() => undefined);
      throw error;
    }
    return log;
  }

  async info(): Promise<LogInfo> {
    const range = await this.get<{ first: number | null; last: number | null }>(
      "SELECT min(seq) AS first, max(seq) AS last FROM events WHERE node = ?",
      [this.node],
    );
    const progress = await this.optional<{ highest: number }>(
      "SELECT highest_seq AS highest FROM ingest_progress WHERE node = ?",
      [this.node],
    );
    const losses = await this.all<{ seq: number; persistence: string }>(
      "SELECT seq, persistence FROM power_losses WHERE node = ? ORDER BY seq LIMIT ?",
      [this.node, POWER_LOSSES_MAX + 1],
    );
    if (losses.length > POWER_LOSSES_MAX)
      throw new RangeError(`${this.file}: node ${this.node} has more than ${POWER_LOSSES_MAX} power losses`);
    const first = losses[0]?.persistence;
    const dimm = await this.recordedDimm();
    return {
      node: this.node,
      firstSeq: range?.first ?? 0,
      lastSeq: range?.last ?? 0,
      ...(progress !== undefined ? { expectedLastSeq: progress.highest } : {}),
      ...(dimm !== undefined ? { dimm } : {}),
      powerLossSeqs: losses.map((l) => l.seq),
      ...(first !== undefined && isPersistence(first) ? { firstPowerLossPersistence: first } : {}),
    };
  }

  /**
   * The DIMM as recorded beside the log, if the `nodes` table has columns for it (a coordinator
   * that records node announcements may add `dimm_size_bytes` and `persistence`).
   */
  private async recordedDimm(): Promise<Partial<DimmGeometry> | undefined> {
    const columns = await this.all<{ name: string }>("PRAGMA table_info(nodes)", []);
    const names = new Set(columns.map((c) => c.name));
    if (!names.has("dimm_size_bytes") && !names.has("persistence")) return undefined;
    const row = await this.get<Record<string, unknown>>("SELECT * FROM nodes WHERE node = ?", [this.node]);
    if (row === undefined) return undefined;
    const dimm: Partial<DimmGeometry> = {};
    if (typeof row.dimm_size_bytes === "number") dimm.sizeBytes = row.dimm_size_bytes;
    if (typeof row.persistence === "string" && isPersistence(row.persistence)) dimm.persistence = row.persistence;
    return dimm;
  }

  async *pages(afterSeq: number, toSeq: number): AsyncIterable<readonly Event[]> {
    for await (const page of this.rawPages(afterSeq, toSeq)) {
      const { events, error } = await this.checkedPage(page);
      // The good events before a bad row go to replay first: the first problem in seq order wins.
      if (events.length > 0) yield events;
      if (error !== undefined) throw error;
      if (page.row.n < page.to - page.from + 1) {
        if (events.length > 0 || page.row.n === 0)
          await this.checkNothingAfter(page.row.last ?? page.from - 1, page.to);
        return;
      }
    }
  }

  /**
   * Page rows of (afterSeq, toSeq] in order, as fetched. Up to one query per reader is in flight
   * ahead of the consumer, so SQLite reads the next pages while the current one is applied. Ends
   * after the first page that is not full (the end of the log, or a hole the caller reports).
   */
  private async *rawPages(afterSeq: number, toSeq: number): AsyncIterable<FetchedPage> {
    const inFlight: Promise<FetchedPage>[] = [];
    let nextFrom = afterSeq + 1;
    let issued = 0;
    const issue = (): void => {
      while (inFlight.length < this.readers.length && nextFrom <= toSeq) {
        const to = Math.min(toSeq, nextFrom + this.pageEvents - 1);
        const fetch = this.fetchPage(nextFrom, to, issued++ % this.readers.length);
        fetch.catch(() => undefined); // handled when awaited; never an unhandled rejection
        inFlight.push(fetch);
        nextFrom = to + 1;
      }
    };
    try {
      issue();
      while (inFlight.length > 0) {
        const page = await inFlight.shift()!;
        const full = page.row.n === page.to - page.from + 1;
        if (full) issue();
        yield page;
        if (!full) return;
      }
    } finally {
      // Queries still running (the log ended, or the consumer stopped): let them finish quietly.
      await Promise.allSettled(inFlight);
    }
  }

  /**
   * The benchmark's baseline: the same page queries replay issues for (afterSeq, toSeq], through
   * the same readers and read-ahead, and nothing else (no decoding, checking or applying).
   */
  async scanRaw(afterSeq: number, toSeq: number): Promise<{ rows: number; bytes: number }> {
    let rows = 0;
    let bytes = 0;
    for await (const page of this.rawPages(afterSeq, toSeq)) {
      rows += page.row.n;
      bytes += page.row.packed?.length ?? 0;
    }
    return { rows, bytes };
  }

  private async fetchPage(from: number, to: number, reader = 0): Promise<FetchedPage> {
    const empty: PageRow = { n: 0, last: null, packed: null, fp_int: null, fp_text: null };
    let statement = this.pageStatements[reader];
    if (statement === undefined) {
      statement = await new Promise<sqlite3.Statement>((resolve, reject) => {
        const prepared = this.readers[reader]!.prepare(this.pageSql, (error) =>
          error ? reject(this.wrap(error, this.pageSql)) : resolve(prepared),
        );
      });
      this.pageStatements[reader] = statement;
    }
    try {
      const row = await new Promise<PageRow | undefined>((resolve, reject) =>
        statement!.get<PageRow>([this.node, from, to], (error, r) =>
          error ? reject(this.wrap(error, this.pageSql)) : resolve(r),
        ),
      );
      return { from, to, row: row ?? empty };
    } catch (error) {
      // A row with absurd column values can overflow the fingerprint's sum: read the page without
      // it; the missing fingerprint sends the page to the row-by-row check, which names the row.
      if (!(error instanceof EventLogFileError) || !/integer overflow/i.test(error.message)) throw error;
      const plain = this.pageSql.replace(PAGE_FINGERPRINT_SQL, "NULL AS fp_int, NULL AS fp_text");
      return { from, to, row: (await this.get<PageRow>(plain, [this.node, from, to])) ?? empty };
    }
  }

  /** The log ends at `last` (the page stopped short of `to`): anything after it means a hole. */
  private async checkNothingAfter(last: number, to: number): Promise<void> {
    const after = await this.get<{ seq: number | null }>(
      "SELECT min(seq) AS seq FROM events WHERE node = ? AND seq > ?",
      [this.node, last],
    );
    const found = after?.seq ?? null;
    if (found !== null && found <= to) return; // cannot happen: the page would have held it
    if (found !== null) throw new LogGapError(this.node, last + 1, found - 1, found);
  }

  /**
   * Decodes and checks a page; any irregularity is settled row by row (exactPage). Returns the
   * good events and, if a row is bad, the error naming it (thrown after those events).
   */
  private async checkedPage(page: FetchedPage): Promise<{ events: Event[]; error: ReplayError | undefined }> {
    const { row, from } = page;
    if (row.n === 0) return { events: [], error: undefined };
    // n distinct seqs in [from, last] with last = from + n - 1: exactly the seqs from..last.
    const contiguous = row.last === from + row.n - 1;
    const events = contiguous ? this.decodePage(page) : undefined;
    const fingerprintOk = events !== undefined && (!this.columnCheck || this.fingerprint.equals(row));
    const exact =
      events !== undefined && fingerprintOk
        ? { events, error: undefined }
        : await this.exactPage(from, row.last ?? from);
    // Problems are reported in seq order: side rows of the events before a bad row come first.
    for (const ev of exact.events) {
      if (ev.kind === "powerLoss") await this.checkPowerLossRow(ev);
      else if (ev.kind === "mount") await this.checkMountRow(ev);
    }
    return exact;
  }

  /** The fast path: undefined when anything about the page needs the row-by-row check. */
  private decodePage(page: FetchedPage): Event[] | undefined {
    const { row, from } = page;
    const packed = row.packed;
    if (packed === null) return undefined;
    const events: Event[] = new Array<Event>(row.n);
    const fp = this.fingerprint;
    const check = this.columnCheck;
    fp.reset();
    let offset = 0;
    for (let i = 0; i < row.n; i++) {
      let decoded: { node: string; event: Event; end: number } | undefined;
      try {
        decoded = decodeEventInRun(packed, offset, packed.length);
      } catch {
        return undefined;
      }
      if (decoded === undefined) return undefined;
      const ev = decoded.event;
      if (decoded.node !== this.node || ev.seq !== from + i) return undefined;
      if (check) fp.add(ev);
      events[i] = ev;
      offset = decoded.end;
    }
    if (offset !== packed.length) return undefined;
    return events;
  }

  /** Row-by-row check of [from, to]: the good events before the first bad row, and its error. */
  private async exactPage(from: number, to: number): Promise<{ events: Event[]; error: ReplayError | undefined }> {
    const rows = await this.all<Record<string, unknown> & { node: string; seq: number; encoded: Buffer | null }>(
      `SELECT node, ${CHECKED_COLUMNS.join(", ")}, encoded FROM events WHERE node = ? AND seq BETWEEN ? AND ? ORDER BY seq`,
      [this.node, from, to],
    );
    const events: Event[] = [];
    let expected = from;
    try {
      for (const row of rows) {
        if (row.seq !== expected) throw new LogGapError(this.node, expected, row.seq - 1, row.seq);
        const ev = this.decodeRow(row);
        if (ev.seq !== row.seq) {
          if (ev.seq < row.seq) throw new LogDuplicateError(this.node, ev.seq, row.seq);
          throw new LogRowMismatchError(this.node, row.seq, "seq", row.seq, ev.seq);
        }
        const difference = firstDifference(row, ev);
        if (difference !== undefined)
          throw new LogRowMismatchError(
            this.node,
            row.seq,
            difference.column,
            difference.rowValue,
            difference.eventValue,
          );
        events.push(ev);
        expected++;
      }
    } catch (error) {
      if (error instanceof ReplayError) return { events, error };
      throw error;
    }
    return { events, error: undefined };
  }

  private decodeRow(row: { node: string; seq: number; encoded: Buffer | null }): Event {
    if (!(row.encoded instanceof Uint8Array))
      throw new LogCorruptEventError(
        this.node,
        row.seq,
        `encoded is ${row.encoded === null ? "NULL" : typeof row.encoded}, not a blob`,
      );
    let decoded: { node: string; event: Event };
    try {
      decoded = decodeEventFast(row.encoded);
    } catch (error) {
      if (error instanceof WireFormatError)
        throw new LogCorruptEventError(this.node, row.seq, error.message, { cause: error });
      throw error;
    }
    if (decoded.node !== this.node) throw new LogRowMismatchError(this.node, row.seq, "node", row.node, decoded.node);
    return decoded.event;
  }

  private async checkPowerLossRow(ev: PowerLossEvent): Promise<void> {
    const row = await this.get<Record<string, unknown>>("SELECT * FROM power_losses WHERE node = ? AND seq = ?", [
      this.node,
      ev.seq,
    ]);
    if (row === undefined)
      throw new LogRowMismatchError(this.node, ev.seq, "power_losses", null, "a row for this power loss");
    this.compareSide(ev.seq, "power_losses", row, {
      boot: ev.boot,
      policy: ev.policy,
      seed: ev.seed.toString(),
      persistence: ev.persistence,
      reason: ev.reason,
      media_sha256: hex(ev.mediaSha256),
      lines_decided: ev.lines.length,
      lines_lost: linesLost(ev),
    });
  }

  private async checkMountRow(ev: MountEvent): Promise<void> {
    const row = await this.get<Record<string, unknown>>("SELECT * FROM mounts WHERE node = ? AND seq = ?", [
      this.node,
      ev.seq,
    ]);
    if (row === undefined) throw new LogRowMismatchError(this.node, ev.seq, "mounts", null, "a row for this mount");
    this.compareSide(ev.seq, "mounts", row, {
      boot: ev.boot,
      options: ev.options,
      recovered_txns: ev.recoveredTxns,
      fsck_clean: ev.fsckClean ? 1 : 0,
      fsck_problems: ev.fsckProblems,
      media_sha256: hex(ev.mediaSha256),
      formatted: ev.formatted ? 1 : 0,
    });
  }

  private compareSide(
    seq: number,
    table: string,
    row: Record<string, unknown>,
    expected: Record<string, unknown>,
  ): void {
    for (const [column, want] of Object.entries(expected)) {
      if (row[column] !== want) throw new LogRowMismatchError(this.node, seq, `${table}.${column}`, row[column], want);
    }
  }

  private async knownNodes(): Promise<string[]> {
    const rows = await this.all<{ node: string }>("SELECT DISTINCT node FROM events ORDER BY node LIMIT ?", [
      KNOWN_NODES_MAX,
    ]);
    return rows.map((r) => r.node);
  }

  /** A query on a table that older or foreign logs may lack: undefined instead of an error. */
  private async optional<T>(sql: string, params: SqlParam[]): Promise<T | undefined> {
    try {
      return await this.get<T>(sql, params);
    } catch (error) {
      if (error instanceof EventLogFileError && /no such table/.test(error.message)) return undefined;
      throw error;
    }
  }

  private get<T>(sql: string, params: SqlParam[]): Promise<T | undefined> {
    return new Promise((resolve, reject) =>
      this.db.get<T>(sql, params, (error, row) => (error ? reject(this.wrap(error, sql)) : resolve(row))),
    );
  }

  private all<T>(sql: string, params: SqlParam[]): Promise<T[]> {
    return new Promise((resolve, reject) =>
      this.db.all<T>(sql, params, (error, rows) => (error ? reject(this.wrap(error, sql)) : resolve(rows))),
    );
  }

  private wrap(error: Error, sql: string): ReplayError {
    const damaged = /malformed|not a database|SQLITE_CORRUPT|SQLITE_NOTADB/i.test(error.message);
    const what = damaged ? "the file is damaged (truncated or overwritten)" : error.message;
    return new EventLogFileError(
      this.file,
      `${this.file}: ${what} (in: ${sql.slice(0, 80)}${sql.length > 80 ? "…" : ""})`,
      { cause: error },
    );
  }

  async close(): Promise<void> {
    for (let i = 0; i < this.pageStatements.length; i++) {
      const statement = this.pageStatements[i];
      this.pageStatements[i] = undefined;
      if (statement !== undefined) await new Promise<void>((resolve) => statement.finalize(() => resolve()));
    }
    const closing = this.readers.map(
      (reader) =>
        new Promise<void>((resolve, reject) =>
          reader.close((error) => (error ? reject(this.wrap(error, "close")) : resolve())),
        ),
    );
    await Promise.all(closing);
  }
}

function openReadOnly(file: string): Promise<sqlite3.Database> {
  return new Promise<sqlite3.Database>((resolve, reject) => {
    const handle = new sqlite3.Database(file, sqlite3.OPEN_READONLY, (error) =>
      error
        ? reject(new EventLogFileError(file, `${file}: cannot open: ${error.message}`, { cause: error }))
        : resolve(handle),
    );
  });
}

function run(db: sqlite3.Database, sql: string): Promise<void> {
  return new Promise((resolve, reject) => db.run(sql, (error) => (error ? reject(error) : resolve())));
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}
