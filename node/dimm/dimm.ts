/**
 * The emulated NV-DIMM: the API the filesystem, user-space persistence instructions and tests call.
 * Each call validates its arguments (typed errors naming the bad value, nothing half-done), builds
 * the event, applies it with applyEvent — the same function replay uses — and appends it to the
 * node's event log. The DIMM's own decisions (evicting lines when its bounded buffers are full, the
 * fate of pending lines at a power loss) are events too, so a log replays to the same bytes.
 */
import type {
  FenceEvent,
  FlushEvent,
  FlushKind,
  Persistence,
  PowerLossEvent,
  PowerLossPolicy,
  Provenance,
  StoreEvent,
} from "../../proto/index.js";
import { DIRECT, FLUSH_KINDS, isPersistence } from "../../proto/index.js";
import type { EventLog } from "../events/event_log.js";
import { applyEvent, checkRange, pendingLineVersions } from "./apply.js";
import { DimmArgumentError, DimmConfigError } from "./errors.js";
import { LINE_BYTES, PAGE_BYTES } from "./geometry.js";
import { checkPolicy, decidePowerLoss } from "./power_loss.js";
import type { LineCacheState } from "./state.js";
import { DimmState } from "./state.js";

export interface DimmOptions {
  sizeBytes: number;
  /** Default "adr": caches are volatile. */
  persistence?: Persistence;
  /**
   * Bounds on what may be pending at once (the cache and write-combining buffers are finite). When a
   * store would exceed them the DIMM evicts the lines holding the oldest pending stores, as a cache
   * would, and logs the eviction as a Flush of kind "evict".
   */
  pendingBytesMax?: number;
  journalRecordsMax?: number;
}

/** Where a store came from, and for file data which file and offset. */
export interface StoreMeta extends Provenance {
  inode: number;
  fileOffset: number;
  beyondEof: boolean;
}

export const DIRECT_STORE: Readonly<StoreMeta> = Object.freeze({
  ...DIRECT,
  inode: 0,
  fileOffset: 0,
  beyondEof: false,
});

export const PENDING_BYTES_MAX_DEFAULT = 16 << 20;
export const JOURNAL_RECORDS_MAX_DEFAULT = 1 << 14;
const EMPTY = new Uint8Array(0);

/** Copies store payloads into shared slabs: events own their bytes without one allocation each. */
class BytePool {
  private slab = new ArrayBuffer(0);
  private used = 0;
  private static readonly SLAB_BYTES = 1 << 20;

  copy(data: Uint8Array): Uint8Array {
    const n = data.length;
    if (this.used + n > this.slab.byteLength) {
      // allocUnsafeSlow: not zero-filled (every byte handed out is written first), not pooled.
      this.slab = Buffer.allocUnsafeSlow(Math.max(BytePool.SLAB_BYTES, n)).buffer;
      this.used = 0;
    }
    const view = new Uint8Array(this.slab, this.used, n);
    view.set(data);
    this.used += (n + 7) & ~7;
    return view;
  }
}

export class Dimm {
  readonly state: DimmState;
  readonly pendingBytesMax: number;
  readonly journalRecordsMax: number;
  private readonly pool = new BytePool();

  constructor(
    options: DimmOptions,
    private readonly log: EventLog,
  ) {
    const persistence = options.persistence ?? "adr";
    if (!isPersistence(persistence))
      throw new DimmConfigError(`persistence domain "${String(persistence)}" is not adr or eadr`);
    this.state = new DimmState(options.sizeBytes, persistence);
    this.pendingBytesMax = options.pendingBytesMax ?? PENDING_BYTES_MAX_DEFAULT;
    this.journalRecordsMax = options.journalRecordsMax ?? JOURNAL_RECORDS_MAX_DEFAULT;
    if (!Number.isSafeInteger(this.pendingBytesMax) || this.pendingBytesMax < 2 * PAGE_BYTES) {
      throw new DimmConfigError(`pendingBytesMax ${this.pendingBytesMax} must be an integer ≥ ${2 * PAGE_BYTES}`);
    }
    if (!Number.isSafeInteger(this.journalRecordsMax) || this.journalRecordsMax < 16) {
      throw new DimmConfigError(`journalRecordsMax ${this.journalRecordsMax} must be an integer ≥ 16`);
    }
  }

