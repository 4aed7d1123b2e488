/**
 * Checks one crash image: mounts it with recovery on a scratch DIMM, runs fsck, and applies the
 * oracles to what it finds, against the recording:
 *
 *   mount        the image must mount (superblock, root, journal recovery).
 *   fsck         recovery must leave a filesystem fsck finds clean.
 *   durability   everything an fsync, fdatasync, msync(MS_SYNC) or sync returned for is there —
 *                path, size and bytes — unless a later operation (up to the crash) changed that file;
 *                a MAP_SYNC write fault's allocation and size are there.
 *   atomicity    the namespace (paths, types, sizes) is exactly the one after some prefix of the
 *                operations, so each operation happened entirely or not at all.
 *   beyond-eof   a store made past EOF through a mapping must read as zero inside the file once an
 *                extension that zero-on-extend says zeroes it is durable.
 * It also reports, for the beyond-EOF stores made before the crash, which survived on media.
 *
 * The scratch DIMM is reused between images (reset to the base image, never reallocated).
 */
import type { Event } from "../../proto/index.js";
import { EventLog } from "../../node/events/event_log.js";
import type { EventSink } from "../../node/events/event_log.js";
import { Dimm } from "../../node/dimm/dimm.js";
import { CHUNK_BYTES, LINE_BYTES, PAGE_BYTES } from "../../node/dimm/geometry.js";
import { FileData } from "../../node/fs/file_data.js";
import { DaxFs } from "../../node/fs/fs.js";
import { fsck } from "../../node/fs/fsck.js";
import { MediaIo } from "../../node/fs/media_io.js";
import { StepClock } from "../../node/sim/clock.js";
import { metaKey, snapshot } from "./recording.js";
import type { Recording, Snapshot } from "./recording.js";

export interface Violation {
  oracle: "mount" | "fsck" | "durability" | "atomicity" | "beyond-eof" | "mapping-coherence";
  message: string;
}

export interface BeyondEofFate {
  seq: number;
  fate: "survived" | "zeroed" | "lost" | "gone";
}

export interface Verdict {
  violations: Violation[];
  beyondEof: BeyondEofFate[];
}

/** Remembers where the scratch DIMM was written, so the next image only restores those bytes. */
class WrittenRanges implements EventSink {
  ranges: Array<[number, number]> = [];
  write(ev: Event): void {
    if (ev.kind === "store") this.ranges.push([ev.addr, ev.data.length]);
  }
}

export class ImageChecker {
  private readonly dimm: Dimm;
  private readonly io: MediaIo;
  private readonly written = new WrittenRanges();
  private currentBase: ReadonlyArray<Uint8Array | undefined> | undefined;

  constructor(private readonly rec: Recording) {
    const { sizeBytes, persistence } = rec.workload.settings.dimm;
    this.dimm = new Dimm({ sizeBytes, persistence }, new EventLog(this.written, new StepClock()));
    this.io = new MediaIo(this.dimm);
  }

  /** Makes the scratch DIMM hold `base` plus `lines`, copying only what changed since the last image. */
  private load(base: ReadonlyArray<Uint8Array | undefined>, lines: ReadonlyArray<[number, Uint8Array]>): void {
    const state = this.dimm.state;
    if (base !== this.currentBase || state.pendingLines !== 0) {
      state.resetTo(base);
      this.currentBase = base;
    } else {
      for (const [addr, length] of this.written.ranges) {
        const c = Math.floor(addr / CHUNK_BYTES);
        const off = addr - c * CHUNK_BYTES;
        const chunk = base[c];
        if (chunk === undefined) state.memChunk(c).fill(0, off, off + length);
        else state.memChunk(c).set(chunk.subarray(off, off + length), off);
        state.durableChanged(c);
      }
    }
    this.written.ranges = [];
    for (const [line, content] of lines) {
      const c = Math.floor((line * LINE_BYTES) / CHUNK_BYTES);
      state.memChunk(c).set(content, line * LINE_BYTES - c * CHUNK_BYTES);
      state.durableChanged(c);
      this.written.ranges.push([line * LINE_BYTES, LINE_BYTES]);
    }
  }

