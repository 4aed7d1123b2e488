/**
 * Records a workload once for a crash experiment: every event, every op's result, and what the
 * oracles need to judge a crash image — the namespace after each op, what each sync promised,
 * the stores made past EOF and the extensions that should zero them. While recording it also checks
 * mapping coherence (a load through a shared mapping sees what read() sees), which needs no crash.
 *
 * Invariant: recording is deterministic: the same workload and settings give the same events.
 */
import type { Event } from "../../proto/index.js";
import { PAGE_BYTES } from "../../node/dimm/geometry.js";
import { EventLog, MemorySink } from "../../node/events/event_log.js";
import type { FileData } from "../../node/fs/file_data.js";
import type { DaxFs } from "../../node/fs/fs.js";
import type { Machine } from "../../node/machine.js";
import { StepClock } from "../../node/sim/clock.js";
import { WorkloadSession, machineForWorkload } from "../../node/workload/index.js";
import { hash128Hex } from "./fast_hash.js";
import type { OpRecord, Workload } from "../../node/workload/index.js";

export interface FileEntry {
  ino: number;
  type: "file" | "dir";
  size: number;
  sha: string;
}

/** path → entry, the namespace and contents as read() sees them. */
export type Snapshot = Map<string, FileEntry>;

export interface SyncPoint {
  /** The op index and the seq of its last event: the promise holds for crashes after it. */
  op: number;
  seq: number;
  ino: number;
  path: string;
  size: number;
  sha: string;
  how: string;
}

export interface MapSyncPoint {
  seq: number;
  ino: number;
  page: number;
  size: number;
}

export interface BeyondEofStore {
  seq: number;
  ino: number;
  fileOffset: number;
  data: Uint8Array;
}

export interface Extension {
  op: number;
  startSeq: number;
  endSeq: number;
  ino: number;
  path: string;
  oldSize: number;
  newSize: number;
  /** Bytes the extension must zero under the mount's zero-on-extend. */
  zeroFrom: number;
  zeroTo: number;
}

export interface RecordingViolation {
  oracle: string;
  op: number;
  message: string;
}

export interface Recording {
  workload: Workload;
  events: Event[];
  records: OpRecord[];
  /** snapshots[i] is the state after op i-1 (snapshots[0]: after the first mount). */
  snapshots: Snapshot[];
  /** Seq of the last event when snapshots[i] was taken. */
  snapshotSeqs: number[];
  /** The namespace of each snapshot as compared by the atomicity oracle (paths, types, sizes). */
  metaKeys: string[];
  /** Per op: the inodes whose name, size or content it changed. */
  touched: Array<Set<number>>;
  /** Per op: seq of its first event (or of the next event if it made none). */
  opStartSeqs: number[];
  syncs: SyncPoint[];
  mapSyncs: MapSyncPoint[];
  beyondEof: BeyondEofStore[];
  extensions: Extension[];
  recordingViolations: RecordingViolation[];
  /** Crash points come after this seq (the first mount). */
  firstCrashSeq: number;
  /** Snapshots before the last power loss at or before a seq cannot come back; this finds it. */
  powerLossSeqs: number[];
}

/** The namespace and contents of a mounted filesystem, as read() sees them. */
export function snapshot(fs: DaxFs, data: FileData): Snapshot {
  const out: Snapshot = new Map();
  const walk = (dir: string): void => {
    for (const e of fs.readdir(dir)) {
      if (e.name === "." || e.name === "..") continue;
      const path = dir === "/" ? `/${e.name}` : `${dir}/${e.name}`;
      if (e.type === "dir") {
        out.set(path, { ino: e.ino, type: "dir", size: 0, sha: "" });
        walk(path);
      } else {
        const inode = fs.inode(e.ino);
        const bytes = data.read(inode, 0, inode.size);
        out.set(path, { ino: e.ino, type: "file", size: inode.size, sha: hash128Hex(bytes) });
      }
    }
  };
  walk("/");
  return out;
}

export function metaKey(s: Snapshot): string {
  return [...s]
    .map(([p, e]) => `${p}\u0000${e.type}\u0000${e.size}`)
    .sort()
    .join("\n");
}

export function record(workload: Workload): Recording {
  const sink = new MemorySink();
  const log = new EventLog(sink, new StepClock());
  const m = machineForWorkload(workload.settings, log);
  const session = new WorkloadSession(m, { seed: workload.settings.seed });
  const rec: Recording = {
    workload,
    events: sink.events,
    records: [],
    snapshots: [snapshot(m.fs, m.data)],
    snapshotSeqs: [log.lastSeq],
    metaKeys: [],
    touched: [],
    opStartSeqs: [],
    syncs: [],
    mapSyncs: [],
    beyondEof: [],
    extensions: [],
    recordingViolations: [],
    firstCrashSeq: log.lastSeq,
    powerLossSeqs: [],
  };
  for (let i = 0; i < workload.rawOps.length; i++) {
    const startSeq = log.nextSeq;
    const result = session.execOne(workload.rawOps[i]);
    rec.records.push(result);
    rec.opStartSeqs.push(startSeq);
    const before = rec.snapshots[rec.snapshots.length - 1]!;
    const after = snapshot(m.fs, m.data);
    rec.snapshots.push(after);
    rec.snapshotSeqs.push(log.lastSeq);
    rec.touched.push(changedInodes(before, after));
    noteEvents(rec, sink.events, startSeq);
    noteSyncs(rec, m, result, i, after, log.lastSeq);
    noteExtensions(rec, before, after, i, startSeq, log.lastSeq);
    if (result.op === "load" && result.ok) checkCoherence(rec, m, result, i);
  }
  rec.metaKeys = rec.snapshots.map(metaKey);
  return rec;
}

