/**
 * `daxsim bench dd`: Andrew Morton's question from the 2014 thread — what does DAX save? — on the
 * simulated machine. A 64 MiB file written sequentially in 1 MiB pwrite()s, fsync'd, then read back
 * in 1 MiB pread()s, once mounted dax and once nodax, in the same run:
 *   dd-write-read     MB/s of write+fsync+read (value: dax, baseline: nodax). Target ratio ≥ 1.5.
 *   dd-page-cache     page-cache bytes resident after the run (value: dax, baseline: nodax). Target 0 for dax.
 *   dd-copies-per-byte bytes copied per byte written, write+fsync (value: dax, baseline: nodax).
 *                     Target dax 1.0, nodax ≥ 2.0.
 *   mmap-store-8b     8-byte user stores through the page table (a mapping of the file, after the
 *                     first fault of each page), against 8-byte stores through the DIMM API directly.
 */
import { CountingSink, EventLog } from "../node/events/event_log.js";
import { parseMountOptions } from "../node/fs/fs.js";
import { Machine } from "../node/machine.js";
import { StepClock } from "../node/sim/clock.js";
import type { BenchResult } from "./harness.js";
import { compareRates, median, ratioResult, round3 } from "./harness.js";

const MiB = 1 << 20;
const FILE_BYTES = 64 * MiB;
const CHUNK_BYTES = MiB;
const RW = { read: true, write: true, create: true, excl: false, trunc: false, append: false };

interface DdRun {
  seconds: number;
  pageCacheBytes: number;
  copiesPerByte: number;
}

function newMachine(mount: string): Machine {
  return Machine.format(new EventLog(new CountingSink(), new StepClock()), {
    dimm: { sizeBytes: 80 * MiB },
    mount: parseMountOptions(mount),
    seed: 1n,
  });
}

function ddOnce(mount: string, block: Uint8Array): DdRun {
  const m = newMachine(mount);
  const fd = m.open(1, "/dd", RW).value;
  const start = process.hrtime.bigint();
  // The same immutable 1 MiB block is handed to every pwrite(): it is never modified.
  for (let off = 0; off < FILE_BYTES; off += CHUNK_BYTES) {
    if (!m.write(1, fd, block, off).ok) throw new Error(`dd: pwrite at ${off} failed`);
  }
  if (!m.fsync(1, fd).ok) throw new Error("dd: fsync failed");
  const copiesPerByte = m.data.counters.bytesCopied / FILE_BYTES;
  for (let off = 0; off < FILE_BYTES; off += CHUNK_BYTES) {
    const r = m.read(1, fd, CHUNK_BYTES, off);
    if (!r.ok || r.value !== CHUNK_BYTES || r.data![7] !== block[7])
      throw new Error(`dd: pread at ${off} returned the wrong bytes`);
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { seconds, pageCacheBytes: m.data.pageCacheBytes, copiesPerByte };
}

export function benchDd(options: { seconds: number }): BenchResult[] {
  const block = new Uint8Array(CHUNK_BYTES);
  for (let i = 0; i < block.length; i++) block[i] = (i * 13) & 0xff;
  const rounds = Math.max(3, Math.min(7, Math.round(options.seconds / 2)));
  const dax: DdRun[] = [];
  const nodax: DdRun[] = [];
  ddOnce("dax", block); // warm-up: JIT
  for (let r = 0; r < rounds; r++) {
    nodax.push(ddOnce("nodax", block));
    dax.push(ddOnce("dax", block));
  }
  const mbps = (runs: DdRun[]): number => median(runs.map((run) => (2 * FILE_BYTES) / MiB / run.seconds));
  const daxMbps = mbps(dax);
  const nodaxMbps = mbps(nodax);
  const results: BenchResult[] = [
    {
      ...ratioResult("dd-write-read", "MB/s", daxMbps, nodaxMbps),
      target: "dax ≥ 1.5× nodax",
      met: daxMbps >= 1.5 * nodaxMbps,
    },
    {
      bench: "dd-page-cache",
      value: dax[0]!.pageCacheBytes,
      unit: "bytes",
      baseline: nodax[0]!.pageCacheBytes,
      ratio: round3(dax[0]!.pageCacheBytes / nodax[0]!.pageCacheBytes),
      target: "dax 0 bytes",
      met: dax.every((run) => run.pageCacheBytes === 0),
    },
    {
      bench: "dd-copies-per-byte",
      value: round3(dax[0]!.copiesPerByte),
      unit: "copies/byte",
      baseline: round3(nodax[0]!.copiesPerByte),
      ratio: round3(dax[0]!.copiesPerByte / nodax[0]!.copiesPerByte),
      target: "dax 1.0, nodax ≥ 2.0",
      met: dax[0]!.copiesPerByte === 1 && nodax[0]!.copiesPerByte >= 2,
    },
    benchMmapStores(options.seconds),
  ];
  return results;
}

/** 8-byte stores through a shared mapping of a DAX file (page table walk, no faults after the first touch). */
function benchMmapStores(seconds: number): BenchResult {
  const m = newMachine("dax");
  const fd = m.open(1, "/m", RW).value;
  const span = 4 * MiB;
  m.write(1, fd, new Uint8Array(span), 0);
  const addr = m.mmap(1, { fd, offset: 0, length: span, read: true, write: true, shared: true, sync: false }).value;
  const word = new Uint8Array(8).fill(0x5a);
  for (let off = 0; off < span; off += 4096) m.mm.store(1, addr + off, word, false); // first touch: faults
  let next = 0;
  let direct = 0;
  const base = m.fs.blockMap.get(m.fs.lookup("/m"), 0) * 4096;
  const r = compareRates(
    "mmap-store-8b",
    "stores/s",
    (n) => {
      for (let i = 0; i < n; i++) {
        m.mm.store(1, addr + next, word, false);
        next = (next + 8) % span;
      }
      return n;
    },
    (n) => {
      for (let i = 0; i < n; i++) {
        m.dimm.store(base + direct, word, undefined, true);
        direct = (direct + 8) % 4096;
      }
      return n;
    },
    { rounds: 5, roundMs: Math.max(100, (seconds * 1000) / 20) },
  );
  r.note = "baseline: the same 8-byte stores through the DIMM API, no page table";
  return r;
}
