/**
 * `daxsim survivors --db FILE --node n1 [--power-loss SEQ | --latest] [--format table|json|csv]`:
 * the survival report of one power loss (docs/replay.md): every store since the previous power loss
 * with its outcome (replay/survival.ts SURVIVAL_CATEGORIES) and its bytes per line, and the stores past
 * EOF on their own. The log is replayed and verified up to the power loss first.
 */
import { STORES_MAX_DEFAULT, SURVIVAL_FORMATS, formatSurvival, survivalReport } from "../../replay/index.js";
import type { SurvivalFormat } from "../../replay/index.js";
import { flag, intOption, parse, str } from "./args.js";
import { UsageError } from "./errors.js";
import type { CommandHelp } from "./help.js";
import {
  LOG_EXIT_CODES,
  LOG_OPTIONS,
  dimmOverrides,
  logFileAndNode,
  seqOption,
  withLog,
  writeAll,
} from "./replay_tools.js";

export const HELP: CommandHelp = {
  description: [
    "Every store since the previous power loss gets an outcome (docs/replay.md): survived, partly-lost, partly-zeroed, partly-superseded, lost, superseded or zeroed, with how many of its bytes are on media and why, per cache line. Stores past EOF are listed again in a section of their own. The log is replayed and verified up to the power loss first.",
  ],
  options: {
    ...LOG_OPTIONS,
    "power-loss": {
      type: "string",
      value: "SEQ",
      help: "the seq of the PowerLoss event to report on.",
      default: "the latest power loss",
    },
    latest: { type: "boolean", help: "the latest power loss (the default; cannot be combined with --power-loss)." },
    format: {
      type: "string",
      value: "FORMAT",
      help: "a table for people, the whole report as one JSON document, or one CSV row per store.",
      values: SURVIVAL_FORMATS,
      default: "table",
    },
    limit: {
      type: "string",
      value: "N",
      help: "table only: show the first N stores (the totals always count every store); 0 shows all.",
      default: "0",
    },
    "stores-max": {
      type: "string",
      value: "N",
      help: "refuse windows of more than N stores (1..16777215), to bound memory.",
      default: String(STORES_MAX_DEFAULT),
    },
    "data-only": {
      type: "boolean",
      help: "table and CSV: list only stores of file data (write() and mappings), not metadata, journal or mkfs stores.",
    },
  },
  exitCodes: LOG_EXIT_CODES,
};

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, HELP);
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`);
  const { db, node } = logFileAndNode(values);
  const powerLossSeq = seqOption(values, "power-loss");
  if (powerLossSeq !== undefined && flag(values, "latest"))
    throw new UsageError("give --power-loss SEQ or --latest, not both");
  const format = (str(values, "format") ?? "table") as SurvivalFormat;
  if (!SURVIVAL_FORMATS.includes(format))
    throw new UsageError(`--format ${format}: expected ${SURVIVAL_FORMATS.join(", ")}`);
  const limit = intOption(values, "limit", 0, 0);
  const storesMax = intOption(values, "stores-max", STORES_MAX_DEFAULT, 1, (1 << 24) - 1);
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
