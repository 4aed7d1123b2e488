/**
 * The on-media format of daxfs, the filesystem daxsim runs on each DIMM. All integers little-endian.
 *
 *   block 0                     superblock (immutable after mkfs; CRC-32 protected)
 *   journal_start ..            the metadata journal: one transaction at a time (journal.ts)
 *   bitmap_start ..             block bitmap: bit b set = block b in use (metadata blocks included)
 *   inode_table_start ..        inodes, 256 bytes each, inode n at (n-1)*256; 0 means "none"
 *   data_start ..               file data, directory blocks and indirect blocks
 *
 * Inodes map file blocks with 12 direct pointers, one indirect and one double-indirect block of
 * 1024 u32 pointers each (0 = hole). Directories are arrays of 256-byte entries in their data
 * blocks. Every inode and directory entry carries a CRC-32 of its own bytes, so a torn write of
 * metadata outside the journal protocol shows up in fsck as a bad checksum.
 *
 * Invariant the journal keeps: inodes, bitmap bytes, directory entries and indirect pointers change
 * on media only through committed journal transactions (checkpoint or recovery), never directly.
 */
import { crc32 } from "../checksum.js";
import { PAGE_BYTES } from "../dimm/geometry.js";

export const BLOCK_BYTES = PAGE_BYTES;
export const FS_MAGIC = "DAXSIMFS";
export const FS_VERSION = 1;
export const INODE_BYTES = 256;
export const INODES_PER_BLOCK = BLOCK_BYTES / INODE_BYTES;
export const DIRECT_POINTERS = 12;
export const POINTERS_PER_BLOCK = BLOCK_BYTES / 4;
export const MAX_FILE_BLOCKS = DIRECT_POINTERS + POINTERS_PER_BLOCK + POINTERS_PER_BLOCK * POINTERS_PER_BLOCK;
export const MAX_FILE_BYTES = MAX_FILE_BLOCKS * BLOCK_BYTES;
export const DIRENT_BYTES = 256;
export const DIRENTS_PER_BLOCK = BLOCK_BYTES / DIRENT_BYTES;
export const NAME_BYTES_MAX = 244;
export const ROOT_INO = 1;

export const S_IFMT = 0o170000;
export const S_IFREG = 0o100000;
export const S_IFDIR = 0o040000;

export interface Superblock {
  sizeBytes: number;
  blockCount: number;
  inodeCount: number;
  journalStart: number;
  journalBlocks: number;
  bitmapStart: number;
  bitmapBlocks: number;
  inodeTableStart: number;
  inodeTableBlocks: number;
  dataStart: number;
  rootIno: number;
  /** 16 bytes chosen at mkfs from its seed. */
  uuid: Uint8Array;
}

/** Chooses the layout for a filesystem of `sizeBytes`. */
export function planLayout(
  sizeBytes: number,
  options: { inodes?: number; journalBlocks?: number; uuid: Uint8Array },
): Superblock {
  const blockCount = Math.floor(sizeBytes / BLOCK_BYTES);
  const journalBlocks = options.journalBlocks ?? Math.min(8192, Math.max(16, Math.floor(blockCount / 64)));
  const inodeCount =
    options.inodes ?? Math.min(65536, Math.max(64, roundUp(Math.floor(blockCount / 16), INODES_PER_BLOCK)));
  const bitmapBlocks = Math.ceil(blockCount / (BLOCK_BYTES * 8));
  const inodeTableBlocks = Math.ceil(inodeCount / INODES_PER_BLOCK);
  const journalStart = 1;
  const bitmapStart = journalStart + journalBlocks;
  const inodeTableStart = bitmapStart + bitmapBlocks;
  const dataStart = inodeTableStart + inodeTableBlocks;
  return {
    sizeBytes,
    blockCount,
    inodeCount: inodeTableBlocks * INODES_PER_BLOCK,
    journalStart,
    journalBlocks,
    bitmapStart,
    bitmapBlocks,
    inodeTableStart,
    inodeTableBlocks,
    dataStart,
    rootIno: ROOT_INO,
    uuid: options.uuid,
  };
}

function roundUp(value: number, multiple: number): number {
  return Math.ceil(value / multiple) * multiple;
}

const SB_CRC_AT = 124;

