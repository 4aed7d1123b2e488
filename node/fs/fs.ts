/**
 * daxfs: the DAX filesystem each node runs on its DIMM (format in layout.ts, journal in journal.ts).
 * This module owns mkfs, mount (with journal recovery and orphan cleanup), unmount, inodes,
 * directories, block allocation and the running transaction. File data operations are in
 * file_data.ts, page mappings in node/mm.
 *
 * Crash consistency: every metadata operation changes only the MetaCache; its changes become
 * durable together when the running transaction commits (at fsync/fdatasync/msync(MS_SYNC), a
 * MAP_SYNC write fault, unmount, or when the transaction grows past half the journal), so each
 * operation is on media entirely or not at all. Blocks freed by the running transaction are not
 * reused before it commits. File data is written in place (DAX) and never journaled; new blocks are
 * zeroed with non-temporal stores that the commit's first fence makes durable before the block
 * becomes reachable.
 */
import type { Persistence } from "../../proto/index.js";
import type { Clock } from "../sim/clock.js";
import { BlockMap } from "./block_map.js";
import type { BlockAllocator } from "./block_map.js";
import type { BugName, BugSet } from "./bugs.js";
import { NO_BUGS, isBugName } from "./bugs.js";
import { FsCorruptError, FsError } from "./errors.js";
import { Journal } from "./journal.js";
import type { Dirent, Inode, Superblock } from "./layout.js";
import {
  BLOCK_BYTES,
  DIRENTS_PER_BLOCK,
  DIRENT_BYTES,
  DT_DIR,
  DT_REG,
  NAME_BYTES_MAX,
  ROOT_INO,
  S_IFDIR,
  S_IFMT,
  S_IFREG,
  decodeDirent,
  decodeInode,
  decodeSuperblock,
  emptyInode,
  encodeDirent,
  encodeInode,
  encodeSuperblock,
  inodeAddr,
  isDir,
  planLayout,
} from "./layout.js";
import type { MediaIo } from "./media_io.js";
import { ZERO_PAGE_BYTES } from "./media_io.js";
import { MetaCache } from "./meta_cache.js";
import type { MetaRecord } from "./meta_cache.js";

export type ZeroOnExtend = "none" | "block" | "eof";

export interface MountOptions {
  /** true: DAX (default). false: nodax, file data in a page cache. */
  dax: boolean;
  zeroOnExtend: ZeroOnExtend;
  bugs: BugSet;
}

export const DEFAULT_MOUNT_OPTIONS: Readonly<MountOptions> = Object.freeze({
  dax: true,
  zeroOnExtend: "block",
  bugs: NO_BUGS,
});

export class MountOptionError extends Error {
  override readonly name = "MountOptionError";
}

/** Parses "dax,zero-on-extend=eof,bug=no-journal-fence" (comma separated; empty = defaults). */
export function parseMountOptions(text: string): MountOptions {
  const bugs = new Set<BugName>();
  const options: MountOptions = { ...DEFAULT_MOUNT_OPTIONS, bugs };
  for (const raw of text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")) {
    const [key, value] = raw.split("=", 2) as [string, string | undefined];
    if (key === "dax" && value === undefined) options.dax = true;
    else if (key === "nodax" && value === undefined) options.dax = false;
    else if (key === "zero-on-extend" && (value === "none" || value === "block" || value === "eof"))
      options.zeroOnExtend = value;
    else if (key === "bug" && value !== undefined && isBugName(value)) bugs.add(value);
    else
      throw new MountOptionError(
        `mount option "${raw}" is not one of dax, nodax, zero-on-extend=none|block|eof, bug=NAME (see docs/bugs.md)`,
      );
  }
  return options;
}

export function formatMountOptions(options: MountOptions): string {
  return [
    options.dax ? "dax" : "nodax",
    `zero-on-extend=${options.zeroOnExtend}`,
    ...[...options.bugs].map((b) => `bug=${b}`),
  ].join(",");
}

