/**
 * The survival report of one power loss: every store made since the previous power loss (or since
 * the log began), classified by what the media holds for its bytes after the power loss.
 *
 * Each byte of a store ends in one of four ways: on media (S), lost — older content is there (L),
 * superseded by a later store that reached media (X), or zeroed by a later zeroing store that
 * reached media (Z: extension, truncate, punch, zero range, block allocation, recovery). The
 * store's outcome names what happened, in SURVIVAL_CATEGORIES order:
 *   survived           every byte is on media;
 *   partly-lost        some bytes are on media, some were lost in the power loss (the rest, if
 *                      any, superseded or zeroed);
 *   partly-zeroed      some on media, none lost, some zeroed by a later zeroing store;
 *   partly-superseded  some on media, the rest overwritten by later stores;
 *   lost               no byte on media, and some byte lost (older content is there);
 *   superseded         no byte on media or lost: later stores overwrote it (some may have zeroed);
 *   zeroed             every byte zeroed by later zeroing stores, named with their op.
 * Survival is shown per cache line: which of the store's bytes and 8-byte words are on
 * media, and whether the line was durable before the power loss or pending and decided by the
 * policy (version k of n, kept m / per-word prefixes under `torn`). Stores past EOF are listed
 * again on their own: did they reach media, and did a later extension (or truncate) zero them.
 *
 * How ownership is found without a second copy of the persistence model: the window is replayed
 * again into three shadow DimmStates through the same applyEvent, with each store's bytes replaced
 * by byte k of the store's index in the window. Flushes, fences and the power-loss decision act on
 * lines and versions, never on contents, so after the power loss shadow byte b holds the index of
 * the store whose byte b is on media (0: content from before the window).
 *
 * Invariants: replay verifies every recorded hash up to the power loss first (replayer.ts); the
 * window holds at most `storesMax` stores (< 2^24, the shadow index range).
 */
import type { Event, LineDecision, PowerLossEvent, StoreEvent } from "../proto/index.js";
import { linesLost, linesPartlyLost } from "../proto/index.js";
import {
  DimmState,
  JOURNAL_RECORDS_MAX_DEFAULT,
  LINE_BYTES,
  PAGE_BYTES,
  WORD_BYTES,
  applyEvent,
  pendingLineVersions,
} from "../node/index.js";
import { PowerLossNotFoundError, ReplayLimitError } from "./errors.js";
import type { DimmGeometry, EventLogSource } from "./event_source.js";
import { replayLog } from "./replayer.js";

export type SurvivalCategory =
  "survived" | "partly-lost" | "partly-zeroed" | "partly-superseded" | "lost" | "superseded" | "zeroed";
/** Every outcome a store can have, in the order reports list them (docs/replay.md explains each). */
export const SURVIVAL_CATEGORIES: readonly SurvivalCategory[] = Object.freeze([
  "survived",
  "partly-lost",
  "partly-zeroed",
  "partly-superseded",
  "lost",
  "superseded",
  "zeroed",
]);

/** A store's outcome from where its bytes ended (survived, lost, superseded, zeroed byte counts). */
export function survivalCategory(bytes: {
  survived: number;
  lost: number;
  superseded: number;
  zeroed: number;
}): SurvivalCategory {
  const length = bytes.survived + bytes.lost + bytes.superseded + bytes.zeroed;
  if (bytes.survived === length) return "survived";
  if (bytes.survived > 0) {
    if (bytes.lost > 0) return "partly-lost";
    return bytes.zeroed > 0 ? "partly-zeroed" : "partly-superseded";
  }
  if (bytes.lost > 0) return "lost";
  return bytes.superseded > 0 ? "superseded" : "zeroed";
}

/** Why a zeroing store zeroed: from its op (see zeroReason). */
export type ZeroReason =
  "extension" | "truncate" | "punch" | "zero-range" | "allocation" | "recovery" | "mkfs" | "other";

export interface ZeroingRef {
  /** The zeroing store. */
  seq: number;
  /** The op it belongs to (start seq) and its name; null when it ran outside any op. */
  opSeq: number | null;
  op: string | null;
  reason: ZeroReason;
  /** Its bytes over the store it zeroed: how many, and how many of them are on media. */
  bytes: number;
  bytesOnMedia: number;
  /** All of those bytes are on media. */
  survived: boolean;
}

