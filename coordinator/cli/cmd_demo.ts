/**
 * `daxsim demo [--seed S] [--dir RUNDIR] [--one-dimm]` (npm start): the end-to-end demo — a private
 * nats-server, a coordinator and three nodes, seeded workloads, a power loss on each under a
 * different policy, replay of the SQLite log and the survival reports. --one-dimm runs the small
 * single-DIMM demo instead (no processes).
 */
import { join } from "node:path";
import { flag, parse, seedOption, str } from "./args.js";
import { EXIT_OK, EXIT_USAGE } from "./help.js";
import type { CommandHelp } from "./help.js";

export const HELP: CommandHelp = {
  description: [
    "Starts nats-server, `daxsim coordinator` and three `daxsim node` processes, runs a seeded workload on each (writes, mmap stores flushed or not, stores past EOF, extensions), loses power on n1, n2, n3 under strict, random and torn, replays the SQLite log and prints each power loss's survival report. The same seed prints the same reports.",
  ],
  options: {
    seed: {
      type: "string",
      value: "S",
      help: "the demo's seed (decimal, or 0x hex, up to 2^64-1): the workloads and the power losses' seeds are drawn from it.",
      default: "1",
    },
    dir: {
      type: "string",
      value: "RUNDIR",
      help: "the run folder: SQLite log, manifest, process logs, workloads and full reports stay there.",
      default: "runs/demo-SEED-TIME",
    },
    "one-dimm": {
      type: "boolean",
      help: "run the small single-DIMM demo in this process instead (no NATS, no processes): one store pattern under every policy.",
    },
  },
  exitCodes: [
    EXIT_OK,
    { code: 1, meaning: "a process of the demo failed or replay did not reproduce a hash" },
    EXIT_USAGE,
  ],
};

export async function run(args: string[]): Promise<number> {
  const { values } = parse(args, HELP);
  const seed = seedOption(values) ?? 1n;
  if (flag(values, "one-dimm")) {
    const { dimmDemoReport } = await import("../demo/dimm_demo.js");
    process.stdout.write(`${dimmDemoReport(seed)}\n`);
    return 0;
  }
  const { runSystemDemo } = await import("../demo/system_demo.js");
  const stamp = new Date().toISOString().replace(/[-:.]/g, "").slice(0, 15);
  const dir = str(values, "dir") ?? join("runs", `demo-${seed}-${stamp}`);
  await runSystemDemo({ seed, dir, out: (text) => process.stdout.write(text) });
  return 0;
}