/** What the mapping layer (node/mm) must do for the filesystem. */
export interface MappingHooks {
  /** Removes every PTE of file pages [first, last] of `ino` (private COW copies too if evenCows). */
  unmapPages(ino: number, first: number, last: number, evenCows: boolean): void;
  /** Dirty DAX pages of `ino` in [first, last]: write-protects them everywhere, clears their dirty tag, returns them. */
  takeDirtyPages(ino: number, first: number, last: number): number[];
}

const NO_HOOKS: MappingHooks = { unmapPages: () => {}, takeDirtyPages: () => [] };

export interface FileStat {
  ino: number;
  mode: number;
  type: "file" | "dir";
  nlink: number;
  size: number;
  /** 4 KiB blocks in use (data and indirect). */
  blocks4k: number;
  /** st_blocks: 512-byte units. */
  blocks: number;
  atime: number;
  mtime: number;
  ctime: number;
}

interface DirIndex {
  entries: Map<string, { ino: number; type: number; slot: number }>;
  freeSlots: number[];
  slotCount: number;
}

export interface MkfsOptions {
  inodes?: number;
  journalBlocks?: number;
  uuid: Uint8Array;
}

export interface MountReport {
  recoveredTxns: number;
  orphansFreed: number;
}

export class DaxFs implements BlockAllocator {
  readonly meta: MetaCache;
  readonly journal: Journal;
  readonly blockMap: BlockMap;
  hooks: MappingHooks = NO_HOOKS;
  /** Called when an inode is freed, so caches keyed by inode number (the page cache) forget it. */
  private readonly freedListeners: Array<(ino: number) => void> = [];
  private readonly inodes = new Map<number, Inode>();
  private readonly dirs = new Map<number, DirIndex>();
  private readonly inodeInUse: Uint8Array;
  /** Blocks freed by the running transaction: free in the bitmap copy, not reusable until commit. */
  private readonly quarantine = new Set<number>();
  /** File data zeroing that must become durable with the running transaction (see queueZero). */
  private txnDataRecords: MetaRecord[] = [];
  private txnDataBytes = 0;
  /** Inodes changed in the running transaction (fsync commits only if its inode is here). */
  private readonly txnInodes = new Set<number>();
  /** Inodes whose size or block map changed in the running transaction (fdatasync needs a commit). */
  private readonly txnDataInodes = new Set<number>();
  /** Open files and mappings per inode; an unlinked inode is freed when this drops to 0. */
  private readonly refs = new Map<number, number>();
  private freeBlocks = 0;
  private allocHint: number;
  private mounted = true;
  commits = 0;

  private constructor(
    readonly io: MediaIo,
    readonly sb: Superblock,
    readonly options: MountOptions,
    private readonly clock: Clock,
  ) {
    this.meta = new MetaCache(io);
    this.journal = new Journal(io, sb, options.bugs);
    this.blockMap = new BlockMap(this.meta, this);
    this.inodeInUse = new Uint8Array(sb.inodeCount + 1);
    this.allocHint = sb.dataStart;
  }

  get persistence(): Persistence {
    return this.io.dimm.persistence;
  }

  get isMounted(): boolean {
    return this.mounted;
  }

  // ---------------------------------------------------------------------------------------------
  // mkfs, mount, unmount

