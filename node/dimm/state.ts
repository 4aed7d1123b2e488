/**
 * The state of one emulated NV-DIMM, as DESIGN §3 defines it, laid out for speed.
 *
 * - `mem[c]` (per 1 MiB chunk, allocated on first use) holds what loads see: every store applied.
 *   For a line that is not pending (clean) this is also its durable content.
 * - For a pending line, its durable content (what the media holds) lives in the undo arena, at the
 *   offset `undo[line]`. The arena is small and reused, so keeping durable content there is cheap,
 *   and a fence that makes a line durable only forgets its undo entry: nothing is copied.
 * - Per cache line, record numbers (Int32, -1 = none), allocated per chunk:
 *     first: the first pending store record that may touch the line (-1: the line is clean);
 *     last:  the newest store record touching the line;
 *     mark:  the newest record that a CLWB/CLFLUSHOPT captured or that was a non-temporal store;
 *            the line up to that record becomes durable at the next fence (-1: not flush-pending).
 * - `journal`: the pending store events in program order (the "records"), so the versions a line
 *   may end up with on power loss (the per-line prefix rule) can be rebuilt: version k of a line is
 *   its durable content plus the first k records that touch it.
 * - On an eADR DIMM every store is durable when visible: nothing is ever pending.
 *
 * Invariants (checkInvariants, used by tests): a line is pending iff first >= 0; pendingLines
 * counts those lines; for a pending line first <= last, mark === -1 or first <= mark <= last, and
 * undo points inside the used arena; all record numbers referenced are >= journalFirst.
 *
 * Only apply.ts mutates this state (and the Dimm's housekeeping, which never changes what a load,
 * a fence or a power loss would produce).
 */
import { createHash } from "node:crypto";
import type { Persistence, StoreEvent } from "../../proto/index.js";
import {
  CHUNK_BYTES,
  LINE_BYTES,
  LINES_PER_CHUNK,
  LINES_PER_PAGE,
  PAGES_PER_CHUNK,
  checkDimmSize,
} from "./geometry.js";

export interface LineMeta {
  first: Int32Array;
  last: Int32Array;
  mark: Int32Array;
  /** Offset in the undo arena of the line's durable content; meaningful only while pending. */
  undo: Int32Array;
  /** Pending lines per page (0..64), counting the lines of a uniform page. */
  pagePending: Uint8Array;
  /**
   * A uniform page: a page that had no pending line and since then was written only by whole-page
   * non-temporal stores (zeroing a new block, then write() into it). Its 64 lines are pending with
   * first = pageRecord[p], last = mark = pageLast[p], durable content at pageUndo[p]; their per-line
   * entries stay -1 until the page is "exploded" into per-line form by the first operation that
   * needs its lines one by one. This keeps write() and its fence O(1) per page. -1: not uniform.
   */
  pageRecord: Int32Array;
  pageLast: Int32Array;
  pageUndo: Int32Array;
}

export type LineCacheState = "clean" | "dirty" | "flush-pending";

const ZERO_CHUNK = Buffer.alloc(CHUNK_BYTES);
let zeroChunkDigest: Buffer | undefined;

/** SHA-256 of one 1 MiB media chunk (undefined: all zeros), the inner hash of the media hash. */
export function chunkSha256Of(chunk: Uint8Array | undefined): Buffer {
  if (chunk === undefined) return (zeroChunkDigest ??= createHash("sha256").update(ZERO_CHUNK).digest());
  return createHash("sha256").update(chunk).digest();
}

/** Record numbers restart at 0 whenever nothing is pending; past this they are renumbered. */
const RECORD_NUMBER_MAX = 1 << 30;
const UNDO_ARENA_BYTES_MIN = 64 * 1024;

export class DimmState {
  readonly chunkCount: number;
  readonly mem: (Buffer | undefined)[];
  readonly meta: (LineMeta | undefined)[];
  readonly chunkPending: Int32Array;
  private readonly chunkDigest: (Buffer | undefined)[];

