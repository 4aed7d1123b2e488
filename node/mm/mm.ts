/**
 * Memory management of the simulated machine: processes' mappings of files, page faults, user loads
 * and stores, user-space persistence instructions, fork and exit. It implements DESIGN §4 S2–S8:
 *
 *   shared mapping, read fault:  hole → the shared zero page, read-only (no allocation);
 *                                block → its PFN, read-only (the first store takes a mkwrite fault).
 *   shared mapping, write fault: hole → a new zeroed block; the zero page is unmapped from every
 *                                mapping of that page (they refault); writable for this process only;
 *                                block with a read-only PTE → mkwrite: page tagged dirty, writable.
 *   MAP_SYNC write fault:        uncommitted metadata for the file (allocation, size) is committed
 *                                before the PTE becomes writable.
 *   private mapping:             reads as above; a write copies the page (zeros for a hole) into an
 *                                anonymous page; the file is never changed.
 *   at or past the page-rounded EOF: SIGBUS.   no mapping, or a store to a read-only one: SIGSEGV.
 *
 * The per-inode reverse map (file page → PTEs) lets the filesystem unmap a page from every mapping
 * (truncate, punch, zero range, allocating writes) and write-protect dirty pages at fsync (the
 * MappingHooks it implements). Every fault is a Fault event with its outcome and what it unmapped.
 */
import type { FaultOutcome, UnmappedPte } from "../../proto/index.js";
import type { FlushKind } from "../../proto/index.js";
import type { EventLog } from "../events/event_log.js";
import { FsError, SignalError } from "../fs/errors.js";
import type { FileData } from "../fs/file_data.js";
import type { DaxFs, MappingHooks } from "../fs/fs.js";
import { BLOCK_BYTES, isDir } from "../fs/layout.js";
import type { Inode } from "../fs/layout.js";
import type { AnonPage, OpenFile, Pte, Vma } from "./process.js";
import { Process } from "./process.js";

const PAGE = BLOCK_BYTES;
/** Where the first mapping of a process goes; later ones follow. */
const MMAP_BASE_VPN = 0x7f000_0000;
/** Largest single mapping (bounds memory used by page tables). */
const MAP_BYTES_MAX = 2 ** 34;

export interface MmapRequest {
  fd: number;
  offset: number;
  length: number;
  read: boolean;
  write: boolean;
  shared: boolean;
  sync: boolean;
}

export class MemoryManager implements MappingHooks {
  readonly processes = new Map<number, Process>();
  /** ino → file page → PTEs mapping it (any process, any kind). */
  private readonly rmap = new Map<number, Map<number, Set<Pte>>>();
  /** ino → file pages tagged dirty by write faults (DAX entries with PAGECACHE_TAG_DIRTY). */
  private readonly dirty = new Map<number, Set<number>>();
  private nextPid = 1;
  /** Faults taken by the current operation (reported in its result). */
  faultsTaken: FaultOutcome[] = [];

  constructor(
    private readonly fs: DaxFs,
    private readonly data: FileData,
    private readonly log: EventLog,
  ) {}

  // -------------------------------------------------------------------------------------------
  // Processes

  spawn(pid?: number): Process {
    const id = pid ?? this.nextPid;
    if (this.processes.has(id)) throw new FsError("EEXIST", `process ${id} exists`);
    const proc = new Process(id);
    this.processes.set(id, proc);
    this.nextPid = Math.max(this.nextPid, id + 1);
    return proc;
  }

  process(pid: number): Process {
    const proc = this.processes.get(pid);
    if (proc === undefined) throw new FsError("ESRCH", `no process ${pid}`);
    return proc;
  }