  /**
   * Mounts the image made of `base` (durable media per chunk at the crash point) with `lines`
   * (line index → 64 bytes) on top, runs fsck, and reads what the oracles need. The summary depends
   * only on the image, so an image seen at several crash points is mounted once.
   */
  summarize(base: ReadonlyArray<Uint8Array | undefined>, lines: ReadonlyArray<[number, Uint8Array]>): ImageSummary {
    this.load(base, lines);
    let fs: DaxFs;
    try {
      fs = DaxFs.mount(this.io, this.rec.workload.settings.mount, new StepClock()).fs;
    } catch (error) {
      return {
        mountError: (error as Error).message,
        fsckProblems: [],
        files: new Map(),
        metaKey: "",
        mapSyncAllocated: [],
        storeBytes: [],
      };
    }
    const report = fsck((addr, length) => this.dimm.load(addr, length), this.dimm.sizeBytes);
    const summary: ImageSummary = {
      fsckProblems: report.problems.map((p) => `${p.kind}: ${p.message}`),
      files: new Map(),
      metaKey: "",
      mapSyncAllocated: [],
      storeBytes: [],
    };
    let files: Snapshot;
    try {
      files = snapshot(fs, new FileData(fs));
    } catch (error) {
      summary.walkError = (error as Error).message;
      return summary;
    }
    summary.files = files;
    summary.metaKey = metaKey(files);
    summary.mapSyncAllocated = this.rec.mapSyncs.map((ms) => {
      const found = files.get(pathOf(this.rec, ms.ino, ms.seq) ?? "");
      return found !== undefined && found.type === "file" && fs.blockMap.get(fs.inode(found.ino), ms.page) !== 0;
    });
    summary.storeBytes = this.rec.beyondEof.map((store) => {
      const found = files.get(pathOf(this.rec, store.ino, store.seq) ?? "");
      if (found === undefined || found.type === "dir") return null;
      const block = fs.blockMap.get(fs.inode(found.ino), Math.floor(store.fileOffset / PAGE_BYTES));
      return block === 0
        ? null
        : this.dimm.load(block * PAGE_BYTES + (store.fileOffset % PAGE_BYTES), store.data.length).toString("hex");
    });
    return summary;
  }
}

/** What a mounted crash image showed: everything the oracles judge, independent of the crash point. */
export interface ImageSummary {
  mountError?: string;
  walkError?: string;
  fsckProblems: string[];
  files: Snapshot;
  /** metaKey(files): the namespace as the atomicity oracle compares it. */
  metaKey: string;
  /** Per MAP_SYNC point of the recording: is its page allocated in the recovered file? */
  mapSyncAllocated: boolean[];
  /** Per beyond-EOF store of the recording: the bytes now at its place on media (hex), null if none. */
  storeBytes: Array<string | null>;
}

/** Applies the oracles to a summary for a crash right after event `crashSeq`. */
export function evaluate(rec: Recording, summary: ImageSummary, crashSeq: number): Verdict {
  if (summary.mountError !== undefined)
    return {
      violations: [{ oracle: "mount", message: `the image does not mount: ${summary.mountError}` }],
      beyondEof: [],
    };
  const violations: Violation[] = [];
  if (summary.fsckProblems.length > 0)
    violations.push({
      oracle: "fsck",
      message: `${summary.fsckProblems.length} problem(s): ${summary.fsckProblems.slice(0, 3).join("; ")}`,
    });
  if (summary.walkError !== undefined) {
    if (violations.length === 0)
      violations.push({ oracle: "fsck", message: `reading the namespace failed: ${summary.walkError}` });
    return { violations, beyondEof: [] };
  }
  const files = summary.files;
  atomicity(rec, summary, crashSeq, violations);
  durability(rec, summary, files, crashSeq, violations);
  beyondEofZeroing(rec, summary, files, crashSeq, violations);
  return { violations, beyondEof: beyondEofFates(rec, summary, crashSeq) };
}

/** The namespace must be the one after some prefix of the operations (since the last power loss). */
function atomicity(rec: Recording, summary: ImageSummary, crashSeq: number, violations: Violation[]): void {
  const lastLoss = rec.powerLossSeqs.filter((s) => s <= crashSeq).at(-1) ?? 0;
  let lo = 0;
  while (lo < rec.snapshotSeqs.length - 1 && rec.snapshotSeqs[lo]! < lastLoss) lo++;
  let hi = 0;
  while (hi < rec.opStartSeqs.length && rec.opStartSeqs[hi]! <= crashSeq) hi++;
  for (let j = lo; j <= hi && j < rec.metaKeys.length; j++) if (rec.metaKeys[j] === summary.metaKey) return;
  violations.push({
    oracle: "atomicity",
    message: `the namespace after recovery matches no state between op ${lo} and op ${hi}: ${describeNamespace(summary.files)}`,
  });
}

function touchedAfter(rec: Recording, ino: number, seq: number, crashSeq: number): boolean {
  for (let i = 0; i < rec.opStartSeqs.length; i++) {
    const start = rec.opStartSeqs[i]!;
    if (start <= seq) continue;
    if (start > crashSeq) break;
    if (rec.touched[i]!.has(ino)) return true;
  }
  return false;
}