  pendingLines = 0;
  /** Pending store records; journal[i] has record number journalFirst + i. */
  journal: StoreEvent[] = [];
  journalFirst = 0;
  nextRecord = 0;
  /** Sum of data bytes of the journal. */
  pendingBytes = 0;
  /** Journal length right after the last compaction (see compactJournalIfGrown). */
  private journalLengthCompacted = 0;
  /** Durable content of pending lines, 64 bytes per entry; entries are never moved while live. */
  undoArena = Buffer.alloc(UNDO_ARENA_BYTES_MIN);
  undoUsed = 0;
  /** Global page numbers of uniform pages (entries may be stale: check pageRecord). */
  uniformPages: number[] = [];
  /** Triples (firstLine, lineCount, epoch) of lines that got a mark since the last fence. */
  flushRanges: number[] = [];
  /** Counts stores, CLFLUSHes and evictions that touched an already pending line (see addFlushRange). */
  touchEpoch = 0;
  /** Line → its content at the moment of its mark, kept only once a later cached store changed it. */
  captures = new Map<number, Buffer>();
  /** Power losses applied so far. */
  boot = 0;

  constructor(
    readonly sizeBytes: number,
    readonly persistence: Persistence,
  ) {
    checkDimmSize(sizeBytes);
    this.chunkCount = sizeBytes / CHUNK_BYTES;
    this.mem = new Array<Buffer | undefined>(this.chunkCount).fill(undefined);
    this.meta = new Array<LineMeta | undefined>(this.chunkCount).fill(undefined);
    this.chunkDigest = new Array<Buffer | undefined>(this.chunkCount).fill(undefined);
    this.chunkPending = new Int32Array(this.chunkCount);
  }

  /** The chunk's bytes, allocated (zeros) on first use. */
  memChunk(c: number): Buffer {
    let chunk = this.mem[c];
    if (chunk === undefined) {
      chunk = Buffer.alloc(CHUNK_BYTES);
      this.mem[c] = chunk;
    }
    return chunk;
  }

  /** The durable content of chunk c changed (a line became durable with new bytes). */
  durableChanged(c: number): void {
    this.chunkDigest[c] = undefined;
  }

  lineMeta(c: number): LineMeta {
    let meta = this.meta[c];
    if (meta === undefined) {
      meta = {
        first: new Int32Array(LINES_PER_CHUNK).fill(-1),
        last: new Int32Array(LINES_PER_CHUNK).fill(-1),
        mark: new Int32Array(LINES_PER_CHUNK).fill(-1),
        undo: new Int32Array(LINES_PER_CHUNK),
        pagePending: new Uint8Array(PAGES_PER_CHUNK),
        pageRecord: new Int32Array(PAGES_PER_CHUNK).fill(-1),
        pageLast: new Int32Array(PAGES_PER_CHUNK).fill(-1),
        pageUndo: new Int32Array(PAGES_PER_CHUNK),
      };
      this.meta[c] = meta;
    }
    return meta;
  }

  /** Reserves `bytes` in the undo arena and returns the offset. */
  allocUndo(bytes: number): number {
    if (this.undoUsed + bytes > this.undoArena.length) {
      let size = this.undoArena.length * 2;
      while (size < this.undoUsed + bytes) size *= 2;
      const grown = Buffer.alloc(size);
      this.undoArena.copy(grown, 0, 0, this.undoUsed);
      this.undoArena = grown;
    }
    const at = this.undoUsed;
    this.undoUsed += bytes;
    return at;
  }

  /**
   * Notes lines [line, line+count) as marked since the last fence, merging with the previous range.
   * `epoch` is touchEpoch when the range was made by the non-temporal fast path (every line pending
   * with first = last = mark), or -1. If no pending line was touched since, the range is still in
   * that shape and the fence can persist it without looking at each line.
   */
  addFlushRange(line: number, count: number, epoch: number): void {
    const ranges = this.flushRanges;
    const n = ranges.length;
    if (n >= 3 && ranges[n - 3]! + ranges[n - 2]! === line && ranges[n - 1] === epoch)
      ranges[n - 2] = ranges[n - 2]! + count;
    else ranges.push(line, count, epoch);
  }

