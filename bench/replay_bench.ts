/**
 * `daxsim bench replay`: rebuilding a node's media from a SQLite event log of at least 2×10^6
 * events — SqliteEventLog pages, decoding, row checks, applyEvent, the hash check at the power loss
 * that ends the log — against a raw scan of the same table in the same run: the same page
 * SELECTs replay issues, fetched and nothing else (no decoding, checking or applying).
 *
 * The log is what a busy node writes: 8-byte cached stores cycling over 1 MiB, a CLWB of each
 * 512-byte run and a fence after it, and a 4 KiB non-temporal store every 64 stores; written
 * with ingest's own row code (coordinator/ingest/event_rows.ts). Three rounds of each, interleaved,
 * medians reported (this machine is shared and noisy).
 *
 * Also printed: `without_column_check`, replay with SqliteEventLog's column check off (every other
 * check on), and `naive_scan`, the rate of the obvious query (one JS row object per event, seq and
 * encoded only), which shows why replay reads whole pages as one row.
 * Targets (issue 6): ≥ 10^6 events/s, ratio ≥ 0.5.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import sqlite3 from "sqlite3";
import { EventDb } from "../coordinator/ingest/event_db.js";
import { batchStatements } from "../coordinator/ingest/event_rows.js";
import { Dimm, EventLog, StepClock } from "../node/index.js";
import type { EventSink } from "../node/index.js";
import { decodeBatch, encodeBatch, eventBatchLayout } from "../proto/index.js";
import type { Event } from "../proto/index.js";
import { SqliteEventLog, replayLog } from "../replay/index.js";
import type { BenchResult } from "./harness.js";
import { median, ratioResult, round3 } from "./harness.js";

const NODE = "n1";
const EVENTS_MIN = 2_000_000;
const BATCH_EVENTS = 4096;
const DIMM_BYTES = 64 << 20;
const SPAN_BYTES = 1 << 20;
const ROUNDS = 3;

export async function benchReplay(_options: { seconds: number }): Promise<BenchResult[]> {
  const dir = mkdtempSync(join(tmpdir(), "daxsim-bench-replay-"));
  try {
    const file = join(dir, "events.sqlite");
    // Built by a child process, so replay runs in a heap that did not just make 2×10^6 events.
    const events = buildLogInChild(file, EVENTS_MIN);
    const values: number[] = [];
    const baselines: number[] = [];
    const naive: number[] = [];
    const unchecked: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      baselines.push(await rawScanRate(file, events));
      values.push(await replayRate(file, events, true));
      unchecked.push(await replayRate(file, events, false));
      naive.push(await naiveScanRate(file, events));
    }
    const value = median(values);
    const baseline = median(baselines);
    return [
      {
        ...ratioResult("replay", "events/s", value, baseline),
        events,
        rounds: values.map(round3),
        baselineRounds: baselines.map(round3),
        naive_scan: round3(median(naive)),
        without_column_check: round3(median(unchecked)),
        target: "≥ 1e6 events/s, ratio ≥ 0.5 vs a raw scan (the same page SELECTs, nothing decoded or applied)",
        met: value >= 1e6 && value / baseline >= 0.5,
      },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function buildLogInChild(file: string, count: number): number {
  const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), BUILD_FLAG, file, String(count)], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  const written = Number(child.stdout.trim());
  if (child.status !== 0 || !Number.isSafeInteger(written) || written < count)
    throw new Error(`replay bench: building the log failed (exit ${child.status})`);
  return written;
}

const BUILD_FLAG = "--build-replay-log";

/** Writes ≥ `count` events (ending with a strict power loss) into a new event log; returns how many. */
export async function buildLog(file: string, count: number): Promise<number> {
  const pending: Event[] = [];
  const sink: EventSink = { write: (ev) => void pending.push(ev) };
  const dimm = new Dimm({ sizeBytes: DIMM_BYTES }, new EventLog(sink, new StepClock()));
  const word = new Uint8Array(8);
  const page = new Uint8Array(4096).fill(0x4e);
  const db = await EventDb.open(file);
  let written = 0;
  let addr = 0;
  let i = 0;
  const flushBatch = async (all: boolean): Promise<void> => {
    while (pending.length >= BATCH_EVENTS || (all && pending.length > 0)) {
      const batch = pending.splice(0, BATCH_EVENTS);
      const bytes = encodeBatch(NODE, batch);
      await db.transaction(batchStatements(decodeBatch(bytes), bytes, eventBatchLayout(bytes)));
      written += batch.length;
    }
  };
  try {
    while (written + pending.length < count) {
      word[0] = i & 0xff;
      dimm.store(addr, word);
      addr = (addr + 8) % SPAN_BYTES;
      if (addr % 512 === 0) {
        dimm.flush((addr === 0 ? SPAN_BYTES : addr) - 512, 512, "clwb");
        dimm.fence();
      }
      if (++i % 64 === 0) dimm.ntStore(SPAN_BYTES + (i % 1024) * 4096, page);
      if (pending.length >= BATCH_EVENTS) await flushBatch(false);
    }
    dimm.powerLoss("strict", 1n, "bench");
    await flushBatch(true);
  } finally {
    await db.close();
  }
  return written;
}

