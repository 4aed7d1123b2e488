/**
 * A crash-consistency experiment: record the workload once, then for each crash point enumerate
 * the crash states the strategy allows, deduplicate their images by content, mount each distinct
 * image once, and judge every state with the oracles (checker.ts).
 *
 * Crash points are checked in chunks — here, by worker threads (pool.ts), or by `daxsim worker`
 * processes through a JetStream work queue (nats_queue.ts). Every checker re-records the workload
 * itself (recording is deterministic), walks to its chunk's crash points and returns per-point
 * results; this module merges them in crash-point order.
 *
 * Invariant: the result depends only on the workload and the options — not on the number of
 * checkers or the order they finish in. States are numbered per crash point in enumeration order;
 * a state's id is `<crash seq>:<state index>`, which with the workload and the options rebuilds
 * its image (`daxsim experiment --reproduce`).
 */
import type { Persistence } from "../../proto/index.js";
import type { Workload } from "../../node/workload/index.js";
import { parseWorkload } from "../../node/workload/index.js";
import type { BeyondEofFate, ImageSummary, Violation } from "./checker.js";
import { ImageChecker, evaluate } from "./checker.js";
import type { CrashPointMode, PointView } from "./crash_points.js";
import { CrashWalker, crashPoints, stateKey } from "./crash_points.js";
import { record } from "./recording.js";
import type { Recording } from "./recording.js";
import type { CrashState, Strategy } from "./strategies.js";
import { STATES_PER_POINT_MAX, enumerateStates, formatStrategy, parseStrategy } from "./strategies.js";

export interface ExperimentOptions {
  crashPoints: CrashPointMode;
  strategy: Strategy;
  torn: boolean;
  /** Overrides the workload's persistence domain. */
  persistence?: Persistence;
  /** The strategy seed: seeds random:N's choice of crash states (not the workload's own "seed"). */
  seed: bigint;
}

/** The part of an experiment a checker needs: plain JSON, so it can cross threads and NATS. */
export interface ExperimentSpec {
  workload: unknown;
  crashPoints: CrashPointMode;
  strategy: string;
  torn: boolean;
  persistence?: Persistence;
  seed: string;
}

/** Runs chunks of crash points somewhere and returns their results. */
export interface CheckerPool {
  readonly size: number;
  run(spec: ExperimentSpec, chunks: number[][], onChunk: (results: PointResult[]) => void): Promise<void>;
  close(): Promise<void>;
}

export interface Progress {
  crashPoint: number;
  crashPoints: number;
  states: number;
  distinctImages: number;
  violations: number;
}

export interface ViolationRecord {
  id: string;
  crashSeq: number;
  stateIndex: number;
  oracle: Violation["oracle"];
  message: string;
  /** The versions chosen: each listed line keeps `kept` pending stores (per word with torn); the rest `fallback`. */
  fallback: CrashState["fallback"];
  chosen: CrashState["chosen"];
}

/** What checking one crash point found. */
export interface PointResult {
  crashSeq: number;
  states: number;
  /** Image keys of its states (distinct within the point). */
  keys: string[];
  violations: ViolationRecord[];
  beyondEof: Record<BeyondEofFate["fate"], number>;
}

export interface ExperimentResult {
  strategy: string;
  crashPointMode: CrashPointMode;
  torn: boolean;
  /** Seeds the strategy's choice of crash states (random:N): `--strategy-seed`. */
  strategySeed: string;
  /** The workload's own seed (its "seed" setting, or `--workload-seed`): mkfs and its power losses. */
  workloadSeed: string;
  checkers: number;
  crashPoints: number;
  states: number;
  distinctImages: number;
  violations: ViolationRecord[];
  violationsByOracle: Record<string, number>;
  beyondEof: Record<BeyondEofFate["fate"], number>;
  elapsedMs: number;
  /** Crash states judged per second (after recording). */
  statesPerSecond: number;
}

/** Violations kept in full (the counts go on). */
export const VIOLATIONS_KEPT_MAX = 10_000;
/** Image summaries a checker keeps to avoid mounting an image again at a later crash point. */
const SUMMARY_CACHE_MAX = 50_000;

export function specOf(workloadDoc: unknown, options: ExperimentOptions): ExperimentSpec {
  return {
    workload: workloadDoc,
    crashPoints: options.crashPoints,
    strategy: formatStrategy(options.strategy),
    torn: options.torn,
    ...(options.persistence !== undefined ? { persistence: options.persistence } : {}),
    seed: options.seed.toString(),
  };
}

