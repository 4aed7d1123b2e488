/**
 * Coordinator.RunExperiment: a crash-consistency experiment (coordinator/experiment) run on the
 * coordinator's host, streamed to the caller as progress updates, violations and a summary, and
 * stored in the coordinator's SQLite log. One experiment at a time per coordinator service (they are
 * CPU-bound; a second caller gets RESOURCE_EXHAUSTED rather than halving both).
 *
 * Invariant: the request is checked completely (each problem names its field) before any work.
 */
import type { ServerWritableStream } from "@grpc/grpc-js";
import type { ExperimentUpdate, RunExperimentRequest } from "../../proto/gen/daxsim/v1/coordinator.js";
import { Persistence as WirePersistence } from "../../proto/gen/daxsim/v1/events.js";
import type { Persistence } from "../../proto/index.js";
import { InvalidArgumentError, ResourceExhaustedError, toServiceError } from "../../node/control/rpc_errors.js";
import { WorkloadFileError, parseWorkload } from "../../node/workload/index.js";
import type { EventDb } from "../ingest/event_db.js";
import { isCrashPointMode } from "../experiment/crash_points.js";
import { runExperiment, specOf } from "../experiment/engine.js";
import type { ExperimentOptions, PointResult, ViolationRecord } from "../experiment/engine.js";
import { storeExperiment } from "../experiment/store.js";
import { StrategyError, parseStrategy } from "../experiment/strategies.js";
import { ThreadCheckerPool } from "../experiment/thread_pool.js";

export const EXPERIMENT_WORKERS_MAX = 16;
const WORKLOAD_JSON_BYTES_MAX = 4 << 20;

function checkRequest(r: RunExperimentRequest): { doc: unknown; options: ExperimentOptions; workers: number } {
  if (r.workloadJson.length > WORKLOAD_JSON_BYTES_MAX)
    throw new InvalidArgumentError(
      "workload_json",
      `${r.workloadJson.length} bytes is over the ${WORKLOAD_JSON_BYTES_MAX}-byte limit`,
    );
  let doc: unknown;
  try {
    doc = JSON.parse(r.workloadJson);
  } catch (error) {
    throw new InvalidArgumentError("workload_json", `not JSON: ${(error as Error).message}`);
  }
  try {
    parseWorkload(doc);
  } catch (error) {
    if (error instanceof WorkloadFileError) throw new InvalidArgumentError("workload_json", error.message);
    throw error;
  }
  const crashPoints = r.crashPoints === "" ? "fence" : r.crashPoints;
  if (!isCrashPointMode(crashPoints))
    throw new InvalidArgumentError("crash_points", `"${r.crashPoints}" is not fence, store or op`);
  let strategy;
  try {
    strategy = parseStrategy(r.strategy === "" ? "prefix" : r.strategy);
  } catch (error) {
    if (error instanceof StrategyError) throw new InvalidArgumentError("strategy", error.message);
    throw error;
  }
  let persistence: Persistence | undefined;
  if (r.persistence === WirePersistence.PERSISTENCE_ADR) persistence = "adr";
  else if (r.persistence === WirePersistence.PERSISTENCE_EADR) persistence = "eadr";
  else if (r.persistence !== WirePersistence.PERSISTENCE_UNSPECIFIED)
    throw new InvalidArgumentError("persistence", `unknown value ${r.persistence}`);
  const workers = r.workers === 0 ? 1 : r.workers;
  if (workers > EXPERIMENT_WORKERS_MAX)
    throw new InvalidArgumentError("workers", `${r.workers} is over the limit of ${EXPERIMENT_WORKERS_MAX}`);
  return {
    doc,
    options: {
      crashPoints,
      strategy,
      torn: r.torn,
      seed: r.strategySeed === 0n ? 1n : r.strategySeed,
      ...(persistence !== undefined ? { persistence } : {}),
    },
    workers,
  };
}

function violationUpdate(v: ViolationRecord): ExperimentUpdate {
  return {
    update: {
      $case: "violation",
      value: {
        id: v.id,
        crashSeq: BigInt(v.crashSeq),
        stateIndex: BigInt(v.stateIndex),
        oracle: v.oracle,
        message: v.message,
        chosenJson: JSON.stringify({ fallback: v.fallback, chosen: v.chosen }),
      },
    },
  };
}

/**
 * Runs one experiment at a time for one Coordinator service instance. The "running" claim and the
 * checker pool are released before the stream ends, so a caller that starts the next experiment as
 * soon as it sees the end of the last one is never refused.
 */
export class ExperimentRunner {
  private running = false;
  private experimentsStarted = 0;

  constructor(private readonly db: EventDb | undefined) {}

  serve(call: ServerWritableStream<RunExperimentRequest, ExperimentUpdate>): void {
    this.runOne(call).then(
      (summary) => {
        call.write(summary);
        call.end();
      },
      (error: unknown) => call.emit("error", toServiceError(error)),
    );
  }

  /** Checks the request, runs the experiment streaming progress and violations, and returns the summary update. */
  private async runOne(call: ServerWritableStream<RunExperimentRequest, ExperimentUpdate>): Promise<ExperimentUpdate> {
    const { doc, options, workers } = checkRequest(call.request);
    if (this.running)
      throw new ResourceExhaustedError(
        "",
        "an experiment is already running on this coordinator; wait for it or run `daxsim experiment` elsewhere",
      );
    this.running = true;
    const pool = new ThreadCheckerPool(workers);
    try {
      const startedAt = new Date().toISOString();
      const points: PointResult[] = [];
      const result = await runExperiment(
        doc,
        options,
        pool,
        (p) => {
          call.write({
            update: {
              $case: "progress",
              value: {
                crashPoint: p.crashPoint,
                crashPoints: p.crashPoints,
                states: BigInt(p.states),
                distinctImages: BigInt(p.distinctImages),
                violations: BigInt(p.violations),
              },
            },
          });
        },
        (point) => {
          points.push(point);
          for (const v of point.violations) call.write(violationUpdate(v));
        },
      );
      for (const v of result.violations.filter((x) => x.stateIndex < 0)) call.write(violationUpdate(v));
      const id = `${startedAt.replace(/[-:.TZ]/g, "").slice(0, 14)}-rpc-${process.pid}-${++this.experimentsStarted}`;
      if (this.db !== undefined) await storeExperiment(this.db, id, specOf(doc, options), result, points, startedAt);
      const byOracle: Record<string, bigint> = {};
      for (const [oracle, n] of Object.entries(result.violationsByOracle)) byOracle[oracle] = BigInt(n);
      const { violations: _all, ...summary } = result;
      return {
        update: {
          $case: "summary",
          value: {
            experimentId: this.db === undefined ? "" : id,
            crashPoints: result.crashPoints,
            states: BigInt(result.states),
            distinctImages: BigInt(result.distinctImages),
            violationsByOracle: byOracle,
            elapsedMs: BigInt(result.elapsedMs),
            statesPerSecond: BigInt(result.statesPerSecond),
            resultJson: JSON.stringify(summary),
          },
        },
      };
    } finally {
      try {
        await pool.close();
      } finally {
        this.running = false;
      }
    }
  }
}
