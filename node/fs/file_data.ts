/**
 * File data: read, write, truncate, fallocate, punch hole, zero range and fsync, in both modes.
 *
 * dax (DESIGN §4, S1/S5/S6/S8): read() copies straight from the DIMM (one copy, holes read as zeros,
 * clamped at EOF); write() allocates zeroed blocks, then copies with non-temporal stores plus CLWB on
 * unaligned edge lines, no fence (the fence comes with fsync); an allocating write tears down the
 * zero-page mappings of the pages it allocated. Truncate, punch and zero range unmap the affected
 * pages from every mapping first, zero partial blocks in place (cached stores + CLWB, as
 * dax_memzero does), and free whole blocks. Extension zeroes per zero-on-extend.
 *
 * nodax: file data lives in page-cache pages; read/write copy twice (media ⇄ page cache ⇄ user);
 * fsync writes dirty pages back with non-temporal stores, zeroing the post-EOF tail of the EOF page
 * at each writeback (as page-cache filesystems do).
 *
 * Counters in both modes: bytes copied, bytes of page cache resident.
 */
import { FsError } from "./errors.js";
import type { DaxFs } from "./fs.js";
import type { Inode } from "./layout.js";
import { BLOCK_BYTES, MAX_FILE_BYTES, isDir } from "./layout.js";
import { ZERO_PAGE_BYTES } from "./media_io.js";

export interface DataCounters {
  /** Bytes moved between user buffers, page cache and media by read/write/writeback. */
  bytesCopied: number;
  /** Bytes written by write()/pwrite(). */
  bytesWritten: number;
  /** Bytes returned by read()/pread(). */
  bytesRead: number;
  /** Bytes zeroed on media (new blocks, extension, truncate, punch, zero range). */
  bytesZeroed: number;
}

interface CachePage {
  data: Buffer;
  dirty: boolean;
}

export class FileData {
  readonly counters: DataCounters = { bytesCopied: 0, bytesWritten: 0, bytesRead: 0, bytesZeroed: 0 };
  /** nodax page cache: inode → page index → page. */
  private readonly pageCache = new Map<number, Map<number, CachePage>>();

  constructor(private readonly fs: DaxFs) {
    fs.onInodeFreed((ino) => this.forget(ino));
  }

  get dax(): boolean {
    return this.fs.options.dax;
  }

  get pageCacheBytes(): number {
    let pages = 0;
    for (const m of this.pageCache.values()) pages += m.size;
    return pages * BLOCK_BYTES;
  }

  private checkFile(inode: Inode): void {
    if (isDir(inode)) throw new FsError("EISDIR", `inode ${inode.ino} is a directory`);
  }

  private checkRange(what: string, offset: number, length: number): void {
    if (!Number.isSafeInteger(offset) || offset < 0)
      throw new FsError("EINVAL", `${what}: offset ${offset} must be a non-negative integer`);
    if (!Number.isSafeInteger(length) || length < 0)
      throw new FsError("EINVAL", `${what}: length ${length} must be a non-negative integer`);
    if (offset + length > MAX_FILE_BYTES)
      throw new FsError(
        "EFBIG",
        `${what}: [${offset}, +${length}) is beyond the largest file (${MAX_FILE_BYTES} bytes)`,
      );
  }

  // -------------------------------------------------------------------------------------------
  // read / write

  read(inode: Inode, offset: number, length: number): Buffer {
    this.checkFile(inode);
    this.checkRange("read", offset, length);
    const end = Math.min(offset + length, inode.size);
    if (end <= offset) return Buffer.alloc(0);
    const out = Buffer.alloc(end - offset);
    for (let pos = offset; pos < end;) {
      const fb = Math.floor(pos / BLOCK_BYTES);
      const inBlock = pos - fb * BLOCK_BYTES;
      const n = Math.min(end - pos, BLOCK_BYTES - inBlock);
      const dst = out.subarray(pos - offset, pos - offset + n);
      if (this.dax) {
        const block = this.fs.blockMap.get(inode, fb);
        if (block !== 0) this.fs.io.loadInto(block * BLOCK_BYTES + inBlock, dst); // holes stay zero
      } else {
        this.cachePage(inode, fb, false).data.copy(dst, 0, inBlock, inBlock + n);
      }
      this.counters.bytesCopied += n;
      pos += n;
    }
    this.counters.bytesRead += out.length;
    return out;
  }