function changedInodes(before: Snapshot, after: Snapshot): Set<number> {
  const changed = new Set<number>();
  const byIno = (s: Snapshot): Map<number, string> =>
    new Map([...s].map(([p, e]) => [e.ino, `${p}|${e.size}|${e.sha}`]));
  const a = byIno(before);
  const b = byIno(after);
  for (const [ino, key] of a) if (b.get(ino) !== key) changed.add(ino);
  for (const ino of b.keys()) if (!a.has(ino)) changed.add(ino);
  return changed;
}

function noteEvents(rec: Recording, events: readonly Event[], startSeq: number): void {
  for (let j = events.length - 1; j >= 0 && events[j]!.seq >= startSeq; j--) {
    const ev = events[j]!;
    if (ev.kind === "store" && ev.beyondEof)
      rec.beyondEof.push({ seq: ev.seq, ino: ev.inode, fileOffset: ev.fileOffset, data: ev.data });
    if (ev.kind === "fault" && ev.sync) rec.mapSyncs.push({ seq: ev.seq, ino: ev.inode, page: ev.page, size: 0 });
    if (ev.kind === "powerLoss") rec.powerLossSeqs.push(ev.seq);
  }
  rec.beyondEof.sort((a, b) => a.seq - b.seq);
  for (const ms of rec.mapSyncs) if (ms.size === 0) ms.size = sizeAt(rec, ms.ino);
}

function sizeAt(rec: Recording, ino: number): number {
  const last = rec.snapshots[rec.snapshots.length - 1]!;
  for (const e of last.values()) if (e.ino === ino) return e.size;
  return 0;
}

function noteSyncs(rec: Recording, m: Machine, result: OpRecord, op: number, after: Snapshot, seq: number): void {
  if (!result.ok) return;
  const promise = (ino: number, how: string): void => {
    for (const [path, e] of after)
      if (e.ino === ino && e.type === "file") rec.syncs.push({ op, seq, ino, path, size: e.size, sha: e.sha, how });
  };
  const lastOp = rec.events.findLast((e) => e.kind === "op");
  if (lastOp === undefined || lastOp.kind !== "op") return;
  switch (result.op) {
    case "fsync":
    case "fdatasync":
      promise(lastOp.inode, result.op);
      return;
    case "sync":
      for (const e of after.values()) if (e.type === "file") promise(e.ino, "sync");
      return;
    case "msync": {
      const args = JSON.parse(lastOp.argsJson) as { addr: number; sync?: boolean };
      if (args.sync !== true) return;
      const vma = m.mm.processes.get(lastOp.pid)?.findVma(Math.floor(args.addr / PAGE_BYTES));
      if (vma?.shared) promise(vma.ino, "msync(MS_SYNC)");
      return;
    }
    default:
      return;
  }
}

function noteExtensions(
  rec: Recording,
  before: Snapshot,
  after: Snapshot,
  op: number,
  startSeq: number,
  endSeq: number,
): void {
  const mode = rec.workload.settings.mount.zeroOnExtend;
  const oldSizes = new Map([...before.values()].map((e) => [e.ino, e.size]));
  for (const [path, e] of after) {
    const old = oldSizes.get(e.ino);
    if (e.type !== "file" || old === undefined || e.size <= old) continue;
    const zeroTo =
      mode === "none" ? old : mode === "block" ? Math.min(Math.ceil(old / PAGE_BYTES) * PAGE_BYTES, e.size) : e.size;
    rec.extensions.push({
      op,
      startSeq,
      endSeq,
      ino: e.ino,
      path,
      oldSize: old,
      newSize: e.size,
      zeroFrom: old,
      zeroTo,
    });
  }
}

/** A load through a shared mapping must see the file as read() would (plus the EOF page's tail). */
function checkCoherence(rec: Recording, m: Machine, result: OpRecord, op: number): void {
  const lastOp = rec.events.findLast((e) => e.kind === "op");
  if (lastOp === undefined || lastOp.kind !== "op" || lastOp.name !== "load") return;
  const args = JSON.parse(lastOp.argsJson) as { addr: number; length: number };
  const proc = m.mm.processes.get(lastOp.pid);
  const loaded = Buffer.from(result.hex ?? "", "hex");
  for (let i = 0; i < args.length && proc !== undefined; i++) {
    const vaddr = args.addr + i;
    const vma = proc.findVma(Math.floor(vaddr / PAGE_BYTES));
    if (vma === undefined || !vma.shared) continue;
    const pte = proc.pageTable.get(Math.floor(vaddr / PAGE_BYTES));
    if (pte?.kind === "anon") continue;
    const inode = m.fs.inode(vma.ino);
    const fileOffset = (vma.pgoff + Math.floor(vaddr / PAGE_BYTES) - vma.startVpn) * PAGE_BYTES + (vaddr % PAGE_BYTES);
    let expected = 0;
    if (fileOffset < inode.size) {
      expected = m.data.read(inode, fileOffset, 1)[0]!;
    } else {
      const block = m.fs.blockMap.get(inode, Math.floor(fileOffset / PAGE_BYTES));
      expected = block === 0 ? 0 : m.dimm.load(block * PAGE_BYTES + (fileOffset % PAGE_BYTES), 1)[0]!;
    }
    if (loaded[i] !== expected) {
      rec.recordingViolations.push({
        oracle: "mapping-coherence",
        op,
        message: `op ${op} (load by pid ${lastOp.pid}) read 0x${loaded[i]!.toString(16)} at file offset ${fileOffset} of inode ${vma.ino}; the file holds 0x${expected.toString(16)} there`,
      });
      return;
    }
  }
}