export function encodeSuperblock(sb: Superblock): Buffer {
  const b = Buffer.alloc(128);
  b.write(FS_MAGIC, 0, "latin1");
  b.writeUInt32LE(FS_VERSION, 8);
  b.writeBigUInt64LE(BigInt(sb.sizeBytes), 16);
  b.writeUInt32LE(sb.blockCount, 24);
  b.writeUInt32LE(sb.inodeCount, 28);
  b.writeUInt32LE(sb.journalStart, 32);
  b.writeUInt32LE(sb.journalBlocks, 36);
  b.writeUInt32LE(sb.bitmapStart, 40);
  b.writeUInt32LE(sb.bitmapBlocks, 44);
  b.writeUInt32LE(sb.inodeTableStart, 48);
  b.writeUInt32LE(sb.inodeTableBlocks, 52);
  b.writeUInt32LE(sb.dataStart, 56);
  b.writeUInt32LE(sb.rootIno, 60);
  Buffer.from(sb.uuid).copy(b, 64, 0, 16);
  b.writeUInt32LE(crc32(b.subarray(0, SB_CRC_AT)), SB_CRC_AT);
  return b;
}

/** Decodes and checks a superblock; returns a reason string instead when it is not valid. */
export function decodeSuperblock(b: Uint8Array): Superblock | string {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  if (buf.toString("latin1", 0, 8) !== FS_MAGIC) return "no daxfs superblock (bad magic)";
  const version = buf.readUInt32LE(8);
  if (version !== FS_VERSION)
    return `daxfs version ${version} is not supported (this daxsim reads version ${FS_VERSION})`;
  if (buf.readUInt32LE(SB_CRC_AT) !== crc32(buf.subarray(0, SB_CRC_AT))) return "superblock checksum mismatch";
  const sb: Superblock = {
    sizeBytes: Number(buf.readBigUInt64LE(16)),
    blockCount: buf.readUInt32LE(24),
    inodeCount: buf.readUInt32LE(28),
    journalStart: buf.readUInt32LE(32),
    journalBlocks: buf.readUInt32LE(36),
    bitmapStart: buf.readUInt32LE(40),
    bitmapBlocks: buf.readUInt32LE(44),
    inodeTableStart: buf.readUInt32LE(48),
    inodeTableBlocks: buf.readUInt32LE(52),
    dataStart: buf.readUInt32LE(56),
    rootIno: buf.readUInt32LE(60),
    uuid: Uint8Array.from(buf.subarray(64, 80)),
  };
  const plan = planLayout(sb.sizeBytes, { inodes: sb.inodeCount, journalBlocks: sb.journalBlocks, uuid: sb.uuid });
  for (const key of [
    "blockCount",
    "bitmapStart",
    "bitmapBlocks",
    "inodeTableStart",
    "inodeTableBlocks",
    "dataStart",
    "rootIno",
  ] as const) {
    if (plan[key] !== sb[key]) return `superblock field ${key} is ${sb[key]}, layout says ${plan[key]}`;
  }
  return sb;
}

export interface Inode {
  ino: number;
  mode: number;
  nlink: number;
  flags: number;
  size: number;
  /** 4 KiB blocks in use: data blocks and indirect blocks. */
  blocks: number;
  atime: number;
  mtime: number;
  ctime: number;
  generation: number;
  /** For directories: the parent directory's inode (the root is its own parent). */
  parent: number;
  direct: number[];
  indirect: number;
  dindirect: number;
}

export function emptyInode(ino: number): Inode {
  return {
    ino,
    mode: 0,
    nlink: 0,
    flags: 0,
    size: 0,
    blocks: 0,
    atime: 0,
    mtime: 0,
    ctime: 0,
    generation: 0,
    parent: 0,
    direct: new Array<number>(DIRECT_POINTERS).fill(0),
    indirect: 0,
    dindirect: 0,
  };
}

export function isDir(inode: Inode): boolean {
  return (inode.mode & S_IFMT) === S_IFDIR;
}

/**
 * The DIMM block holding file block `fb` of `inode` (0: a hole). `pointer(block, index)` reads entry
 * `index` of indirect block `block`: the mounted filesystem reads through its metadata cache, fsck
 * straight from the media.
 */
export function fileBlock(inode: Inode, fb: number, pointer: (block: number, index: number) => number): number {
  if (fb < DIRECT_POINTERS) return inode.direct[fb]!;
  const rel = fb - DIRECT_POINTERS;
  if (rel < POINTERS_PER_BLOCK) return inode.indirect === 0 ? 0 : pointer(inode.indirect, rel);
  if (fb >= MAX_FILE_BLOCKS || inode.dindirect === 0) return 0;
  const drel = rel - POINTERS_PER_BLOCK;
  const mid = pointer(inode.dindirect, Math.floor(drel / POINTERS_PER_BLOCK));
  return mid === 0 ? 0 : pointer(mid, drel % POINTERS_PER_BLOCK);
}

const INODE_CRC_AT = INODE_BYTES - 4;

