/**
 * Golden logs (replay/fixtures, made by scripts/make_replay_fixtures.ts from seeded workloads and
 * written into SQLite by ingest's own row code) replay to the committed reports; copies of them
 * with edited bytes, a deleted row, changed hashes, edited columns, a duplicated event, a cut tail
 * or a cut file fail with the typed error that names what is wrong.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sqlite3 from "sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { decodeEvent, encodeEvent } from "../proto/index.js";
import { expectedReports, fixturesDir, goldenSurvival } from "../scripts/make_replay_fixtures.js";
import {
  EventLogFileError,
  LogCorruptEventError,
  LogDuplicateError,
  LogGapError,
  LogRowMismatchError,
  LogTruncatedError,
  ReplayDivergenceError,
  SqliteEventLog,
  formatSurvival,
  replayLog,
  survivalReport,
} from "./index.js";

const fixtures = fixturesDir();
const tmp = mkdtempSync(join(tmpdir(), "daxsim-golden-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function sql(file: string, statement: string, params: unknown[] = []): Promise<void> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(file, (open) => {
      if (open) return reject(open);
      db.run(statement, params, (error) => db.close(() => (error ? reject(error) : resolve())));
    });
  });
}

function encodedOf(file: string, seq: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(file, sqlite3.OPEN_READONLY, (open) => {
      if (open) return reject(open);
      db.get<{ encoded: Buffer }>("SELECT encoded FROM events WHERE node = 'n1' AND seq = ?", [seq], (error, row) =>
        db.close(() => (error || !row ? reject(error ?? new Error(`no seq ${seq}`)) : resolve(row.encoded))),
      );
    });
  });
}

let copies = 0;
function copyOf(name: string): string {
  const file = join(tmp, `${name}-${copies++}.sqlite`);
  copyFileSync(join(fixtures, `${name}.sqlite`), file);
  return file;
}

async function replayError(file: string, options: { atSeq?: number } = {}): Promise<unknown> {
  const log = await SqliteEventLog.open(file, "n1");
  try {
    await replayLog(log, options);
    return undefined;
  } catch (error) {
    return error;
  } finally {
    await log.close();
  }
}

describe("replay: golden logs", () => {
  for (const name of ["beyond_eof", "policies"]) {
    it(`golden: ${name} replays to the committed reports (replay summary, survival JSON and tables)`, async () => {
      const expected = JSON.parse(readFileSync(join(fixtures, `${name}.expected.json`), "utf8"));
      const { expected: actual, tables } = await expectedReports(join(fixtures, `${name}.sqlite`), "n1");
      expect(JSON.parse(JSON.stringify(actual))).toEqual(expected);
      for (const [seq, table] of tables)
        expect(table).toBe(readFileSync(join(fixtures, `${name}.survival-${seq}.txt`), "utf8"));
    });
  }

  it("golden: clean logs take the fast path: every page's column fingerprint matches (no row-by-row re-read)", async () => {
    const proto = SqliteEventLog.prototype as unknown as { exactPage: (...args: unknown[]) => unknown };
    const original = proto.exactPage;
    let rereads = 0;
    proto.exactPage = function (this: unknown, ...args: unknown[]) {
      rereads++;
      return original.apply(this, args);
    };
    try {
      for (const name of ["beyond_eof", "policies"]) {
        for (const pageEvents of [7, 64, 8192]) {
          const log = await SqliteEventLog.open(join(fixtures, `${name}.sqlite`), "n1", { pageEvents });
          await replayLog(log).finally(() => log.close());
        }
      }
    } finally {
      proto.exactPage = original;
    }
    expect(rereads).toBe(0);
  });

  it("golden: the beyond-EOF store that an fsync'd extension zeroed is reported zeroed by ftruncate", async () => {
    const log = await SqliteEventLog.open(join(fixtures, "beyond_eof.sqlite"), "n1");
    try {
      const report = await survivalReport(log);
      const zeroed = report.beyondEof.find((b) => b.category === "zeroed");
      expect(zeroed).toMatchObject({
        fileOffset: 1000,
        reachedMedia: false,
        zeroedBy: { op: "ftruncate", reason: "extension", survived: true },
      });
      const first = await survivalReport(log, { powerLossSeq: report.window.fromSeq - 1 });
      // Before the first power loss the extension was never synced: the durable beyond-EOF bytes stay.
      expect(first.beyondEof.find((b) => b.fileOffset === 100)).toMatchObject({
        category: "survived",
        durableBeforeLoss: true,
        zeroedBy: { reason: "extension", survived: false },
      });
      expect(goldenSurvival(first)).toBeTruthy();
      expect(formatSurvival(first, "csv").split("\n")[0]).toMatch(/^section,seq/);
    } finally {
      await log.close();
    }
  });
});

describe("replay: tampered and truncated logs", () => {
  it("tamper: edited store bytes are caught at the next recorded hash, which names seq, kind and both hashes", async () => {
    const file = copyOf("beyond_eof");
    const original = await encodedOf(file, 46);
    const at = original.indexOf("beyond");
    expect(at).toBeGreaterThan(0);
    const edited = Buffer.from(original);
    edited.write("BEYOND", at, "latin1");
    await sql(file, "UPDATE events SET encoded = ? WHERE node = 'n1' AND seq = 46", [edited]);
    const error = await replayError(file);
    expect(error).toBeInstanceOf(ReplayDivergenceError);
    expect(error).toMatchObject({ seq: 59, kind: "powerLoss" });
    const d = error as ReplayDivergenceError;
    expect(d.recordedSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(d.replayedSha256).not.toBe(d.recordedSha256);
  });

  it("tamper: a deleted row is a gap naming the missing seq", async () => {
    const file = copyOf("beyond_eof");
    await sql(file, "DELETE FROM events WHERE node = 'n1' AND seq = 30");
    const error = await replayError(file);
    expect(error).toBeInstanceOf(LogGapError);
    expect(error).toMatchObject({ missingFrom: 30, missingTo: 30, foundSeq: 31 });
  });

  it("tamper: a changed hash in power_losses disagrees with the encoded event", async () => {
    const file = copyOf("beyond_eof");
    await sql(file, "UPDATE power_losses SET media_sha256 = ? WHERE node = 'n1' AND seq = 59", ["00".repeat(32)]);
    const error = await replayError(file);
    expect(error).toBeInstanceOf(LogRowMismatchError);
    expect(error).toMatchObject({ seq: 59, column: "power_losses.media_sha256" });
  });

  it("tamper: a changed hash in the event itself (row and side table kept consistent) is a divergence at that event", async () => {
    const file = copyOf("beyond_eof");
    const { event } = decodeEvent(await encodedOf(file, 59));
    if (event.kind !== "powerLoss") throw new Error("seq 59 is not the power loss");
    const forged = { ...event, mediaSha256: new Uint8Array(32).fill(0x11) };
    await sql(file, "UPDATE events SET encoded = ? WHERE node = 'n1' AND seq = 59", [
      Buffer.from(encodeEvent("n1", forged)),
    ]);
    await sql(file, "UPDATE power_losses SET media_sha256 = ? WHERE node = 'n1' AND seq = 59", ["11".repeat(32)]);
    const error = await replayError(file);
    expect(error).toBeInstanceOf(ReplayDivergenceError);
    expect(error).toMatchObject({ seq: 59, kind: "powerLoss", recordedSha256: "11".repeat(32) });
  });

  it("tamper: an edited column names the row and the column", async () => {
    const file = copyOf("policies");
    await sql(file, "UPDATE events SET address = address + 64 WHERE node = 'n1' AND seq = 50");
    expect(await replayError(file)).toMatchObject({ name: "LogRowMismatchError", seq: 50, column: "address" });
    const other = copyOf("policies");
    await sql(other, "UPDATE events SET source = 'syscall' WHERE node = 'n1' AND seq = 50");
    expect(await replayError(other)).toMatchObject({
      name: "LogRowMismatchError",
      seq: 50,
      column: "source",
      rowValue: "syscall",
      eventValue: "mmap",
    });
  });

  it("tamper: with the column check off, an edited column passes but an edited event still does not", async () => {
    const file = copyOf("policies");
    await sql(file, "UPDATE events SET address = address + 64 WHERE node = 'n1' AND seq = 50");
    const log = await SqliteEventLog.open(file, "n1", { columnCheck: false });
    try {
      const result = await replayLog(log);
      expect(result.lastSeq).toBe(87);
    } finally {
      await log.close();
    }
    await sql(file, "UPDATE power_losses SET media_sha256 = ? WHERE node = 'n1' AND seq = 72", ["33".repeat(32)]);
    const again = await SqliteEventLog.open(file, "n1", { columnCheck: false });
    try {
      await expect(replayLog(again)).rejects.toMatchObject({
        name: "LogRowMismatchError",
        seq: 72,
        column: "power_losses.media_sha256",
      });
    } finally {
      await again.close();
    }
  });

  it("tamper: cut encoded bytes are a corrupt event; another event's bytes in a row are a duplicate", async () => {
    const cut = copyOf("beyond_eof");
    await sql(
      cut,
      "UPDATE events SET encoded = substr(encoded, 1, length(encoded) - 3) WHERE node = 'n1' AND seq = 46",
    );
    const corrupt = await replayError(cut);
    expect(corrupt).toBeInstanceOf(LogCorruptEventError);
    expect(corrupt).toMatchObject({ seq: 46 });
    const dup = copyOf("beyond_eof");
    await sql(
      dup,
      "UPDATE events SET encoded = (SELECT encoded FROM events WHERE node = 'n1' AND seq = 45) WHERE node = 'n1' AND seq = 46",
    );
    const duplicate = await replayError(dup);
    expect(duplicate).toBeInstanceOf(LogDuplicateError);
    expect(duplicate).toMatchObject({ seq: 45, atSeq: 46 });
  });

  it("truncated: a log missing its tail (ingest recorded more) and a request past the end are LogTruncatedError", async () => {
    const file = copyOf("beyond_eof");
    await sql(file, "DELETE FROM events WHERE node = 'n1' AND seq > 80");
    const error = await replayError(file);
    expect(error).toBeInstanceOf(LogTruncatedError);
    expect(error).toMatchObject({ lastSeq: 80, expectedSeq: 92 });
    expect(await replayError(file, { atSeq: 85 })).toBeInstanceOf(LogTruncatedError);
    expect(await replayError(file, { atSeq: 70 })).toBeUndefined();
  });

  it("truncated: a cut SQLite file is an EventLogFileError, not a crash or a silent partial replay", async () => {
    const file = copyOf("beyond_eof");
    const bytes = readFileSync(file);
    writeFileSync(file, bytes.subarray(0, Math.floor(statSync(file).size / 2)));
    const error = await (async () => {
      try {
        return await replayError(file);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(EventLogFileError);
  });
});