  /** Formats the DIMM behind `io`. Everything it writes is durable when it returns. */
  static mkfs(io: MediaIo, options: MkfsOptions): Superblock {
    const sb = planLayout(io.dimm.sizeBytes, options);
    if (sb.dataStart + 8 > sb.blockCount)
      throw new FsError("ENOSPC", `a ${io.dimm.sizeBytes}-byte DIMM is too small for daxfs`);
    // Clear the journal header, the bitmap and the inode table; data blocks are zeroed on allocation.
    for (let block = sb.journalStart; block < sb.dataStart; block++) {
      if (block === sb.journalStart || block >= sb.bitmapStart) io.nt(block * BLOCK_BYTES, ZERO_PAGE_BYTES, "metadata");
    }
    const bitmap = Buffer.alloc(sb.bitmapBlocks * BLOCK_BYTES);
    for (let block = 0; block < sb.dataStart; block++) bitmap[block >> 3]! |= 1 << (block & 7);
    for (let block = sb.blockCount; block < sb.bitmapBlocks * BLOCK_BYTES * 8; block++)
      bitmap[block >> 3]! |= 1 << (block & 7);
    io.nt(sb.bitmapStart * BLOCK_BYTES, bitmap, "metadata");
    const root = emptyInode(ROOT_INO);
    root.mode = S_IFDIR | 0o755;
    root.nlink = 2;
    root.parent = ROOT_INO;
    io.nt(inodeAddr(sb, ROOT_INO), encodeInode(root), "metadata");
    io.nt(0, encodeSuperblock(sb), "metadata");
    io.fence("metadata");
    return sb;
  }

  /** Reads and checks the superblock; throws FsCorruptError when there is no valid daxfs. */
  static readSuperblock(io: MediaIo): Superblock {
    const sb = decodeSuperblock(io.load(0, 128));
    if (typeof sb === "string") throw new FsCorruptError(`cannot mount: ${sb}`);
    if (sb.sizeBytes > io.dimm.sizeBytes)
      throw new FsCorruptError(`cannot mount: filesystem of ${sb.sizeBytes} bytes on a ${io.dimm.sizeBytes}-byte DIMM`);
    return sb;
  }

  /** Mounts: journal recovery, then orphan cleanup (inodes with no links), committed at once. */
  static mount(io: MediaIo, options: MountOptions, clock: Clock): { fs: DaxFs; report: MountReport } {
    const sb = DaxFs.readSuperblock(io);
    const fs = new DaxFs(io, sb, options, clock);
    const recoveredTxns = fs.journal.recover();
    fs.scanInodes();
    fs.freeBlocks = fs.countFreeBlocks();
    const orphansFreed = fs.freeOrphans();
    fs.commit();
    return { fs, report: { recoveredTxns, orphansFreed } };
  }

  private scanInodes(): void {
    for (let ino = 1; ino <= this.sb.inodeCount; ino++) {
      const raw = this.meta.read(inodeAddr(this.sb, ino), 2, "inode");
      this.inodeInUse[ino] = raw[0] !== 0 || raw[1] !== 0 ? 1 : 0;
    }
    if (this.inodeInUse[ROOT_INO] !== 1 || !isDir(this.inode(ROOT_INO)))
      throw new FsCorruptError("cannot mount: the root inode is not a directory");
  }

  private freeOrphans(): number {
    let freed = 0;
    for (let ino = 1; ino <= this.sb.inodeCount; ino++) {
      if (this.inodeInUse[ino] !== 1 || ino === ROOT_INO) continue;
      const inode = this.inode(ino);
      if (inode.nlink === 0) {
        this.freeInode(inode);
        freed++;
      }
    }
    return freed;
  }

  /** Commits everything and stops accepting calls. */
  unmount(): void {
    this.commit();
    this.io.fence("metadata");
    this.mounted = false;
  }

  checkMounted(): void {
    if (!this.mounted) throw new FsError("EIO", "the filesystem is not mounted");
  }

  // ---------------------------------------------------------------------------------------------
  // Transactions

  /** Commits the running transaction (if any). Returns whether anything was committed. */
  commit(): boolean {
    if (this.meta.isClean && this.txnDataRecords.length === 0) return false;
    for (const ino of this.txnInodes) this.flushInode(ino);
    const records = [...this.meta.takeRecords(), ...this.txnDataRecords];
    this.txnDataRecords = [];
    this.txnDataBytes = 0;
    this.journal.commit(records);
    this.quarantine.clear();
    this.txnInodes.clear();
    this.txnDataInodes.clear();
    this.commits++;
    return true;
  }

