/**
 * A crash-consistency experiment: record the workload once, then for each crash point enumerate
 * the crash states the strategy allows, deduplicate their images by content, mount each distinct
 * image once (in this thread or in a pool of checkers), and judge every state with the oracles.
 *
 * Invariant: the result depends only on the workload and the options — not on the number of
 * workers or the order they finish in. States are numbered per crash point in enumeration order;
 * a state's id is `<crash seq>:<state index>`, enough (with the workload and options) to rebuild
 * its image (`daxsim experiment --reproduce`).
 */
import type { Persistence } from "../../proto/index.js";
import type { Workload } from "../../node/workload/index.js";
import type { BeyondEofFate, ImageSummary, Violation } from "./checker.js";
import { ImageChecker, evaluate } from "./checker.js";
import type { CrashPointMode, PointView } from "./crash_points.js";
import { CrashWalker, crashPoints, stateKey } from "./crash_points.js";
import { record } from "./recording.js";
import type { Recording } from "./recording.js";
import type { CrashState, Strategy } from "./strategies.js";
import { STATES_PER_POINT_MAX, enumerateStates, formatStrategy } from "./strategies.js";

export interface ExperimentOptions {
  crashPoints: CrashPointMode;
  strategy: Strategy;
  torn: boolean;
  /** Overrides the workload's persistence domain. */
  persistence?: Persistence;
  seed: bigint;
  /** Checks distinct images with this pool; undefined or a single in-thread checker otherwise. */
  pool?: CheckerPool;
  onProgress?: (progress: Progress) => void;
}

