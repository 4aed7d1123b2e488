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
import { median, ratioResult } from "./harness.js";

export async function benchCrash(options: { seconds: number }): Promise<BenchResult[]> {
  const workload = standardCrashWorkload();
  const rounds = Math.max(3, Math.min(9, Math.round(options.seconds / 2)));
  let seed = 1000n;
  let last = { states: 0, images: 0, violations: 0 };
  const once = async (pool: ThreadCheckerPool): Promise<{ states: number; seconds: number }> => {
    const r = await runExperiment(
      workload,
      { crashPoints: "fence", strategy: parseStrategy("prefix"), torn: false, seed: seed++ },
      pool,
    );
    last = { states: r.states, images: r.distinctImages, violations: r.violations.length };
    return { states: r.states, seconds: r.elapsedMs / 1000 };
  };
  // One sample: whole experiments back to back for at least a second (one experiment takes
  // ~0.4 s, too short to time on this noisy machine), as total states over total time.
  const sample = async (pool: ThreadCheckerPool): Promise<number> => {
    let states = 0;
    let seconds = 0;
    while (seconds < 1) {
      const r = await once(pool);
      states += r.states;
      seconds += r.seconds;
    }
    return states / seconds;
  };
  const one = new ThreadCheckerPool(1);
  const two = new ThreadCheckerPool(2);
  try {
    // Warm-up: the JIT makes the first experiments in a thread up to 2.5x slower.
    for (let i = 0; i < 3; i++) {
      await once(one);
      await once(two);
    }
    const ones: number[] = [];
    const twos: number[] = [];
    for (let r = 0; r < rounds; r++) {
      ones.push(await sample(one));
      twos.push(await sample(two));
    }
    const v1 = median(ones);
    const v2 = median(twos);
    return [
      {
        ...ratioResult("crash-states-1-worker", "states/s", v1, 300),
        target: "≥ 5000 states/s per worker (baseline: pmreorder's ~300/s)",
        met: v1 >= 5000,
        states: last.states,
        distinctImages: last.images,
        violations: last.violations,
      },
      {
        ...ratioResult("crash-states-2-workers", "states/s", v2, v1),
        target: "2 workers ≥ 1.6× one",
        met: v2 >= 1.6 * v1,
      },
    ];
  } finally {
    await one.close();
    await two.close();
  }
}
