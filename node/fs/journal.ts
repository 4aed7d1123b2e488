/**
 * The metadata journal: redo logging of one transaction at a time, as jbd2 does it for ext4.
 *
 * Commit protocol (every step's stores are non-temporal, so a fence makes them durable):
 *   1. header (line 0 of the journal) and the records (address, length, bytes) after it;
 *   2. SFENCE — the records are durable before the commit record can be (bug "no-journal-fence"
 *      drops this fence);
 *   3. the commit record (one line: magic, transaction seq, record count, CRC of itself); SFENCE —
 *      from here the transaction is committed: recovery will replay it;
 *   4. checkpoint: the records' bytes stored in place; SFENCE;
 *   5. the header's magic and the whole commit record cleared; SFENCE — the journal is empty again,
 *      so a block freed by this transaction can be reused without recovery ever replaying stale
 *      bytes over it. Clearing the commit record matters: a later header torn by a power loss can
 *      combine its new magic with this transaction's old fields and CRC into a valid-looking header,
 *      and only a missing commit record stops recovery from replaying half-overwritten records.
 * Recovery at mount replays a transaction whose header and commit record are both valid and agree,
 * and ignores anything else (an incomplete transaction never happened). Replaying is idempotent.
 *
 * Invariant: at most one transaction is in the journal; when commit() returns it is checkpointed
 * and the journal is empty.
 */
import { crc32 } from "../checksum.js";
import type { MediaIo } from "./media_io.js";
import type { MetaRecord } from "./meta_cache.js";
import { BLOCK_BYTES } from "./layout.js";
import type { Superblock } from "./layout.js";
import type { BugSet } from "./bugs.js";

/** The first 8 bytes of the journal while it holds a transaction (fsck reports it). */
export const HEADER_MAGIC = Buffer.from("DXJHDR01", "latin1");
const COMMIT_MAGIC = Buffer.from("DXJCMT01", "latin1");
const HEADER_BYTES = 64;
const COMMIT_BYTES = 64;
const RECORD_HEADER_BYTES = 16;

export class JournalFullError extends Error {
  override readonly name = "JournalFullError";
}

function align8(n: number): number {
  return (n + 7) & ~7;
}

function align64(n: number): number {
  return (n + 63) & ~63;
}

export class Journal {
  readonly startAddr: number;
  readonly capacityBytes: number;
  /** Records may only target the metadata and data areas: [bitmap start, end of the filesystem). */
  private readonly recordMinAddr: number;
  private readonly recordEndAddr: number;
  private nextTxn = 1;

  constructor(
    private readonly io: MediaIo,
    sb: Superblock,
    private readonly bugs: BugSet,
  ) {
    this.startAddr = sb.journalStart * BLOCK_BYTES;
    this.capacityBytes = sb.journalBlocks * BLOCK_BYTES;
    this.recordMinAddr = sb.bitmapStart * BLOCK_BYTES;
    this.recordEndAddr = sb.blockCount * BLOCK_BYTES;
  }

  /** The largest payload a transaction may carry (leaving room for record headers). */
  get payloadBytesMax(): number {
    return Math.floor((this.capacityBytes - HEADER_BYTES - COMMIT_BYTES) * 0.75);
  }

  commit(records: MetaRecord[]): number {
    if (records.length === 0) return 0;
    const txn = this.nextTxn++;
    const payload = encodeRecords(records);
    const commitAt = HEADER_BYTES + align64(payload.length);
    if (commitAt + COMMIT_BYTES > this.capacityBytes) {
      throw new JournalFullError(
        `transaction of ${payload.length} bytes does not fit the ${this.capacityBytes}-byte journal`,
      );
    }
    this.io.nt(this.startAddr, encodeTxnLine(HEADER_MAGIC, txn, records.length, payload.length), "journal");
    this.io.nt(this.startAddr + HEADER_BYTES, payload, "journal");
    if (!this.bugs.has("no-journal-fence")) this.io.fence("journal");
    this.io.nt(this.startAddr + commitAt, encodeTxnLine(COMMIT_MAGIC, txn, records.length, payload.length), "journal");
    this.io.fence("journal");
    this.checkpoint(records);
    this.clear(commitAt, "journal");
    return txn;
  }

  /** Empties the journal: the header's magic and the commit record at `commitAt` become zeros. */
  private clear(commitAt: number | undefined, source: "journal" | "recovery"): void {
    this.io.nt(this.startAddr, Buffer.alloc(8), source);
    if (commitAt !== undefined) this.io.nt(this.startAddr + commitAt, Buffer.alloc(COMMIT_BYTES), source);
    this.io.fence(source);
  }