  /** write(): `data` is handed over (owned) and must not change afterwards. Returns bytes written. */
  write(inode: Inode, offset: number, data: Uint8Array): number {
    this.checkFile(inode);
    this.checkRange("write", offset, data.length);
    if (data.length === 0) return 0;
    this.fs.reserveJournal();
    const oldSize = inode.size;
    const end = offset + data.length;
    if (offset > oldSize) this.zeroOnExtend(inode, oldSize, offset);
    const allocated: number[] = [];
    let pos = offset;
    for (; pos < end;) {
      const fb = Math.floor(pos / BLOCK_BYTES);
      const inBlock = pos - fb * BLOCK_BYTES;
      const n = Math.min(end - pos, BLOCK_BYTES - inBlock);
      const piece = data.subarray(pos - offset, pos - offset + n);
      // nodax: the page first (read from media only if the block exists), then any allocation.
      const page = this.dax ? undefined : this.cachePage(inode, fb, false);
      let block = this.fs.blockMap.get(inode, fb);
      if (block === 0) {
        try {
          block = this.allocFileBlock(inode, fb);
        } catch (error) {
          // ENOSPC part-way: like Linux, report the bytes written so far (or the error if none).
          if (!(error instanceof FsError) || error.errno !== "ENOSPC" || pos === offset) throw error;
          break;
        }
        allocated.push(fb);
      }
      if (this.dax) {
        this.fs.io.copyFlushcache(block * BLOCK_BYTES + inBlock, piece, "syscall", inode.ino, pos);
      } else {
        page!.data.set(piece, inBlock);
        page!.dirty = true;
      }
      this.counters.bytesCopied += n;
      pos += n;
    }
    // A write that allocated tears down the zero-page mappings of those pages (A5, S1).
    for (const fb of allocated) this.fs.hooks.unmapPages(inode.ino, fb, fb, false);
    if (pos > inode.size) inode.size = pos;
    this.fs.touch(inode, allocated.length > 0 || inode.size !== oldSize);
    this.counters.bytesWritten += pos - offset;
    return pos - offset;
  }

  /** Allocates, zeroes and maps file block `fb` (a hole). */
  allocFileBlock(inode: Inode, fb: number): number {
    const block = this.fs.allocZeroedBlock(inode.ino, fb * BLOCK_BYTES);
    this.counters.bytesZeroed += BLOCK_BYTES;
    try {
      this.fs.blockMap.set(inode, fb, block);
    } catch (error) {
      this.fs.freeBlock(block);
      throw error;
    }
    inode.blocks++;
    this.fs.dirtyInode(inode, true);
    return block;
  }

  // -------------------------------------------------------------------------------------------
  // Zeroing

  /**
   * Zeroes bytes [from, to) of the file where blocks are allocated (holes read as zero already), and
   * in the page cache. In place: cached stores plus CLWB (dax_memzero), whole blocks non-temporal.
   * Journaled (at most partial blocks): through fs.queueZero, so the zeros change on media with the
   * running transaction and a crash never shows the zeroing without the metadata change or the
   * reverse; the caller commits before returning.
   */
  private zero(inode: Inode, from: number, to: number, how: "in-place" | "journaled"): void {
    for (let pos = from; pos < to;) {
      const fb = Math.floor(pos / BLOCK_BYTES);
      const inBlock = pos - fb * BLOCK_BYTES;
      const n = Math.min(to - pos, BLOCK_BYTES - inBlock);
      const block = this.fs.blockMap.get(inode, fb);
      if (block !== 0) {
        const addr = block * BLOCK_BYTES + inBlock;
        if (how === "journaled") this.fs.queueZero(addr, n);
        else if (n === BLOCK_BYTES) this.fs.io.nt(addr, ZERO_PAGE_BYTES, "zeroing", inode.ino, pos);
        else {
          this.fs.io.cached(addr, ZERO_PAGE_BYTES.subarray(0, n), "zeroing", inode.ino, pos);
          this.fs.io.flush(addr, n, "clwb", "zeroing");
        }
        this.counters.bytesZeroed += n;
      }
      const cached = this.pageCache.get(inode.ino)?.get(fb);
      if (cached !== undefined) {
        cached.data.fill(0, inBlock, inBlock + n);
        cached.dirty = true;
      }
      pos += n;
    }
  }

