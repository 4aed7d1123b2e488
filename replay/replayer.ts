/**
 * Replay: folds a node's logged events through the node's own pure apply function
 * (node/dimm/apply.ts applyEvent) to rebuild its DIMM — media and cache — at any seq, and checks the
 * rebuilt media against every hash the node recorded:
 *   - after applying a PowerLoss, state.mediaSha256() must equal the event's mediaSha256;
 *   - at a Mount (its recovery events are before it in the log), the same with the Mount's hash.
 * The first event where they differ, or that cannot be applied, stops replay with a
 * ReplayDivergenceError naming it and both hashes.
 *
 * Invariants: events are applied in seq order 1, 2, 3 … with no gap and no duplicate (checked here
 * whatever the source); memory is one page of events plus the DIMM state (whose pending journal is
 * compacted at fences as the live DIMM does); replay never changes the log.
 */
import type { Event } from "../proto/index.js";
import { DimmDivergenceError, DimmState, JOURNAL_RECORDS_MAX_DEFAULT, applyEvent } from "../node/index.js";
import { LogDuplicateError, LogGapError, LogTruncatedError, ReplayDivergenceError } from "./errors.js";
import type { DimmGeometry, EventLogSource, LogInfo } from "./event_source.js";
import { resolveGeometry } from "./geometry.js";
import type { ResolvedGeometry } from "./geometry.js";

/** Sees each event as it is applied: `before` runs before applyEvent, `after` after it. */
export interface ReplayObserver {
  before?(ev: Event, state: DimmState): void;
  after?(ev: Event, state: DimmState): void;
}

export interface ReplayOptions {
  /** Stop after applying this seq (default: the end of the log). */
  atSeq?: number;
  /** Overrides for the DIMM geometry (see geometry.ts for what is used otherwise). */
  dimm?: Partial<DimmGeometry>;
  observer?: ReplayObserver;
}

export interface HashCheck {
  seq: number;
  kind: "powerLoss" | "mount";
  sha256: string;
}

export interface ReplayResult {
  node: string;
  dimm: ResolvedGeometry;
  /** The rebuilt DIMM after the last applied event (media, and cache lines still pending). */
  state: DimmState;
  /** Seq of the last event applied (0: none). */
  lastSeq: number;
  /** Boot the node was in after the last applied event. */
  boot: number;
  eventsApplied: number;
  /** Media hashes checked and found equal, and the last of them. */
  hashesChecked: number;
  lastHashCheck: HashCheck | undefined;
  /** Hash of the durable media after the last applied event (what a strict power loss would keep). */
  mediaSha256: string;
  /** Cache lines not yet durable after the last applied event. */
  pendingLines: number;
  info: LogInfo;
}

/** Rebuilds a node's DIMM from its log, checking every recorded media hash on the way. */
export async function replayLog(source: EventLogSource, options: ReplayOptions = {}): Promise<ReplayResult> {
  const info = await source.info();
  const atSeq = options.atSeq ?? info.lastSeq;
  if (!Number.isSafeInteger(atSeq) || atSeq < 0) throw new RangeError(`atSeq ${atSeq} must be an integer ≥ 0`);
  if (atSeq > info.lastSeq)
    throw new LogTruncatedError(source.node, info.lastSeq, atSeq, "replay up to a later seq was asked for");
  const dimm = await resolveGeometry(source, info, options.dimm);
  const state = new DimmState(dimm.sizeBytes, dimm.persistence);
  const run = new Run(source.node, state, dimm, options.observer);
  for await (const page of source.pages(0, atSeq)) run.applyPage(page);
  if (run.lastSeq < atSeq)
    throw new LogTruncatedError(source.node, run.lastSeq, atSeq, "replay up to a later seq was asked for");
  if (options.atSeq === undefined && info.expectedLastSeq !== undefined && info.expectedLastSeq > run.lastSeq) {
    throw new LogTruncatedError(
      source.node,
      run.lastSeq,
      info.expectedLastSeq,
      "ingest recorded events up to a later seq",
    );
  }
  return {
    node: source.node,
    dimm,
    state,
    lastSeq: run.lastSeq,
    boot: run.boot,
    eventsApplied: run.applied,
    hashesChecked: run.hashesChecked,
    lastHashCheck: run.lastHashCheck,
    mediaSha256: state.mediaSha256().toString("hex"),
    pendingLines: state.pendingLines,
    info,
  };
}

