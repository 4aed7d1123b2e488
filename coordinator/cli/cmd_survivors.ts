/**
 * `daxsim survivors --db FILE --node n1 [--power-loss SEQ | --latest] [--format table|json|csv]`:
 * the survival report of one power loss (docs/replay.md): every store since the previous power loss
 * classified survived, lost, superseded or zeroed, partial survival per line, and the stores past
 * EOF on their own. The log is replayed and verified up to the power loss first.
 */
import { SURVIVAL_FORMATS, formatSurvival, survivalReport } from "../../replay/index.js";
import type { SurvivalFormat } from "../../replay/index.js";
import { flag, intOption, parse, str } from "./args.js";
import { UsageError } from "./errors.js";
import { LOG_OPTIONS, dimmOverrides, logFileAndNode, seqOption, withLog, writeAll } from "./replay_tools.js";

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parse(
    args,
    {
      ...LOG_OPTIONS,
      "power-loss": { type: "string" },
      latest: { type: "boolean" },
      format: { type: "string" },
      limit: { type: "string" },
      "stores-max": { type: "string" },
      "data-only": { type: "boolean" },
    },
    false,
  );
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`);
  const { db, node } = logFileAndNode(values);
  const powerLossSeq = seqOption(values, "power-loss");
  if (powerLossSeq !== undefined && flag(values, "latest"))
    throw new UsageError("give --power-loss SEQ or --latest, not both");
  const format = (str(values, "format") ?? "table") as SurvivalFormat;
  if (!SURVIVAL_FORMATS.includes(format))
    throw new UsageError(`--format ${format}: expected ${SURVIVAL_FORMATS.join(", ")}`);
  const limit = intOption(values, "limit", 0, 0);
  const storesMax = intOption(values, "stores-max", 1_000_000, 1, (1 << 24) - 1);
  const dimm = dimmOverrides(values);
  return withLog(db, node, values, async (log) => {
    const report = await survivalReport(log, {
      ...(powerLossSeq !== undefined ? { powerLossSeq } : {}),
      dimm,
      storesMax,
    });
    writeAll(1, formatSurvival(report, format, { limit, dataOnly: flag(values, "data-only") }));
    return 0;
  });
}
