/**
 * Benchmark harness. Every result is a ratio against a baseline measured in the same run, in
 * interleaved rounds, because this machine is shared and noisy: absolute numbers drift, ratios much
 * less. Results print as one JSON object per line: bench, value, unit, baseline, ratio (+ target).
 */

export interface BenchResult {
  bench: string;
  value: number;
  unit: string;
  baseline: number;
  ratio: number;
  /** What the issue asks for, in words, and whether this run met it. */
  target?: string;
  met?: boolean;
  [extra: string]: unknown;
}

/** Runs `body(iterations)` repeatedly for at least `minMs` and returns operations per second. */
export function opsPerSecond(body: (iterations: number) => number, minMs: number): number {
  let iterations = 1024;
  let ops = 0;
  let elapsedNs = 0n;
  // Warm up once so the JIT has compiled the body.
  body(iterations);
  const start = process.hrtime.bigint();
  for (;;) {
    ops += body(iterations);
    elapsedNs = process.hrtime.bigint() - start;
    if (elapsedNs >= BigInt(minMs) * 1_000_000n) break;
    if (elapsedNs < 50_000_000n) iterations *= 2;
  }
  return ops / (Number(elapsedNs) / 1e9);
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Interleaves `rounds` measurements of value and baseline; reports medians and their ratio. */
export function compareRates(
  bench: string,
  unit: string,
  value: (iterations: number) => number,
  baseline: (iterations: number) => number,
  options: { rounds: number; roundMs: number },
): BenchResult {
  const values: number[] = [];
  const baselines: number[] = [];
  for (let round = 0; round < options.rounds; round++) {
    baselines.push(opsPerSecond(baseline, options.roundMs));
    values.push(opsPerSecond(value, options.roundMs));
  }
  return ratioResult(bench, unit, median(values), median(baselines));
}

/** A result whose ratio is value / baseline (all three rounded). */
export function ratioResult(bench: string, unit: string, value: number, baseline: number): BenchResult {
  return { bench, value: round3(value), unit, baseline: round3(baseline), ratio: round3(value / baseline) };
}

export function round3(x: number): number {
  if (x === 0 || !Number.isFinite(x)) return x;
  const digits = Math.max(0, 3 - Math.floor(Math.log10(Math.abs(x))));
  return Number(x.toFixed(Math.min(digits, 6)));
}

export function printResult(result: BenchResult, json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  const verdict = result.met === undefined ? "" : result.met ? "  [target met]" : "  [TARGET MISSED]";
  process.stdout.write(
    `${result.bench.padEnd(34)} ${String(result.value).padStart(12)} ${result.unit.padEnd(10)} baseline ${String(result.baseline).padStart(12)}  ratio ${result.ratio}${verdict}${result.target ? `  (${result.target})` : ""}\n`,
  );
}