async function replayRate(file: string, events: number, columnCheck: boolean): Promise<number> {
  const log = await SqliteEventLog.open(file, NODE, { columnCheck });
  try {
    const start = process.hrtime.bigint();
    const result = await replayLog(log, { dimm: { sizeBytes: DIMM_BYTES, persistence: "adr" } });
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    if (result.lastSeq !== events || result.hashesChecked !== 1)
      throw new Error(
        `replay bench: replayed ${result.lastSeq} of ${events} events, ${result.hashesChecked} hash checks`,
      );
    return events / seconds;
  } finally {
    await log.close();
  }
}

async function rawScanRate(file: string, events: number): Promise<number> {
  const log = await SqliteEventLog.open(file, NODE);
  try {
    const start = process.hrtime.bigint();
    const scanned = await log.scanRaw(0, events);
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    if (scanned.rows !== events) throw new Error(`replay bench: raw scan read ${scanned.rows} of ${events} rows`);
    return events / seconds;
  } finally {
    await log.close();
  }
}

/** One JS object per row: SELECT seq, encoded … LIMIT 8192 pages. */
async function naiveScanRate(file: string, events: number): Promise<number> {
  const db = await new Promise<sqlite3.Database>((resolve, reject) => {
    const handle = new sqlite3.Database(file, sqlite3.OPEN_READONLY, (e) => (e ? reject(e) : resolve(handle)));
  });
  try {
    const start = process.hrtime.bigint();
    let last = 0;
    let rows = 0;
    for (;;) {
      const page = await new Promise<{ seq: number }[]>((resolve, reject) =>
        db.all<{ seq: number }>(
          "SELECT seq, encoded FROM events WHERE node = ? AND seq > ? ORDER BY seq LIMIT 8192",
          [NODE, last],
          (e, r) => (e ? reject(e) : resolve(r)),
        ),
      );
      if (page.length === 0) break;
      rows += page.length;
      last = page[page.length - 1]!.seq;
    }
    if (rows !== events) throw new Error(`replay bench: naive scan read ${rows} of ${events} rows`);
    return events / (Number(process.hrtime.bigint() - start) / 1e9);
  } finally {
    await new Promise<void>((resolve) => db.close(() => resolve()));
  }
}

if (process.argv[2] === BUILD_FLAG && process.argv[1] === fileURLToPath(import.meta.url)) {
  buildLog(process.argv[3]!, Number(process.argv[4]))
    .then((written) => process.stdout.write(`${written}\n`))
    .catch((error: unknown) => {
      process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
      process.exitCode = 1;
    });
}