  /** Zeroing when the file grows from oldSize to newSize, per the zero-on-extend mount option. */
  private zeroOnExtend(inode: Inode, oldSize: number, newSize: number): void {
    if (this.fs.options.bugs.has("no-zero-on-extend")) return;
    switch (this.fs.options.zeroOnExtend) {
      case "none":
        return;
      case "block": // ext4 ≥ 6.13: [old EOF, end of its block)
        if (oldSize % BLOCK_BYTES !== 0)
          this.zero(inode, oldSize, Math.ceil(oldSize / BLOCK_BYTES) * BLOCK_BYTES, "in-place");
        return;
      case "eof": // XFS: [old EOF, new EOF) in allocated blocks
        this.zero(inode, oldSize, newSize, "in-place");
        return;
    }
  }

  // -------------------------------------------------------------------------------------------
  // truncate, fallocate, punch, zero range

  /**
   * ftruncate. Shrinking unmaps the pages past the new EOF from every mapping (private copies too),
   * zeroes the rest of the new EOF block and frees the blocks past it, and commits, so the change is
   * atomic across a crash. Growing zeroes per zero-on-extend and is committed by the next sync.
   */
  truncate(inode: Inode, newSize: number): void {
    this.checkFile(inode);
    this.checkRange("truncate", newSize, 0);
    this.fs.reserveJournal();
    const oldSize = inode.size;
    const shrink = newSize < oldSize;
    if (shrink) {
      const firstGonePage = Math.ceil(newSize / BLOCK_BYTES);
      const lastPage = Math.ceil(oldSize / BLOCK_BYTES) - 1;
      if (lastPage >= firstGonePage) this.fs.hooks.unmapPages(inode.ino, firstGonePage, lastPage, true);
      if (newSize % BLOCK_BYTES !== 0) this.zero(inode, newSize, firstGonePage * BLOCK_BYTES, "journaled");
      this.freeBlocksFrom(inode, firstGonePage);
      this.dropCachePages(inode, firstGonePage);
    } else if (newSize > oldSize) {
      this.zeroOnExtend(inode, oldSize, newSize);
    }
    inode.size = newSize;
    this.fs.touch(inode);
    if (shrink) this.fs.commit();
  }

  /** Frees every block from file block `fb` on (including blocks past EOF from fallocate -k). */
  private freeBlocksFrom(inode: Inode, fb: number): void {
    const mapped: number[] = [];
    this.fs.blockMap.forEachMapped(inode, fb, Number.MAX_SAFE_INTEGER, (f) => mapped.push(f));
    for (const f of mapped) this.freeFileBlock(inode, f);
  }

  private freeFileBlock(inode: Inode, fb: number): void {
    const block = this.fs.blockMap.clear(inode, fb);
    if (block === 0) return;
    this.fs.freeBlock(block);
    inode.blocks--;
  }

  /** What fallocate, punch and zero range check first: a file and a non-empty, valid range. */
  private beginFallocate(inode: Inode, what: string, offset: number, length: number): void {
    this.checkFile(inode);
    this.checkRange(what, offset, length);
    if (length === 0) throw new FsError("EINVAL", `${what}: length must be positive`);
    this.fs.reserveJournal();
  }

