/** `daxsim bench <name|all> [--json] [--seconds N]`. */
import { printResult } from "../../bench/harness.js";
import type { BenchResult } from "../../bench/harness.js";
import { flag, intOption, parse } from "./args.js";
import { UsageError } from "./errors.js";
import { EXIT_OK, EXIT_USAGE } from "./help.js";
import type { CommandHelp } from "./help.js";

const BENCHES: Record<string, (options: { seconds: number }) => Promise<BenchResult[]>> = {
  store: async (o) => (await import("../../bench/store_bench.js")).benchStore(o),
  dd: async (o) => (await import("../../bench/dd_bench.js")).benchDd(o),
  crash: async (o) => (await import("../../bench/crash_bench.js")).benchCrash(o),
  pipeline: async (o) => (await import("../../bench/pipeline_bench.js")).benchPipeline(o),
  replay: async (o) => (await import("../../bench/replay_bench.js")).benchReplay(o),
};

export const HELP: CommandHelp = {
  description: [
    "Each measurement is printed with a ratio against a baseline measured in the same run (the machine may be shared and noisy, so absolute numbers mean little alone).",
  ],
  arguments: [
    {
      name: "NAME",
      help: `the benchmark: ${Object.keys(BENCHES).join(", ")}, or all (the default).`,
    },
  ],
  options: {
    json: { type: "boolean", help: "print one JSON object per measurement instead of a line of text." },
    seconds: {
      type: "string",
      value: "N",
      help: "how long each measurement runs, 1..3600 seconds.",
      default: "6",
    },
  },
  exitCodes: [EXIT_OK, { code: 1, meaning: "a benchmark failed" }, EXIT_USAGE],
};

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, HELP);
  const name = positionals[0] ?? "all";
  const seconds = intOption(values, "seconds", 6, 1, 3600);
  const names = name === "all" ? Object.keys(BENCHES) : [name];
  for (const n of names) {
    const bench = BENCHES[n];
    if (bench === undefined)
      throw new UsageError(`unknown benchmark "${n}"; known: ${Object.keys(BENCHES).join(", ")}, all`);
    for (const result of await bench({ seconds })) printResult(result, flag(values, "json"));
  }
  return 0;
}