export interface LineOutcome {
  /** Line index (address / 64) and address. */
  line: number;
  addr: number;
  bytes: number;
  survivedBytes: number;
  /** Per 8-byte word of the line: '.' not written by this store, S survived, L lost, X superseded, Z zeroed, ~ mixed. */
  words: string;
  /** durable: made durable before the power loss; pending: decided by the power-loss policy. */
  state: "durable" | "pending";
  /** For a pending line: this store is pending version `version` of `versions`; the decision. */
  version?: number;
  versions?: number;
  kept?: number;
  wordKept?: number[];
}

export interface StoreOutcome {
  seq: number;
  boot: number;
  addr: number;
  length: number;
  nonTemporal: boolean;
  source: StoreEvent["source"];
  pid: number;
  vaddr: number;
  inode: number;
  fileOffset: number;
  beyondEof: boolean;
  /** The op the store was made by (its start seq and name), or what ran outside ops (mkfs, mount). */
  opSeq: number | null;
  op: string | null;
  category: SurvivalCategory;
  survivedBytes: number;
  lostBytes: number;
  supersededBytes: number;
  zeroedBytes: number;
  /** Seqs of the later stores whose bytes replaced this one's on media (at most SUPERSEDERS_MAX). */
  supersededBy: number[];
  zeroedBy: ZeroingRef | null;
  lines: LineOutcome[];
}

export interface BeyondEofOutcome {
  seq: number;
  inode: number;
  fileOffset: number;
  addr: number;
  length: number;
  category: SurvivalCategory;
  /** Some of its bytes are on media after the power loss. */
  reachedMedia: boolean;
  survivedBytes: number;
  /** Every line it touched was durable before the power loss (flushed and fenced). */
  durableBeforeLoss: boolean;
  /** The first later zeroing store over its bytes (extension, truncate …) and whether that survived. */
  zeroedBy: ZeroingRef | null;
}

export interface SurvivalTotals {
  stores: number;
  /** The stores' lengths, summed. */
  bytes: number;
  /** Of those, the bytes on media after the power loss. */
  bytesOnMedia: number;
}

export interface SurvivalReport {
  node: string;
  powerLoss: {
    seq: number;
    boot: number;
    policy: string;
    seed: string;
    persistence: string;
    reason: string;
    mediaSha256: string;
    /** Cache lines that were not durable: the policy decided what each kept. */
    linesDecided: number;
    /** Of those, lines that kept none of their pending stores (proto/events.ts lineFate). */
    linesLost: number;
    /** Of those, lines that kept some but not all of them. */
    linesPartlyLost: number;
  };
  /** Stores with fromSeq ≤ seq < powerLoss.seq were classified. */
  window: { fromSeq: number; toSeq: number };
  /** Recorded hashes replay reproduced on the way (PowerLoss and Mount events, this one included). */
  hashesChecked: number;
  totals: Record<SurvivalCategory, SurvivalTotals>;
  stores: StoreOutcome[];
  beyondEof: BeyondEofOutcome[];
}

export interface SurvivalOptions {
  /** Seq of the PowerLoss event; default the latest one. */
  powerLossSeq?: number;
  dimm?: Partial<DimmGeometry>;
  /** Stores in the window at most (default STORES_MAX_DEFAULT). */
  storesMax?: number;
}

/** The shadow index has 24 bits (three shadow DIMMs); 0 means "before the window". */
const SHADOW_INDEX_MAX = (1 << 24) - 1;
export const STORES_MAX_DEFAULT = 1_000_000;
const SUPERSEDERS_MAX = 8;
const SHADOWS = 3;

/** Classifies every store before a power loss. Replays (and verifies) the log up to it. */
export async function survivalReport(source: EventLogSource, options: SurvivalOptions = {}): Promise<SurvivalReport> {
  const info = await source.info();
  const seqs = info.powerLossSeqs;
  const target = options.powerLossSeq ?? seqs[seqs.length - 1];
  if (target === undefined || !seqs.includes(target)) throw new PowerLossNotFoundError(source.node, target, seqs);
  const storesMax = options.storesMax ?? STORES_MAX_DEFAULT;
  if (!Number.isSafeInteger(storesMax) || storesMax < 1 || storesMax > SHADOW_INDEX_MAX)
    throw new RangeError(`storesMax must be an integer in [1, ${SHADOW_INDEX_MAX}]`);
  let previous = 0;
  for (const s of seqs) if (s < target) previous = s;
  const window = new Window(source.node, previous, target, storesMax);
  const result = await replayLog(source, {
    atSeq: target,
    ...(options.dimm !== undefined ? { dimm: options.dimm } : {}),
    observer: window,
  });
  const loss = window.powerLoss;
  if (loss === undefined) throw new PowerLossNotFoundError(source.node, target, seqs);
  return window.report(loss, result.hashesChecked);
}