  get sizeBytes(): number {
    return this.state.sizeBytes;
  }

  get persistence(): Persistence {
    return this.state.persistence;
  }

  /**
   * A regular (cached) store: visible at once, durable once flushed and fenced.
   *
   * The event keeps its own copy of `data` unless `owned` is true: then the caller hands `data`
   * over and must never modify it again (the event and the pending journal keep a reference, as
   * nats.js does with a published payload). The filesystem passes owned, immutable buffers.
   */
  store(addr: number, data: Uint8Array, meta: StoreMeta = DIRECT_STORE, owned = false): void {
    this.storeBytes(addr, data, meta, false, owned);
  }

  /** A non-temporal store: bypasses the cache, durable at the next fence. `owned` as for store(). */
  ntStore(addr: number, data: Uint8Array, meta: StoreMeta = DIRECT_STORE, owned = false): void {
    this.storeBytes(addr, data, meta, true, owned);
  }

  private storeBytes(addr: number, data: Uint8Array, meta: StoreMeta, nonTemporal: boolean, owned: boolean): void {
    if (!(data instanceof Uint8Array)) throw new DimmArgumentError("store: data must be a Uint8Array");
    checkRange(this.state, nonTemporal ? "ntstore" : "store", addr, data.length);
    if (data.length === 0) throw new DimmArgumentError(`store at ${addr}: zero length`);
    // One event per page at most, so an event never crosses a page (or a media chunk).
    let done = 0;
    while (done < data.length) {
      const at = addr + done;
      const n = Math.min(data.length - done, PAGE_BYTES - (at % PAGE_BYTES));
      this.makeRoomFor(n);
      const piece = n === data.length ? data : data.subarray(done, done + n);
      const ev: StoreEvent = {
        kind: "store",
        seq: 0,
        boot: 0,
        time: 0,
        addr: at,
        data: owned ? piece : this.pool.copy(piece),
        nonTemporal,
        source: meta.source,
        pid: meta.pid,
        vaddr: meta.vaddr === 0 ? 0 : meta.vaddr + done,
        opId: meta.opId,
        inode: meta.inode,
        fileOffset: meta.inode === 0 ? 0 : meta.fileOffset + done,
        beyondEof: meta.beyondEof,
      };
      applyEvent(this.state, ev);
      this.log.append(ev);
      done += n;
    }
  }

  /** Flushes every line that [addr, addr+length) touches, as one event. */
  flush(addr: number, length: number, kind: FlushKind, prov: Provenance = DIRECT): void {
    if (!(FLUSH_KINDS as readonly string[]).includes(kind))
      throw new DimmArgumentError(`flush kind "${kind}" is not one of ${FLUSH_KINDS.join(", ")}`);
    checkRange(this.state, kind, addr, length);
    if (length === 0) throw new DimmArgumentError(`${kind} at ${addr}: zero length`);
    const firstLine = Math.floor(addr / LINE_BYTES);
    const lastLine = Math.floor((addr + length - 1) / LINE_BYTES);
    this.emit({
      kind: "flush",
      seq: 0,
      boot: 0,
      time: 0,
      addr: firstLine * LINE_BYTES,
      lines: lastLine - firstLine + 1,
      flushKind: kind,
      source: prov.source,
      pid: prov.pid,
      vaddr: prov.vaddr,
      opId: prov.opId,
    });
  }

  /** SFENCE. */
  fence(prov: Provenance = DIRECT): void {
    this.emit({
      kind: "fence",
      seq: 0,
      boot: 0,
      time: 0,
      source: prov.source,
      pid: prov.pid,
      vaddr: prov.vaddr,
      opId: prov.opId,
    });
    this.state.compactJournalIfGrown(this.journalRecordsMax);
  }

  /** Loads see the newest store. Returns a copy. */
  load(addr: number, length: number): Buffer {
    checkRange(this.state, "load", addr, length);
    const out = Buffer.allocUnsafe(length);
    this.state.readVisible(addr, out);
    return out;
  }