export function optionsOf(spec: ExperimentSpec): ExperimentOptions {
  return {
    crashPoints: spec.crashPoints,
    strategy: parseStrategy(spec.strategy),
    torn: spec.torn,
    ...(spec.persistence !== undefined ? { persistence: spec.persistence } : {}),
    seed: BigInt(spec.seed),
  };
}

export function applyPersistence(workload: Workload, persistence: Persistence | undefined): Workload {
  if (persistence === undefined) return workload;
  return { ...workload, settings: { ...workload.settings, dimm: { ...workload.settings.dimm, persistence } } };
}

/** Everything a checker keeps for one experiment: the recording, a walker and a scratch DIMM. */
export class PointChecker {
  readonly rec: Recording;
  readonly points: number[];
  private readonly options: ExperimentOptions;
  private readonly walker: CrashWalker;
  private readonly checker: ImageChecker;
  private readonly summaries = new Map<string, ImageSummary>();

  constructor(readonly spec: ExperimentSpec) {
    this.options = optionsOf(spec);
    const workload = applyPersistence(parseWorkload(spec.workload), this.options.persistence);
    this.rec = record(workload);
    this.points = crashPoints(this.rec.events, this.options.crashPoints, this.rec.firstCrashSeq);
    this.walker = new CrashWalker(
      this.rec.events,
      workload.settings.dimm.sizeBytes,
      workload.settings.dimm.persistence,
    );
    this.checker = new ImageChecker(this.rec);
  }

  /** Checks the crash points in `seqs` (ascending, so the walker only moves forward). */
  checkPoints(seqs: readonly number[]): PointResult[] {
    return seqs.map((crashSeq) => this.checkPoint(crashSeq));
  }

  /** Visits the states of crash point `crashSeq` in enumeration order (their indices in state ids). */
  private forEachState(crashSeq: number, visit: (view: PointView, state: CrashState) => void): void {
    const view = this.walker.advanceTo(crashSeq);
    enumerateStates(
      view.info,
      this.options.strategy,
      this.options.torn,
      this.options.seed ^ BigInt(crashSeq),
      (state) => visit(view, state),
    );
  }

  private checkPoint(crashSeq: number): PointResult {
    const result: PointResult = {
      crashSeq,
      states: 0,
      keys: [],
      violations: [],
      beyondEof: { survived: 0, zeroed: 0, lost: 0, gone: 0 },
    };
    const verdicts = new Map<string, ReturnType<typeof evaluate>>();
    this.forEachState(crashSeq, (view, state) => {
      const index = result.states++;
      if (index >= STATES_PER_POINT_MAX)
        throw new Error(`more than ${STATES_PER_POINT_MAX} states at crash point ${crashSeq}`);
      const lines = this.walker.linesOf(view, state);
      const key = stateKey(view, lines);
      let verdict = verdicts.get(key);
      if (verdict === undefined) {
        let summary = this.summaries.get(key);
        if (summary === undefined) {
          summary = this.checker.summarize(view.base, lines);
          if (this.summaries.size >= SUMMARY_CACHE_MAX) this.summaries.clear();
          this.summaries.set(key, summary);
        }
        verdict = evaluate(this.rec, summary, crashSeq);
        verdicts.set(key, verdict);
        result.keys.push(key);
        for (const f of verdict.beyondEof) result.beyondEof[f.fate]++;
      }
      for (const v of verdict.violations) {
        if (result.violations.length >= VIOLATIONS_KEPT_MAX) break;
        result.violations.push({
          id: `${crashSeq}:${index}`,
          crashSeq,
          stateIndex: index,
          oracle: v.oracle,
          message: v.message,
          fallback: state.fallback,
          chosen: state.chosen,
        });
      }
    });
    return result;
  }

  /** The image of state `<crashSeq>:<stateIndex>`: durable media per chunk and lines on top. */
  stateImage(
    crashSeq: number,
    stateIndex: number,
  ): { base: Array<Uint8Array | undefined>; lines: Array<[number, Uint8Array]>; state: CrashState } {
    if (!this.points.includes(crashSeq))
      throw new ReproduceError(
        `seq ${crashSeq} is not a crash point of this workload with --crash-points ${this.options.crashPoints}`,
      );
    let found:
      { base: Array<Uint8Array | undefined>; lines: Array<[number, Uint8Array]>; state: CrashState } | undefined;
    let index = 0;
    this.forEachState(crashSeq, (view, state) => {
      if (index++ === stateIndex) found = { base: view.base, lines: this.walker.linesOf(view, state), state };
    });
    if (found === undefined)
      throw new ReproduceError(`crash point ${crashSeq} has only ${index} states with this strategy`);
    return found;
  }
}