/** A store of the window: its event without its bytes (the report needs where, not what). */
interface StoreMeta {
  ev: StoreEvent;
  length: number;
  opSeq: number | null;
  op: string | null;
}

const NO_BYTES = new Uint8Array(0);

interface OpInfo {
  name: string;
  seq: number;
  sizeAfter: number;
}

/** The observer that keeps the shadows and bookkeeping of one window. */
class Window {
  powerLoss: PowerLossEvent | undefined;
  private shadows: DimmState[] | undefined;
  private readonly stores: StoreMeta[] = [];
  /** page → indices of zeroing stores to it (1-based, as in the shadows). */
  private readonly zeroingByPage = new Map<number, number[]>();
  private readonly ops = new Map<number, OpInfo>();
  private lastOpEventSeq = 0;
  /** Stores between the window's start (log start or the previous power loss) and the next Mount. */
  private phase: "mkfs" | "mount" | null;
  private pendingBeforeLoss = new Map<number, number[]>();

  constructor(
    private readonly node: string,
    private readonly previousLoss: number,
    private readonly target: number,
    private readonly storesMax: number,
  ) {
    this.phase = previousLoss === 0 ? "mkfs" : "mount";
  }

  before(ev: Event, state: DimmState): void {
    if (ev.seq <= this.previousLoss) {
      // Ops end at their Op event, and every op still running ends at a power loss (interrupted):
      // stores after it with a stale op id (mount-time recovery) belong to no op.
      if (ev.kind === "op") this.lastOpEventSeq = ev.seq;
      if (ev.kind === "powerLoss") this.lastOpEventSeq = ev.seq;
      return;
    }
    this.shadows ??= Array.from({ length: SHADOWS }, () => new DimmState(state.sizeBytes, state.persistence));
    if (ev.seq === this.target) {
      if (ev.kind !== "powerLoss") throw new PowerLossNotFoundError(this.node, this.target, []);
      this.powerLoss = ev;
      this.pendingBeforeLoss = this.pendingSeqsByLine();
    }
    switch (ev.kind) {
      case "store":
        this.addStore(ev);
        return;
      case "flush":
      case "fence":
      case "powerLoss":
        for (const shadow of this.shadows) {
          applyEvent(shadow, ev);
          if (ev.kind === "fence") shadow.compactJournalIfGrown(JOURNAL_RECORDS_MAX_DEFAULT);
        }
        return;
      case "op":
        this.ops.set(ev.startSeq, { name: ev.name, seq: ev.seq, sizeAfter: ev.sizeAfter });
        this.lastOpEventSeq = ev.seq;
        return;
      case "mount":
        this.phase = null;
        return;
      case "fault":
        return;
      default:
        assertNever(ev);
    }
  }

  private addStore(ev: StoreEvent): void {
    if (this.stores.length >= this.storesMax) {
      throw new ReplayLimitError(
        `node ${this.node}: more than ${this.storesMax} stores before the power loss at seq ${this.target}; raise the limit (--stores-max)`,
      );
    }
    const index = this.stores.length + 1;
    // An op owns the events from its start seq until its Op event; a store whose op id names an
    // op that already returned ran outside any op (mount-time recovery reuses the last op id).
    const open = ev.opId > this.lastOpEventSeq && ev.opId <= ev.seq;
    this.stores.push({
      ev: { ...ev, data: NO_BYTES },
      length: ev.data.length,
      opSeq: open ? ev.opId : null,
      op: open ? null : this.phase,
    });
    for (let k = 0; k < SHADOWS; k++) {
      const tag = (index >>> (8 * k)) & 0xff;
      applyEvent(this.shadows![k]!, { ...ev, data: new Uint8Array(ev.data.length).fill(tag) });
    }
    if (ev.source === "zeroing") {
      const page = Math.floor(ev.addr / PAGE_BYTES);
      let list = this.zeroingByPage.get(page);
      if (list === undefined) this.zeroingByPage.set(page, (list = []));
      list.push(index);
    }
  }

  /** line → seqs of its pending stores in program order, just before the power loss. */
  private pendingSeqsByLine(): Map<number, number[]> {
    const map = new Map<number, number[]>();
    for (const p of pendingLineVersions(this.shadows![0]!))
      map.set(
        p.line,
        p.records.map((r) => r.seq),
      );
    return map;
  }

