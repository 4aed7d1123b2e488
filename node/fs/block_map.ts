/**
 * File block → DIMM block mapping: 12 direct pointers, one indirect block, one double-indirect block
 * (each holding 1024 u32 pointers; 0 = hole). Indirect blocks are metadata: they are read and
 * changed through the MetaCache, so every pointer change is journaled. An indirect block is freed
 * as soon as it holds no pointer. `inode.blocks` counts data and indirect blocks.
 */
import { FsError } from "./errors.js";
import type { Inode } from "./layout.js";
import { BLOCK_BYTES, DIRECT_POINTERS, MAX_FILE_BLOCKS, POINTERS_PER_BLOCK, fileBlock } from "./layout.js";
import type { MetaCache } from "./meta_cache.js";

export interface BlockAllocator {
  /** A new metadata block, zeroed on media and cached as zeros. Throws FsError ENOSPC. */
  allocMetaBlock(kind: "indirect" | "dir"): number;
  /** Frees a block at the next commit. */
  freeBlock(block: number): void;
}

const INDIRECT_BASE = DIRECT_POINTERS;
const DINDIRECT_BASE = DIRECT_POINTERS + POINTERS_PER_BLOCK;

export class BlockMap {
  constructor(
    private readonly meta: MetaCache,
    private readonly alloc: BlockAllocator,
  ) {}

  /** Entry `index` of indirect block `block` (an arrow, so get() can hand it to fileBlock). */
  private readonly pointer = (block: number, index: number): number =>
    this.meta.read(block * BLOCK_BYTES + index * 4, 4, "indirect").readUInt32LE(0);

  private setPointer(block: number, index: number, value: number): void {
    const bytes = Buffer.alloc(4);
    bytes.writeUInt32LE(value, 0);
    this.meta.write(block * BLOCK_BYTES + index * 4, bytes, "indirect");
  }

  private isEmpty(block: number): boolean {
    const copy = this.meta.block(block, "indirect");
    for (let i = 0; i < BLOCK_BYTES; i += 4) if (copy.readUInt32LE(i) !== 0) return false;
    return true;
  }

  /** The DIMM block holding file block `fb`, or 0 for a hole. */
  get(inode: Inode, fb: number): number {
    return fileBlock(inode, fb, this.pointer);
  }

  /** Points file block `fb` at `block` (a hole before). Allocates indirect blocks on the way. */
  set(inode: Inode, fb: number, block: number): void {
    if (fb >= MAX_FILE_BLOCKS) throw new FsError("EFBIG", `file block ${fb} is beyond the largest file`);
    if (fb < INDIRECT_BASE) {
      inode.direct[fb] = block;
      return;
    }
    if (fb < DINDIRECT_BASE) {
      if (inode.indirect === 0) inode.indirect = this.newIndirect(inode);
      this.setPointer(inode.indirect, fb - INDIRECT_BASE, block);
      return;
    }
    const rel = fb - DINDIRECT_BASE;
    if (inode.dindirect === 0) inode.dindirect = this.newIndirect(inode);
    const slot = Math.floor(rel / POINTERS_PER_BLOCK);
    let mid = this.pointer(inode.dindirect, slot);
    if (mid === 0) {
      mid = this.newIndirect(inode);
      this.setPointer(inode.dindirect, slot, mid);
    }
    this.setPointer(mid, rel % POINTERS_PER_BLOCK, block);
  }

  private newIndirect(inode: Inode): number {
    const block = this.alloc.allocMetaBlock("indirect");
    inode.blocks++;
    return block;
  }

  /** Unmaps file block `fb`, frees indirect blocks left empty, and returns the old block (0: hole). */
  clear(inode: Inode, fb: number): number {
    if (fb < INDIRECT_BASE) {
      const old = inode.direct[fb]!;
      inode.direct[fb] = 0;
      return old;
    }
    if (fb < DINDIRECT_BASE) {
      if (inode.indirect === 0) return 0;
      const old = this.pointer(inode.indirect, fb - INDIRECT_BASE);
      if (old === 0) return 0;
      this.setPointer(inode.indirect, fb - INDIRECT_BASE, 0);
      if (this.isEmpty(inode.indirect)) inode.indirect = this.dropIndirect(inode, inode.indirect);
      return old;
    }
    if (fb >= MAX_FILE_BLOCKS || inode.dindirect === 0) return 0;
    const rel = fb - DINDIRECT_BASE;
    const slot = Math.floor(rel / POINTERS_PER_BLOCK);
    const mid = this.pointer(inode.dindirect, slot);
    if (mid === 0) return 0;
    const old = this.pointer(mid, rel % POINTERS_PER_BLOCK);
    if (old === 0) return 0;
    this.setPointer(mid, rel % POINTERS_PER_BLOCK, 0);
    if (this.isEmpty(mid)) {
      this.dropIndirect(inode, mid);
      this.setPointer(inode.dindirect, slot, 0);
      if (this.isEmpty(inode.dindirect)) inode.dindirect = this.dropIndirect(inode, inode.dindirect);
    }
    return old;
  }

  private dropIndirect(inode: Inode, block: number): number {
    this.meta.forget(block);
    this.alloc.freeBlock(block);
    inode.blocks--;
    return 0;
  }

  /** Calls fn for every mapped file block in [from, to), ascending. Skips unmapped ranges quickly. */
  forEachMapped(inode: Inode, from: number, to: number, fn: (fb: number, block: number) => void): void {
    const end = Math.min(to, MAX_FILE_BLOCKS);
    for (let fb = from; fb < Math.min(end, INDIRECT_BASE); fb++) if (inode.direct[fb] !== 0) fn(fb, inode.direct[fb]!);
    if (end > INDIRECT_BASE && inode.indirect !== 0) {
      for (let fb = Math.max(from, INDIRECT_BASE); fb < Math.min(end, DINDIRECT_BASE); fb++) {
        const block = this.pointer(inode.indirect, fb - INDIRECT_BASE);
        if (block !== 0) fn(fb, block);
      }
    }
    if (end > DINDIRECT_BASE && inode.dindirect !== 0) {
      const first = Math.max(from, DINDIRECT_BASE) - DINDIRECT_BASE;
      const last = end - DINDIRECT_BASE;
      for (let slot = Math.floor(first / POINTERS_PER_BLOCK); slot * POINTERS_PER_BLOCK < last; slot++) {
        const mid = this.pointer(inode.dindirect, slot);
        if (mid === 0) continue;
        const lo = Math.max(first, slot * POINTERS_PER_BLOCK);
        const hi = Math.min(last, (slot + 1) * POINTERS_PER_BLOCK);
        for (let rel = lo; rel < hi; rel++) {
          const block = this.pointer(mid, rel % POINTERS_PER_BLOCK);
          if (block !== 0) fn(DINDIRECT_BASE + rel, block);
        }
      }
    }
  }

  /** The indirect blocks of an inode (for fsck and freeing). */
  indirectBlocks(inode: Inode): number[] {
    const out: number[] = [];
    if (inode.indirect !== 0) out.push(inode.indirect);
    if (inode.dindirect !== 0) {
      out.push(inode.dindirect);
      for (let slot = 0; slot < POINTERS_PER_BLOCK; slot++) {
        const mid = this.pointer(inode.dindirect, slot);
        if (mid !== 0) out.push(mid);
      }
    }
    return out;
  }
}