export function encodeInode(inode: Inode): Buffer {
  const b = Buffer.alloc(INODE_BYTES);
  if (inode.mode === 0) return b; // a free inode is all zeros
  b.writeUInt16LE(inode.mode, 0);
  b.writeUInt16LE(inode.nlink, 2);
  b.writeUInt32LE(inode.flags, 4);
  b.writeBigUInt64LE(BigInt(inode.size), 8);
  b.writeBigUInt64LE(BigInt(inode.blocks), 16);
  b.writeBigUInt64LE(BigInt(inode.atime), 24);
  b.writeBigUInt64LE(BigInt(inode.mtime), 32);
  b.writeBigUInt64LE(BigInt(inode.ctime), 40);
  b.writeUInt32LE(inode.generation, 48);
  b.writeUInt32LE(inode.parent, 52);
  for (let i = 0; i < DIRECT_POINTERS; i++) b.writeUInt32LE(inode.direct[i]!, 56 + 4 * i);
  b.writeUInt32LE(inode.indirect, 104);
  b.writeUInt32LE(inode.dindirect, 108);
  b.writeUInt32LE(crc32(b.subarray(0, INODE_CRC_AT)), INODE_CRC_AT);
  return b;
}

/** Decodes inode `ino`; a bad checksum is reported, not thrown, so fsck can list it. */
export function decodeInode(ino: number, b: Uint8Array): { inode: Inode; checksumOk: boolean } {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  const inode = emptyInode(ino);
  if (buf.readUInt16LE(0) === 0) return { inode, checksumOk: true }; // mode 0: a free slot
  inode.mode = buf.readUInt16LE(0);
  inode.nlink = buf.readUInt16LE(2);
  inode.flags = buf.readUInt32LE(4);
  inode.size = Number(buf.readBigUInt64LE(8));
  inode.blocks = Number(buf.readBigUInt64LE(16));
  inode.atime = Number(buf.readBigUInt64LE(24));
  inode.mtime = Number(buf.readBigUInt64LE(32));
  inode.ctime = Number(buf.readBigUInt64LE(40));
  inode.generation = buf.readUInt32LE(48);
  inode.parent = buf.readUInt32LE(52);
  for (let i = 0; i < DIRECT_POINTERS; i++) inode.direct[i] = buf.readUInt32LE(56 + 4 * i);
  inode.indirect = buf.readUInt32LE(104);
  inode.dindirect = buf.readUInt32LE(108);
  const checksumOk = buf.readUInt32LE(INODE_CRC_AT) === crc32(buf.subarray(0, INODE_CRC_AT));
  return { inode, checksumOk };
}

export interface Dirent {
  ino: number;
  /** 1 regular file, 2 directory (as DT_REG/DT_DIR, simplified). */
  type: number;
  name: string;
}

export const DT_REG = 1;
export const DT_DIR = 2;
const DIRENT_CRC_AT = 8;
const EMPTY_DIRENT = Buffer.alloc(DIRENT_BYTES);
const DIRENT_NAME_AT = 12;

export function encodeDirent(entry: Dirent | undefined): Buffer {
  const b = Buffer.alloc(DIRENT_BYTES);
  if (entry === undefined) return b;
  const name = Buffer.from(entry.name, "utf8");
  b.writeUInt32LE(entry.ino, 0);
  b.writeUInt8(name.length, 4);
  b.writeUInt8(entry.type, 5);
  name.copy(b, DIRENT_NAME_AT);
  b.writeUInt32LE(direntCrc(b), DIRENT_CRC_AT);
  return b;
}

function direntCrc(b: Buffer): number {
  return crc32(b.subarray(DIRENT_NAME_AT), crc32(b.subarray(0, DIRENT_CRC_AT)));
}

/** undefined for an empty slot; a string reason when the slot is damaged. */
export function decodeDirent(b: Uint8Array): Dirent | undefined | string {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  const ino = buf.readUInt32LE(0);
  if (ino === 0) return EMPTY_DIRENT.equals(buf) ? undefined : "non-zero bytes in an empty directory slot";
  if (buf.readUInt32LE(DIRENT_CRC_AT) !== direntCrc(buf)) return "directory entry checksum mismatch";
  const length = buf.readUInt8(4);
  if (length === 0 || length > NAME_BYTES_MAX) return `directory entry name length ${length}`;
  return { ino, type: buf.readUInt8(5), name: buf.toString("utf8", DIRENT_NAME_AT, DIRENT_NAME_AT + length) };
}

/** Byte address on the DIMM of inode `ino`. */
export function inodeAddr(sb: Superblock, ino: number): number {
  return sb.inodeTableStart * BLOCK_BYTES + (ino - 1) * INODE_BYTES;
}
