/**
 * Crash points and the crash states' images. A crash point is a seq: the power fails right after
 * that event. `fence`: just before each fence (everything stored since the previous one is pending)
 * and at the end; `store`: after every store; `op`: after every operation. The walker folds the
 * recorded events through the node's own apply function to each crash point in turn and builds the
 * image of a crash state: the durable media with each pending line at its chosen version.
 */
import type { Event } from "../../proto/index.js";
import { applyEvent, lineVersion, pendingLineVersions, tornLineVersion } from "../../node/dimm/apply.js";
import type { PendingLine } from "../../node/dimm/apply.js";
import { CHUNK_BYTES, LINE_BYTES, PAGES_PER_CHUNK, PAGE_BYTES } from "../../node/dimm/geometry.js";
import { DimmState } from "../../node/dimm/state.js";
import type { Persistence } from "../../proto/index.js";
import { hash128Into } from "./fast_hash.js";
import type { CrashState, PendingInfo } from "./strategies.js";

export type CrashPointMode = "fence" | "store" | "op";

export function isCrashPointMode(text: string): text is CrashPointMode {
  return text === "fence" || text === "store" || text === "op";
}

export function crashPoints(events: readonly Event[], mode: CrashPointMode, after: number): number[] {
  const points: number[] = [];
  for (const ev of events) {
    if (ev.seq <= after) continue;
    if (mode === "fence" && ev.kind === "fence" && ev.seq - 1 > after) points.push(ev.seq - 1);
    if (mode === "store" && ev.kind === "store") points.push(ev.seq);
    if (mode === "op" && ev.kind === "op") points.push(ev.seq);
  }
  const last = events.at(-1)?.seq ?? 0;
  if (last > after) points.push(last);
  return [...new Set(points)].sort((a, b) => a - b);
}

export interface PointView {
  seq: number;
  pending: PendingLine[];
  info: PendingInfo[];
  /** Durable media per chunk (undefined: zeros). */
  base: Array<Uint8Array | undefined>;
  /** Per pending line: its content with every pending store kept, null where that is the base's. */
  full: Array<Buffer | null>;
  /** Keyed digest of each page of the base image (pageDigest). */
  pageDigests: Buffer[];
  /** XOR of pageDigests. */
  baseKey: Buffer;
}

/** Folds events forward to successive crash points (they must come in increasing order). */
export class CrashWalker {
  private state: DimmState;
  private next = 0;
  /** The previous crash point's base image and page digests: only changed pages are hashed again. */
  private lastBase: Array<Uint8Array | undefined> = [];
  private lastDigests: Buffer[] = [];

  constructor(
    private readonly events: readonly Event[],
    private readonly sizeBytes: number,
    private readonly persistence: Persistence,
  ) {
    this.state = new DimmState(sizeBytes, persistence);
  }

  advanceTo(seq: number): PointView {
    if (this.next > 0 && this.events[this.next - 1]!.seq > seq) {
      this.state = new DimmState(this.sizeBytes, this.persistence);
      this.next = 0;
    }
    while (this.next < this.events.length && this.events[this.next]!.seq <= seq)
      applyEvent(this.state, this.events[this.next++]!);
    const pending = pendingLineVersions(this.state);
    const base: Array<Uint8Array | undefined> = [];
    for (let c = 0; c < this.state.chunkCount; c++) {
      if (this.state.mem[c] === undefined) base.push(undefined);
      else {
        const chunk = Buffer.allocUnsafe(CHUNK_BYTES);
        this.state.readMedia(c * CHUNK_BYTES, chunk);
        base.push(chunk);
      }
    }
    const pageDigests = this.pageDigests(base);
    const baseKey = Buffer.alloc(16);
    for (const digest of pageDigests) xorInto(baseKey, digest);
    const full = pending.map((p) => unlessBase(base, p.line, lineVersion(this.state, p, p.records.length)));
    return {
      seq,
      pending,
      info: pending.map((p) => ({ line: p.line, versions: p.records.length })),
      base,
      full,
      pageDigests,
      baseKey,
    };
  }