  /** Child gets the parent's descriptors (shared descriptions), mappings and page tables (S4). */
  fork(parentPid: number): Process {
    const parent = this.process(parentPid);
    const child = new Process(this.nextPid++);
    this.processes.set(child.pid, child);
    for (const [fd, file] of parent.fds) {
      file.refs++;
      child.fds.set(fd, file);
    }
    for (const vma of parent.vmas) {
      child.vmas.push({ ...vma });
      this.fs.ref(vma.ino);
    }
    for (const [vpn, pte] of parent.pageTable) {
      const vma = parent.findVma(vpn)!;
      const copy: Pte = { ...pte, pid: child.pid };
      if (pte.kind === "anon") {
        // Private pages are shared read-only and copied on the next write by either process.
        pte.anon!.refs++;
        pte.writable = false;
        copy.writable = false;
      } else if (!vma.shared) {
        copy.writable = false;
      }
      child.pageTable.set(vpn, copy);
      this.addRmap(copy);
    }
    return child;
  }

  exit(pid: number): void {
    const proc = this.process(pid);
    for (const fd of [...proc.fds.keys()]) this.closeFd(proc, fd);
    for (const vma of [...proc.vmas]) this.unmapRange(proc, vma.startVpn, vma.pages);
    this.processes.delete(pid);
  }

  closeFd(proc: Process, fd: number): void {
    const file = proc.fds.get(fd);
    if (file === undefined) throw new FsError("EBADF", `fd ${fd} is not open`);
    proc.fds.delete(fd);
    file.refs--;
    if (file.refs === 0) this.fs.unref(file.ino);
  }

  fileOf(proc: Process, fd: number): OpenFile {
    const file = proc.fds.get(fd);
    if (file === undefined) throw new FsError("EBADF", `fd ${fd} is not open in process ${proc.pid}`);
    return file;
  }

  // -------------------------------------------------------------------------------------------
  // mmap, munmap, mremap, msync

  mmap(pid: number, req: MmapRequest): number {
    const proc = this.process(pid);
    const file = this.fileOf(proc, req.fd);
    const inode = this.fs.inode(file.ino);
    if (isDir(inode)) throw new FsError("ENODEV", `fd ${req.fd} is a directory`);
    if (!Number.isSafeInteger(req.length) || req.length <= 0 || req.length > MAP_BYTES_MAX)
      throw new FsError("EINVAL", `mmap length ${req.length} must be in (0, ${MAP_BYTES_MAX}]`);
    if (!Number.isSafeInteger(req.offset) || req.offset < 0 || req.offset % PAGE !== 0)
      throw new FsError("EINVAL", `mmap offset ${req.offset} must be a non-negative multiple of ${PAGE}`);
    if (!file.readable) throw new FsError("EACCES", `fd ${req.fd} is not open for reading`);
    if (req.shared && req.write && !file.writable)
      throw new FsError("EACCES", `a shared writable mapping needs fd ${req.fd} open for writing`);
    if (req.sync && !this.fs.options.dax) throw new FsError("EOPNOTSUPP", "MAP_SYNC needs a DAX file (mounted nodax)");
    const pages = Math.ceil(req.length / PAGE);
    const startVpn = this.freeRange(proc, pages);
    proc.insertVma({
      startVpn,
      pages,
      write: req.write,
      shared: req.shared,
      sync: req.sync,
      ino: file.ino,
      pgoff: req.offset / PAGE,
    });
    this.fs.ref(file.ino);
    return startVpn * PAGE;
  }

  private freeRange(proc: Process, pages: number): number {
    let candidate = MMAP_BASE_VPN;
    for (const vma of proc.vmas) {
      if (candidate + pages <= vma.startVpn) break;
      candidate = Math.max(candidate, vma.startVpn + vma.pages + 1); // keep a guard page between mappings
    }
    return candidate;
  }

  munmap(pid: number, addr: number, length: number): void {
    const proc = this.process(pid);
    if (addr % PAGE !== 0 || !Number.isSafeInteger(addr) || addr < 0)
      throw new FsError("EINVAL", `munmap address ${addr} is not page aligned`);
    if (!Number.isSafeInteger(length) || length <= 0)
      throw new FsError("EINVAL", `munmap length ${length} must be positive`);
    this.unmapRange(proc, addr / PAGE, Math.ceil(length / PAGE));
  }