  /** Turns uniform page p of chunk c into per-line form (changes nothing observable). */
  explodePage(c: number, p: number): void {
    const meta = this.meta[c]!;
    const record = meta.pageRecord[p]!;
    if (record < 0) return;
    const lastRecord = meta.pageLast[p]!;
    const lo = p * LINES_PER_PAGE;
    const hi = lo + LINES_PER_PAGE;
    meta.first.fill(record, lo, hi);
    meta.last.fill(lastRecord, lo, hi);
    meta.mark.fill(lastRecord, lo, hi);
    const undo = meta.pageUndo[p]!;
    for (let l = lo; l < hi; l++) meta.undo[l] = undo + (l - lo) * LINE_BYTES;
    meta.pageRecord[p] = -1;
    this.addFlushRange(c * LINES_PER_CHUNK + lo, LINES_PER_PAGE, -1);
  }

  /** Explodes every uniform page: afterwards per-line metadata describes every pending line. */
  explodeAll(): void {
    for (const page of this.uniformPages) {
      const c = Math.floor(page / PAGES_PER_CHUNK);
      this.explodePage(c, page - c * PAGES_PER_CHUNK);
    }
    this.uniformPages = [];
  }

  /** The cache state of global line `line`. */
  lineState(line: number): LineCacheState {
    const c = Math.floor(line / LINES_PER_CHUNK);
    const meta = this.meta[c];
    if (meta === undefined) return "clean";
    const l = line - c * LINES_PER_CHUNK;
    if (meta.pageRecord[l >>> 6]! >= 0) return "flush-pending";
    if (meta.first[l]! < 0) return "clean";
    return meta.mark[l]! >= 0 && meta.mark[l] === meta.last[l] ? "flush-pending" : "dirty";
  }

  /** Calls fn(line) for every pending line in ascending order (explodes uniform pages first). */
  forEachPendingLine(fn: (line: number, meta: LineMeta, local: number) => void): void {
    this.explodeAll();
    for (let c = 0; c < this.chunkCount; c++) {
      if (this.chunkPending[c] === 0) continue;
      const meta = this.meta[c]!;
      const base = c * LINES_PER_CHUNK;
      for (let l = 0; l < LINES_PER_CHUNK; l++) {
        if (meta.first[l]! >= 0) fn(base + l, meta, l);
      }
    }
  }

  /** Copies bytes [addr, addr+dst.length) as loads see them. Bounds are the caller's job. */
  readVisible(addr: number, dst: Uint8Array): void {
    this.forEachChunkPiece(addr, dst.length, (c, off, n, done) => {
      const chunk = this.mem[c];
      if (chunk === undefined) dst.fill(0, done, done + n);
      else chunk.copy(dst, done, off, off + n);
    });
  }

  /** Copies durable bytes [addr, addr+dst.length): what would survive if nothing pending did. */
  readMedia(addr: number, dst: Uint8Array): void {
    this.readVisible(addr, dst);
    if (this.pendingLines === 0) return;
    this.forEachChunkPiece(addr, dst.length, (c, off, n, done) => {
      if (this.chunkPending[c] === 0) return;
      const meta = this.meta[c]!;
      for (let l = off >>> 6; l <= (off + n - 1) >>> 6; l++) {
        const p = l >>> 6;
        const uniform = meta.pageRecord[p]! >= 0;
        if (!uniform && meta.first[l]! < 0) continue;
        // Overlay the durable part of this line that falls inside the requested piece.
        const undo = uniform ? meta.pageUndo[p]! + (l - p * LINES_PER_PAGE) * LINE_BYTES : meta.undo[l]!;
        const lineOff = l * LINE_BYTES;
        const lo = Math.max(lineOff, off);
        const hi = Math.min(lineOff + LINE_BYTES, off + n);
        const from = undo + (lo - lineOff);
        this.undoArena.copy(dst, done + (lo - off), from, from + (hi - lo));
      }
    });
  }

