/**
 * `daxsim experiment WORKLOAD.json [--crash-points fence|store|op] [--strategy prefix|subsets:K|
 * random:N|full:CAP] [--persistence adr|eadr] [--torn] [--strategy-seed S] [--workload-seed S]
 * [--workers N] [--nats URL] [--db FILE] [--json] [--out DIR]`, and `--reproduce ID --out IMG` to
 * rebuild one crash image.
 *
 * Two seeds, named apart everywhere: the strategy seed picks random:N's crash states; the
 * workload's seed (its "seed" setting) seeds mkfs and the workload's own power losses.
 *
 * A progress bar on a terminal (stderr), JSON lines otherwise; a summary at the end; every
 * violation with its reproducer command, which works pasted in any directory. Exit status: 0 no
 * violation, 1 violations found, 2 usage error or invalid workload.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { CHUNK_BYTES, LINE_BYTES } from "../../node/dimm/geometry.js";
import type {
  CheckerPool,
  ExperimentOptions,
  ExperimentResult,
  PointResult,
  Progress,
  ViolationRecord,
} from "../experiment/engine.js";
import { isCrashPointMode } from "../experiment/crash_points.js";
import { StrategyError, formatStrategy, parseStrategy } from "../experiment/strategies.js";
import { PrngSeedError, parseSeed } from "../../node/sim/prng.js";
import { flag, intOption, parse, persistenceOption, str } from "./args.js";
import { CommandFailure, UsageError } from "./errors.js";
import { EXIT_OK, EXIT_USAGE } from "./help.js";
import type { CommandHelp } from "./help.js";
import { daxsimCommandLine } from "./reproducer.js";

export const HELP: CommandHelp = {
  description: [
    "Records the workload once, then at each crash point enumerates the crash states the persistence model allows (which prefix of its pending stores each cache line keeps), mounts each distinct image with recovery and checks it: it mounts, fsck is clean, fsynced data and synced metadata are there, each metadata operation is all or nothing, data stored past EOF never shows inside a file.",
    "A violation prints the crash point, the chosen line versions, and the --reproduce command that rebuilds its image; that command works pasted in any directory.",
  ],
  arguments: [
    {
      name: "WORKLOAD.json",
      help: "the workload (docs/workload.md); its dimm, mount and seed settings apply.",
    },
  ],
  options: {
    "crash-points": {
      type: "string",
      value: "MODE",
      help: "where to crash: after every fence, every store, or every op.",
      values: ["fence", "store", "op"],
      default: "fence",
    },
    strategy: {
      type: "string",
      value: "STRATEGY",
      help: "which crash states to check at each crash point: prefix (each line alone at each of its prefixes), subsets:K (every set of at most K lines, K 1..4), random:N (N seeded states), full:CAP (the whole product, at most CAP states).",
      values: ["prefix", "subsets:K", "random:N", "full:CAP"],
      default: "prefix",
    },
    persistence: {
      type: "string",
      value: "DOMAIN",
      help: "the persistence domain, overriding the workload's dimm setting.",
      values: ["adr", "eadr"],
      default: "the workload's (adr when it says nothing)",
    },
    torn: { type: "boolean", help: "vary each 8-byte word of a line on its own (torn lines), not whole lines." },
    "strategy-seed": {
      type: "string",
      value: "S",
      help: "seeds the strategy's choice of crash states (only random:N draws any); decimal or 0x hex, up to 2^64-1. Not the workload's seed.",
      default: "1",
    },
    "workload-seed": {
      type: "string",
      value: "S",
      help: "overrides the workload file's \"seed\" (which seeds mkfs and the power losses of the workload's own powerloss ops).",
      default: 'the file\'s "seed", else 1',
    },
    workers: {
      type: "string",
      value: "N",
      help: "worker threads that check crash states, 0..64 (0: check in this thread).",
      default: "1",
    },
    nats: {
      type: "string",
      value: "URL",
      help: "also hand chunks of crash points to `daxsim worker` processes through this NATS server's JetStream work queue.",
      default: "none: check on this machine only",
    },
    db: {
      type: "string",
      value: "FILE",
      help: "store the experiment, its crash points and its violations in this SQLite file (docs/sqlite-schema.md).",
      default: "none",
    },
    json: {
      type: "boolean",
      help: "print JSON lines (progress, violation, summary) even on a terminal; without a terminal this is the default.",
    },
    out: {
      type: "string",
      value: "DIR",
      help: "write experiment.json and violations.jsonl into DIR; with --reproduce, the image file to write.",
      default: "none",
    },
    reproduce: {
      type: "string",
      value: "ID",
      help: "rebuild the crash image of state ID (<crash seq>:<state index>, as a violation names it) into --out IMG instead of running the experiment; give the same options as the experiment.",
      default: "none: run the experiment",
    },
  },
  exitCodes: [
    EXIT_OK,
    { code: 1, meaning: "violations found (each is printed with its reproducer)" },
    {
      ...EXIT_USAGE,
      meaning: `${EXIT_USAGE.meaning}; also: a NATS server that does not answer, a --reproduce ID that names no crash state`,
    },
  ],
};

export async function run(args: string[]): Promise<number> {
  if (args.includes("--seed") || args.some((a) => a.startsWith("--seed=")))
    throw new UsageError(
      '--seed is ambiguous here: --strategy-seed S seeds the choice of crash states (random:N), --workload-seed S overrides the workload\'s "seed"',
    );
  const { values, positionals } = parse(args, HELP);
  if (positionals.length !== 1) throw new UsageError("give exactly one WORKLOAD.json");
  const file = positionals[0]!;
  let workloadDoc: unknown;
  try {
    workloadDoc = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new CommandFailure(`${file}: ${(error as Error).message}`, 2);
  }
  const options = experimentOptions(values);
  const workloadSeed = seedValue(values, "workload-seed");
  if (workloadSeed !== undefined) workloadDoc = withSeed(workloadDoc, workloadSeed);
  const reproduceId = str(values, "reproduce");
  const reproduceArgs = { file, options, workloadSeed };
  if (reproduceId !== undefined) return reproduceImage(workloadDoc, options, reproduceId, str(values, "out"));

  const { runExperiment, specOf } = await import("../experiment/engine.js");
  const { parseWorkload, WorkloadFileError } = await import("../../node/workload/index.js");
  try {
    parseWorkload(workloadDoc);
  } catch (error) {
    if (error instanceof WorkloadFileError) throw new CommandFailure(`${file}: ${error.message}`, 2);
    throw error;
  }
  const workers = intOption(values, "workers", 1, 0, 64);
  const pool = await openPool(workers, str(values, "nats"));
  const json = flag(values, "json") || !process.stdout.isTTY;
  const bar = !json && process.stderr.isTTY ? new ProgressBar() : undefined;
  const startedAt = new Date().toISOString();
  const points: PointResult[] = [];
  let result: ExperimentResult;
  try {
    result = await runExperiment(
      workloadDoc,
      options,
      pool,
      (p: Progress) => {
        if (bar !== undefined) bar.update(p);
        else if (json) process.stdout.write(`${JSON.stringify({ type: "progress", ...p })}\n`);
      },
      (r) => points.push(r),
    );
  } finally {
    bar?.done();
    await pool?.close();
  }
  const reproducer = (v: ViolationRecord): string => reproduceCommand(reproduceArgs, v.id);
  if (json) {
    for (const v of result.violations)
      process.stdout.write(`${JSON.stringify({ type: "violation", ...v, reproduce: reproducer(v) })}\n`);
    process.stdout.write(`${JSON.stringify({ type: "summary", ...summaryOf(result) })}\n`);
  } else {
    process.stdout.write(formatSummary(result, reproducer));
  }
  const id = `${startedAt.replace(/[-:.TZ]/g, "").slice(0, 14)}-${process.pid}`;
  const out = str(values, "out");
  if (out !== undefined) {
    mkdirSync(out, { recursive: true });
    writeFileSync(
      join(out, "experiment.json"),
      `${JSON.stringify({ id, file, spec: specOf(workloadDoc, options), summary: summaryOf(result) }, null, 2)}\n`,
    );
    writeFileSync(
      join(out, "violations.jsonl"),
      result.violations.map((v) => `${JSON.stringify({ ...v, reproduce: reproducer(v) })}\n`).join(""),
    );
  }
  const dbFile = str(values, "db");
  if (dbFile !== undefined) {
    const { EventDb } = await import("../ingest/event_db.js");
    const { storeExperiment } = await import("../experiment/store.js");
    const db = await EventDb.open(dbFile);
    try {
      await storeExperiment(db, id, specOf(workloadDoc, options), result, points, startedAt);
    } finally {
      await db.close();
    }
  }
  return result.violations.length > 0 || Object.keys(result.violationsByOracle).length > 0 ? 1 : 0;
}

function experimentOptions(values: Record<string, unknown>): ExperimentOptions {
  const crashPoints = str(values, "crash-points") ?? "fence";
  if (!isCrashPointMode(crashPoints))
    throw new UsageError(`--crash-points ${crashPoints}: expected fence, store or op`);
  let strategy;
  try {
    strategy = parseStrategy(str(values, "strategy") ?? "prefix");
  } catch (error) {
    if (error instanceof StrategyError) throw new UsageError(`--strategy: ${error.message}`);
    throw error;
  }
  const persistence = persistenceOption(values);
  const seed = seedValue(values, "strategy-seed") ?? 1n;
  return {
    crashPoints,
    strategy,
    torn: flag(values, "torn"),
    seed,
    ...(persistence !== undefined ? { persistence } : {}),
  };
}

async function openPool(workers: number, nats: string | undefined): Promise<CheckerPool | undefined> {
  const { ThreadCheckerPool } = await import("../experiment/thread_pool.js");
  const threads = workers > 0 ? new ThreadCheckerPool(workers) : undefined;
  if (nats === undefined) return threads;
  const { NatsCheckerPool, WorkQueueError } = await import("../experiment/nats_queue.js");
  try {
    return await NatsCheckerPool.connect(nats, threads);
  } catch (error) {
    await threads?.close();
    if (error instanceof WorkQueueError) throw new CommandFailure(error.message, 2);
    throw error;
  }
}

/** A seed option (decimal or 0x hex); undefined when not given. */
function seedValue(values: Record<string, unknown>, name: string): bigint | undefined {
  const text = str(values, name);
  if (text === undefined) return undefined;
  try {
    return parseSeed(text);
  } catch (error) {
    if (error instanceof PrngSeedError) throw new UsageError(`--${name}: ${error.message}`);
    throw error;
  }
}

