/**
 * The one function that changes DIMM state: applyEvent(state, event). The live Dimm builds an event,
 * applies it with this function and logs it; replay folds logged events through the same function.
 * It is deterministic (no clock, no randomness: a power loss carries its decision) and it validates
 * what it is given, so a corrupt log raises a typed error instead of corrupting state.
 *
 * Persistence model (DESIGN §3):
 *   store         → the bytes are visible; each touched line is dirty (pending).
 *   non-temporal  → visible, bypasses the cache, pending until the next fence (a mark).
 *   CLWB/OPT      → the line's content now is what the next fence makes durable (a mark).
 *   CLFLUSH/EVICT → the line's content now is durable at once.
 *   fence         → every marked line becomes durable up to its mark.
 *   power loss    → each pending line keeps the prefix of its pending stores the decision names.
 */
import type { DimmEvent, Event, FenceEvent, FlushEvent, PowerLossEvent, StoreEvent } from "../../proto/index.js";
import { DimmArgumentError, DimmDivergenceError, DimmRangeError } from "./errors.js";
import {
  CHUNK_BYTES,
  LINE_BYTES,
  LINES_PER_CHUNK,
  LINES_PER_PAGE,
  PAGE_BYTES,
  PAGES_PER_CHUNK,
  WORD_BYTES,
  WORDS_PER_LINE,
} from "./geometry.js";
import type { DimmState, LineMeta } from "./state.js";

/** Applies one event. Events of other layers (faults, ops, mounts) leave the DIMM unchanged. */
export function applyEvent(state: DimmState, ev: Event): void {
  switch (ev.kind) {
    case "store":
      applyStore(state, ev);
      return;
    case "flush":
      applyFlush(state, ev);
      return;
    case "fence":
      applyFence(state, ev);
      return;
    case "powerLoss":
      applyPowerLoss(state, ev);
      return;
    case "fault":
    case "op":
    case "mount":
      return;
    default:
      return assertNever(ev);
  }
}

export function isDimmEvent(ev: Event): ev is DimmEvent {
  return ev.kind === "store" || ev.kind === "flush" || ev.kind === "fence" || ev.kind === "powerLoss";
}

function assertNever(value: never): never {
  throw new DimmArgumentError(`unknown event kind ${JSON.stringify((value as { kind?: unknown }).kind)}`);
}

/** Checks [addr, addr+length) lies inside the DIMM. */
export function checkRange(state: DimmState, what: string, addr: number, length: number): void {
  if (!Number.isSafeInteger(addr) || !Number.isSafeInteger(length)) {
    throw new DimmArgumentError(`${what}: address ${addr} and length ${length} must be integers`);
  }
  if (addr < 0 || length < 0 || addr + length > state.sizeBytes)
    throw new DimmRangeError(what, addr, length, state.sizeBytes);
}

function applyStore(state: DimmState, ev: StoreEvent): void {
  const length = ev.data.length;
  checkRange(state, "store", ev.addr, length);
  if (length === 0) throw new DimmArgumentError(`store at ${ev.addr}: zero length`);
  if (state.persistence === "eadr") {
    writeDurable(state, ev.addr, ev.data);
    return;
  }
  const record = state.nextRecord++;
  state.journal.push(ev);
  state.pendingBytes += length;
  let done = 0;
  while (done < length) {
    const at = ev.addr + done;
    const c = Math.floor(at / CHUNK_BYTES);
    const off = at - c * CHUNK_BYTES;
    const n = Math.min(length - done, CHUNK_BYTES - off);
    const mem = state.memChunk(c);
    markStoredLines(state, c, mem, off, n, record, ev.nonTemporal);
    mem.set(n === length ? ev.data : ev.data.subarray(done, done + n), off);
    done += n;
  }
}

/**
 * Updates line metadata for a store of n bytes at chunk offset off. Runs before the bytes land, so a
 * line that becomes pending saves its durable content (the bytes there now) in the undo arena.
 */