  private forEachChunkPiece(
    addr: number,
    length: number,
    fn: (c: number, off: number, n: number, done: number) => void,
  ): void {
    let done = 0;
    while (done < length) {
      const at = addr + done;
      const c = Math.floor(at / CHUNK_BYTES);
      const off = at - c * CHUNK_BYTES;
      const n = Math.min(length - done, CHUNK_BYTES - off);
      fn(c, off, n, done);
      done += n;
    }
  }

  /**
   * The media hash: SHA-256 over the SHA-256 of each 1 MiB chunk of durable media, in order.
   * Chunk digests are cached until the chunk's durable content changes, so hashing after a power
   * loss costs only the chunks that changed. `daxsim hash IMG` computes the same value for an image.
   */
  mediaSha256(): Buffer {
    const outer = createHash("sha256");
    for (let c = 0; c < this.chunkCount; c++) outer.update(this.chunkSha256(c));
    return outer.digest();
  }

  private chunkSha256(c: number): Buffer {
    const cached = this.chunkDigest[c];
    if (cached !== undefined) return cached;
    const chunk = this.mem[c];
    let digest: Buffer;
    if (chunk === undefined || this.chunkPending[c] === 0) {
      digest = chunkSha256Of(chunk);
    } else {
      const durable = Buffer.allocUnsafe(CHUNK_BYTES);
      this.readMedia(c * CHUNK_BYTES, durable);
      digest = chunkSha256Of(durable);
    }
    this.chunkDigest[c] = digest;
    return digest;
  }

  /** Copies a media chunk in (only on a fresh state: nothing stored yet). */
  loadMedia(c: number, content: Uint8Array): void {
    if (this.pendingLines !== 0 || this.mem[c] !== undefined) throw new Error("loadMedia on a DIMM already in use");
    if (content.length !== CHUNK_BYTES) throw new Error(`loadMedia: chunk of ${content.length} bytes`);
    this.memChunk(c).set(content);
    this.durableChanged(c);
  }

  /**
   * Makes the media exactly `chunks` (undefined: zeros) with nothing pending: a scratch DIMM that
   * is reused for checking one crash image after another. Not an event: callers own the meaning.
   */
  resetTo(chunks: ReadonlyArray<Uint8Array | undefined>): void {
    if (chunks.length !== this.chunkCount)
      throw new Error(`resetTo: ${chunks.length} chunks for a ${this.chunkCount}-chunk DIMM`);
    if (this.pendingLines !== 0) {
      for (let c = 0; c < this.chunkCount; c++) this.meta[c] = undefined;
      this.chunkPending.fill(0);
      this.pendingLines = 0;
      this.uniformPages = [];
      this.flushRanges = [];
      this.captures.clear();
    }
    for (let c = 0; c < this.chunkCount; c++) {
      const content = chunks[c];
      if (content !== undefined) this.memChunk(c).set(content);
      else this.mem[c]?.fill(0);
      this.chunkDigest[c] = undefined;
    }
    this.resetJournalIfIdle();
  }

  /** Drops the journal and the undo arena when nothing is pending; record numbers restart at 0. */
  resetJournalIfIdle(): void {
    if (this.pendingLines !== 0) return;
    this.journal = [];
    this.journalFirst = 0;
    this.nextRecord = 0;
    this.pendingBytes = 0;
    this.undoUsed = 0;
    this.journalLengthCompacted = 0;
  }

  /**
   * Compacts when the journal is over recordsMax / 2 records and has grown by recordsMax / 4 since
   * the last compaction. A compaction costs O(lines of the chunks with pending lines) and frees
   * nothing while an old record's lines stay pending (stored, never flushed), so compacting at
   * every fence past the threshold would pay that cost at every fence.
   */
  compactJournalIfGrown(recordsMax: number): void {
    const n = this.journal.length;
    if (n > recordsMax / 2 && n >= this.journalLengthCompacted + recordsMax / 4) this.compactJournal();
  }

