/**
 * Where replay reads a node's events from: the seam between replay and storage. The SQLite event
 * log (sqlite_log.ts) and an in-memory array (MemoryEventLog, for tests and experiments) implement
 * it. A source hands out events in seq order, page by page, so replay never holds more than a page
 * (plus the DIMM's own pending journal) whatever the length of the log.
 *
 * Invariant of every source: pages are in ascending seq order and each event is exactly what the
 * node logged at that seq, or the source throws a ReplayError naming what is wrong with it. The
 * replayer checks continuity (no gap, no duplicate) again on top, whatever the source.
 */
import type { Event, Persistence } from "../proto/index.js";

/** The emulated DIMM a log was made on: replay needs it before the first event. */
export interface DimmGeometry {
  sizeBytes: number;
  persistence: Persistence;
}

/** What a source knows about its node's log without reading it all. */
export interface LogInfo {
  node: string;
  /** Lowest and highest seq present; 0 and 0 for no events. */
  firstSeq: number;
  lastSeq: number;
  /** The highest seq the log's writer says it stored (ingest's progress row), when known. */
  expectedLastSeq?: number;
  /** The DIMM as recorded beside the log, when the log records it (all or part of it). */
  dimm?: Partial<DimmGeometry>;
  /** Seqs of the node's PowerLoss events, ascending. */
  powerLossSeqs: number[];
  /** The persistence domain the first PowerLoss event records, when there is one. */
  firstPowerLossPersistence?: Persistence;
}

export interface EventLogSource {
  readonly node: string;
  info(): Promise<LogInfo>;
  /** Events with afterSeq < seq <= toSeq, ascending, in pages of at most pageEventsMax. */
  pages(afterSeq: number, toSeq: number): AsyncIterable<readonly Event[]>;
  close(): Promise<void>;
}

/** Events per page of the in-memory source. */
const MEMORY_PAGE_EVENTS = 4096;
/** Power losses a log may list (LogInfo.powerLossSeqs is read whole). */
export const POWER_LOSSES_MAX = 1_000_000;

/**
 * An array of events as a log (tests, experiments, a node's own MemorySink). It does not sort or
 * repair anything: a gap or a duplicate in the array reaches the replayer, which rejects it.
 */
export class MemoryEventLog implements EventLogSource {
  constructor(
    readonly node: string,
    private readonly events: readonly Event[],
    private readonly dimm?: Partial<DimmGeometry>,
  ) {}

  async info(): Promise<LogInfo> {
    const powerLossSeqs: number[] = [];
    let firstPowerLossPersistence: Persistence | undefined;
    for (const ev of this.events) {
      if (ev.kind !== "powerLoss") continue;
      if (powerLossSeqs.length >= POWER_LOSSES_MAX)
        throw new RangeError(`more than ${POWER_LOSSES_MAX} power losses in one log`);
      powerLossSeqs.push(ev.seq);
      firstPowerLossPersistence ??= ev.persistence;
    }
    const first = this.events[0];
    const last = this.events[this.events.length - 1];
    return {
      node: this.node,
      firstSeq: first?.seq ?? 0,
      lastSeq: last?.seq ?? 0,
      powerLossSeqs,
      ...(firstPowerLossPersistence !== undefined ? { firstPowerLossPersistence } : {}),
      ...(this.dimm !== undefined ? { dimm: this.dimm } : {}),
    };
  }

  async *pages(afterSeq: number, toSeq: number): AsyncIterable<readonly Event[]> {
    // A linear scan to the first event after afterSeq (gaps and duplicates included).
    let start = 0;
    while (start < this.events.length && this.events[start]!.seq <= afterSeq) start++;
    for (let i = start; i < this.events.length; i += MEMORY_PAGE_EVENTS) {
      const page: Event[] = [];
      for (let j = i; j < Math.min(i + MEMORY_PAGE_EVENTS, this.events.length); j++) {
        const ev = this.events[j]!;
        if (ev.seq > toSeq) {
          if (page.length > 0) yield page;
          return;
        }
        page.push(ev);
      }
      yield page;
    }
  }

  async close(): Promise<void> {}
}