function markStoredLines(
  state: DimmState,
  c: number,
  mem: Buffer,
  off: number,
  n: number,
  record: number,
  nonTemporal: boolean,
): void {
  const meta = state.lineMeta(c);
  const { first, last, mark, undo, pagePending } = meta;
  const lo = off >>> 6;
  const hi = (off + n - 1) >>> 6;
  const chunkLine = c * LINES_PER_CHUNK;
  const p = lo >>> 6;
  const wholePage = nonTemporal && n === PAGE_BYTES && off % PAGE_BYTES === 0;
  if (wholePage && meta.pageRecord[p]! >= 0) {
    // Another whole-page NT store to a uniform page (write() after zeroing): still uniform.
    meta.pageLast[p] = record;
    return;
  }
  if (wholePage && pagePending[p] === 0) {
    // write() of a whole clean page: one undo copy and O(1) metadata (a uniform page).
    const at = state.allocUndo(PAGE_BYTES);
    mem.copy(state.undoArena, at, off, off + PAGE_BYTES);
    meta.pageRecord[p] = record;
    meta.pageLast[p] = record;
    meta.pageUndo[p] = at;
    pagePending[p] = LINES_PER_PAGE;
    state.pendingLines += LINES_PER_PAGE;
    state.chunkPending[c] = state.chunkPending[c]! + LINES_PER_PAGE;
    state.uniformPages.push(c * PAGES_PER_CHUNK + p);
    return;
  }
  for (let q = p; q <= hi >>> 6; q++) state.explodePage(c, q);
  if (nonTemporal && allClean(pagePending, first, lo, hi)) {
    // Clean lines: save their durable content in one copy; each gets this record as first, last, mark.
    const at = state.allocUndo((hi - lo + 1) * LINE_BYTES);
    mem.copy(state.undoArena, at, lo * LINE_BYTES, (hi + 1) * LINE_BYTES);
    for (let l = lo; l <= hi; l++) {
      undo[l] = at + (l - lo) * LINE_BYTES;
      pagePending[l >>> 6]!++;
    }
    first.fill(record, lo, hi + 1);
    last.fill(record, lo, hi + 1);
    mark.fill(record, lo, hi + 1);
    state.addFlushRange(chunkLine + lo, hi - lo + 1, state.touchEpoch);
    state.pendingLines += hi - lo + 1;
    state.chunkPending[c] = state.chunkPending[c]! + hi - lo + 1;
    return;
  }
  let newlyPending = 0;
  for (let l = lo; l <= hi; l++) {
    if (first[l]! < 0) {
      const at = state.allocUndo(LINE_BYTES);
      mem.copy(state.undoArena, at, l * LINE_BYTES, (l + 1) * LINE_BYTES);
      undo[l] = at;
      first[l] = record;
      last[l] = record;
      pagePending[l >>> 6]!++;
      newlyPending++;
      if (nonTemporal) {
        state.addFlushRange(chunkLine + l, 1, -1);
        mark[l] = record;
      }
      continue;
    }
    state.touchEpoch++;
    if (!nonTemporal && mark[l]! >= 0 && last[l] === mark[l]) {
      // The first cached store after a flush captured this line: keep what the flush captured,
      // since the visible line is about to change and the next fence must persist the old content.
      captureLine(state, chunkLine + l);
    }
    last[l] = record;
    if (nonTemporal) {
      if (mark[l]! < 0) state.addFlushRange(chunkLine + l, 1, -1);
      mark[l] = record;
    }
  }
  state.pendingLines += newlyPending;
  state.chunkPending[c] = state.chunkPending[c]! + newlyPending;
}

function captureLine(state: DimmState, line: number): void {
  const content = Buffer.allocUnsafe(LINE_BYTES);
  state.readVisible(line * LINE_BYTES, content);
  state.captures.set(line, content);
}

function allClean(pagePending: Uint8Array, first: Int32Array, lo: number, hi: number): boolean {
  if (lo >>> 6 === hi >>> 6) return pagePending[lo >>> 6] === 0;
  for (let l = lo; l <= hi; l++) if (first[l]! >= 0) return false;
  return true;
}

