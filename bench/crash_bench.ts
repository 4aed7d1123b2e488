/**
 * `daxsim bench crash`: crash states checked per second on the standard ~100-op workload
 * (bench/crash_workload.ts), strategy prefix, crash points at every fence, with 1 and with 2 worker
 * threads, in the same run. Each measured run uses a seed the checkers have not seen, so no image
 * summary is reused from an earlier run.
 *   crash-states-1-worker   states/s with one worker thread (baseline: PMDK pmreorder's few hundred
 *                           states/s is the reference point; the target is ≥ 5000 per worker).
 *   crash-states-2-workers  states/s with two (baseline: one worker; target ratio ≥ 1.6).
 */
import { runExperiment } from "../coordinator/experiment/engine.js";
import { parseStrategy } from "../coordinator/experiment/strategies.js";
import { ThreadCheckerPool } from "../coordinator/experiment/thread_pool.js";
import { standardCrashWorkload } from "./crash_workload.js";
import type { BenchResult } from "./harness.js";
import { median, round3 } from "./harness.js";

export async function benchCrash(options: { seconds: number }): Promise<BenchResult[]> {
  const workload = standardCrashWorkload();
  const rounds = Math.max(3, Math.min(9, Math.round(options.seconds / 2)));
  let seed = 1000n;
  const rate = async (pool: ThreadCheckerPool): Promise<{ statesPerSecond: number; states: number; images: number; violations: number }> => {
    const r = await runExperiment(workload, { crashPoints: "fence", strategy: parseStrategy("prefix"), torn: false, seed: seed++ }, pool);
    return { statesPerSecond: r.statesPerSecond, states: r.states, images: r.distinctImages, violations: r.violations.length };
  };
  const one = new ThreadCheckerPool(1);
  const two = new ThreadCheckerPool(2);
  try {
    await rate(one);
    await rate(two);
    const ones: number[] = [];
    const twos: number[] = [];
    let last = { states: 0, images: 0, violations: 0 };
    for (let r = 0; r < rounds; r++) {
      ones.push((await rate(one)).statesPerSecond);
      const t = await rate(two);
      twos.push(t.statesPerSecond);
      last = t;
    }
    const v1 = median(ones);
    const v2 = median(twos);
    return [
      { bench: "crash-states-1-worker", value: round3(v1), unit: "states/s", baseline: 300, ratio: round3(v1 / 300), target: "≥ 5000 states/s per worker (baseline: pmreorder's ~300/s)", met: v1 >= 5000, states: last.states, distinctImages: last.images, violations: last.violations },
      { bench: "crash-states-2-workers", value: round3(v2), unit: "states/s", baseline: round3(v1), ratio: round3(v2 / v1), target: "2 workers ≥ 1.6× one", met: v2 >= 1.6 * v1 },
    ];
  } finally {
    await one.close();
    await two.close();
  }
}