/** The workload document with its "seed" setting replaced (a bare list of ops becomes {seed, ops}). */
function withSeed(doc: unknown, seed: bigint): unknown {
  const text = seed.toString();
  if (Array.isArray(doc)) return { seed: text, ops: doc };
  if (typeof doc === "object" && doc !== null) return { ...doc, seed: text };
  return doc; // not a workload: parseWorkload says why
}

interface ReproduceArgs {
  file: string;
  options: ExperimentOptions;
  workloadSeed: bigint | undefined;
}

/** The command that rebuilds crash state `id`, with every path absolute: it works pasted anywhere. */
function reproduceCommand(r: ReproduceArgs, id: string): string {
  const { options } = r;
  const args = [
    "experiment",
    resolve(r.file),
    "--crash-points",
    options.crashPoints,
    "--strategy",
    formatStrategy(options.strategy),
    "--strategy-seed",
    String(options.seed),
  ];
  if (r.workloadSeed !== undefined) args.push("--workload-seed", String(r.workloadSeed));
  if (options.torn) args.push("--torn");
  if (options.persistence !== undefined) args.push("--persistence", options.persistence);
  args.push("--reproduce", id, "--out", "crash.img");
  return daxsimCommandLine(args);
}

async function reproduceImage(
  workloadDoc: unknown,
  options: ExperimentOptions,
  id: string,
  out: string | undefined,
): Promise<number> {
  if (out === undefined) throw new UsageError("--reproduce needs --out IMG");
  const { reproduce, ReproduceError } = await import("../experiment/engine.js");
  const { writeImage } = await import("../../node/image/index.js");
  let image;
  try {
    image = reproduce(workloadDoc, options, id);
  } catch (error) {
    if (error instanceof ReproduceError) throw new CommandFailure(error.message, 2);
    throw error;
  }
  writeCrashImage(out, image, writeImage);
  const chosen = image.state.chosen.map((c) =>
    c.wordKept !== undefined ? `line ${c.line} words ${c.wordKept.join(",")}` : `line ${c.line} keeps ${c.kept}`,
  );
  process.stdout.write(
    `wrote ${out}: crash state ${id} (other pending lines: ${image.state.fallback === "all" ? "all survive" : "all lost"}${chosen.length > 0 ? `; ${chosen.join("; ")}` : ""})\n`,
  );
  const imagePath = resolve(out);
  process.stdout.write(
    `inspect it with: ${daxsimCommandLine(["fsck", imagePath])}; ${daxsimCommandLine(["ls", imagePath])}; ${daxsimCommandLine(["io", "--dimm", imagePath, "-c", "stat", "/PATH"])}\n`,
  );
  return 0;
}