function applyFlush(state: DimmState, ev: FlushEvent): void {
  if (!Number.isSafeInteger(ev.lines) || ev.lines < 1)
    throw new DimmArgumentError(`flush at ${ev.addr}: line count ${ev.lines} must be ≥ 1`);
  if (ev.addr % LINE_BYTES !== 0) throw new DimmArgumentError(`flush: address ${ev.addr} is not 64-byte aligned`);
  checkRange(state, "flush", ev.addr, ev.lines * LINE_BYTES);
  if (state.persistence === "eadr") return;
  const immediate = ev.flushKind === "clflush" || ev.flushKind === "evict";
  if (!immediate && ev.flushKind !== "clwb" && ev.flushKind !== "clflushopt") {
    throw new DimmArgumentError(`flush: unknown kind ${JSON.stringify(ev.flushKind)}`);
  }
  const firstLine = ev.addr / LINE_BYTES;
  const endLine = firstLine + ev.lines;
  for (let line = firstLine; line < endLine; line++) {
    const c = Math.floor(line / LINES_PER_CHUNK);
    if (state.chunkPending[c] === 0) {
      line = (c + 1) * LINES_PER_CHUNK - 1; // nothing pending in this chunk: skip it
      continue;
    }
    const meta = state.meta[c]!;
    const l = line - c * LINES_PER_CHUNK;
    const p = l >>> 6;
    if (meta.pageRecord[p]! >= 0) {
      const pageFirstLine = line - (l - p * LINES_PER_PAGE);
      const wholePage = pageFirstLine >= firstLine && pageFirstLine + LINES_PER_PAGE <= endLine;
      if (!immediate) {
        // CLWB/CLFLUSHOPT of a uniform page's lines: they are already flush-pending up to their last store.
        line = pageFirstLine + LINES_PER_PAGE - 1;
        continue;
      }
      if (wholePage) {
        clearUniformPage(state, c, p);
        line = pageFirstLine + LINES_PER_PAGE - 1;
        continue;
      }
      state.explodePage(c, p);
    }
    if (meta.first[l]! < 0) continue;
    if (immediate) {
      // The line's visible content becomes its durable content: forget the undo entry.
      state.touchEpoch++;
      state.durableChanged(c);
      clearLine(state, c, meta, l);
    } else {
      if (meta.mark[l]! < 0) state.addFlushRange(line, 1, -1);
      meta.mark[l] = meta.last[l]!;
    }
  }
  state.resetJournalIfIdle();
}

function applyFence(state: DimmState, _ev: FenceEvent): void {
  if (state.persistence === "eadr") return;
  for (const page of state.uniformPages) {
    const c = Math.floor(page / PAGES_PER_CHUNK);
    const p = page - c * PAGES_PER_CHUNK;
    if (state.meta[c]!.pageRecord[p]! >= 0) clearUniformPage(state, c, p);
  }
  state.uniformPages = [];
  const ranges = state.flushRanges;
  for (let i = 0; i < ranges.length; i += 3)
    fenceRange(state, ranges[i]!, ranges[i + 1]!, ranges[i + 2] === state.touchEpoch);
  state.flushRanges = [];
  state.captures.clear();
  state.resetJournalIfIdle();
}

/** Makes the marked lines of [firstLine, firstLine+count) durable, copying runs in one go. */
function fenceRange(state: DimmState, firstLine: number, count: number, untouched: boolean): void {
  const c = Math.floor(firstLine / LINES_PER_CHUNK);
  const lo = firstLine - c * LINES_PER_CHUNK;
  if (lo + count <= LINES_PER_CHUNK && fenceWholeRange(state, c, lo, lo + count, untouched)) return;
  fenceRangeLineByLine(state, firstLine, count);
}

/**
 * Fast path: when every line of [lo, hi) in chunk c is pending with nothing stored after its mark,
 * the whole range becomes durable with one copy. Returns false (changing nothing) otherwise.
 */
function fenceWholeRange(state: DimmState, c: number, lo: number, hi: number, untouched: boolean): boolean {
  const { first, last, mark } = state.meta[c]!;
  if (!untouched) {
    for (let l = lo; l < hi; l++) {
      if (first[l]! < 0 || mark[l]! < 0 || last[l] !== mark[l]) return false;
    }
    // Lines this range clears may also belong to a later "untouched" range of the same fence.
    state.touchEpoch++;
  }
  first.fill(-1, lo, hi);
  last.fill(-1, lo, hi);
  mark.fill(-1, lo, hi);
  const pagePending = state.meta[c]!.pagePending;
  for (let l = lo; l < hi; l++) pagePending[l >>> 6]!--;
  state.pendingLines -= hi - lo;
  state.chunkPending[c] = state.chunkPending[c]! - (hi - lo);
  state.durableChanged(c);
  return true;
}