  report(loss: PowerLossEvent, hashesChecked: number): SurvivalReport {
    const decisions = new Map<number, LineDecision>();
    for (const d of loss.lines) decisions.set(d.line, d);
    const totals = Object.fromEntries(
      SURVIVAL_CATEGORIES.map((c) => [c, { stores: 0, bytes: 0, bytesOnMedia: 0 }]),
    ) as Record<SurvivalCategory, SurvivalTotals>;
    const stores: StoreOutcome[] = [];
    const owners = new Int32Array(PAGE_BYTES);
    for (let i = 0; i < this.stores.length; i++) {
      const outcome = this.classify(i + 1, owners, decisions);
      stores.push(outcome);
      totals[outcome.category].stores++;
      totals[outcome.category].bytes += outcome.length;
      totals[outcome.category].bytesOnMedia += outcome.survivedBytes;
    }
    const beyondEof: BeyondEofOutcome[] = [];
    stores.forEach((s, i) => {
      if (s.beyondEof) beyondEof.push(this.beyondEofOutcome(s, i + 1));
    });
    return {
      node: this.node,
      powerLoss: {
        seq: loss.seq,
        boot: loss.boot,
        policy: loss.policy,
        seed: loss.seed.toString(),
        persistence: loss.persistence,
        reason: loss.reason,
        mediaSha256: Buffer.from(loss.mediaSha256).toString("hex"),
        linesDecided: loss.lines.length,
        linesLost: linesLost(loss),
        linesPartlyLost: linesPartlyLost(loss),
      },
      window: { fromSeq: this.previousLoss + 1, toSeq: loss.seq - 1 },
      hashesChecked,
      totals,
      stores,
      beyondEof,
    };
  }

  /** Fills owners[0..length) with the window index owning each byte of [addr, addr+length) on media. */
  private readOwners(addr: number, length: number, owners: Int32Array): void {
    owners.fill(0, 0, length);
    const bytes = Buffer.allocUnsafe(length);
    for (let k = 0; k < SHADOWS; k++) {
      this.shadows![k]!.readMedia(addr, bytes);
      for (let b = 0; b < length; b++) owners[b] = owners[b]! | (bytes[b]! << (8 * k));
    }
  }

  private classify(index: number, owners: Int32Array, decisions: Map<number, LineDecision>): StoreOutcome {
    const meta = this.stores[index - 1]!;
    const ev = meta.ev;
    const length = meta.length;
    this.readOwners(ev.addr, length, owners);
    let survived = 0;
    let lost = 0;
    let superseded = 0;
    let zeroed = 0;
    const supersededBy: number[] = [];
    let zeroedBy: ZeroingRef | null = null;
    for (let b = 0; b < length; b++) {
      const owner = owners[b]!;
      if (owner === index) survived++;
      else if (owner < index) lost++;
      else if (this.stores[owner - 1]!.ev.source === "zeroing") {
        zeroed++;
        zeroedBy ??= this.zeroingRef(owner, ev.addr, length);
      } else {
        superseded++;
        const by = this.stores[owner - 1]!.ev.seq;
        if (supersededBy.length < SUPERSEDERS_MAX && !supersededBy.includes(by)) supersededBy.push(by);
      }
    }
    const category = survivalCategory({ survived, lost, superseded, zeroed });
    const op = meta.opSeq !== null ? (this.ops.get(meta.opSeq)?.name ?? "(interrupted)") : meta.op;
    return {
      seq: ev.seq,
      boot: ev.boot,
      addr: ev.addr,
      length,
      nonTemporal: ev.nonTemporal,
      source: ev.source,
      pid: ev.pid,
      vaddr: ev.vaddr,
      inode: ev.inode,
      fileOffset: ev.fileOffset,
      beyondEof: ev.beyondEof,
      opSeq: meta.opSeq,
      op,
      category,
      survivedBytes: survived,
      lostBytes: lost,
      supersededBytes: superseded,
      zeroedBytes: zeroed,
      supersededBy,
      zeroedBy,
      lines: this.lineOutcomes(index, ev, length, owners, decisions),
    };
  }

