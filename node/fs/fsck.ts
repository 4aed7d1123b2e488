/**
 * fsck for daxfs: reads the media (never the mounted filesystem's caches) and reports every
 * inconsistency it finds. It changes nothing. Problems:
 *   bad-superblock, bad-checksum (inode or directory entry), bad-inode (mode, sizes),
 *   bad-pointer (outside the data area), doubly-used block, leaked block (in use in the bitmap,
 *   referenced by nothing), unmarked block (referenced, free in the bitmap), blocks-mismatch
 *   (inode.blocks vs blocks found), dangling entry (names a free inode), duplicate entry,
 *   wrong-type entry, link-count mismatch, unreachable inode (in use, links, not in any directory),
 *   bad-parent (a directory's ".." disagrees with where it is), bad-dir-size.
 * Notes, not problems: a committed transaction still in the journal (mount replays it), orphan
 * inodes (no links; mount frees them).
 */
import { HEADER_MAGIC as JOURNAL_HEADER_MAGIC } from "./journal.js";
import {
  BLOCK_BYTES,
  DIRECT_POINTERS,
  DIRENTS_PER_BLOCK,
  DIRENT_BYTES,
  DT_DIR,
  DT_REG,
  INODE_BYTES,
  POINTERS_PER_BLOCK,
  S_IFDIR,
  S_IFMT,
  S_IFREG,
  decodeDirent,
  decodeInode,
  decodeSuperblock,
  fileBlock,
  isDir,
} from "./layout.js";
import type { Inode, Superblock } from "./layout.js";

export interface FsckProblem {
  kind: string;
  message: string;
}

export interface FsckReport {
  clean: boolean;
  problems: FsckProblem[];
  notes: string[];
  inodesInUse: number;
  blocksInUse: number;
  superblock?: Superblock;
}

export type MediaReader = (addr: number, length: number) => Buffer;

export function fsck(read: MediaReader, mediaBytes: number): FsckReport {
  const problems: FsckProblem[] = [];
  const notes: string[] = [];
  const problem = (kind: string, message: string): void => {
    problems.push({ kind, message });
  };
  const sb = decodeSuperblock(read(0, 128));
  if (typeof sb === "string") {
    problem("bad-superblock", sb);
    return { clean: false, problems, notes, inodesInUse: 0, blocksInUse: 0 };
  }
  if (sb.sizeBytes > mediaBytes) {
    problem("bad-superblock", `filesystem of ${sb.sizeBytes} bytes on ${mediaBytes} bytes of media`);
    return { clean: false, problems, notes, inodesInUse: 0, blocksInUse: 0, superblock: sb };
  }
  if (read(sb.journalStart * BLOCK_BYTES, 8).equals(JOURNAL_HEADER_MAGIC))
    notes.push("the journal holds a transaction: the next mount replays it if it is committed");

  const owner = new Map<number, number>(); // block → inode that references it
  const inodes = new Map<number, Inode>();
  const table = read(sb.inodeTableStart * BLOCK_BYTES, sb.inodeTableBlocks * BLOCK_BYTES);
  for (let ino = 1; ino <= sb.inodeCount; ino++) {
    const { inode, checksumOk } = decodeInode(ino, table.subarray((ino - 1) * INODE_BYTES, ino * INODE_BYTES));
    if (inode.mode === 0) continue;
    if (!checksumOk) {
      problem("bad-checksum", `inode ${ino}: checksum mismatch`);
      continue;
    }
    const type = inode.mode & S_IFMT;
    if (type !== S_IFREG && type !== S_IFDIR) {
      problem("bad-inode", `inode ${ino}: mode ${inode.mode.toString(8)} is neither a file nor a directory`);
      continue;
    }
    inodes.set(ino, inode);
    checkBlocks(sb, read, inode, owner, problem);
  }

  checkBitmap(sb, read, owner, problem);
  const linksFound = checkTree(sb, read, inodes, problem);
  for (const [ino, inode] of inodes) {
    const found = linksFound.get(ino) ?? 0;
    if (inode.nlink === 0 && found === 0) {
      notes.push(`inode ${ino} is an orphan (no links): the next mount frees it`);
      continue;
    }
    if (found === 0 && ino !== sb.rootIno) {
      problem("unreachable-inode", `inode ${ino} has ${inode.nlink} links but no directory entry`);
      continue;
    }
    const expected = isDir(inode) ? found + 1 : found; // a directory: its entry (or root's self) + "." + subdirs' ".."
    if (inode.nlink !== expected) problem("link-count", `inode ${ino}: nlink ${inode.nlink}, found ${expected}`);
  }
  return {
    clean: problems.length === 0,
    problems,
    notes,
    inodesInUse: inodes.size,
    blocksInUse: owner.size,
    superblock: sb,
  };
}