function fenceRangeLineByLine(state: DimmState, firstLine: number, count: number): void {
  for (let line = firstLine; line < firstLine + count; line++) {
    const c = Math.floor(line / LINES_PER_CHUNK);
    const meta = state.meta[c]!;
    const l = line - c * LINES_PER_CHUNK;
    const mark = meta.mark[l]!;
    if (mark < 0 || meta.first[l]! < 0) continue;
    state.durableChanged(c);
    state.touchEpoch++;
    if (meta.last[l] === mark) {
      clearLine(state, c, meta, l);
      continue;
    }
    // Stores came after the mark: the durable content is what the flush captured.
    const captured = state.captures.get(line);
    if (captured === undefined) throw new Error(`fence: line ${line} has stores after its mark but no capture`);
    captured.copy(state.undoArena, meta.undo[l]!);
    meta.first[l] = mark + 1;
    meta.mark[l] = -1;
  }
}

/** A uniform page's lines become durable as they are now: forget the page's undo entry. */
function clearUniformPage(state: DimmState, c: number, p: number): void {
  const meta = state.meta[c]!;
  meta.pageRecord[p] = -1;
  meta.pagePending[p] = 0;
  state.pendingLines -= LINES_PER_PAGE;
  state.chunkPending[c] = state.chunkPending[c]! - LINES_PER_PAGE;
  state.touchEpoch++;
  state.durableChanged(c);
}

function clearLine(state: DimmState, c: number, meta: LineMeta, l: number): void {
  meta.first[l] = -1;
  meta.last[l] = -1;
  meta.mark[l] = -1;
  meta.pagePending[l >>> 6]!--;
  state.pendingLines--;
  state.chunkPending[c] = state.chunkPending[c]! - 1;
}

/** eADR: a store is durable when it is visible. */
function writeDurable(state: DimmState, addr: number, data: Uint8Array): void {
  let done = 0;
  while (done < data.length) {
    const at = addr + done;
    const c = Math.floor(at / CHUNK_BYTES);
    const off = at - c * CHUNK_BYTES;
    const n = Math.min(data.length - done, CHUNK_BYTES - off);
    state.memChunk(c).set(data.subarray(done, done + n), off);
    state.durableChanged(c);
    done += n;
  }
}

// ---------------------------------------------------------------------------------------------
// Power loss

/** The pending stores of one line, in program order: version k = durable content + first k. */
export interface PendingLine {
  line: number;
  records: StoreEvent[];
}

/**
 * Every pending line with the records that touch it, ascending by line. One pass over the journal:
 * O(records × lines per record).
 */
export function pendingLineVersions(state: DimmState): PendingLine[] {
  state.explodeAll();
  const byLine = new Map<number, StoreEvent[]>();
  const start = state.journalFirst;
  for (let i = 0; i < state.journal.length; i++) {
    const ev = state.journal[i]!;
    const record = start + i;
    const firstLine = Math.floor(ev.addr / LINE_BYTES);
    const lastLine = Math.floor((ev.addr + ev.data.length - 1) / LINE_BYTES);
    for (let line = firstLine; line <= lastLine; line++) {
      const c = Math.floor(line / LINES_PER_CHUNK);
      const meta = state.meta[c];
      if (meta === undefined) continue;
      const l = line - c * LINES_PER_CHUNK;
      const first = meta.first[l]!;
      if (first < 0 || record < first || record > meta.last[l]!) continue;
      let list = byLine.get(line);
      if (list === undefined) {
        list = [];
        byLine.set(line, list);
      }
      list.push(ev);
    }
  }
  const lines = [...byLine.keys()].sort((a, b) => a - b);
  return lines.map((line) => ({ line, records: byLine.get(line)! }));
}

/** Writes the part of `ev` that falls inside [lineAddr + from, lineAddr + to) into `dst` (64 bytes). */
function redoInto(dst: Uint8Array, lineAddr: number, ev: StoreEvent, from = 0, to = LINE_BYTES): void {
  const lo = Math.max(ev.addr, lineAddr + from);
  const hi = Math.min(ev.addr + ev.data.length, lineAddr + to);
  if (lo >= hi) return;
  // At most 64 bytes: a byte loop beats allocating a subarray view for TypedArray.set.
  const data = ev.data;
  for (let i = lo, d = lo - lineAddr, e = lo - ev.addr; i < hi; i++) dst[d++] = data[e++]!;
}

