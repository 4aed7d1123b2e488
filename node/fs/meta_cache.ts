/**
 * The metadata buffer cache: in-memory copies of the metadata blocks the filesystem has touched
 * (inode table, bitmap, directory and indirect blocks), and the byte ranges changed since the last
 * commit. Metadata is read and changed only here; the DIMM copy changes only when the journal
 * commits a transaction and checkpoints it (journal.ts). Like jbd2 with the buffer cache.
 *
 * Invariant: a block's copy equals its durable media content plus the changes of the running
 * transaction (the dirty ranges); nothing else.
 */
import type { MediaIo } from "./media_io.js";
import { BLOCK_BYTES } from "./layout.js";

/** "data": zeros for file data that must change atomically with the transaction (punch, truncate). */
export type MetaKind = "inode" | "bitmap" | "dir" | "indirect" | "data";

export interface MetaRecord {
  addr: number;
  data: Buffer;
  kind: MetaKind;
}

export class MetaCache {
  private readonly blocks = new Map<number, Buffer>();
  private readonly kinds = new Map<number, MetaKind>();
  /** block → [lo, hi) bytes changed in the running transaction. */
  private readonly dirty = new Map<number, [number, number]>();
  private dirtyBytes = 0;

  constructor(private readonly io: MediaIo) {}

  /** The cached copy of `block`, read from the DIMM on first use. */
  block(block: number, kind: MetaKind): Buffer {
    let copy = this.blocks.get(block);
    if (copy === undefined) {
      copy = this.io.load(block * BLOCK_BYTES, BLOCK_BYTES);
      this.blocks.set(block, copy);
      this.kinds.set(block, kind);
    }
    return copy;
  }

  /** A block just allocated and zeroed on media: its copy is zeros, no read needed. */
  fresh(block: number, kind: MetaKind): Buffer {
    const copy = Buffer.alloc(BLOCK_BYTES);
    this.blocks.set(block, copy);
    this.kinds.set(block, kind);
    return copy;
  }

  /** Forgets a block (it was freed): its copy must not be journaled again. */
  forget(block: number): void {
    const range = this.dirty.get(block);
    if (range !== undefined) this.dirtyBytes -= range[1] - range[0];
    this.blocks.delete(block);
    this.kinds.delete(block);
    this.dirty.delete(block);
  }

  read(addr: number, length: number, kind: MetaKind): Buffer {
    const block = Math.floor(addr / BLOCK_BYTES);
    const off = addr - block * BLOCK_BYTES;
    if (off + length > BLOCK_BYTES) throw new Error(`metadata read [${addr}, +${length}) crosses a block`);
    return this.block(block, kind).subarray(off, off + length);
  }

  /** Changes bytes of a metadata block in the running transaction. */
  write(addr: number, bytes: Uint8Array, kind: MetaKind): void {
    const block = Math.floor(addr / BLOCK_BYTES);
    const off = addr - block * BLOCK_BYTES;
    if (off + bytes.length > BLOCK_BYTES) throw new Error(`metadata write [${addr}, +${bytes.length}) crosses a block`);
    this.block(block, kind).set(bytes, off);
    this.markDirty(block, off, off + bytes.length);
  }

  /** The copy was changed in place (e.g. a bitmap bit); record [lo, hi) of `block` as dirty. */
  markDirty(block: number, lo: number, hi: number): void {
    const range = this.dirty.get(block);
    if (range === undefined) {
      this.dirty.set(block, [lo, hi]);
      this.dirtyBytes += hi - lo;
      return;
    }
    const before = range[1] - range[0];
    range[0] = Math.min(range[0], lo);
    range[1] = Math.max(range[1], hi);
    this.dirtyBytes += range[1] - range[0] - before;
  }

  /** Bytes the running transaction would write to the journal (without headers). */
  get pendingBytes(): number {
    return this.dirtyBytes;
  }

  get isClean(): boolean {
    return this.dirty.size === 0;
  }

  /** The running transaction's changes as journal records (sorted by address); clears them. */
  takeRecords(): MetaRecord[] {
    const records: MetaRecord[] = [];
    const blocks = [...this.dirty.keys()].sort((a, b) => a - b);
    for (const block of blocks) {
      const [lo, hi] = this.dirty.get(block)!;
      const copy = this.blocks.get(block)!;
      records.push({
        addr: block * BLOCK_BYTES + lo,
        data: Buffer.from(copy.subarray(lo, hi)),
        kind: this.kinds.get(block)!,
      });
    }
    this.dirty.clear();
    this.dirtyBytes = 0;
    return records;
  }
}
