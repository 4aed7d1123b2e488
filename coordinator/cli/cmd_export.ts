/**
 * `daxsim export --db FILE --node n1 --format pmreorder [--out FILE] [--media FILE]
 *  [--from-seq S] [--to-seq S] [--map-base HEX]`: the node's stores, flushes and fences as a PMDK
 * pmreorder store log (docs/replay.md says how each event maps and how to run pmreorder on it).
 * --media writes the raw DIMM media as it was just before --from-seq: the file the log registers,
 * which pmreorder modifies and hands to the consistency checker.
 */
import { closeSync, openSync } from "node:fs";
import { resolve } from "node:path";
import { PMREORDER_MAP_BASE_DEFAULT, exportPmreorder, writeRawMedia } from "../../replay/index.js";
import { parse, str } from "./args.js";
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

const FORMATS = ["pmreorder"] as const;

export const HELP: CommandHelp = {
  description: [
    "Writes the store log pmemcheck writes with --log-stores=yes, which PMDK's pmreorder replays with a consistency checker (docs/replay.md: how each event maps, and how to run pmreorder with scripts/pmreorder_checker.mjs). Export one boot: from just after a Mount to the next power loss.",
  ],
  options: {
    ...LOG_OPTIONS,
    format: {
      type: "string",
      value: "FORMAT",
      help: "the log format.",
      values: FORMATS,
      default: "required",
    },
    out: { type: "string", value: "FILE", help: "write the log to FILE.", default: "standard output" },
    media: {
      type: "string",
      value: "FILE",
      help: "also write the raw media as it was just before --from-seq: the file the log registers and pmreorder modifies.",
      default: "none (the log registers daxsim-NODE.media)",
    },
    "from-seq": { type: "string", value: "S", help: "the first seq to export.", default: "1" },
    "to-seq": { type: "string", value: "S", help: "the last seq to export.", default: "the end of the log" },
    "map-base": {
      type: "string",
      value: "ADDR",
      help: "the virtual address the media file is registered at (decimal or 0x hex).",
      default: `0x${PMREORDER_MAP_BASE_DEFAULT.toString(16)}`,
    },
  },
  exitCodes: LOG_EXIT_CODES,
};

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, HELP);
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`);
  const { db, node } = logFileAndNode(values);
  const format = str(values, "format");
  if (format === undefined || !(FORMATS as readonly string[]).includes(format))
    throw new UsageError(`--format is required: ${FORMATS.join(", ")}`);
  const fromSeq = seqOption(values, "from-seq");
  const toSeq = seqOption(values, "to-seq");
  const mapBaseText = str(values, "map-base");
  const mapBase = mapBaseText === undefined ? undefined : Number(mapBaseText);
  if (mapBase !== undefined && (!Number.isSafeInteger(mapBase) || mapBase < 0))
    throw new UsageError(`--map-base ${mapBaseText}: expected a number such as 0x7f0000000000`);
  const media = str(values, "media");
  const out = str(values, "out");
  const dimm = dimmOverrides(values);
  return withLog(db, node, values, async (log) => {
    const fd = out === undefined ? 1 : openSync(out, "w", 0o644);
    try {
      const stats = await exportPmreorder(log, (text) => writeAll(fd, text), {
        mediaPath: media !== undefined ? resolve(media) : `daxsim-${node}.media`,
        ...(mapBase !== undefined ? { mapBase } : {}),
        ...(fromSeq !== undefined ? { fromSeq } : {}),
        ...(toSeq !== undefined ? { toSeq } : {}),
        dimm,
        ...(media !== undefined ? { atStart: (state) => writeRawMedia(state, media) } : {}),
      });
      if (out !== undefined) {
        process.stderr.write(
          `daxsim export: seq ${stats.fromSeq}..${stats.toSeq}: ${stats.stores} stores as ${stats.storeEntries} STORE entries, ${stats.flushEntries} FLUSH, ${stats.fenceEntries} FENCE → ${out}${media !== undefined ? `; media before seq ${stats.fromSeq} → ${media}` : ""}\n`,
        );
      }
    } finally {
      if (fd !== 1) closeSync(fd);
    }
    return 0;
  });
}