  private lineOutcomes(
    index: number,
    ev: StoreEvent,
    length: number,
    owners: Int32Array,
    decisions: Map<number, LineDecision>,
  ): LineOutcome[] {
    const out: LineOutcome[] = [];
    const end = ev.addr + length;
    for (let line = Math.floor(ev.addr / LINE_BYTES); line * LINE_BYTES < end; line++) {
      const lineAddr = line * LINE_BYTES;
      let bytes = 0;
      let survivedBytes = 0;
      let words = "";
      for (let w = 0; w < LINE_BYTES / WORD_BYTES; w++) {
        let symbol = ".";
        for (let a = lineAddr + w * WORD_BYTES; a < lineAddr + (w + 1) * WORD_BYTES; a++) {
          if (a < ev.addr || a >= end) continue;
          bytes++;
          const s = this.byteSymbol(index, owners[a - ev.addr]!);
          if (s === "S") survivedBytes++;
          symbol = symbol === "." || symbol === s ? s : "~";
        }
        words += symbol;
      }
      const pending = this.pendingBeforeLoss.get(line);
      const at = pending?.indexOf(ev.seq) ?? -1;
      const outcome: LineOutcome = {
        line,
        addr: lineAddr,
        bytes,
        survivedBytes,
        words,
        state: at >= 0 ? "pending" : "durable",
      };
      const decision = decisions.get(line);
      if (at >= 0 && decision !== undefined) {
        outcome.version = at + 1;
        outcome.versions = decision.versions;
        if (decision.wordKept.length > 0) outcome.wordKept = [...decision.wordKept];
        else outcome.kept = decision.kept;
      }
      out.push(outcome);
    }
    return out;
  }

  private byteSymbol(index: number, owner: number): string {
    if (owner === index) return "S";
    if (owner < index) return "L";
    return this.stores[owner - 1]!.ev.source === "zeroing" ? "Z" : "X";
  }

  /** The zeroing store `zeroing` (1-based index) as seen from a store at [addr, addr+length). */
  private zeroingRef(zeroing: number, addr: number, length: number): ZeroingRef {
    const meta = this.stores[zeroing - 1]!;
    const z = meta.ev;
    const lo = Math.max(addr, z.addr);
    const hi = Math.min(addr + length, z.addr + meta.length);
    const owners = new Int32Array(Math.max(0, hi - lo));
    if (hi > lo) this.readOwners(lo, hi - lo, owners);
    const bytes = Math.max(0, hi - lo);
    let bytesOnMedia = 0;
    for (let b = 0; b < bytes; b++) if (owners[b] === zeroing) bytesOnMedia++;
    const op = meta.opSeq !== null ? (this.ops.get(meta.opSeq) ?? null) : null;
    return {
      seq: z.seq,
      opSeq: meta.opSeq,
      op: op?.name ?? meta.op,
      reason: zeroReason(meta, op),
      bytes,
      bytesOnMedia,
      survived: bytes > 0 && bytesOnMedia === bytes,
    };
  }

  private beyondEofOutcome(store: StoreOutcome, index: number): BeyondEofOutcome {
    let zeroedBy: ZeroingRef | null = store.zeroedBy;
    if (zeroedBy === null) {
      // A later zeroing store over it that did not reach media still counts: it was zeroed in the
      // running system, and the power loss brought the bytes back.
      const candidates = this.zeroingByPage.get(Math.floor(store.addr / PAGE_BYTES)) ?? [];
      for (const z of candidates) {
        const zm = this.stores[z - 1]!;
        if (z > index && zm.ev.addr < store.addr + store.length && store.addr < zm.ev.addr + zm.length) {
          zeroedBy = this.zeroingRef(z, store.addr, store.length);
          break;
        }
      }
    }
    return {
      seq: store.seq,
      inode: store.inode,
      fileOffset: store.fileOffset,
      addr: store.addr,
      length: store.length,
      category: store.category,
      reachedMedia: store.survivedBytes > 0,
      survivedBytes: store.survivedBytes,
      durableBeforeLoss: store.lines.every((l) => l.state === "durable"),
      zeroedBy,
    };
  }
}

/** Why a zeroing store zeroed, from its op (docs/replay.md lists the rules). */
function zeroReason(meta: StoreMeta, op: OpInfo | null): ZeroReason {
  if (meta.op === "mount") return "recovery";
  if (meta.op === "mkfs") return "mkfs";
  if (op === null) return "other";
  switch (op.name) {
    case "punch":
      return "punch";
    case "zero":
      return "zero-range";
    case "ftruncate":
    case "truncate":
    case "open":
      // Growing zeroes in place from the old EOF (inode and offset known); shrinking zeroes the
      // new EOF block through the journal (no inode) and frees the rest.
      return meta.ev.inode !== 0 && meta.ev.fileOffset < op.sizeAfter ? "extension" : "truncate";
    case "write":
    case "pwrite":
    case "fallocate":
      return meta.ev.inode !== 0 &&
        meta.ev.fileOffset % PAGE_BYTES === 0 &&
        meta.length === PAGE_BYTES &&
        meta.ev.nonTemporal
        ? "allocation"
        : "extension";
    default:
      return "allocation";
  }
}

function assertNever(value: never): never {
  throw new TypeError(`unknown event kind ${JSON.stringify((value as { kind?: unknown }).kind)}`);
}
