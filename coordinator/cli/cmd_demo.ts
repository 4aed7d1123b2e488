/** `daxsim demo [--seed S]`: the seeded demo (npm start). */
import { dimmDemoReport } from "../demo/dimm_demo.js";
import { parseSeed } from "../../node/sim/prng.js";
import { parse, str } from "./args.js";

export async function run(args: string[]): Promise<number> {
  const { values } = parse(args, { seed: { type: "string" } }, false);
  const seed = parseSeed(str(values, "seed") ?? "1");
  process.stdout.write(`${dimmDemoReport(seed)}\n`);
  return 0;
}