/** The fold over one log: continuity, apply, housekeeping, hash checks. */
class Run {
  lastSeq = 0;
  boot = 0;
  applied = 0;
  hashesChecked = 0;
  lastHashCheck: HashCheck | undefined;
  private mountsSeen = 0;

  constructor(
    private readonly node: string,
    private readonly state: DimmState,
    private readonly dimm: ResolvedGeometry,
    private readonly observer: ReplayObserver | undefined,
  ) {}

  applyPage(page: readonly Event[]): void {
    const observer = this.observer;
    const state = this.state;
    for (let i = 0; i < page.length; i++) {
      const ev = page[i]!;
      this.checkContinuity(ev);
      observer?.before?.(ev, state);
      try {
        applyEvent(state, ev);
      } catch (error) {
        if (error instanceof DimmDivergenceError) throw this.divergence(ev, "", error.message, error);
        throw error;
      }
      this.lastSeq = ev.seq;
      this.boot = ev.kind === "powerLoss" ? ev.boot + 1 : ev.boot;
      this.applied++;
      if (ev.kind === "fence") {
        // The live DIMM compacts its pending journal at fences (Dimm.fence); so does replay, so
        // memory stays bounded the same way. It changes nothing observable.
        state.compactJournalIfGrown(JOURNAL_RECORDS_MAX_DEFAULT);
      } else if (ev.kind === "powerLoss" || ev.kind === "mount") {
        this.checkHash(ev, ev.mediaSha256);
      }
      observer?.after?.(ev, state);
    }
  }

  private checkContinuity(ev: Event): void {
    const expected = this.lastSeq + 1;
    if (ev.seq === expected) return;
    if (ev.seq < expected) throw new LogDuplicateError(this.node, ev.seq, expected);
    throw new LogGapError(this.node, expected, ev.seq - 1, ev.seq);
  }

  private checkHash(ev: Event & { kind: "powerLoss" | "mount" }, recorded: Uint8Array): void {
    const replayed = this.state.mediaSha256();
    const recordedHex = Buffer.from(recorded.buffer, recorded.byteOffset, recorded.byteLength).toString("hex");
    if (ev.kind === "mount") this.mountsSeen++;
    if (!replayed.equals(recorded)) throw this.divergence(ev, recordedHex, "", undefined, replayed.toString("hex"));
    this.hashesChecked++;
    this.lastHashCheck = { seq: ev.seq, kind: ev.kind, sha256: recordedHex };
  }

  private divergence(
    ev: Event,
    recordedHex: string,
    reason: string,
    cause?: unknown,
    replayedHex?: string,
  ): ReplayDivergenceError {
    const hints: string[] = [];
    if (reason) hints.push(`the event cannot be applied: ${reason}`);
    if (ev.kind === "mount" && !ev.formatted && this.mountsSeen === 1 && this.hashesChecked === 0) {
      hints.push(
        "this is the log's first mount and it follows no mkfs: the node started from an existing image, which the log alone cannot rebuild",
      );
    }
    if (this.dimm.persistenceFrom === "default")
      hints.push(
        "the persistence domain was not recorded and adr was assumed; if the node ran with eADR, give --persistence eadr",
      );
    if (this.dimm.sizeFrom === "given") hints.push(`the DIMM size was given (${this.dimm.sizeBytes} bytes); check it`);
    return new ReplayDivergenceError(
      this.node,
      ev.seq,
      ev.kind,
      recordedHex,
      replayedHex ?? this.state.mediaSha256().toString("hex"),
      hints.join("; "),
      cause === undefined ? undefined : { cause },
    );
  }
}