function durability(
  rec: Recording,
  summary: ImageSummary,
  files: Snapshot,
  crashSeq: number,
  violations: Violation[],
): void {
  const latest = new Map<number, Recording["syncs"][number]>();
  for (const s of rec.syncs) if (s.seq <= crashSeq) latest.set(s.ino, s);
  for (const s of latest.values()) {
    if (touchedAfter(rec, s.ino, s.seq, crashSeq)) continue;
    const found = files.get(s.path);
    if (found === undefined) {
      violations.push({
        oracle: "durability",
        message: `${s.how} of ${s.path} returned at seq ${s.seq}, but ${s.path} is missing after recovery`,
      });
    } else if (found.size !== s.size || found.sha !== s.sha) {
      violations.push({
        oracle: "durability",
        message: `${s.how} of ${s.path} returned at seq ${s.seq} with size ${s.size}; after recovery it has size ${found.size}${found.size === s.size ? " and different bytes" : ""}`,
      });
    }
  }
  rec.mapSyncs.forEach((ms, i) => {
    if (ms.seq > crashSeq || touchedAfter(rec, ms.ino, ms.seq, crashSeq)) return;
    const path = pathOf(rec, ms.ino, ms.seq);
    if (path === undefined) return;
    const found = files.get(path);
    if (found === undefined || found.size < ms.size) {
      violations.push({
        oracle: "durability",
        message: `a MAP_SYNC write fault on ${path} page ${ms.page} at seq ${ms.seq} made size ${ms.size} durable; after recovery ${found === undefined ? "the file is missing" : `the size is ${found.size}`}`,
      });
    } else if (!summary.mapSyncAllocated[i]) {
      violations.push({
        oracle: "durability",
        message: `a MAP_SYNC write fault on ${path} page ${ms.page} at seq ${ms.seq} allocated a block; after recovery the page is a hole`,
      });
    }
  });
}

function beyondEofZeroing(
  rec: Recording,
  summary: ImageSummary,
  files: Snapshot,
  crashSeq: number,
  violations: Violation[],
): void {
  for (const ext of rec.extensions) {
    if (ext.endSeq > crashSeq || ext.zeroTo <= ext.zeroFrom || touchedAfter(rec, ext.ino, ext.endSeq, crashSeq))
      continue;
    const found = files.get(ext.path);
    if (found === undefined || found.size < ext.newSize) continue; // the extension is not durable
    rec.beyondEof.forEach((store, i) => {
      if (store.ino !== ext.ino || store.seq > ext.startSeq) return;
      const bytes = summary.storeBytes[i];
      if (bytes === null || bytes === undefined) return;
      const now = Buffer.from(bytes, "hex");
      for (
        let o = Math.max(store.fileOffset, ext.zeroFrom);
        o < Math.min(store.fileOffset + store.data.length, ext.zeroTo);
        o++
      ) {
        const stored = store.data[o - store.fileOffset]!;
        if (stored !== 0 && now[o - store.fileOffset] === stored) {
          violations.push({
            oracle: "beyond-eof",
            message: `the store past EOF at seq ${store.seq} (${ext.path} offset ${o}) is still inside the file after the extension at seq ${ext.endSeq} (${ext.oldSize} → ${ext.newSize}), which zero-on-extend=${rec.workload.settings.mount.zeroOnExtend} zeroes`,
          });
          return;
        }
      }
    });
  }
}

function beyondEofFates(rec: Recording, summary: ImageSummary, crashSeq: number): BeyondEofFate[] {
  const fates: BeyondEofFate[] = [];
  rec.beyondEof.forEach((store, i) => {
    if (store.seq > crashSeq) return;
    const bytes = summary.storeBytes[i];
    if (bytes === null || bytes === undefined) {
      fates.push({ seq: store.seq, fate: "gone" });
      return;
    }
    const now = Buffer.from(bytes, "hex");
    const fate = Buffer.from(store.data).equals(now) ? "survived" : now.every((b) => b === 0) ? "zeroed" : "lost";
    fates.push({ seq: store.seq, fate });
  });
  return fates;
}

/** The path of inode `ino` in the recording, as of the snapshot taken at or after `seq`. */
function pathOf(rec: Recording, ino: number, seq: number): string | undefined {
  for (let i = 0; i < rec.snapshots.length; i++) {
    if (rec.snapshotSeqs[i]! < seq) continue;
    for (const [path, e] of rec.snapshots[i]!) if (e.ino === ino) return path;
    return undefined;
  }
  return undefined;
}

function describeNamespace(files: Snapshot): string {
  const parts = [...files].map(([p, e]) => (e.type === "dir" ? `${p}/` : `${p} (${e.size})`)).sort();
  return parts.length === 0 ? "(empty)" : parts.slice(0, 12).join(", ") + (parts.length > 12 ? ", …" : "");
}
