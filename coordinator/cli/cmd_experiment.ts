/**
 * `daxsim experiment WORKLOAD.json [--crash-points fence|store|op] [--strategy prefix|subsets:K|
 * random:N|full:CAP] [--persistence adr|eadr] [--torn] [--seed S] [--workers N] [--nats URL]
 * [--db FILE] [--json] [--out DIR]`, and `--reproduce ID --out IMG` to rebuild one crash image.
 *
 * A progress bar on a terminal (stderr), JSON lines otherwise; a summary at the end; every
 * violation with its reproducer command. Exit status: 0 no violation, 1 violations found.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
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
import { flag, intOption, parse, persistenceOption, seedOption, str } from "./args.js";
import { CommandFailure, UsageError } from "./errors.js";

const OPTIONS = {
  "crash-points": { type: "string" },
  strategy: { type: "string" },
  persistence: { type: "string" },
  torn: { type: "boolean" },
  seed: { type: "string" },
  workers: { type: "string" },
  nats: { type: "string" },
  db: { type: "string" },
  json: { type: "boolean" },
  out: { type: "string" },
  reproduce: { type: "string" },
} as const;

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, OPTIONS);
  if (positionals.length !== 1) throw new UsageError("give exactly one WORKLOAD.json");
  const file = positionals[0]!;
  let workloadDoc: unknown;
  try {
    workloadDoc = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new CommandFailure(`${file}: ${(error as Error).message}`, 2);
  }
  const options = experimentOptions(values);
  const reproduceId = str(values, "reproduce");
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
  const reproducer = (v: ViolationRecord): string => reproduceCommand(file, options, v.id);
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
  const seed = seedOption(values) ?? 1n;
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

function reproduceCommand(file: string, options: ExperimentOptions, id: string): string {
  const parts = [
    "npx daxsim experiment",
    file,
    `--crash-points ${options.crashPoints}`,
    `--strategy ${formatStrategy(options.strategy)}`,
    `--seed ${options.seed}`,
  ];
  if (options.torn) parts.push("--torn");
  if (options.persistence !== undefined) parts.push(`--persistence ${options.persistence}`);
  parts.push(`--reproduce ${id}`, "--out crash.img");
  return parts.join(" ");
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
  const chunks = image.base.map((c) => (c === undefined ? undefined : Buffer.from(c)));
  for (const [line, content] of image.lines) {
    const c = Math.floor((line * LINE_BYTES) / CHUNK_BYTES);
    chunks[c] ??= Buffer.alloc(CHUNK_BYTES);
    chunks[c]!.set(content, line * LINE_BYTES - c * CHUNK_BYTES);
  }
  writeImage(out, { dimmSizeBytes: image.sizeBytes, persistence: image.persistence }, (c) => chunks[c]);
  const chosen = image.state.chosen.map((c) =>
    c.wordKept !== undefined ? `line ${c.line} words ${c.wordKept.join(",")}` : `line ${c.line} keeps ${c.kept}`,
  );
  process.stdout.write(
    `wrote ${out}: crash state ${id} (other pending lines: ${image.state.fallback === "all" ? "all survive" : "all lost"}${chosen.length > 0 ? `; ${chosen.join("; ")}` : ""})\n`,
  );
  process.stdout.write(
    `inspect it with: npx daxsim fsck ${out}; npx daxsim ls ${out}; npx daxsim io --dimm ${out} -c stat /PATH\n`,
  );
  return 0;
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
    `strategy ${r.strategy}, crash points at every ${r.crashPointMode}${r.torn ? ", torn words" : ""}, seed ${r.seed}, ${r.checkers} checker(s)`,
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
