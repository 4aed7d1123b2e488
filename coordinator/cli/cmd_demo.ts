/**
 * `daxsim demo [--seed S] [--dir RUNDIR] [--one-dimm]` (npm start): the end-to-end demo — a private
 * nats-server, a coordinator and three nodes, seeded workloads, a power loss on each under a
 * different policy, replay of the SQLite log and the survival reports. --one-dimm runs the small
 * single-DIMM demo instead (no processes).
 */
import { join } from "node:path";
import { parseSeed } from "../../node/sim/prng.js";
import { flag, parse, str } from "./args.js";

export async function run(args: string[]): Promise<number> {
  const { values } = parse(
    args,
    { seed: { type: "string" }, dir: { type: "string" }, "one-dimm": { type: "boolean" } },
    false,
  );
  const seed = parseSeed(str(values, "seed") ?? "1");
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