/** Mounts images somewhere (worker threads, NATS workers) and returns their summaries. */
export interface CheckerPool {
  readonly size: number;
  summarize(recordingKey: string, crashSeq: number, images: Array<{ key: string; lines: Array<[number, Uint8Array]> }>): Promise<Map<string, ImageSummary>>;
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

export interface ExperimentResult {
  strategy: string;
  crashPointMode: CrashPointMode;
  torn: boolean;
  seed: string;
  crashPoints: number;
  states: number;
  distinctImages: number;
  violations: ViolationRecord[];
  violationsByOracle: Record<string, number>;
  beyondEof: Record<BeyondEofFate["fate"], number>;
  elapsedMs: number;
  /** Distinct images mounted and checked per second. */
  imagesPerSecond: number;
  /** Crash states judged per second. */
  statesPerSecond: number;
}

/** Violations kept in full (the count goes on). */
export const VIOLATIONS_KEPT_MAX = 10_000;

export function applyPersistence(workload: Workload, persistence: Persistence | undefined): Workload {
  if (persistence === undefined) return workload;
  return { ...workload, settings: { ...workload.settings, dimm: { ...workload.settings.dimm, persistence } } };
}

export async function runExperiment(workload: Workload, options: ExperimentOptions): Promise<ExperimentResult> {
  const started = process.hrtime.bigint();
  const wl = applyPersistence(workload, options.persistence);
  const rec = record(wl);
  const points = crashPoints(rec.events, options.crashPoints, rec.firstCrashSeq);
  const walker = new CrashWalker(rec.events, wl.settings.dimm.sizeBytes, wl.settings.dimm.persistence);
  const local = options.pool === undefined ? new ImageChecker(rec) : undefined;
  const summaries = new Map<string, ImageSummary>();
  const result: ExperimentResult = {
    strategy: formatStrategy(options.strategy),
    crashPointMode: options.crashPoints,
    torn: options.torn,
    seed: options.seed.toString(),
    crashPoints: points.length,
    states: 0,
    distinctImages: 0,
    violations: [],
    violationsByOracle: {},
    beyondEof: { survived: 0, zeroed: 0, lost: 0, gone: 0 },
    elapsedMs: 0,
    imagesPerSecond: 0,
    statesPerSecond: 0,
  };
  for (const v of rec.recordingViolations) addViolation(result, { id: `op${v.op}`, crashSeq: 0, stateIndex: -1, oracle: v.oracle as Violation["oracle"], message: v.message, fallback: "none", chosen: [] });

  for (let p = 0; p < points.length; p++) {
    const crashSeq = points[p]!;
    const view = walker.advanceTo(crashSeq);
    const states: Array<{ index: number; state: CrashState; key: string }> = [];
    const fresh: Array<{ key: string; lines: Array<[number, Uint8Array]> }> = [];
    const freshKeys = new Set<string>();
    let index = 0;
    enumerateStates(view.info, options.strategy, options.torn, options.seed ^ BigInt(crashSeq), (state) => {
      if (index >= STATES_PER_POINT_MAX) throw new Error(`more than ${STATES_PER_POINT_MAX} states at crash point ${crashSeq}`);
      const lines = walker.linesOf(view, state);
      const key = stateKey(view, lines);
      states.push({ index: index++, state, key });
      if (!summaries.has(key) && !freshKeys.has(key)) {
        freshKeys.add(key);
        fresh.push({ key, lines });
      }
    });
    await summarizeFresh(rec, view, fresh, summaries, local, options.pool);
    result.distinctImages += fresh.length;
    judge(rec, result, crashSeq, states, summaries);
    options.onProgress?.({ crashPoint: p + 1, crashPoints: points.length, states: result.states, distinctImages: result.distinctImages, violations: totalViolations(result) });
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  result.elapsedMs = Math.round(seconds * 1000);
  result.imagesPerSecond = Math.round(result.distinctImages / seconds);
  result.statesPerSecond = Math.round(result.states / seconds);
  return result;
}

async function summarizeFresh(
  rec: Recording,
  view: PointView,
  fresh: Array<{ key: string; lines: Array<[number, Uint8Array]> }>,
  summaries: Map<string, ImageSummary>,
  local: ImageChecker | undefined,
  pool: CheckerPool | undefined,
): Promise<void> {
  if (fresh.length === 0) return;
  if (local !== undefined) {
    for (const image of fresh) summaries.set(image.key, local.summarize(view.base, image.lines));
    return;
  }
  const got = await pool!.summarize(recordingKeyOf(rec), view.seq, fresh);
  for (const image of fresh) {
    const summary = got.get(image.key);
    if (summary === undefined) throw new Error(`the checker pool returned no summary for image ${image.key} at crash point ${view.seq}`);
    summaries.set(image.key, summary);
  }
}

function judge(rec: Recording, result: ExperimentResult, crashSeq: number, states: Array<{ index: number; state: CrashState; key: string }>, summaries: Map<string, ImageSummary>): void {
  const seenHere = new Map<string, ReturnType<typeof evaluate>>();
  for (const { index, state, key } of states) {
    result.states++;
    let verdict = seenHere.get(key);
    if (verdict === undefined) {
      verdict = evaluate(rec, summaries.get(key)!, crashSeq);
      seenHere.set(key, verdict);
      for (const f of verdict.beyondEof) result.beyondEof[f.fate]++;
    }
    for (const v of verdict.violations) addViolation(result, { id: `${crashSeq}:${index}`, crashSeq, stateIndex: index, oracle: v.oracle, message: v.message, fallback: state.fallback, chosen: state.chosen });
  }
}

function addViolation(result: ExperimentResult, v: ViolationRecord): void {
  result.violationsByOracle[v.oracle] = (result.violationsByOracle[v.oracle] ?? 0) + 1;
  if (result.violations.length < VIOLATIONS_KEPT_MAX) result.violations.push(v);
}

function totalViolations(result: ExperimentResult): number {
  return Object.values(result.violationsByOracle).reduce((a, b) => a + b, 0);
}

/** Identifies a recording to workers that cache them (the workload and settings, as JSON). */
export function recordingKeyOf(rec: Recording): string {
  return JSON.stringify({ ops: rec.workload.rawOps, dimm: rec.workload.settings.dimm, seed: rec.workload.settings.seed.toString(), mount: rec.workload.settings.mount.zeroOnExtend });
}

/** Rebuilds the image of state `id` ("<crash seq>:<state index>"): durable media per chunk and lines on top. */
export function reproduce(workload: Workload, options: Omit<ExperimentOptions, "pool" | "onProgress">, id: string): { base: Array<Uint8Array | undefined>; lines: Array<[number, Uint8Array]>; state: CrashState } {
  const match = /^(\d+):(\d+)$/.exec(id);
  if (match === null) throw new Error(`reproducer id "${id}" is not <crash seq>:<state index>`);
  const crashSeq = Number(match[1]);
  const stateIndex = Number(match[2]);
  const wl = applyPersistence(workload, options.persistence);
  const rec = record(wl);
  const points = crashPoints(rec.events, options.crashPoints, rec.firstCrashSeq);
  if (!points.includes(crashSeq)) throw new Error(`seq ${crashSeq} is not a crash point of this workload with --crash-points ${options.crashPoints}`);
  const walker = new CrashWalker(rec.events, wl.settings.dimm.sizeBytes, wl.settings.dimm.persistence);
  const view = walker.advanceTo(crashSeq);
  let found: CrashState | undefined;
  let index = 0;
  enumerateStates(view.info, options.strategy, options.torn, options.seed ^ BigInt(crashSeq), (state) => {
    if (index++ === stateIndex) found = state;
  });
  if (found === undefined) throw new Error(`crash point ${crashSeq} has only ${index} states`);
  return { base: view.base, lines: walker.linesOf(view, found), state: found };
}