function checkBlocks(
  sb: Superblock,
  read: MediaReader,
  inode: Inode,
  owner: Map<number, number>,
  problem: (k: string, m: string) => void,
): void {
  let counted = 0;
  const claim = (block: number, what: string): boolean => {
    if (block < sb.dataStart || block >= sb.blockCount) {
      problem("bad-pointer", `inode ${inode.ino}: ${what} points at block ${block}, outside the data area`);
      return false;
    }
    const other = owner.get(block);
    if (other !== undefined) {
      problem("doubly-used-block", `block ${block} is used by inode ${other} and inode ${inode.ino}`);
      return false;
    }
    owner.set(block, inode.ino);
    counted++;
    return true;
  };
  for (let i = 0; i < DIRECT_POINTERS; i++) if (inode.direct[i] !== 0) claim(inode.direct[i]!, `direct[${i}]`);
  const indirect = (block: number, what: string): number[] => {
    if (!claim(block, what)) return [];
    const raw = read(block * BLOCK_BYTES, BLOCK_BYTES);
    const out: number[] = [];
    for (let i = 0; i < POINTERS_PER_BLOCK; i++) {
      const p = raw.readUInt32LE(i * 4);
      if (p !== 0) out.push(p);
    }
    return out;
  };
  if (inode.indirect !== 0) for (const p of indirect(inode.indirect, "indirect")) claim(p, "an indirect pointer");
  if (inode.dindirect !== 0) {
    for (const mid of indirect(inode.dindirect, "double indirect"))
      for (const p of indirect(mid, "a double-indirect pointer")) claim(p, "a data pointer");
  }
  if (counted !== inode.blocks)
    problem("blocks-mismatch", `inode ${inode.ino}: blocks ${inode.blocks}, found ${counted}`);
  if (isDir(inode) && inode.size % BLOCK_BYTES !== 0)
    problem("bad-dir-size", `directory ${inode.ino}: size ${inode.size} is not a whole number of blocks`);
}

function checkBitmap(
  sb: Superblock,
  read: MediaReader,
  owner: Map<number, number>,
  problem: (k: string, m: string) => void,
): void {
  const bitmap = read(sb.bitmapStart * BLOCK_BYTES, sb.bitmapBlocks * BLOCK_BYTES);
  for (let block = 0; block < sb.blockCount; block++) {
    const used = (bitmap[block >> 3]! & (1 << (block & 7))) !== 0;
    if (block < sb.dataStart) {
      if (!used) problem("unmarked-block", `metadata block ${block} is free in the bitmap`);
      continue;
    }
    const referenced = owner.has(block);
    if (used && !referenced)
      problem("leaked-block", `block ${block} is in use in the bitmap but referenced by no inode`);
    if (!used && referenced)
      problem("unmarked-block", `block ${block} of inode ${owner.get(block)} is free in the bitmap`);
  }
}

/** Walks the directory tree from the root; returns, per inode, the links found. */
function checkTree(
  sb: Superblock,
  read: MediaReader,
  inodes: Map<number, Inode>,
  problem: (k: string, m: string) => void,
): Map<number, number> {
  const links = new Map<number, number>();
  const visited = new Set<number>();
  const root = inodes.get(sb.rootIno);
  if (root === undefined || !isDir(root)) {
    problem("bad-inode", "the root inode is missing or not a directory");
    return links;
  }
  if (root.parent !== sb.rootIno) problem("bad-parent", `root's parent is ${root.parent}, not itself`);
  links.set(sb.rootIno, 1);
  const queue = [root];
  while (queue.length > 0) {
    const dir = queue.shift()!;
    if (visited.has(dir.ino)) continue;
    visited.add(dir.ino);
    const names = new Set<string>();
    for (const { name, ino, type } of dirEntries(read, dir, problem)) {
      if (names.has(name)) problem("duplicate-entry", `directory ${dir.ino}: "${name}" appears twice`);
      names.add(name);
      const target = inodes.get(ino);
      if (target === undefined) {
        problem("dangling-entry", `directory ${dir.ino}: "${name}" names inode ${ino}, which is not in use`);
        continue;
      }
      const isDirectory = isDir(target);
      if ((type === DT_DIR) !== isDirectory || (type !== DT_DIR && type !== DT_REG))
        problem("wrong-type-entry", `directory ${dir.ino}: "${name}" has type ${type} for inode ${ino}`);
      links.set(ino, (links.get(ino) ?? 0) + 1);
      if (isDirectory) {
        if (target.parent !== dir.ino)
          problem(
            "bad-parent",
            `directory ${ino} ("${name}") says its parent is ${target.parent}, found in ${dir.ino}`,
          );
        if (visited.has(ino) || (links.get(ino) ?? 0) > 1) {
          problem("duplicate-entry", `directory ${ino} is linked from more than one place`);
          continue;
        }
        links.set(dir.ino, (links.get(dir.ino) ?? 0) + 1); // the subdirectory's ".."
        queue.push(target);
      }
    }
  }
  return links;
}

function dirEntries(
  read: MediaReader,
  dir: Inode,
  problem: (k: string, m: string) => void,
): Array<{ name: string; ino: number; type: number }> {
  const out: Array<{ name: string; ino: number; type: number }> = [];
  const blocks = Math.floor(dir.size / BLOCK_BYTES);
  for (let fb = 0; fb < blocks; fb++) {
    const block = fileBlock(dir, fb, (indirect, index) => read(indirect * BLOCK_BYTES + index * 4, 4).readUInt32LE(0));
    if (block === 0) {
      problem("bad-dir-size", `directory ${dir.ino}: block ${fb} of its ${blocks} is a hole`);
      continue;
    }
    const raw = read(block * BLOCK_BYTES, BLOCK_BYTES);
    for (let s = 0; s < DIRENTS_PER_BLOCK; s++) {
      const entry = decodeDirent(raw.subarray(s * DIRENT_BYTES, (s + 1) * DIRENT_BYTES));
      if (typeof entry === "string") problem("bad-checksum", `directory ${dir.ino} block ${fb} slot ${s}: ${entry}`);
      else if (entry !== undefined) out.push(entry);
    }
  }
  return out;
}

export function formatFsckReport(report: FsckReport): string {
  const lines: string[] = [];
  for (const note of report.notes) lines.push(`note: ${note}`);
  for (const p of report.problems) lines.push(`${p.kind}: ${p.message}`);
  lines.push(
    report.clean
      ? `clean: ${report.inodesInUse} inodes, ${report.blocksInUse} data blocks in use`
      : `${report.problems.length} problem(s) found`,
  );
  return lines.join("\n");
}