  private checkpoint(records: MetaRecord[]): void {
    for (const r of records) {
      if (r.kind === "data") {
        this.io.nt(r.addr, r.data, "zeroing");
        continue;
      }
      const unflushed =
        (r.kind === "inode" && this.bugs.has("no-size-flush")) ||
        (r.kind === "dir" && this.bugs.has("no-dirent-flush"));
      if (unflushed) this.io.cached(r.addr, r.data, "metadata");
      else this.io.nt(r.addr, r.data, "metadata");
    }
    this.io.fence("metadata");
  }

  /**
   * Mount-time recovery: replays a committed transaction left in the journal, then empties it.
   * Returns the number of transactions replayed (0 or 1).
   */
  recover(): number {
    const header = this.io.load(this.startAddr, HEADER_BYTES);
    if (!header.subarray(0, 8).equals(HEADER_MAGIC)) return 0;
    const parsed = decodeTxnLine(HEADER_MAGIC, header);
    let replayed = 0;
    let commitAt: number | undefined;
    if (parsed !== undefined && HEADER_BYTES + align64(parsed.payloadBytes) + COMMIT_BYTES <= this.capacityBytes) {
      commitAt = HEADER_BYTES + align64(parsed.payloadBytes);
      const commit = decodeTxnLine(COMMIT_MAGIC, this.io.load(this.startAddr + commitAt, COMMIT_BYTES));
      if (
        commit !== undefined &&
        commit.txn === parsed.txn &&
        commit.records === parsed.records &&
        commit.payloadBytes === parsed.payloadBytes
      ) {
        const payload = this.io.load(this.startAddr + HEADER_BYTES, parsed.payloadBytes);
        const records = decodeRecords(payload, parsed.records);
        const inBounds =
          records?.every((r) => r.addr >= this.recordMinAddr && r.addr + r.data.length <= this.recordEndAddr) ?? false;
        if (records !== undefined && inBounds) {
          for (const r of records) this.io.nt(r.addr, r.data, "recovery");
          this.io.fence("recovery");
          replayed = 1;
          this.nextTxn = parsed.txn + 1;
        }
      }
    }
    this.clear(commitAt, "recovery");
    return replayed;
  }
}

/** The header (line 0) and the commit record share one layout: magic, txn, record count, payload bytes, CRC. */
function encodeTxnLine(magic: Buffer, txn: number, records: number, payloadBytes: number): Buffer {
  const b = Buffer.alloc(HEADER_BYTES);
  magic.copy(b, 0);
  b.writeBigUInt64LE(BigInt(txn), 8);
  b.writeUInt32LE(records, 16);
  b.writeUInt32LE(payloadBytes, 20);
  b.writeUInt32LE(crc32(b.subarray(0, 24)), 24);
  return b;
}

function decodeTxnLine(magic: Buffer, b: Buffer): { txn: number; records: number; payloadBytes: number } | undefined {
  if (!b.subarray(0, 8).equals(magic)) return undefined;
  if (b.readUInt32LE(24) !== crc32(b.subarray(0, 24))) return undefined;
  return { txn: Number(b.readBigUInt64LE(8)), records: b.readUInt32LE(16), payloadBytes: b.readUInt32LE(20) };
}

function encodeRecords(records: MetaRecord[]): Buffer {
  let size = 0;
  for (const r of records) size += RECORD_HEADER_BYTES + align8(r.data.length);
  const b = Buffer.alloc(size);
  let at = 0;
  for (const r of records) {
    b.writeBigUInt64LE(BigInt(r.addr), at);
    b.writeUInt32LE(r.data.length, at + 8);
    r.data.copy(b, at + RECORD_HEADER_BYTES);
    at += RECORD_HEADER_BYTES + align8(r.data.length);
  }
  return b;
}

function decodeRecords(b: Buffer, count: number): { addr: number; data: Buffer }[] | undefined {
  const out: { addr: number; data: Buffer }[] = [];
  let at = 0;
  for (let i = 0; i < count; i++) {
    if (at + RECORD_HEADER_BYTES > b.length) return undefined;
    const addr = Number(b.readBigUInt64LE(at));
    const length = b.readUInt32LE(at + 8);
    if (length === 0 || at + RECORD_HEADER_BYTES + length > b.length) return undefined;
    out.push({ addr, data: Buffer.from(b.subarray(at + RECORD_HEADER_BYTES, at + RECORD_HEADER_BYTES + length)) });
    at += RECORD_HEADER_BYTES + align8(length);
  }
  return out;
}