  /** Removes mappings of pages [vpn, vpn+pages): PTEs first, then VMAs (split at the edges). */
  private unmapRange(proc: Process, vpn: number, pages: number): void {
    const end = vpn + pages;
    for (const [v, pte] of [...proc.pageTable]) if (v >= vpn && v < end) this.dropPte(pte);
    const kept: Vma[] = [];
    for (const vma of proc.vmas) {
      const vEnd = vma.startVpn + vma.pages;
      if (vEnd <= vpn || vma.startVpn >= end) {
        kept.push(vma);
        continue;
      }
      if (vma.startVpn < vpn) kept.push({ ...vma, pages: vpn - vma.startVpn });
      if (vEnd > end) {
        kept.push({ ...vma, startVpn: end, pages: vEnd - end, pgoff: vma.pgoff + (end - vma.startVpn) });
        if (vma.startVpn < vpn) this.fs.ref(vma.ino); // split in two: one more reference
      }
      if (vma.startVpn >= vpn && vEnd <= end) this.fs.unref(vma.ino);
    }
    proc.vmas = kept.sort((a, b) => a.startVpn - b.startVpn);
  }

  /** mremap: grows or shrinks the mapping at addr; moves it when it cannot grow in place and mayMove. */
  mremap(pid: number, addr: number, newLength: number, mayMove: boolean): number {
    const proc = this.process(pid);
    const vma = proc.findVma(addr / PAGE);
    if (vma === undefined || vma.startVpn * PAGE !== addr) throw new FsError("EFAULT", `no mapping starts at ${addr}`);
    if (!Number.isSafeInteger(newLength) || newLength <= 0 || newLength > MAP_BYTES_MAX)
      throw new FsError("EINVAL", `mremap length ${newLength} is out of range`);
    const pages = Math.ceil(newLength / PAGE);
    if (pages <= vma.pages) {
      if (pages < vma.pages) this.unmapRange(proc, vma.startVpn + pages, vma.pages - pages);
      return addr;
    }
    const next = proc.vmas.find((v) => v.startVpn > vma.startVpn);
    if (next === undefined || next.startVpn >= vma.startVpn + pages) {
      vma.pages = pages;
      return addr;
    }
    if (!mayMove) throw new FsError("ENOMEM", "mremap: no room to grow in place (use -m to allow a move)");
    const newStart = this.freeRange(proc, pages);
    for (const [v, pte] of [...proc.pageTable]) {
      if (v < vma.startVpn || v >= vma.startVpn + vma.pages) continue;
      proc.pageTable.delete(v);
      pte.vpn = newStart + (v - vma.startVpn);
      proc.pageTable.set(pte.vpn, pte);
    }
    proc.vmas = proc.vmas.filter((v) => v !== vma);
    proc.insertVma({ ...vma, startVpn: newStart, pages });
    return newStart * PAGE;
  }