/** The content of a pending line after keeping the first `kept` of its records. */
export function lineVersion(state: DimmState, pending: PendingLine, kept: number): Buffer {
  const lineAddr = pending.line * LINE_BYTES;
  const content = Buffer.allocUnsafe(LINE_BYTES);
  state.readMedia(lineAddr, content);
  for (let k = 0; k < kept; k++) redoInto(content, lineAddr, pending.records[k]!);
  return content;
}

/** The content of a pending line when each word w kept the first wordKept[w] records. */
export function tornLineVersion(state: DimmState, pending: PendingLine, wordKept: readonly number[]): Buffer {
  const lineAddr = pending.line * LINE_BYTES;
  const content = Buffer.allocUnsafe(LINE_BYTES);
  state.readMedia(lineAddr, content);
  for (let w = 0; w < WORDS_PER_LINE; w++) {
    const kept = wordKept[w]!;
    for (let k = 0; k < kept; k++)
      redoInto(content, lineAddr, pending.records[k]!, w * WORD_BYTES, (w + 1) * WORD_BYTES);
  }
  return content;
}

function applyPowerLoss(state: DimmState, ev: PowerLossEvent): void {
  if (state.persistence !== ev.persistence) {
    throw new DimmDivergenceError(
      `power loss recorded on an ${ev.persistence} DIMM, applied to an ${state.persistence} one`,
      ev.seq,
    );
  }
  const pending = state.persistence === "eadr" ? [] : pendingLineVersions(state);
  if (pending.length !== ev.lines.length) {
    throw new DimmDivergenceError(
      `power loss decides ${ev.lines.length} lines, but ${pending.length} lines are pending`,
      ev.seq,
    );
  }
  const contents: Buffer[] = [];
  for (let i = 0; i < pending.length; i++) {
    const p = pending[i]!;
    const d = ev.lines[i]!;
    if (d.line !== p.line || d.versions !== p.records.length) {
      throw new DimmDivergenceError(
        `power loss decision ${i} is for line ${d.line} with ${d.versions} versions; pending is line ${p.line} with ${p.records.length}`,
        ev.seq,
      );
    }
    contents.push(decidedContent(state, p, d.kept, d.wordKept, ev.seq));
  }
  // Volatile state is gone: each pending line's content becomes the decided version. Lines that were
  // not pending keep their (durable) content.
  for (let i = 0; i < pending.length; i++) {
    const line = pending[i]!.line;
    const c = Math.floor(line / LINES_PER_CHUNK);
    const off = (line - c * LINES_PER_CHUNK) * LINE_BYTES;
    state.memChunk(c).set(contents[i]!, off);
    state.durableChanged(c);
    const meta = state.meta[c]!;
    clearLine(state, c, meta, line - c * LINES_PER_CHUNK);
  }
  state.flushRanges = [];
  state.captures.clear();
  if (state.pendingLines !== 0) throw new Error(`power loss left ${state.pendingLines} lines pending`);
  state.resetJournalIfIdle();
  state.boot++;
}

function decidedContent(
  state: DimmState,
  p: PendingLine,
  kept: number,
  wordKept: readonly number[],
  seq: number,
): Buffer {
  const versions = p.records.length;
  if (wordKept.length === 0) {
    if (!Number.isInteger(kept) || kept < 0 || kept > versions) {
      throw new DimmDivergenceError(`power loss keeps ${kept} of ${versions} versions of line ${p.line}`, seq);
    }
    return lineVersion(state, p, kept);
  }
  if (wordKept.length !== WORDS_PER_LINE) {
    throw new DimmDivergenceError(
      `power loss gives ${wordKept.length} word decisions for line ${p.line}, not ${WORDS_PER_LINE}`,
      seq,
    );
  }
  for (const k of wordKept) {
    if (!Number.isInteger(k) || k < 0 || k > versions) {
      throw new DimmDivergenceError(`power loss keeps ${k} of ${versions} versions of a word of line ${p.line}`, seq);
    }
  }
  return tornLineVersion(state, p, wordKept);
}
