/**
 * Builds the golden logs of replay/fixtures: for each `<name>.workload.json` there, runs the seeded
 * workload on a fresh in-process Machine (events to memory), writes the events into
 * `<name>.sqlite` exactly as ingest does (coordinator/ingest/event_rows.ts, in batches, with the
 * nodes and ingest_progress rows), and writes what replay must report for it:
 *   <name>.expected.json          replay summary and the survival report of every power loss
 *   <name>.survival-<seq>.txt     the same reports as the table people read
 * replay/golden.test.ts replays the committed .sqlite files and compares with these files.
 *
 * Run after a change that legitimately changes the logs or the reports, and review the diff:
 *   npm run build && node dist/scripts/make_replay_fixtures.js
 */
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { EventDb } from "../coordinator/ingest/event_db.js";
import { batchStatements } from "../coordinator/ingest/event_rows.js";
import { EventLog, MemorySink, StepClock } from "../node/index.js";
import { WorkloadSession, machineForWorkload, parseWorkload } from "../node/workload/index.js";
import { eventBatchLayout, encodeBatch, decodeBatch } from "../proto/index.js";
import type { Event } from "../proto/index.js";
import { SqliteEventLog, formatSurvival, replayLog, survivalReport } from "../replay/index.js";
import type { SurvivalReport } from "../replay/index.js";

export const FIXTURE_NODE = "n1";
const BATCH_EVENTS = 512;
/** A fixed ingest time, so regenerating a fixture changes nothing that did not change. */
const INGESTED_AT = "2026-01-01T00:00:00.000Z";

export function fixturesDir(): string {
  // This module runs compiled (dist/scripts/) or as source under vitest (scripts/).
  const fromRoot = import.meta.url.includes("/dist/scripts/") ? "../../" : "../";
  return fileURLToPath(new URL(`${fromRoot}replay/fixtures/`, import.meta.url));
}

/** Runs a workload file and returns the node's events, in seq order. */
export function recordWorkload(path: string): Event[] {
  const workload = parseWorkload(JSON.parse(readFileSync(path, "utf8")));
  const sink = new MemorySink();
  const log = new EventLog(sink, new StepClock(25));
  const machine = machineForWorkload(workload.settings, log);
  const session = new WorkloadSession(machine, { seed: workload.settings.seed });
  const records = session.exec(workload.rawOps);
  const failed = records.find((r) => r.error !== undefined);
  if (failed !== undefined) throw new Error(`${path}: op ${failed.i} (${failed.op}) could not run: ${failed.error}`);
  return sink.events;
}

/** Writes events into a new SQLite event log the way ingest does. */
export async function writeEventLog(file: string, node: string, events: readonly Event[]): Promise<void> {
  for (const suffix of ["", "-wal", "-shm"]) rmSync(file + suffix, { force: true });
  const db = await EventDb.open(file);
  try {
    for (let i = 0; i < events.length; i += BATCH_EVENTS) {
      const bytes = encodeBatch(node, events.slice(i, i + BATCH_EVENTS));
      await db.transaction(batchStatements(decodeBatch(bytes), bytes, eventBatchLayout(bytes)));
    }
    const last = events[events.length - 1]?.seq ?? 0;
    await db.transaction([
      { sql: "INSERT OR IGNORE INTO nodes (node, first_ingested_at) VALUES (?, ?)", params: [node, INGESTED_AT] },
      {
        sql: "INSERT INTO ingest_progress (node, last_contiguous_seq, highest_seq, updated_at) VALUES (?, ?, ?, ?)",
        params: [node, last, last, INGESTED_AT],
      },
    ]);
    // One self-contained file (no -wal/-shm beside it), as compact as SQLite makes it.
    await db.run("PRAGMA journal_mode = DELETE");
    await db.run("VACUUM");
  } finally {
    await db.close();
  }
}

export interface ExpectedReports {
  replay: {
    lastSeq: number;
    eventsApplied: number;
    hashesChecked: number;
    mediaSha256: string;
    pendingLines: number;
    sizeBytes: number;
    persistence: string;
  };
  powerLosses: number[];
  survival: Record<string, unknown>;
}

/**
 * The part of a survival report kept in the golden file: everything but the per-line detail of
 * each store (the table files show that detail; unit tests check it), which would make the file
 * hundreds of kilobytes for a few 4 KiB stores.
 */
export function goldenSurvival(report: SurvivalReport): unknown {
  const { stores, ...rest } = report;
  return { ...rest, stores: stores.map(({ lines, ...store }) => ({ ...store, lines: lines.length })) };
}

/** What replay reports for a fixture log (the golden test recomputes exactly this). */
export async function expectedReports(
  file: string,
  node: string,
): Promise<{ expected: ExpectedReports; tables: Map<number, string> }> {
  const log = await SqliteEventLog.open(file, node);
  try {
    const result = await replayLog(log);
    const expected: ExpectedReports = {
      replay: {
        lastSeq: result.lastSeq,
        eventsApplied: result.eventsApplied,
        hashesChecked: result.hashesChecked,
        mediaSha256: result.mediaSha256,
        pendingLines: result.pendingLines,
        sizeBytes: result.dimm.sizeBytes,
        persistence: result.dimm.persistence,
      },
      powerLosses: result.info.powerLossSeqs,
      survival: {},
    };
    const tables = new Map<number, string>();
    for (const seq of result.info.powerLossSeqs) {
      const report = await survivalReport(log, { powerLossSeq: seq });
      expected.survival[String(seq)] = goldenSurvival(report);
      tables.set(seq, formatSurvival(report, "table"));
    }
    return { expected, tables };
  } finally {
    await log.close();
  }
}

async function main(): Promise<void> {
  const dir = fixturesDir();
  const workloads = readdirSync(dir)
    .filter((f) => f.endsWith(".workload.json"))
    .sort();
  for (const workloadFile of workloads) {
    const name = workloadFile.slice(0, -".workload.json".length);
    const events = recordWorkload(join(dir, workloadFile));
    const file = join(dir, `${name}.sqlite`);
    await writeEventLog(file, FIXTURE_NODE, events);
    const { expected, tables } = await expectedReports(file, FIXTURE_NODE);
    writeFileSync(join(dir, `${name}.expected.json`), `${JSON.stringify(expected, null, 2)}\n`);
    for (const old of readdirSync(dir).filter((f) => f.startsWith(`${name}.survival-`))) rmSync(join(dir, old));
    for (const [seq, text] of tables) writeFileSync(join(dir, `${name}.survival-${seq}.txt`), text);
    process.stdout.write(
      `${name}: ${events.length} events, power losses at ${expected.powerLosses.join(", ")}, media ${expected.replay.mediaSha256.slice(0, 16)}…\n`,
    );
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((error: unknown) => {
    process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = 1;
  });
}