  loadInto(addr: number, dst: Uint8Array): void {
    checkRange(this.state, "load", addr, dst.length);
    this.state.readVisible(addr, dst);
  }

  /** What is durable now (what `strict` power loss would leave). Returns a copy. */
  loadDurable(addr: number, length: number): Buffer {
    checkRange(this.state, "loadDurable", addr, length);
    const out = Buffer.allocUnsafe(length);
    this.state.readMedia(addr, out);
    return out;
  }

  lineState(addr: number): LineCacheState {
    checkRange(this.state, "lineState", addr, 1);
    return this.state.lineState(Math.floor(addr / LINE_BYTES));
  }

  mediaSha256(): Buffer {
    return this.state.mediaSha256();
  }

  /**
   * Power loss: every pending line keeps the version the policy picks (seeded), the decision and the
   * resulting media hash are logged, and the boot counter advances. Afterwards nothing is pending
   * and loads see the media.
   */
  powerLoss(policy: PowerLossPolicy, seed: bigint, reason = "injected"): PowerLossEvent {
    checkPolicy(policy);
    if (typeof seed !== "bigint" || seed < 0n || seed >= 1n << 64n)
      throw new DimmArgumentError(`power-loss seed ${String(seed)} must be a uint64 bigint`);
    const pending = this.persistence === "eadr" ? [] : pendingLineVersions(this.state);
    const ev: PowerLossEvent = {
      kind: "powerLoss",
      seq: 0,
      boot: 0,
      time: 0,
      policy,
      seed,
      lines: decidePowerLoss(pending, policy, seed),
      mediaSha256: EMPTY,
      persistence: this.persistence,
      reason,
    };
    applyEvent(this.state, ev);
    ev.mediaSha256 = this.state.mediaSha256();
    this.log.append(ev);
    this.log.advanceBoot();
    return ev;
  }

  private emit(ev: FlushEvent | FenceEvent): void {
    applyEvent(this.state, ev);
    this.log.append(ev);
  }

  /** Keeps the pending journal within its bounds before a store of n bytes. */
  private makeRoomFor(n: number): void {
    const state = this.state;
    if (state.persistence === "eadr") return;
    if (state.journal.length < this.journalRecordsMax && state.pendingBytes + n <= this.pendingBytesMax) return;
    state.compactJournal();
    if (state.journal.length < this.journalRecordsMax && state.pendingBytes + n <= this.pendingBytesMax) return;
    this.evictOldest();
  }

  /**
   * Evicts (writes back at once) every line whose first pending store is older than a threshold
   * chosen so that the journal from the threshold on is at most half of each bound — the lines a
   * finite cache would have written back first. Logged as Flush events of kind "evict", one per
   * run of consecutive lines, in address order. One pass over the pending lines, no sort.
   */
  private evictOldest(): void {
    const state = this.state;
    const journal = state.journal;
    let threshold = state.journalFirst;
    let bytesFrom = state.pendingBytes;
    const recordsTarget = this.journalRecordsMax / 2;
    const bytesTarget = this.pendingBytesMax / 2;
    for (let i = 0; i < journal.length; i++) {
      if (journal.length - i <= recordsTarget && bytesFrom <= bytesTarget) break;
      bytesFrom -= journal[i]!.data.length;
      threshold = state.journalFirst + i + 1;
    }
    let runStart = -1;
    let runEnd = -1;
    const runs: number[] = [];
    state.forEachPendingLine((line, meta, l) => {
      if (meta.first[l]! >= threshold) return;
      if (line === runEnd) {
        runEnd++;
        return;
      }
      if (runStart >= 0) runs.push(runStart, runEnd - runStart);
      runStart = line;
      runEnd = line + 1;
    });
    if (runStart >= 0) runs.push(runStart, runEnd - runStart);
    for (let i = 0; i < runs.length; i += 2) this.flush(runs[i]! * LINE_BYTES, runs[i + 1]! * LINE_BYTES, "evict");
    state.compactJournal();
  }
}