  fallocate(inode: Inode, offset: number, length: number, keepSize: boolean): void {
    this.beginFallocate(inode, "fallocate", offset, length);
    const oldSize = inode.size;
    try {
      for (let fb = Math.floor(offset / BLOCK_BYTES); fb * BLOCK_BYTES < offset + length; fb++) {
        if (this.fs.blockMap.get(inode, fb) === 0) this.allocFileBlock(inode, fb);
      }
    } finally {
      inode.ctime = this.fs.now();
      this.fs.dirtyInode(inode, true);
    }
    if (!keepSize && offset + length > oldSize) {
      this.zeroOnExtend(inode, oldSize, offset + length);
      inode.size = offset + length;
      this.fs.dirtyInode(inode, true);
    }
  }

  /**
   * Punch hole: unmaps the affected pages from every mapping, zeroes partial blocks (journaled),
   * frees whole blocks, and commits: a crash shows the hole entirely or not at all.
   */
  punchHole(inode: Inode, offset: number, length: number): void {
    this.beginFallocate(inode, "punch", offset, length);
    const end = offset + length;
    this.fs.hooks.unmapPages(inode.ino, Math.floor(offset / BLOCK_BYTES), Math.ceil(end / BLOCK_BYTES) - 1, false);
    const firstWhole = Math.ceil(offset / BLOCK_BYTES);
    const endWhole = Math.floor(end / BLOCK_BYTES);
    if (firstWhole > endWhole) {
      this.zero(inode, offset, end, "journaled"); // inside one block
    } else {
      this.zero(inode, offset, firstWhole * BLOCK_BYTES, "journaled");
      this.zero(inode, endWhole * BLOCK_BYTES, end, "journaled");
      for (let fb = firstWhole; fb < endWhole; fb++) {
        this.freeFileBlock(inode, fb);
        this.pageCache.get(inode.ino)?.delete(fb);
      }
    }
    this.fs.touch(inode);
    this.fs.commit();
  }

  /**
   * Zero range: unmaps the affected pages, zeroes partial blocks (journaled), gives every whole
   * block of the range a fresh zeroed block (the old one is freed: like ext4's conversion to
   * unwritten extents, the old data is never overwritten before the commit), allocates holes, and
   * commits.
   */
  zeroRange(inode: Inode, offset: number, length: number, keepSize: boolean): void {
    this.beginFallocate(inode, "zero range", offset, length);
    const end = offset + length;
    const oldSize = inode.size;
    this.fs.hooks.unmapPages(inode.ino, Math.floor(offset / BLOCK_BYTES), Math.ceil(end / BLOCK_BYTES) - 1, false);
    try {
      for (let fb = Math.floor(offset / BLOCK_BYTES); fb * BLOCK_BYTES < end; fb++) {
        const from = Math.max(offset, fb * BLOCK_BYTES);
        const to = Math.min(end, (fb + 1) * BLOCK_BYTES);
        const old = this.fs.blockMap.get(inode, fb);
        if (old === 0) {
          this.allocFileBlock(inode, fb);
        } else if (to - from < BLOCK_BYTES) {
          this.zero(inode, from, to, "journaled");
        } else {
          const fresh = this.fs.allocZeroedBlock(inode.ino, fb * BLOCK_BYTES);
          this.counters.bytesZeroed += BLOCK_BYTES;
          this.fs.blockMap.set(inode, fb, fresh);
          this.fs.freeBlock(old);
          this.pageCache.get(inode.ino)?.delete(fb);
        }
      }
      if (!keepSize && end > oldSize) {
        this.zeroOnExtend(inode, oldSize, end);
        inode.size = end;
      }
    } finally {
      this.fs.touch(inode);
      this.fs.commit();
    }
  }

  // -------------------------------------------------------------------------------------------
  // fsync

