/**
 * The domain form of daxsim events: plain, immutable data with JS numbers, used by node, replay and
 * coordinator. The wire form is the generated protobuf code in proto/gen (bigint for 64-bit fields);
 * proto/codec.ts converts between the two in exactly one place.
 *
 * Invariant: every field that is a number here is an integer in [0, 2^53) (or a signed result for
 * Op.result); codec.ts rejects wire values that do not fit instead of rounding them.
 */

export type Source =
  "unspecified" | "direct" | "syscall" | "mmap" | "metadata" | "journal" | "zeroing" | "writeback" | "recovery";

export type FlushKind = "clwb" | "clflushopt" | "clflush" | "evict";

export type PowerLossPolicy = "strict" | "eadr-like" | "random" | "torn";

export type Persistence = "adr" | "eadr";

export type FaultOutcome =
  "zero-page" | "allocated" | "mapped" | "mkwrite" | "cow" | "sigbus" | "sigsegv" | "page-cache";

/** The envelope every event carries. The node id is carried by the log, not by each event. */
export interface EventHeader {
  seq: number;
  boot: number;
  /** Logical time of the node's simulated clock, nanoseconds. */
  time: number;
}

/** Who made a store, flush or fence, and on behalf of what. Zero means "none". */
export interface Provenance {
  source: Source;
  pid: number;
  vaddr: number;
  opId: number;
}

export interface StoreEvent extends EventHeader, Provenance {
  readonly kind: "store";
  addr: number;
  data: Uint8Array;
  nonTemporal: boolean;
  inode: number;
  fileOffset: number;
  beyondEof: boolean;
}

export interface FlushEvent extends EventHeader, Provenance {
  readonly kind: "flush";
  /** Address of the first line (64-byte aligned). */
  addr: number;
  /** Number of consecutive lines; n lines mean the same as n one-line flushes in address order. */
  lines: number;
  flushKind: FlushKind;
}

export interface FenceEvent extends EventHeader, Provenance {
  readonly kind: "fence";
}

export interface LineDecision {
  /** Line index: address / 64. */
  line: number;
  /** Number of pending stores to the line, in program order. */
  versions: number;
  /** The line kept the first `kept` of them. */
  kept: number;
  /** Torn policy only: the prefix kept by each of the 8 words; empty otherwise. */
  wordKept: number[];
}

export interface PowerLossEvent extends EventHeader {
  readonly kind: "powerLoss";
  policy: PowerLossPolicy;
  seed: bigint;
  lines: LineDecision[];
  /** Media hash after the decision was applied (DimmState.mediaSha256, node/dimm/state.ts). */
  mediaSha256: Uint8Array;
  persistence: Persistence;
  reason: string;
}

export interface UnmappedPte {
  pid: number;
  vaddr: number;
  zeroPage: boolean;
}

export interface FaultEvent extends EventHeader {
  readonly kind: "fault";
  pid: number;
  vaddr: number;
  inode: number;
  page: number;
  write: boolean;
  outcome: FaultOutcome;
  pfn: number;
  sync: boolean;
  unmapped: UnmappedPte[];
  opId: number;
}

export interface OpEvent extends EventHeader {
  readonly kind: "op";
  startSeq: number;
  pid: number;
  name: string;
  argsJson: string;
  result: number;
  errno: string;
  signal: string;
  inode: number;
  sizeAfter: number;
}

export interface MountEvent extends EventHeader {
  readonly kind: "mount";
  options: string;
  recoveredTxns: number;
  fsckClean: boolean;
  fsckProblems: number;
  mediaSha256: Uint8Array;
  formatted: boolean;
}

export type DimmEvent = StoreEvent | FlushEvent | FenceEvent | PowerLossEvent;
export type Event = DimmEvent | FaultEvent | OpEvent | MountEvent;
export type EventKind = Event["kind"];

export const EVENT_KINDS: readonly EventKind[] = ["store", "flush", "fence", "powerLoss", "fault", "op", "mount"];
export const POWER_LOSS_POLICIES: readonly PowerLossPolicy[] = ["strict", "eadr-like", "random", "torn"];
export const PERSISTENCE_DOMAINS: readonly Persistence[] = ["adr", "eadr"];
export const FLUSH_KINDS: readonly FlushKind[] = ["clwb", "clflushopt", "clflush", "evict"];

export function isPowerLossPolicy(value: string): value is PowerLossPolicy {
  return (POWER_LOSS_POLICIES as readonly string[]).includes(value);
}

export function isPersistence(value: string): value is Persistence {
  return (PERSISTENCE_DOMAINS as readonly string[]).includes(value);
}

/**
 * The words for what a power loss did to the cache lines that were not durable (its decided
 * lines), used alike by the CLI, the gRPC API, the SQLite log and the survival report, with the
 * same meaning as for stores: a line is *lost* when it kept none of its pending stores (under
 * `torn`: no word kept any), *partly lost* when it kept some but not all of them (under `torn`:
 * not every word kept all), and *survived* when it kept them all. The counts are of decisions;
 * the survival report says, byte by byte, what that meant for each store.
 */
export type LineFate = "survived" | "partly-lost" | "lost";

export function lineFate(d: LineDecision): LineFate {
  const kept = d.wordKept.length > 0 ? d.wordKept : [d.kept];
  if (kept.every((k) => k === 0)) return "lost";
  return kept.every((k) => k === d.versions) ? "survived" : "partly-lost";
}

/** Lines of a power loss that kept none of their pending stores (with torn words: no word kept any). */
export function linesLost(ev: PowerLossEvent): number {
  let lost = 0;
  for (const d of ev.lines) if (lineFate(d) === "lost") lost++;
  return lost;
}

/** Lines of a power loss that kept some but not all of their pending stores. */
export function linesPartlyLost(ev: PowerLossEvent): number {
  let partly = 0;
  for (const d of ev.lines) if (lineFate(d) === "partly-lost") partly++;
  return partly;
}

/** Provenance for stores, flushes and fences that nobody in particular made. */
export const DIRECT: Readonly<Provenance> = Object.freeze({ source: "direct", pid: 0, vaddr: 0, opId: 0 });
