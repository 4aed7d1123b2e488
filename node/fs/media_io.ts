/**
 * How the filesystem touches the DIMM: every store, flush and fence it makes goes through here with
 * its source (syscall data, metadata, journal, zeroing ...) and the current operation's provenance,
 * so the event stream says who did what. Buffers passed to the store methods are handed over to the
 * DIMM (owned): callers must not modify them afterwards.
 */
import type { FlushKind, Source } from "../../proto/index.js";
import type { Dimm, StoreMeta } from "../dimm/dimm.js";
import { LINE_BYTES, PAGE_BYTES } from "../dimm/geometry.js";

/** The operation on whose behalf the kernel is running (set by the syscall layer). */
export interface OpContext {
  pid: number;
  opId: number;
}

export class MediaIo {
  readonly ctx: OpContext = { pid: 0, opId: 0 };
  private readonly meta: StoreMeta = {
    source: "unspecified",
    pid: 0,
    vaddr: 0,
    opId: 0,
    inode: 0,
    fileOffset: 0,
    beyondEof: false,
  };

  constructor(readonly dimm: Dimm) {}

  private stamp(source: Source, inode = 0, fileOffset = 0, vaddr = 0, beyondEof = false): StoreMeta {
    const m = this.meta;
    m.source = source;
    m.pid = this.ctx.pid;
    m.opId = this.ctx.opId;
    m.inode = inode;
    m.fileOffset = fileOffset;
    m.vaddr = vaddr;
    m.beyondEof = beyondEof;
    return m;
  }

  /** Non-temporal store (memcpy_flushcache-like): durable at the next fence. */
  nt(addr: number, data: Uint8Array, source: Source, inode = 0, fileOffset = 0): void {
    this.dimm.ntStore(addr, data, this.stamp(source, inode, fileOffset), true);
  }

  /** Cached store: durable once flushed and fenced. */
  cached(
    addr: number,
    data: Uint8Array,
    source: Source,
    inode = 0,
    fileOffset = 0,
    vaddr = 0,
    beyondEof = false,
  ): void {
    this.dimm.store(addr, data, this.stamp(source, inode, fileOffset, vaddr, beyondEof), true);
  }

  /** A user store through a mapping (source mmap), cached or non-temporal. */
  user(
    addr: number,
    data: Uint8Array,
    nonTemporal: boolean,
    inode: number,
    fileOffset: number,
    vaddr: number,
    beyondEof: boolean,
  ): void {
    const meta = this.stamp("mmap", inode, fileOffset, vaddr, beyondEof);
    if (nonTemporal) this.dimm.ntStore(addr, data, meta, true);
    else this.dimm.store(addr, data, meta, true);
  }

  flush(addr: number, length: number, kind: FlushKind, source: Source, vaddr = 0): void {
    this.dimm.flush(addr, length, kind, this.stamp(source, 0, 0, vaddr));
  }

  fence(source: Source): void {
    this.dimm.fence(this.stamp(source));
  }

  load(addr: number, length: number): Buffer {
    return this.dimm.load(addr, length);
  }

  loadInto(addr: number, dst: Uint8Array): void {
    this.dimm.loadInto(addr, dst);
  }

  /**
   * Copies `data` to `addr` the way the kernel's flushcache copy does (A6): non-temporal stores for
   * the line-aligned middle, cached stores plus CLWB for unaligned head and tail lines. No fence.
   */
  copyFlushcache(addr: number, data: Uint8Array, source: Source, inode: number, fileOffset: number): void {
    const end = addr + data.length;
    const headEnd = Math.min(end, Math.ceil(addr / LINE_BYTES) * LINE_BYTES);
    const tailStart = Math.max(headEnd, Math.floor(end / LINE_BYTES) * LINE_BYTES);
    if (headEnd > addr) {
      this.cached(addr, data.subarray(0, headEnd - addr), source, inode, fileOffset);
      this.flush(addr, headEnd - addr, "clwb", source);
    }
    if (tailStart > headEnd)
      this.nt(headEnd, data.subarray(headEnd - addr, tailStart - addr), source, inode, fileOffset + (headEnd - addr));
    if (end > tailStart) {
      this.cached(tailStart, data.subarray(tailStart - addr), source, inode, fileOffset + (tailStart - addr));
      this.flush(tailStart, end - tailStart, "clwb", source);
    }
  }
}

/** A page of zeros shared by every zeroing store (it is never modified). */
export const ZERO_PAGE_BYTES: Uint8Array = new Uint8Array(PAGE_BYTES);