  /** Called before each metadata-changing operation: keeps a transaction within half the journal. */
  reserveJournal(): void {
    if (this.meta.pendingBytes + this.txnDataBytes > this.journal.payloadBytesMax / 2) this.commit();
  }

  /**
   * Zeroes file data [addr, addr+length) as part of the running transaction: the zeros are
   * journaled and stored in place at checkpoint, so they become visible and durable together with
   * the metadata change (punch, zero range, truncate). The caller commits before returning.
   */
  queueZero(addr: number, length: number): void {
    this.txnDataRecords.push({ addr, data: Buffer.alloc(length), kind: "data" });
    this.txnDataBytes += length;
  }

  /** Free blocks that may be allocated now (blocks freed by the running transaction are not). */
  get allocatableBlocks(): number {
    return this.freeBlocks - this.quarantine.size;
  }

  /** fsync/fdatasync's metadata part: commits if the inode has changes in the running transaction. */
  syncInodeMetadata(ino: number, datasync: boolean): boolean {
    const needed = datasync ? this.txnDataInodes.has(ino) : this.txnInodes.has(ino);
    return needed ? this.commit() : false;
  }

  /** True when the inode's size or block map changed and is not committed (MAP_SYNC needs it durable). */
  hasUncommittedDataMetadata(ino: number): boolean {
    return this.txnDataInodes.has(ino);
  }

  // ---------------------------------------------------------------------------------------------
  // Inodes

  inode(ino: number): Inode {
    let inode = this.inodes.get(ino);
    if (inode === undefined) {
      if (ino < 1 || ino > this.sb.inodeCount) throw new FsError("EIO", `inode ${ino} is outside the inode table`);
      const decoded = decodeInode(ino, this.meta.read(inodeAddr(this.sb, ino), 256, "inode"));
      if (!decoded.checksumOk) throw new FsError("EIO", `inode ${ino} has a bad checksum`);
      inode = decoded.inode;
      this.inodes.set(ino, inode);
    }
    return inode;
  }

  /** Notes that `inode` changed in the running transaction (written to the cache at commit). */
  dirtyInode(inode: Inode, data = false): void {
    this.txnInodes.add(inode.ino);
    if (data) this.txnDataInodes.add(inode.ino);
    this.flushInode(inode.ino);
  }

  private flushInode(ino: number): void {
    const inode = this.inodes.get(ino);
    if (inode !== undefined) this.meta.write(inodeAddr(this.sb, ino), encodeInode(inode), "inode");
  }

  now(): number {
    return this.clock.now();
  }

  private allocInode(mode: number, parent: number): Inode {
    for (let ino = 1; ino <= this.sb.inodeCount; ino++) {
      if (this.inodeInUse[ino] === 1) continue;
      const previous = this.inode(ino);
      const inode = emptyInode(ino);
      const t = this.now();
      inode.mode = mode;
      inode.nlink = (mode & S_IFMT) === S_IFDIR ? 2 : 1;
      inode.atime = t;
      inode.mtime = t;
      inode.ctime = t;
      inode.generation = previous.generation + 1;
      inode.parent = (mode & S_IFMT) === S_IFDIR ? parent : 0;
      this.inodes.set(ino, inode);
      this.inodeInUse[ino] = 1;
      this.dirtyInode(inode, true);
      return inode;
    }
    throw new FsError("ENOSPC", "no free inode");
  }

