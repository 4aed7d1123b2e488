import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runExperiment, reproduce } from "./engine.js";
import type { ExperimentOptions, ExperimentResult } from "./engine.js";
import { ImageChecker, evaluate } from "./checker.js";
import { record } from "./recording.js";
import { parseWorkload } from "../../node/workload/index.js";
import { enumerateStates, fullStateCount, parseStrategy } from "./strategies.js";
import type { CrashState } from "./strategies.js";
import { ThreadCheckerPool } from "./thread_pool.js";

const root = join(import.meta.dirname, "..", "..");
const OPTIONS: ExperimentOptions = { crashPoints: "fence", strategy: parseStrategy("prefix"), torn: false, seed: 1n };

function load(path: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(root, path), "utf8")) as Record<string, unknown>;
}

/** The workload with a bug mounted and its expectations dropped (a buggy run need not meet them). */
function withBug(path: string, bug: string): Record<string, unknown> {
  const doc = load(path);
  const ops = (doc.ops as Array<Record<string, unknown>>).map(({ expect: _e, ...op }) => op);
  return { ...doc, mount: `bug=${bug}`, ops };
}

function total(r: ExperimentResult): number {
  return Object.values(r.violationsByOracle).reduce((a, b) => a + b, 0);
}

function exampleFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
    if (entry.isDirectory()) out.push(...exampleFiles(join(dir, entry.name)));
    else if (entry.name.endsWith(".json")) out.push(join(dir, entry.name));
  }
  return out.sort();
}

describe("experiment: strategies", () => {
  const pending = [
    { line: 10, versions: 2 },
    { line: 11, versions: 1 },
  ];
  const collect = (strategy: string, torn = false): CrashState[] => {
    const out: CrashState[] = [];
    enumerateStates(pending, parseStrategy(strategy), torn, 7n, (s) => out.push(s));
    return out;
  };

  it("experiment strategy prefix: strict, eadr-like, then each line alone at each prefix with the others lost and kept", () => {
    const states = collect("prefix");
    expect(states[0]).toEqual({ fallback: "none", chosen: [] });
    expect(states[1]).toEqual({ fallback: "all", chosen: [] });
    expect(states.slice(2).map((s) => `${s.fallback}:${s.chosen[0]!.line}=${s.chosen[0]!.kept}`)).toEqual([
      "none:10=1",
      "none:10=2",
      "none:11=1",
      "all:10=0",
      "all:10=1",
      "all:11=0",
    ]);
    expect(collect("prefix", true).length).toBeGreaterThan(states.length);
  });

  it("experiment strategy subsets:K, random:N and full:CAP enumerate what they say", () => {
    expect(collect("subsets:1").map((s) => s.chosen.map((c) => c.line))).toEqual([[], [10], [11]]);
    expect(collect("subsets:2")).toHaveLength(4);
    const random = collect("random:5");
    expect(random).toHaveLength(5);
    expect(random).toEqual(collect("random:5")); // seeded
    expect(fullStateCount(pending, false)).toBe(6);
    expect(collect("full:100")).toHaveLength(6);
    expect(new Set(collect("full:100").map((s) => JSON.stringify(s.chosen))).size).toBe(6);
    expect(collect("full:4")).toHaveLength(4);
    for (const bad of ["prefix:3", "subsets", "subsets:9", "random:0", "full:x", "everything"])
      expect(() => parseStrategy(bad)).toThrow();
  });
});

describe("experiment: no bug, no violation", () => {
  for (const file of exampleFiles("examples")) {
    it(`experiment: the shipped example ${file} reports zero violations (prefix, fence and op crash points)`, async () => {
      for (const crashPoints of ["fence", "op"] as const) {
        const r = await runExperiment(load(file), { ...OPTIONS, crashPoints });
        expect(r.violations.map((v) => `${v.id} ${v.oracle}: ${v.message}`)).toEqual([]);
        expect(r.states).toBeGreaterThan(0);
      }
    });
  }

  it("experiment: the standard crash workload reports zero violations under torn words and eADR", async () => {
    const { standardCrashWorkload } = await import("../../bench/crash_workload.js");
    const torn = await runExperiment(standardCrashWorkload(), {
      ...OPTIONS,
      torn: true,
      strategy: parseStrategy("random:20"),
    });
    expect(total(torn)).toBe(0);
    const eadr = await runExperiment(standardCrashWorkload(), { ...OPTIONS, persistence: "eadr" });
    expect(total(eadr)).toBe(0);
    expect(eadr.distinctImages).toBeGreaterThan(0);
  });
});

describe("experiment: injected bugs are found by the default strategy, by the right oracle", () => {
  const cases: Array<[bug: string, workload: string, oracle: string]> = [
    ["no-journal-fence", "examples/crash/journal_ops.json", "mount"],
    ["no-size-flush", "examples/crash/size_update.json", "durability"],
    ["no-zero-on-extend", "examples/crash/extend_after_beyond_eof.json", "beyond-eof"],
    ["no-zero-page-unmap", "examples/crash/shared_hole_fault.json", "mapping-coherence"],
    ["no-dirent-flush", "examples/crash/journal_ops.json", "durability"],
  ];
  for (const [bug, workload, oracle] of cases) {
    it(`experiment: bug=${bug} is found on ${workload} and named by the ${oracle} oracle; the reproducer rebuilds a failing image`, async () => {
      const doc = withBug(workload, bug);
      const r = await runExperiment(doc, OPTIONS);
      expect(r.violationsByOracle[oracle] ?? 0).toBeGreaterThan(0);
      const v = r.violations.find((x) => x.oracle === oracle)!;
      if (v.stateIndex < 0) return; // found while recording (no crash image to rebuild)
      const image = reproduce(doc, OPTIONS, v.id);
      const rec = record(parseWorkload(doc));
      const verdict = evaluate(rec, new ImageChecker(rec).summarize(image.base, image.lines), v.crashSeq);
      expect(verdict.violations.map((x) => x.oracle)).toContain(oracle);
    });
  }
});

describe("experiment: determinism", () => {
  it("experiment: the result is the same with no thread pool, one thread and two threads", async () => {
    const doc = load("examples/crash/journal_ops.json");
    const bugged = withBug("examples/crash/journal_ops.json", "no-dirent-flush");
    const inThread = await runExperiment(bugged, OPTIONS);
    for (const size of [1, 2]) {
      const pool = new ThreadCheckerPool(size);
      try {
        const pooled = await runExperiment(bugged, OPTIONS, pool);
        expect({ ...pooled, elapsedMs: 0, statesPerSecond: 0, checkers: 0 }).toEqual({
          ...inThread,
          elapsedMs: 0,
          statesPerSecond: 0,
          checkers: 0,
        });
        const clean = await runExperiment(doc, OPTIONS, pool);
        expect(total(clean)).toBe(0);
      } finally {
        await pool.close();
      }
    }
  });

  it("experiment: a reproducer id that does not exist is a clear error", () => {
    const doc = load("examples/crash/size_update.json");
    expect(() => reproduce(doc, OPTIONS, "nonsense")).toThrow(/is not <crash seq>:<state index>/);
    expect(() => reproduce(doc, OPTIONS, "1:0")).toThrow(/is not a crash point/);
  });
});
