/**
 * The domain ↔ wire mapping of every enum in events.proto, one table each: codec.ts converts with
 * these tables and fast_codec.ts derives its lookups from them, so the two codecs cannot disagree
 * on a code. (A module of its own because codec.ts and fast_codec.ts import each other.)
 */
import {
  FaultOutcome as WireFaultOutcome,
  FlushKind as WireFlushKind,
  Persistence as WirePersistence,
  PowerLossPolicy as WirePolicy,
  Source as WireSource,
} from "./gen/daxsim/v1/events.js";
import { WireFormatError } from "./errors.js";
import type { FaultOutcome, FlushKind, Persistence, PowerLossPolicy, Source } from "./events.js";

export type EnumTable<D, W> = ReadonlyArray<readonly [D, W]>;

export const SOURCE_TABLE: EnumTable<Source, WireSource> = [
  ["unspecified", WireSource.SOURCE_UNSPECIFIED],
  ["direct", WireSource.SOURCE_DIRECT],
  ["syscall", WireSource.SOURCE_SYSCALL],
  ["mmap", WireSource.SOURCE_MMAP],
  ["metadata", WireSource.SOURCE_METADATA],
  ["journal", WireSource.SOURCE_JOURNAL],
  ["zeroing", WireSource.SOURCE_ZEROING],
  ["writeback", WireSource.SOURCE_WRITEBACK],
  ["recovery", WireSource.SOURCE_RECOVERY],
];
export const FLUSH_KIND_TABLE: EnumTable<FlushKind, WireFlushKind> = [
  ["clwb", WireFlushKind.FLUSH_KIND_CLWB],
  ["clflushopt", WireFlushKind.FLUSH_KIND_CLFLUSHOPT],
  ["clflush", WireFlushKind.FLUSH_KIND_CLFLUSH],
  ["evict", WireFlushKind.FLUSH_KIND_EVICT],
];
export const POLICY_TABLE: EnumTable<PowerLossPolicy, WirePolicy> = [
  ["strict", WirePolicy.POWER_LOSS_POLICY_STRICT],
  ["eadr-like", WirePolicy.POWER_LOSS_POLICY_EADR_LIKE],
  ["random", WirePolicy.POWER_LOSS_POLICY_RANDOM],
  ["torn", WirePolicy.POWER_LOSS_POLICY_TORN],
];
export const PERSISTENCE_TABLE: EnumTable<Persistence, WirePersistence> = [
  ["adr", WirePersistence.PERSISTENCE_ADR],
  ["eadr", WirePersistence.PERSISTENCE_EADR],
];
export const OUTCOME_TABLE: EnumTable<FaultOutcome, WireFaultOutcome> = [
  ["zero-page", WireFaultOutcome.FAULT_OUTCOME_ZERO_PAGE],
  ["allocated", WireFaultOutcome.FAULT_OUTCOME_ALLOCATED],
  ["mapped", WireFaultOutcome.FAULT_OUTCOME_MAPPED],
  ["mkwrite", WireFaultOutcome.FAULT_OUTCOME_MKWRITE],
  ["cow", WireFaultOutcome.FAULT_OUTCOME_COW],
  ["sigbus", WireFaultOutcome.FAULT_OUTCOME_SIGBUS],
  ["sigsegv", WireFaultOutcome.FAULT_OUTCOME_SIGSEGV],
  ["page-cache", WireFaultOutcome.FAULT_OUTCOME_PAGE_CACHE],
];

export function toWireEnum<D, W>(table: EnumTable<D, W>, value: D, field: string): W {
  for (const [domain, wire] of table) if (domain === value) return wire;
  throw new WireFormatError(`${field}: unknown value ${String(value)}`, field);
}

export function fromWireEnum<D, W>(table: EnumTable<D, W>, value: W, field: string): D {
  for (const [domain, wire] of table) if (wire === value) return domain;
  throw new WireFormatError(`${field}: unknown enum value ${String(value)}`, field);
}