  /**
   * fsync/fdatasync/msync(MS_SYNC) for bytes [from, to) of the file (S6): dax writes back (CLWB)
   * every line of every dirty mapped page and write-protects it; nodax writes dirty page-cache pages
   * back. Then the metadata commit if the inode needs one, and a fence.
   */
  sync(inode: Inode, from: number, to: number, datasync: boolean): void {
    const first = Math.floor(from / BLOCK_BYTES);
    const last = Math.max(first, Math.ceil(to / BLOCK_BYTES) - 1);
    if (this.dax) {
      const dirty = this.fs.hooks.takeDirtyPages(inode.ino, first, last);
      if (this.fs.persistence !== "eadr") {
        for (const fb of dirty) {
          const block = this.fs.blockMap.get(inode, fb);
          if (block !== 0) this.fs.io.flush(block * BLOCK_BYTES, BLOCK_BYTES, "clwb", "syscall");
        }
      }
    } else {
      this.writeback(inode, first, last);
    }
    this.fs.syncInodeMetadata(inode.ino, datasync);
    this.fs.io.fence("syscall");
  }

  // -------------------------------------------------------------------------------------------
  // nodax page cache

  /** The page-cache page for file block `fb`, filled from media (or zeros) on first use. */
  cachePage(inode: Inode, fb: number, forWrite: boolean): CachePage {
    let pages = this.pageCache.get(inode.ino);
    if (pages === undefined) {
      pages = new Map();
      this.pageCache.set(inode.ino, pages);
    }
    let page = pages.get(fb);
    if (page === undefined) {
      const data = Buffer.alloc(BLOCK_BYTES);
      const block = this.fs.blockMap.get(inode, fb);
      if (block !== 0) {
        this.fs.io.loadInto(block * BLOCK_BYTES, data);
        this.counters.bytesCopied += BLOCK_BYTES;
      }
      page = { data, dirty: false };
      pages.set(fb, page);
    }
    if (forWrite && this.fs.blockMap.get(inode, fb) === 0) this.allocFileBlock(inode, fb);
    return page;
  }

  markCachePageDirty(ino: number, fb: number): void {
    const page = this.pageCache.get(ino)?.get(fb);
    if (page !== undefined) page.dirty = true;
  }

  /** Writes dirty page-cache pages of [first, last] back to media; zeroes the EOF page's tail first. */
  private writeback(inode: Inode, first: number, last: number): void {
    const pages = this.pageCache.get(inode.ino);
    if (pages === undefined) return;
    const dirtyMapped = new Set(this.fs.hooks.takeDirtyPages(inode.ino, first, last));
    for (const [fb, page] of pages) {
      if (fb < first || fb > last || (!page.dirty && !dirtyMapped.has(fb))) continue;
      const eofPage = Math.floor(inode.size / BLOCK_BYTES);
      if (fb === eofPage && inode.size % BLOCK_BYTES !== 0) page.data.fill(0, inode.size % BLOCK_BYTES);
      if (fb * BLOCK_BYTES >= inode.size) {
        page.dirty = false;
        continue;
      }
      let block = this.fs.blockMap.get(inode, fb);
      if (block === 0) block = this.allocFileBlock(inode, fb);
      this.fs.io.nt(block * BLOCK_BYTES, Buffer.from(page.data), "writeback", inode.ino, fb * BLOCK_BYTES);
      this.counters.bytesCopied += BLOCK_BYTES;
      page.dirty = false;
    }
  }

  private dropCachePages(inode: Inode, fromPage: number): void {
    const pages = this.pageCache.get(inode.ino);
    if (pages === undefined) return;
    for (const fb of [...pages.keys()]) if (fb >= fromPage) pages.delete(fb);
  }

  /** Writes back every dirty page-cache page of every file (sync(2), unmount). */
  writebackAll(): void {
    for (const ino of [...this.pageCache.keys()]) {
      const inode = this.fs.inode(ino);
      if (inode.mode !== 0) this.writeback(inode, 0, Number.MAX_SAFE_INTEGER);
    }
  }

  /** Drops an inode's page cache (it was freed). */
  forget(ino: number): void {
    this.pageCache.delete(ino);
  }
}