  /**
   * Drops journal records that no pending line can reference any more, repacks the undo arena,
   * and renumbers records when the numbers grow large. Changes nothing observable. O(pending lines).
   */
  compactJournal(): void {
    if (this.pendingLines === 0) {
      this.resetJournalIfIdle();
      return;
    }
    let minFirst = this.nextRecord;
    this.forEachPendingLine((_line, meta, l) => {
      if (meta.first[l]! < minFirst) minFirst = meta.first[l]!;
    });
    const drop = minFirst - this.journalFirst;
    if (drop > 0) {
      for (let i = 0; i < drop; i++) this.pendingBytes -= this.journal[i]!.data.length;
      this.journal = this.journal.slice(drop);
      this.journalFirst = minFirst;
    }
    if (this.undoUsed > 2 * this.pendingLines * LINE_BYTES) this.repackUndo();
    if (this.nextRecord > RECORD_NUMBER_MAX / 2) this.renumber();
    this.journalLengthCompacted = this.journal.length;
  }

  private repackUndo(): void {
    const old = this.undoArena;
    this.undoArena = Buffer.alloc(Math.max(UNDO_ARENA_BYTES_MIN, this.pendingLines * LINE_BYTES));
    this.undoUsed = 0;
    this.forEachPendingLine((_line, meta, l) => {
      const at = this.allocUndo(LINE_BYTES);
      old.copy(this.undoArena, at, meta.undo[l]!, meta.undo[l]! + LINE_BYTES);
      meta.undo[l] = at;
    });
  }

  private renumber(): void {
    const shift = this.journalFirst;
    this.forEachPendingLine((_line, meta, l) => {
      meta.first[l] = meta.first[l]! - shift;
      meta.last[l] = meta.last[l]! - shift;
      if (meta.mark[l]! >= 0) meta.mark[l] = meta.mark[l]! - shift;
    });
    this.journalFirst = 0;
    this.nextRecord -= shift;
  }

  /** Throws if an invariant of the header comment does not hold. O(size): tests only. */
  checkInvariants(): void {
    this.explodeAll();
    let pending = 0;
    for (let c = 0; c < this.chunkCount; c++) {
      const meta = this.meta[c];
      let chunkPending = 0;
      for (let l = 0; meta !== undefined && l < LINES_PER_CHUNK; l++) {
        const addr = (c * LINES_PER_CHUNK + l) * LINE_BYTES;
        const first = meta.first[l]!;
        if (first < 0) {
          if (meta.last[l] !== -1 || meta.mark[l] !== -1) throw new Error(`clean line ${addr} has last/mark`);
          continue;
        }
        chunkPending++;
        const last = meta.last[l]!;
        const mark = meta.mark[l]!;
        if (first > last) throw new Error(`line ${addr}: first ${first} > last ${last}`);
        if (first < this.journalFirst)
          throw new Error(`line ${addr}: first ${first} < journalFirst ${this.journalFirst}`);
        if (last >= this.nextRecord) throw new Error(`line ${addr}: last ${last} >= nextRecord`);
        if (mark !== -1 && (mark < first || mark > last))
          throw new Error(`line ${addr}: mark ${mark} outside [${first}, ${last}]`);
        if (meta.undo[l]! < 0 || meta.undo[l]! + LINE_BYTES > this.undoUsed)
          throw new Error(`line ${addr}: undo ${meta.undo[l]} outside the arena`);
      }
      for (let p = 0; meta !== undefined && p < PAGES_PER_CHUNK; p++) {
        let n = 0;
        for (let l = p * LINES_PER_PAGE; l < (p + 1) * LINES_PER_PAGE; l++) if (meta.first[l]! >= 0) n++;
        if (n !== meta.pagePending[p])
          throw new Error(`chunk ${c} page ${p}: ${n} pending lines, counter says ${meta.pagePending[p]}`);
      }
      if (chunkPending !== this.chunkPending[c])
        throw new Error(`chunk ${c}: ${chunkPending} pending lines, counter says ${this.chunkPending[c]}`);
      pending += chunkPending;
    }
    if (pending !== this.pendingLines) throw new Error(`${pending} pending lines, counter says ${this.pendingLines}`);
    if (this.journalFirst + this.journal.length !== this.nextRecord)
      throw new Error("journal length and record numbers disagree");
  }
}