  /** Frees an unlinked inode with no users, or an empty directory being removed: its blocks, then the inode. */
  private freeInode(inode: Inode): void {
    this.blockMap.forEachMapped(inode, 0, Number.MAX_SAFE_INTEGER, (_fb, block) => this.freeBlock(block));
    for (const block of this.blockMap.indirectBlocks(inode)) {
      this.meta.forget(block);
      this.freeBlock(block);
    }
    this.dirs.delete(inode.ino);
    for (const listener of this.freedListeners) listener(inode.ino);
    const generation = inode.generation;
    const freed = emptyInode(inode.ino);
    freed.generation = generation;
    this.inodes.set(inode.ino, freed);
    this.inodeInUse[inode.ino] = 0;
    this.dirtyInode(freed, true);
  }

  onInodeFreed(listener: (ino: number) => void): void {
    this.freedListeners.push(listener);
  }

  /** An open file or a mapping takes a reference; dropping the last frees an unlinked inode. */
  ref(ino: number): void {
    this.refs.set(ino, (this.refs.get(ino) ?? 0) + 1);
  }

  unref(ino: number): void {
    const n = (this.refs.get(ino) ?? 0) - 1;
    if (n < 0) throw new Error(`unref of inode ${ino} without a reference`);
    if (n === 0) this.refs.delete(ino);
    else this.refs.set(ino, n);
    if (n === 0 && this.mounted) {
      const inode = this.inode(ino);
      if (inode.mode !== 0 && inode.nlink === 0) {
        this.reserveJournal();
        this.freeInode(inode);
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Blocks

  private bitmapByte(block: number): { buf: Buffer; off: number; blockNo: number } {
    const byte = block >> 3;
    const blockNo = this.sb.bitmapStart + Math.floor(byte / BLOCK_BYTES);
    return { buf: this.meta.block(blockNo, "bitmap"), off: byte % BLOCK_BYTES, blockNo };
  }

  isBlockUsed(block: number): boolean {
    const { buf, off } = this.bitmapByte(block);
    return (buf[off]! & (1 << (block & 7))) !== 0;
  }

  private setBlockUsed(block: number, used: boolean): void {
    const { buf, off, blockNo } = this.bitmapByte(block);
    if (used) buf[off]! |= 1 << (block & 7);
    else buf[off]! &= ~(1 << (block & 7));
    this.meta.markDirty(blockNo, off, off + 1);
  }

  private countFreeBlocks(): number {
    let free = 0;
    for (let block = this.sb.dataStart; block < this.sb.blockCount; block++) if (!this.isBlockUsed(block)) free++;
    return free;
  }

  get freeBlockCount(): number {
    return this.freeBlocks;
  }

  /** Allocates a data block (not zeroed: the caller zeroes or fully writes it). */
  allocBlock(): number {
    if (this.allocatableBlocks <= 0) throw new FsError("ENOSPC", "no free block on the DIMM");
    const span = this.sb.blockCount - this.sb.dataStart;
    for (let i = 0; i < span; i++) {
      const block = this.sb.dataStart + ((this.allocHint - this.sb.dataStart + i) % span);
      if (this.isBlockUsed(block) || this.quarantine.has(block)) continue;
      this.setBlockUsed(block, true);
      this.freeBlocks--;
      this.allocHint = block + 1 >= this.sb.blockCount ? this.sb.dataStart : block + 1;
      return block;
    }
    throw new FsError("ENOSPC", "no free block on the DIMM");
  }

  /** Allocates a data block and zeroes it on media (non-temporal, durable at the next fence). */
  allocZeroedBlock(inode = 0, fileOffset = 0): number {
    const block = this.allocBlock();
    this.io.nt(block * BLOCK_BYTES, ZERO_PAGE_BYTES, "zeroing", inode, fileOffset);
    return block;
  }

  allocMetaBlock(kind: "indirect" | "dir"): number {
    const block = this.allocZeroedBlock();
    this.meta.fresh(block, kind);
    return block;
  }

  freeBlock(block: number): void {
    if (block < this.sb.dataStart || block >= this.sb.blockCount)
      throw new FsError("EIO", `freeing block ${block}, outside the data area`);
    if (!this.isBlockUsed(block)) throw new FsError("EIO", `freeing block ${block}, which is already free`);
    this.setBlockUsed(block, false);
    this.freeBlocks++;
    this.quarantine.add(block);
  }

  // ---------------------------------------------------------------------------------------------
  // Directories

  private dirIndex(dir: Inode): DirIndex {
    let index = this.dirs.get(dir.ino);
    if (index !== undefined) return index;
    index = { entries: new Map(), freeSlots: [], slotCount: (dir.size / BLOCK_BYTES) * DIRENTS_PER_BLOCK };
    for (let slot = 0; slot < index.slotCount; slot++) {
      const entry = decodeDirent(this.meta.read(this.slotAddr(dir, slot), DIRENT_BYTES, "dir"));
      if (typeof entry === "string") throw new FsError("EIO", `directory ${dir.ino} slot ${slot}: ${entry}`);
      if (entry === undefined) index.freeSlots.push(slot);
      else index.entries.set(entry.name, { ino: entry.ino, type: entry.type, slot });
    }
    index.freeSlots.reverse();
    this.dirs.set(dir.ino, index);
    return index;
  }

  private slotAddr(dir: Inode, slot: number): number {
    const block = this.blockMap.get(dir, Math.floor(slot / DIRENTS_PER_BLOCK));
    if (block === 0) throw new FsError("EIO", `directory ${dir.ino} has a hole at slot ${slot}`);
    return block * BLOCK_BYTES + (slot % DIRENTS_PER_BLOCK) * DIRENT_BYTES;
  }

  /** ENOSPC unless `dir` can take one more entry (a free slot, or room for a new block). */
  private ensureEntrySpace(dir: Inode): void {
    if (this.dirIndex(dir).freeSlots.length > 0) return;
    if (this.allocatableBlocks < 3) throw new FsError("ENOSPC", `no space to grow directory ${dir.ino}`);
  }

  private addEntry(dir: Inode, entry: Dirent): void {
    const index = this.dirIndex(dir);
    let slot = index.freeSlots.pop();
    if (slot === undefined) {
      const fb = dir.size / BLOCK_BYTES;
      const block = this.allocMetaBlock("dir");
      this.blockMap.set(dir, fb, block);
      dir.blocks++;
      dir.size += BLOCK_BYTES;
      slot = index.slotCount;
      for (let s = index.slotCount + DIRENTS_PER_BLOCK - 1; s > slot; s--) index.freeSlots.push(s);
      index.slotCount += DIRENTS_PER_BLOCK;
    }
    this.meta.write(this.slotAddr(dir, slot), encodeDirent(entry), "dir");
    index.entries.set(entry.name, { ino: entry.ino, type: entry.type, slot });
  }

  private removeEntry(dir: Inode, name: string): void {
    const index = this.dirIndex(dir);
    const entry = index.entries.get(name);
    if (entry === undefined) throw new Error(`removeEntry: ${name} not in directory ${dir.ino}`);
    this.meta.write(this.slotAddr(dir, entry.slot), encodeDirent(undefined), "dir");
    index.entries.delete(name);
    index.freeSlots.push(entry.slot);
  }

  /** Sets mtime and ctime to now and dirties the inode (`data`: its size or block map changed too). */
  touch(inode: Inode, data = true): void {
    const t = this.now();
    inode.mtime = t;
    inode.ctime = t;
    this.dirtyInode(inode, data);
  }

  // ---------------------------------------------------------------------------------------------
  // Paths

  /** Splits an absolute path into checked components. */
  static components(path: string): string[] {
    if (typeof path !== "string" || !path.startsWith("/"))
      throw new FsError("EINVAL", `path "${String(path)}" is not absolute`);
    const parts = path.split("/").filter((p) => p !== "" && p !== ".");
    for (const p of parts) {
      if (Buffer.byteLength(p, "utf8") > NAME_BYTES_MAX)
        throw new FsError("ENAMETOOLONG", `name "${p.slice(0, 20)}…" is longer than ${NAME_BYTES_MAX} bytes`);
      if (p.includes("\0")) throw new FsError("EINVAL", "a path component contains a NUL byte");
    }
    return parts;
  }

  /** Resolves a path to its inode; ".." follows parent pointers. */
  lookup(path: string): Inode {
    this.checkMounted();
    let inode = this.inode(this.sb.rootIno);
    for (const part of DaxFs.components(path)) {
      if (!isDir(inode)) throw new FsError("ENOTDIR", `${path}: a component is not a directory`);
      if (part === "..") {
        inode = this.inode(inode.parent);
        continue;
      }
      const entry = this.dirIndex(inode).entries.get(part);
      if (entry === undefined) throw new FsError("ENOENT", `${path}: no such file or directory`);
      inode = this.inode(entry.ino);
    }
    return inode;
  }

  /** The parent directory of `path` and the last component's name. */
  private parentOf(path: string): { dir: Inode; name: string } {
    const parts = DaxFs.components(path);
    const name = parts.pop();
    if (name === undefined || name === "..") throw new FsError("EINVAL", `${path}: names no entry`);
    const dir = this.lookup(`/${parts.join("/")}`);
    if (!isDir(dir)) throw new FsError("ENOTDIR", `${path}: parent is not a directory`);
    return { dir, name };
  }

  // ---------------------------------------------------------------------------------------------
  // Namespace operations (each is one atomic change of the running transaction)

  /** Creates a regular file; returns it. EEXIST if the name exists. */
  create(path: string, perms = 0o644): Inode {
    this.checkMounted();
    const { dir, name } = this.parentOf(path);
    if (this.dirIndex(dir).entries.has(name)) throw new FsError("EEXIST", `${path}: exists`);
    this.reserveJournal();
    this.ensureEntrySpace(dir);
    const inode = this.allocInode(S_IFREG | (perms & 0o7777), dir.ino);
    this.addEntry(dir, { ino: inode.ino, type: DT_REG, name });
    this.touch(dir);
    return inode;
  }

  mkdir(path: string, perms = 0o755): Inode {
    this.checkMounted();
    const { dir, name } = this.parentOf(path);
    if (this.dirIndex(dir).entries.has(name)) throw new FsError("EEXIST", `${path}: exists`);
    if (dir.nlink >= 65000) throw new FsError("EMLINK", `${path}: too many subdirectories`);
    this.reserveJournal();
    this.ensureEntrySpace(dir);
    const inode = this.allocInode(S_IFDIR | (perms & 0o7777), dir.ino);
    this.addEntry(dir, { ino: inode.ino, type: DT_DIR, name });
    dir.nlink++;
    this.touch(dir);
    return inode;
  }

  unlink(path: string): void {
    this.checkMounted();
    const { dir, name } = this.parentOf(path);
    const entry = this.dirIndex(dir).entries.get(name);
    if (entry === undefined) throw new FsError("ENOENT", `${path}: no such file`);
    const inode = this.inode(entry.ino);
    if (isDir(inode)) throw new FsError("EISDIR", `${path}: is a directory (use rmdir)`);
    this.reserveJournal();
    this.removeEntry(dir, name);
    this.dropLink(inode);
    this.touch(dir);
  }

  private dropLink(inode: Inode): void {
    inode.nlink--;
    inode.ctime = this.now();
    this.dirtyInode(inode);
    if (inode.nlink === 0 && (this.refs.get(inode.ino) ?? 0) === 0) this.freeInode(inode);
  }

  /** Frees empty directory `dir`, whose entry in `parent` is gone (its ".." no longer links `parent`). */
  private dropDir(parent: Inode, dir: Inode): void {
    parent.nlink--;
    this.freeInode(dir);
  }

  rmdir(path: string): void {
    this.checkMounted();
    const { dir, name } = this.parentOf(path);
    const entry = this.dirIndex(dir).entries.get(name);
    if (entry === undefined) throw new FsError("ENOENT", `${path}: no such directory`);
    const inode = this.inode(entry.ino);
    if (!isDir(inode)) throw new FsError("ENOTDIR", `${path}: not a directory`);
    if (this.dirIndex(inode).entries.size > 0) throw new FsError("ENOTEMPTY", `${path}: directory not empty`);
    this.reserveJournal();
    this.removeEntry(dir, name);
    this.dropDir(dir, inode);
    this.touch(dir);
  }

  /** Atomic rename; replaces an existing target (a file, or an empty directory for a directory). */
  rename(from: string, to: string): void {
    this.checkMounted();
    const src = this.parentOf(from);
    const dst = this.parentOf(to);
    const entry = this.dirIndex(src.dir).entries.get(src.name);
    if (entry === undefined) throw new FsError("ENOENT", `${from}: no such file or directory`);
    const moving = this.inode(entry.ino);
    if (isDir(moving)) {
      for (let d = dst.dir; ; d = this.inode(d.parent)) {
        if (d.ino === moving.ino) throw new FsError("EINVAL", `${to}: cannot move a directory into itself`);
        if (d.ino === this.sb.rootIno) break;
      }
    }
    const target = this.dirIndex(dst.dir).entries.get(dst.name);
    if (target !== undefined && target.ino === moving.ino) return;
    if (target !== undefined) {
      const victim = this.inode(target.ino);
      if (isDir(moving) && !isDir(victim)) throw new FsError("ENOTDIR", `${to}: not a directory`);
      if (!isDir(moving) && isDir(victim)) throw new FsError("EISDIR", `${to}: is a directory`);
      if (isDir(victim) && this.dirIndex(victim).entries.size > 0)
        throw new FsError("ENOTEMPTY", `${to}: directory not empty`);
    }
    this.reserveJournal();
    if (target === undefined && dst.dir.ino !== src.dir.ino) this.ensureEntrySpace(dst.dir);
    if (target !== undefined) {
      const victim = this.inode(target.ino);
      this.removeEntry(dst.dir, dst.name);
      if (isDir(victim)) this.dropDir(dst.dir, victim);
      else this.dropLink(victim);
    }
    this.removeEntry(src.dir, src.name);
    this.addEntry(dst.dir, { ino: moving.ino, type: entry.type, name: dst.name });
    if (isDir(moving) && src.dir.ino !== dst.dir.ino) {
      src.dir.nlink--;
      dst.dir.nlink++;
      moving.parent = dst.dir.ino;
    }
    moving.ctime = this.now();
    this.dirtyInode(moving);
    this.touch(src.dir);
    if (dst.dir.ino !== src.dir.ino) this.touch(dst.dir);
  }

  /** Directory listing: ".", ".." and the entries, sorted by name. */
  readdir(path: string): Array<{ name: string; ino: number; type: "file" | "dir" }> {
    const dir = this.lookup(path);
    if (!isDir(dir)) throw new FsError("ENOTDIR", `${path}: not a directory`);
    const entries = [...this.dirIndex(dir).entries].map(([name, e]) => ({
      name,
      ino: e.ino,
      type: e.type === DT_DIR ? ("dir" as const) : ("file" as const),
    }));
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return [{ name: ".", ino: dir.ino, type: "dir" }, { name: "..", ino: dir.parent, type: "dir" }, ...entries];
  }

  stat(inode: Inode): FileStat {
    return {
      ino: inode.ino,
      mode: inode.mode,
      type: isDir(inode) ? "dir" : "file",
      nlink: inode.nlink,
      size: inode.size,
      blocks4k: inode.blocks,
      blocks: inode.blocks * (BLOCK_BYTES / 512),
      atime: inode.atime,
      mtime: inode.mtime,
      ctime: inode.ctime,
    };
  }
}