  /** msync: MS_ASYNC does nothing (K3); MS_SYNC syncs the mapped file range; MS_INVALIDATE is a no-op for DAX. */
  msync(
    pid: number,
    addr: number,
    length: number,
    flags: { sync: boolean; async: boolean; invalidate: boolean },
  ): void {
    const proc = this.process(pid);
    if (addr % PAGE !== 0) throw new FsError("EINVAL", `msync address ${addr} is not page aligned`);
    if (flags.sync && flags.async) throw new FsError("EINVAL", "msync: MS_SYNC and MS_ASYNC together");
    const first = addr / PAGE;
    const end = first + Math.ceil(Math.max(length, 1) / PAGE);
    const vmas = proc.vmas.filter((v) => v.startVpn < end && v.startVpn + v.pages > first);
    let covered = 0;
    for (const v of vmas) covered += Math.min(end, v.startVpn + v.pages) - Math.max(first, v.startVpn);
    if (covered < end - first) throw new FsError("ENOMEM", `msync: [${addr}, +${length}) is not fully mapped`);
    if (!flags.sync) return;
    for (const v of vmas) {
      if (!v.shared) continue;
      const from = (v.pgoff + Math.max(first, v.startVpn) - v.startVpn) * PAGE;
      const to = (v.pgoff + Math.min(end, v.startVpn + v.pages) - v.startVpn) * PAGE;
      this.data.sync(this.fs.inode(v.ino), from, to, false);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Reverse map and the filesystem's hooks

  private addRmap(pte: Pte): void {
    let pages = this.rmap.get(pte.ino);
    if (pages === undefined) {
      pages = new Map();
      this.rmap.set(pte.ino, pages);
    }
    let set = pages.get(pte.pgoff);
    if (set === undefined) {
      set = new Set();
      pages.set(pte.pgoff, set);
    }
    set.add(pte);
  }

  private dropPte(pte: Pte): void {
    const proc = this.processes.get(pte.pid);
    if (proc?.pageTable.get(pte.vpn) === pte) proc.pageTable.delete(pte.vpn);
    const set = this.rmap.get(pte.ino)?.get(pte.pgoff);
    set?.delete(pte);
    if (set?.size === 0) this.rmap.get(pte.ino)!.delete(pte.pgoff);
    if (pte.kind === "anon") pte.anon!.refs--;
  }

  unmapPages(ino: number, first: number, last: number, evenCows: boolean): void {
    this.unmapFilePages(ino, first, last, evenCows, () => true);
    const tags = this.dirty.get(ino);
    if (tags !== undefined) for (const p of [...tags]) if (p >= first && p <= last) tags.delete(p);
  }

  private unmapFilePages(
    ino: number,
    first: number,
    last: number,
    evenCows: boolean,
    keep: (pte: Pte) => boolean,
  ): UnmappedPte[] {
    const pages = this.rmap.get(ino);
    const out: UnmappedPte[] = [];
    if (pages === undefined) return out;
    for (const [pgoff, set] of [...pages]) {
      if (pgoff < first || pgoff > last) continue;
      for (const pte of [...set]) {
        if (pte.kind === "anon" && !evenCows) continue;
        if (!keep(pte)) continue;
        out.push({ pid: pte.pid, vaddr: pte.vpn * PAGE, zeroPage: pte.kind === "zero" });
        this.dropPte(pte);
      }
    }
    return out;
  }

  takeDirtyPages(ino: number, first: number, last: number): number[] {
    const tags = this.dirty.get(ino);
    if (tags === undefined) return [];
    const taken = [...tags].filter((p) => p >= first && p <= last).sort((a, b) => a - b);
    for (const pgoff of taken) {
      tags.delete(pgoff);
      for (const pte of this.rmap.get(ino)?.get(pgoff) ?? [])
        if (pte.kind === "pfn" || pte.kind === "pagecache") pte.writable = false;
    }
    return taken;
  }

  /** Inodes with pages dirtied through mappings and not yet written back. */
  dirtyInodes(): number[] {
    return [...this.dirty].filter(([, tags]) => tags.size > 0).map(([ino]) => ino);
  }

  private tagDirty(ino: number, pgoff: number): void {
    let tags = this.dirty.get(ino);
    if (tags === undefined) {
      tags = new Set();
      this.dirty.set(ino, tags);
    }
    tags.add(pgoff);
  }

  // -------------------------------------------------------------------------------------------
  // Faults

  private fault(
    proc: Process,
    vaddr: number,
    write: boolean,
    outcome: FaultOutcome,
    details: { ino?: number; pgoff?: number; pfn?: number; sync?: boolean; unmapped?: UnmappedPte[] } = {},
  ): void {
    this.faultsTaken.push(outcome);
    this.log.append({
      kind: "fault",
      seq: 0,
      boot: 0,
      time: 0,
      pid: proc.pid,
      vaddr,
      inode: details.ino ?? 0,
      page: details.pgoff ?? 0,
      write,
      outcome,
      pfn: details.pfn ?? 0,
      sync: details.sync ?? false,
      unmapped: details.unmapped ?? [],
      opId: this.fs.io.ctx.opId,
    });
  }

  /** The PTE that lets `proc` access vaddr (faulting as needed), or a SignalError. */
  private translate(proc: Process, vaddr: number, write: boolean): Pte {
    const vpn = Math.floor(vaddr / PAGE);
    const vma = proc.findVma(vpn);
    if (vma === undefined) {
      this.fault(proc, vaddr, write, "sigsegv");
      throw new SignalError("SIGSEGV", `process ${proc.pid}: no mapping at 0x${vaddr.toString(16)}`);
    }
    if (write && !vma.write) {
      this.fault(proc, vaddr, write, "sigsegv", { ino: vma.ino });
      throw new SignalError("SIGSEGV", `process ${proc.pid}: store to read-only mapping at 0x${vaddr.toString(16)}`);
    }
    const pgoff = vma.pgoff + (vpn - vma.startVpn);
    const pte = proc.pageTable.get(vpn);
    if (pte !== undefined && (!write || pte.writable)) return pte;
    const inode = this.fs.inode(vma.ino);
    if (pgoff * PAGE >= inode.size) {
      this.fault(proc, vaddr, write, "sigbus", { ino: vma.ino, pgoff });
      throw new SignalError(
        "SIGBUS",
        `process ${proc.pid}: page ${pgoff} of inode ${vma.ino} is at or past EOF (size ${inode.size})`,
      );
    }
    if (!vma.shared) return this.privateFault(proc, vma, vpn, pgoff, write, pte);
    if (!this.fs.options.dax) return this.pageCacheFault(proc, vma, vpn, pgoff, write, pte);
    return this.sharedFault(proc, vma, vpn, pgoff, write, pte);
  }

  private newPte(
    proc: Process,
    vpn: number,
    ino: number,
    pgoff: number,
    kind: Pte["kind"],
    writable: boolean,
    pfn = 0,
  ): Pte {
    const pte: Pte = { pid: proc.pid, vpn, kind, pfn, anon: undefined, page: undefined, writable, ino, pgoff };
    const old = proc.pageTable.get(vpn);
    if (old !== undefined) this.dropPte(old);
    proc.pageTable.set(vpn, pte);
    this.addRmap(pte);
    return pte;
  }

  private sharedFault(proc: Process, vma: Vma, vpn: number, pgoff: number, write: boolean, pte: Pte | undefined): Pte {
    const vaddr = vpn * PAGE;
    const inode = this.fs.inode(vma.ino);
    let block = this.fs.blockMap.get(inode, pgoff);
    if (!write) {
      if (block === 0) {
        this.fault(proc, vaddr, false, "zero-page", { ino: vma.ino, pgoff });
        return this.newPte(proc, vpn, vma.ino, pgoff, "zero", false);
      }
      this.fault(proc, vaddr, false, "mapped", { ino: vma.ino, pgoff, pfn: block });
      return this.newPte(proc, vpn, vma.ino, pgoff, "pfn", false, block);
    }
    if (block === 0) {
      this.fs.reserveJournal();
      try {
        block = this.data.allocFileBlock(inode, pgoff);
      } catch (error) {
        if (error instanceof FsError && error.errno === "ENOSPC") {
          this.fault(proc, vaddr, true, "sigbus", { ino: vma.ino, pgoff });
          throw new SignalError(
            "SIGBUS",
            `process ${proc.pid}: no space to allocate page ${pgoff} of inode ${vma.ino}`,
          );
        }
        throw error;
      }
      // The zero page is unmapped from every mapping of this page; they refault (S2).
      const noUnmap = this.fs.options.bugs.has("no-zero-page-unmap");
      const unmapped = this.unmapFilePages(
        vma.ino,
        pgoff,
        pgoff,
        false,
        (p) => !noUnmap || (p.pid === proc.pid && p.vpn === vpn),
      );
      const sync = vma.sync && this.syncMetadata(vma.ino);
      this.fault(proc, vaddr, true, "allocated", { ino: vma.ino, pgoff, pfn: block, sync, unmapped });
      this.tagDirty(vma.ino, pgoff);
      return this.newPte(proc, vpn, vma.ino, pgoff, "pfn", true, block);
    }
    const sync = vma.sync && this.syncMetadata(vma.ino);
    this.tagDirty(vma.ino, pgoff);
    if (pte !== undefined && pte.kind === "pfn") {
      pte.writable = true;
      this.fault(proc, vaddr, true, "mkwrite", { ino: vma.ino, pgoff, pfn: block, sync });
      return pte;
    }
    this.fault(proc, vaddr, true, "mapped", { ino: vma.ino, pgoff, pfn: block, sync });
    return this.newPte(proc, vpn, vma.ino, pgoff, "pfn", true, block);
  }

  /** MAP_SYNC: make the file's uncommitted size/allocation metadata durable (L2). */
  private syncMetadata(ino: number): boolean {
    if (!this.fs.hasUncommittedDataMetadata(ino)) return false;
    this.fs.commit();
    return true;
  }

  private privateFault(proc: Process, vma: Vma, vpn: number, pgoff: number, write: boolean, pte: Pte | undefined): Pte {
    const vaddr = vpn * PAGE;
    const inode = this.fs.inode(vma.ino);
    if (!write) {
      if (!this.fs.options.dax) {
        const page = this.data.cachePage(inode, pgoff, false).data;
        this.fault(proc, vaddr, false, "page-cache", { ino: vma.ino, pgoff });
        const p = this.newPte(proc, vpn, vma.ino, pgoff, "pagecache", false);
        p.page = page;
        return p;
      }
      const block = this.fs.blockMap.get(inode, pgoff);
      this.fault(proc, vaddr, false, block === 0 ? "zero-page" : "mapped", { ino: vma.ino, pgoff, pfn: block });
      return this.newPte(proc, vpn, vma.ino, pgoff, block === 0 ? "zero" : "pfn", false, block);
    }
    if (pte !== undefined && pte.kind === "anon" && pte.anon!.refs === 1) {
      pte.writable = true;
      this.fault(proc, vaddr, true, "cow", { ino: vma.ino, pgoff });
      return pte;
    }
    const content = pte !== undefined ? this.readPte(pte, 0, PAGE) : this.fileContent(inode, pgoff);
    const anon: AnonPage = { data: Buffer.from(content), refs: 1 };
    this.fault(proc, vaddr, true, "cow", { ino: vma.ino, pgoff });
    const p = this.newPte(proc, vpn, vma.ino, pgoff, "anon", true);
    p.anon = anon;
    return p;
  }

  private fileContent(inode: Inode, pgoff: number): Buffer {
    if (!this.fs.options.dax) return Buffer.from(this.data.cachePage(inode, pgoff, false).data);
    const block = this.fs.blockMap.get(inode, pgoff);
    return block === 0 ? Buffer.alloc(PAGE) : this.fs.io.load(block * PAGE, PAGE);
  }

  /** nodax: mappings map page-cache pages; a write fault allocates the block and dirties the page. */
  private pageCacheFault(
    proc: Process,
    vma: Vma,
    vpn: number,
    pgoff: number,
    write: boolean,
    pte: Pte | undefined,
  ): Pte {
    const vaddr = vpn * PAGE;
    const inode = this.fs.inode(vma.ino);
    if (write) this.fs.reserveJournal();
    const page = this.data.cachePage(inode, pgoff, write).data;
    if (write) {
      this.tagDirty(vma.ino, pgoff);
      this.data.markCachePageDirty(vma.ino, pgoff);
    }
    if (pte !== undefined && pte.kind === "pagecache" && write) {
      pte.writable = true;
      this.fault(proc, vaddr, true, "mkwrite", { ino: vma.ino, pgoff });
      return pte;
    }
    this.fault(proc, vaddr, write, "page-cache", { ino: vma.ino, pgoff });
    const p = this.newPte(proc, vpn, vma.ino, pgoff, "pagecache", write);
    p.page = page;
    return p;
  }

  private readPte(pte: Pte, off: number, n: number): Buffer {
    switch (pte.kind) {
      case "pfn":
        return this.fs.io.load(pte.pfn * PAGE + off, n);
      case "zero":
        return Buffer.alloc(n);
      case "anon":
        return Buffer.from(pte.anon!.data.subarray(off, off + n));
      case "pagecache":
        return Buffer.from(pte.page!.subarray(off, off + n));
    }
  }

  // -------------------------------------------------------------------------------------------
  // User accesses

  private pieces(vaddr: number, length: number, fn: (va: number, off: number, n: number, done: number) => void): void {
    if (!Number.isSafeInteger(vaddr) || vaddr < 0) throw new FsError("EFAULT", `address ${vaddr} is not valid`);
    if (!Number.isSafeInteger(length) || length <= 0 || length > MAP_BYTES_MAX)
      throw new FsError("EINVAL", `length ${length} must be positive`);
    for (let done = 0; done < length;) {
      const va = vaddr + done;
      const off = va % PAGE;
      const n = Math.min(length - done, PAGE - off);
      fn(va, off, n, done);
      done += n;
    }
  }

  load(pid: number, vaddr: number, length: number): Buffer {
    const proc = this.process(pid);
    const out = Buffer.alloc(length);
    this.pieces(vaddr, length, (va, off, n, done) => {
      const pte = this.translate(proc, va, false);
      this.readPte(pte, off, n).copy(out, done);
    });
    return out;
  }

  /** A user store (cached, or non-temporal with nt). `data` is handed over and must not change. */
  store(pid: number, vaddr: number, data: Uint8Array, nonTemporal: boolean): void {
    const proc = this.process(pid);
    this.pieces(vaddr, data.length, (va, off, n, done) => {
      const pte = this.translate(proc, va, true);
      const piece = data.subarray(done, done + n);
      switch (pte.kind) {
        case "pfn":
          this.storeToFilePage(pte, off, piece, nonTemporal, va);
          return;
        case "anon":
          pte.anon!.data.set(piece, off);
          return;
        case "pagecache":
          pte.page!.set(piece, off);
          return;
        case "zero":
          throw new Error("a writable zero-page PTE cannot exist");
      }
    });
  }

  /** Stores into a DIMM page, split at EOF so bytes past it carry beyondEof (S5). */
  private storeToFilePage(pte: Pte, off: number, piece: Uint8Array, nonTemporal: boolean, va: number): void {
    const size = this.fs.inode(pte.ino).size;
    const fileOffset = pte.pgoff * PAGE + off;
    const split = Math.max(0, Math.min(piece.length, size - fileOffset));
    if (split > 0)
      this.fs.io.user(pte.pfn * PAGE + off, piece.subarray(0, split), nonTemporal, pte.ino, fileOffset, va, false);
    if (split < piece.length)
      this.fs.io.user(
        pte.pfn * PAGE + off + split,
        piece.subarray(split),
        nonTemporal,
        pte.ino,
        fileOffset + split,
        va + split,
        true,
      );
  }

  /** User CLWB/CLFLUSHOPT/CLFLUSH over [vaddr, +length): non-present pages take a read fault first. */
  flush(pid: number, vaddr: number, length: number, kind: FlushKind): void {
    const proc = this.process(pid);
    this.pieces(vaddr, length, (va, off, n) => {
      const pte = this.translate(proc, va, false);
      if (pte.kind === "pfn") this.fs.io.flush(pte.pfn * PAGE + off, n, kind, "mmap", va);
    });
  }

  sfence(pid: number): void {
    this.process(pid);
    this.fs.io.fence("mmap");
  }

  /** Drops everything volatile (power loss): processes, page tables, tags. */
  reset(): void {
    this.processes.clear();
    this.rmap.clear();
    this.dirty.clear();
  }
}