  private pageDigests(base: Array<Uint8Array | undefined>): Buffer[] {
    const digests: Buffer[] = [];
    for (let c = 0; c < base.length; c++) {
      const chunk = base[c];
      const previous = this.lastBase[c];
      for (let p = 0; p < PAGES_PER_CHUNK; p++) {
        const page = c * PAGES_PER_CHUNK + p;
        const content = chunk === undefined ? ZERO_PAGE : chunk.subarray(p * PAGE_BYTES, (p + 1) * PAGE_BYTES);
        const before = previous === undefined ? ZERO_PAGE : previous.subarray(p * PAGE_BYTES, (p + 1) * PAGE_BYTES);
        const cached = this.lastDigests[page];
        const digest =
          cached !== undefined && Buffer.compare(content, before) === 0 ? cached : pageDigest(page, content);
        digests.push(digest);
      }
    }
    this.lastBase = base;
    this.lastDigests = digests;
    return digests;
  }

  /** The lines a crash state puts on top of the durable media (only those that differ from it). */
  linesOf(view: PointView, state: CrashState): Array<[number, Uint8Array]> {
    const chosen = new Map(state.chosen.map((c) => [c.line, c]));
    const out: Array<[number, Uint8Array]> = [];
    for (let i = 0; i < view.pending.length; i++) {
      const p = view.pending[i]!;
      const c = chosen.get(p.line);
      let content: Buffer | null;
      if (c?.wordKept !== undefined)
        content = unlessBase(view.base, p.line, tornLineVersion(this.state, p, c.wordKept));
      else {
        const kept = c !== undefined ? c.kept : state.fallback === "all" ? p.records.length : 0;
        if (kept === 0) continue;
        content =
          kept === p.records.length ? view.full[i]! : unlessBase(view.base, p.line, lineVersion(this.state, p, kept));
      }
      if (content !== null) out.push([p.line, content]);
    }
    return out;
  }
}

/** `content` of line `line`, or null if the base image already holds it there. */
function unlessBase(base: ReadonlyArray<Uint8Array | undefined>, line: number, content: Buffer): Buffer | null {
  const chunk = base[Math.floor((line * LINE_BYTES) / CHUNK_BYTES)];
  const off = (line * LINE_BYTES) % CHUNK_BYTES;
  const same =
    chunk === undefined
      ? content.compare(ZERO_PAGE, 0, LINE_BYTES) === 0
      : content.compare(chunk, off, off + LINE_BYTES) === 0;
  return same ? null : content;
}

const ZERO_PAGE = Buffer.alloc(PAGE_BYTES);

/** A 128-bit digest of one page, keyed by its index (the seed), so equal pages at different places differ. */
function pageDigest(page: number, content: Uint8Array): Buffer {
  const out = new Uint32Array(4);
  hash128Into(content, page, out);
  return Buffer.from(out.buffer);
}

function xorInto(acc: Buffer, digest: Buffer): void {
  for (let i = 0; i < 16; i++) acc[i]! ^= digest[i]!;
}

/**
 * The key of the base image with `lines` on top: XOR over pages of a 128-bit digest keyed by the
 * page index, so equal images have equal keys and a few changed lines update it cheaply.
 */
export function stateKey(view: PointView, lines: ReadonlyArray<[number, Uint8Array]>): string {
  if (lines.length === 0) return view.baseKey.toString("hex");
  const acc = Buffer.from(view.baseKey);
  const byPage = new Map<number, Array<[number, Uint8Array]>>();
  for (const entry of lines) {
    const page = Math.floor((entry[0] * LINE_BYTES) / PAGE_BYTES);
    let list = byPage.get(page);
    if (list === undefined) byPage.set(page, (list = []));
    list.push(entry);
  }
  for (const [page, entries] of byPage) {
    const c = Math.floor((page * PAGE_BYTES) / CHUNK_BYTES);
    const off = (page * PAGE_BYTES) % CHUNK_BYTES;
    const chunk = view.base[c];
    const before = chunk === undefined ? ZERO_PAGE : chunk.subarray(off, off + PAGE_BYTES);
    const after = Buffer.from(before);
    for (const [line, content] of entries) after.set(content, (line * LINE_BYTES) % PAGE_BYTES);
    xorInto(acc, view.pageDigests[page]!);
    xorInto(acc, pageDigest(page, after));
  }
  return acc.toString("hex");
}