/** Writes a crash image (the base media with the chosen line contents over it) as an image file. */
export function writeCrashImage(
  out: string,
  image: ReturnType<typeof import("../experiment/engine.js").reproduce>,
  writeImage: typeof import("../../node/image/index.js").writeImage,
): void {
  const chunks = image.base.map((c) => (c === undefined ? undefined : Buffer.from(c)));
  for (const [line, content] of image.lines) {
    const c = Math.floor((line * LINE_BYTES) / CHUNK_BYTES);
    chunks[c] ??= Buffer.alloc(CHUNK_BYTES);
    chunks[c]!.set(content, line * LINE_BYTES - c * CHUNK_BYTES);
  }
  writeImage(out, { dimmSizeBytes: image.sizeBytes, persistence: image.persistence }, (c) => chunks[c]);
}

function summaryOf(r: ExperimentResult): Record<string, unknown> {
  const { violations, ...rest } = r;
  return { ...rest, violationsShown: violations.length };
}

function formatSummary(r: ExperimentResult, reproducer: (v: ViolationRecord) => string): string {
  const lines: string[] = [];
  for (const v of r.violations.slice(0, 50)) {
    lines.push(`VIOLATION ${v.oracle} at crash point ${v.crashSeq}, state ${v.id}: ${v.message}`);
    lines.push(`  reproduce: ${reproducer(v)}`);
  }
  if (r.violations.length > 50)
    lines.push(`… ${r.violations.length - 50} more violations (use --json or --out DIR for all)`);
  const total = Object.values(r.violationsByOracle).reduce((a, b) => a + b, 0);
  lines.push(
    "",
    `strategy ${r.strategy}, crash points at every ${r.crashPointMode}${r.torn ? ", torn words" : ""}, strategy seed ${r.strategySeed}, workload seed ${r.workloadSeed}, ${r.checkers} checker(s)`,
  );
  lines.push(`  crash points      ${r.crashPoints}`);
  lines.push(`  crash states      ${r.states}`);
  lines.push(`  distinct images   ${r.distinctImages}`);
  lines.push(
    `  violations        ${total}${
      total > 0
        ? `  (${Object.entries(r.violationsByOracle)
            .map(([o, n]) => `${o} ${n}`)
            .join(", ")})`
        : ""
    }`,
  );
  lines.push(
    `  beyond-EOF stores survived ${r.beyondEof.survived}, zeroed ${r.beyondEof.zeroed}, lost ${r.beyondEof.lost}, gone ${r.beyondEof.gone} (over distinct images)`,
  );
  lines.push(`  ${r.elapsedMs} ms, ${r.statesPerSecond} states/s`, "");
  return lines.join("\n");
}

class ProgressBar {
  private last = "";
  update(p: Progress): void {
    const width = 30;
    const filled = Math.round((p.crashPoint / Math.max(1, p.crashPoints)) * width);
    const text = `\r[${"#".repeat(filled)}${".".repeat(width - filled)}] ${p.crashPoint}/${p.crashPoints} crash points, ${p.states} states, ${p.distinctImages} images, ${p.violations} violations`;
    if (text !== this.last) process.stderr.write(text);
    this.last = text;
  }
  done(): void {
    if (this.last !== "") process.stderr.write("\n");
  }
}
