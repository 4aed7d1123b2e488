/**
 * `daxsim replay --db FILE --node n1 [--at-seq S] [--out IMG] [--json]`: rebuilds the node's DIMM
 * from the SQLite log up to seq S (default: the end), checking every media hash the node recorded
 * on the way, prints what it verified, and optionally saves the media as an image the image tools
 * (`daxsim io`, `fsck`, `ls`, `cat`) open. Exit 3 when replay diverges, 1 when the log is unusable.
 */
import { formatSize } from "../../node/dimm/geometry.js";
import { replayLog, writeMediaImage } from "../../replay/index.js";
import type { ReplayResult } from "../../replay/index.js";
import { flag, parse, str } from "./args.js";
import { UsageError } from "./errors.js";
import type { CommandHelp } from "./help.js";
import { LOG_EXIT_CODES, LOG_OPTIONS, dimmOverrides, logFileAndNode, seqOption, withLog } from "./replay_tools.js";

export const HELP: CommandHelp = {
  description: [
    "Replays with the node's own pure apply function and checks every media hash the node recorded (PowerLoss and Mount events) on the way; a gap, duplicate, edited row or divergence is an error naming the seq.",
  ],
  options: {
    ...LOG_OPTIONS,
    "at-seq": {
      type: "string",
      value: "S",
      help: "replay up to and including seq S.",
      default: "the end of the node's log",
    },
    out: {
      type: "string",
      value: "IMG",
      help: "save the media as a DIMM image that daxsim fsck, ls, cat and io open (cache lines still pending are not in it).",
      default: "none",
    },
    json: { type: "boolean", help: "print the summary as one JSON object." },
  },
  exitCodes: LOG_EXIT_CODES,
};

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, HELP);
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`);
  const { db, node } = logFileAndNode(values);
  const atSeq = seqOption(values, "at-seq");
  const out = str(values, "out");
  const dimm = dimmOverrides(values);
  return withLog(db, node, values, async (log) => {
    const result = await replayLog(log, { ...(atSeq !== undefined ? { atSeq } : {}), dimm });
    const image = out !== undefined ? writeMediaImage(result.state, out) : undefined;
    if (flag(values, "json")) process.stdout.write(`${JSON.stringify(summary(result, out))}\n`);
    else process.stdout.write(describe(result, out, image !== undefined));
    return 0;
  });
}

function summary(r: ReplayResult, out: string | undefined): Record<string, unknown> {
  return {
    node: r.node,
    lastSeq: r.lastSeq,
    boot: r.boot,
    eventsApplied: r.eventsApplied,
    hashesChecked: r.hashesChecked,
    lastHashCheck: r.lastHashCheck ?? null,
    mediaSha256: r.mediaSha256,
    pendingLines: r.pendingLines,
    dimm: r.dimm,
    image: out ?? null,
  };
}

function describe(r: ReplayResult, out: string | undefined, wrote: boolean): string {
  const from = (what: string): string =>
    what === "given"
      ? "given"
      : what === "recorded"
        ? "recorded with the log"
        : what === "inferred"
          ? "inferred from the log"
          : "assumed: not recorded";
  const lines = [
    `node ${r.node}: replayed seq 1..${r.lastSeq} (${r.eventsApplied} events) on a ${formatSize(r.dimm.sizeBytes)} ${r.dimm.persistence} DIMM (size ${from(r.dimm.sizeFrom)}, persistence ${from(r.dimm.persistenceFrom)})`,
    r.lastHashCheck === undefined
      ? "  no media hash recorded up to this seq (no PowerLoss or Mount event): nothing to verify against"
      : `  verified ${r.hashesChecked} recorded media hashes (PowerLoss and Mount events); the last at seq ${r.lastHashCheck.seq} (${r.lastHashCheck.kind})`,
    `  media sha256 ${r.mediaSha256} after seq ${r.lastSeq} (boot ${r.boot})`,
    r.pendingLines === 0
      ? "  no cache line is pending: the media is the whole state"
      : `  ${r.pendingLines} cache lines are pending (in the cache, not on media; an image holds the media only)`,
  ];
  if (wrote && out !== undefined) lines.push(`  image written to ${out} (daxsim fsck/ls/cat/io read it)`);
  return `${lines.join("\n")}\n`;
}