/**
 * Splits crash points into ascending chunks, many per checker: the cost of a crash point varies a
 * hundredfold (it grows with the pending lines), so small chunks handed to whichever checker is
 * free keep the last checker from finishing long after the others.
 */
export function chunkPoints(points: readonly number[], checkers: number): number[][] {
  const chunkSize = Math.max(1, Math.ceil(points.length / Math.max(1, checkers * 64)));
  const chunks: number[][] = [];
  for (let i = 0; i < points.length; i += chunkSize) chunks.push(points.slice(i, i + chunkSize));
  return chunks;
}

export async function runExperiment(
  workloadDoc: unknown,
  options: ExperimentOptions,
  pool?: CheckerPool,
  onProgress?: (p: Progress) => void,
  onPoint?: (r: PointResult) => void,
): Promise<ExperimentResult> {
  const spec = specOf(workloadDoc, options);
  const local = new PointChecker(spec); // records here too: the crash points and recording-time violations
  const started = process.hrtime.bigint();
  const result: ExperimentResult = {
    strategy: spec.strategy,
    crashPointMode: options.crashPoints,
    torn: options.torn,
    strategySeed: spec.seed,
    workloadSeed: local.rec.workload.settings.seed.toString(),
    checkers: pool?.size ?? 1,
    crashPoints: local.points.length,
    states: 0,
    distinctImages: 0,
    violations: [],
    violationsByOracle: {},
    beyondEof: { survived: 0, zeroed: 0, lost: 0, gone: 0 },
    elapsedMs: 0,
    statesPerSecond: 0,
  };
  for (const v of local.rec.recordingViolations)
    addViolation(result, {
      id: `op:${v.op}`,
      crashSeq: 0,
      stateIndex: -1,
      oracle: v.oracle as Violation["oracle"],
      message: v.message,
      fallback: "none",
      chosen: [],
    });
  const byPoint = new Map<number, PointResult>();
  const keys = new Set<string>();
  let statesSoFar = 0;
  let violationsSoFar = 0;
  const progress = (r: PointResult): void => {
    if (byPoint.has(r.crashSeq)) return;
    byPoint.set(r.crashSeq, r);
    statesSoFar += r.states;
    violationsSoFar += r.violations.length;
    onPoint?.(r);
    for (const k of r.keys) keys.add(k);
    onProgress?.({
      crashPoint: byPoint.size,
      crashPoints: local.points.length,
      states: statesSoFar,
      distinctImages: keys.size,
      violations: violationsSoFar,
    });
  };
  if (pool === undefined) {
    for (const chunk of chunkPoints(local.points, 1)) for (const r of local.checkPoints(chunk)) progress(r);
  } else {
    await pool.run(spec, chunkPoints(local.points, pool.size), (results) => results.forEach(progress));
  }
  for (const seq of local.points) {
    const r = byPoint.get(seq);
    if (r === undefined) throw new Error(`no result for crash point ${seq}`);
    result.states += r.states;
    for (const f of Object.keys(r.beyondEof) as Array<BeyondEofFate["fate"]>) result.beyondEof[f] += r.beyondEof[f];
    for (const v of r.violations) addViolation(result, v);
  }
  result.distinctImages = keys.size;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  result.elapsedMs = Math.round(seconds * 1000);
  result.statesPerSecond = Math.round(result.states / seconds);
  return result;
}

function addViolation(result: ExperimentResult, v: ViolationRecord): void {
  result.violationsByOracle[v.oracle] = (result.violationsByOracle[v.oracle] ?? 0) + 1;
  if (result.violations.length < VIOLATIONS_KEPT_MAX) result.violations.push(v);
}

/** Rebuilds the image of state `id` ("<crash seq>:<state index>"): durable media per chunk and lines on top. */
export function reproduce(
  workloadDoc: unknown,
  options: ExperimentOptions,
  id: string,
): {
  base: Array<Uint8Array | undefined>;
  lines: Array<[number, Uint8Array]>;
  state: CrashState;
  sizeBytes: number;
  persistence: Persistence;
} {
  const match = /^(\d+):(\d+)$/.exec(id);
  if (match === null) throw new ReproduceError(`reproducer id "${id}" is not <crash seq>:<state index>`);
  const checker = new PointChecker(specOf(workloadDoc, options));
  const { sizeBytes, persistence } = checker.rec.workload.settings.dimm;
  return { ...checker.stateImage(Number(match[1]), Number(match[2])), sizeBytes, persistence };
}

export class ReproduceError extends Error {
  override readonly name = "ReproduceError";
}
