/**
 * `daxsim run FILE.json [--dimm IMG] [--json] [--seed S]`: runs a workload (docs/workload.md).
 * Without --dimm on a fresh in-memory machine made from the file's dimm/mount/seed settings; with
 * --dimm on the image (mounted with recovery, saved back after a clean unmount, whatever happened).
 * Output: a table, or with --json one JSON result per line. Exit status: 0 every op ran and every
 * expectation held; 1 at the first failed expectation or op that could not run (the run stops
 * there); 2 the file is not a valid workload (nothing ran) or a usage error.
 */
import { readFileSync } from "node:fs";
import { formatSize } from "../../node/dimm/geometry.js";
import { machineFromImage } from "../../node/image/machine_image.js";
import type { Machine } from "../../node/machine.js";
import type { OpRecord } from "../../node/workload/session.js";
import { WorkloadSession } from "../../node/workload/session.js";
import { WorkloadFileError, machineForWorkload, parseWorkload } from "../../node/workload/workload_file.js";
import { flag, parse, seedOption, str } from "./args.js";
import { CommandFailure, UsageError } from "./errors.js";
import { EXIT_OK, EXIT_USAGE } from "./help.js";
import type { CommandHelp } from "./help.js";
import { quietLog, readImageOrFail, shutDownAndSave, stdoutWriter } from "./image_tools.js";

const INVALID_WORKLOAD = 2;

export const HELP: CommandHelp = {
  description: [
    "Without --dimm the workload runs on a fresh in-memory machine made from the file's dimm, mount and seed settings; with --dimm on the image (mounted with recovery, saved back after a clean unmount, whatever happened). The run stops at the first failed expectation or op that could not run.",
  ],
  arguments: [
    { name: "FILE.json", help: "the workload: a JSON array of ops, or {dimm, mount, seed, ops} (docs/workload.md)." },
  ],
  options: {
    dimm: {
      type: "string",
      value: "IMG",
      help: "run on this DIMM image and save it back.",
      default: "none: a fresh machine from the file's settings",
    },
    json: { type: "boolean", help: "print one JSON result per op (docs/workload.md, Results) instead of a table." },
    seed: {
      type: "string",
      value: "S",
      help: "the workload's seed, overriding the file's \"seed\": seeds mkfs and the power losses that give no seed of their own (decimal or 0x hex).",
      default: 'the file\'s "seed", else 1',
    },
  },
  exitCodes: [
    { ...EXIT_OK, meaning: "every op ran and every expectation held" },
    { code: 1, meaning: "an expectation failed or an op could not run (the run stops there)" },
    { ...EXIT_USAGE, meaning: `${EXIT_USAGE.meaning} (the file is not a valid workload: every bad op is listed)` },
  ],
};

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, HELP);
  if (positionals.length !== 1) throw new UsageError("give one workload file");
  const file = positionals[0]!;
  const workload = loadWorkload(file);
  const seed = seedOption(values);
  if (seed !== undefined) workload.settings.seed = seed;
  const imagePath = str(values, "dimm");
  const log = quietLog();
  let machine: Machine;
  if (imagePath === undefined) {
    machine = machineForWorkload(workload.settings, log);
  } else {
    const image = readImageOrFail(imagePath);
    const d = workload.settings.dimm;
    if (
      workload.settings.given.dimm &&
      (d.sizeBytes !== image.header.dimmSizeBytes || d.persistence !== image.header.persistence)
    ) {
      process.stderr.write(
        `daxsim run: note: ${file} asks for a ${formatSize(d.sizeBytes)} ${d.persistence} DIMM; running on ${imagePath} (${formatSize(image.header.dimmSizeBytes)} ${image.header.persistence}) instead\n`,
      );
    }
    machine = machineFromImage(image, log, workload.settings.given.mount ? workload.settings.mount : undefined);
  }

  const json = flag(values, "json");
  const write = stdoutWriter();
  if (!json) write(`${"i".padStart(4)}  ${"op".padEnd(10)} ${"pid".padStart(3)}  ${"result".padEnd(16)} details\n`);
  const session = new WorkloadSession(machine, { seed: workload.settings.seed });
  const records = session.exec(workload.rawOps, {
    stopAtFailure: true,
    onRecord: (r) => write(json ? `${JSON.stringify(r)}\n` : formatRow(r)),
  });

  if (imagePath !== undefined) {
    shutDownAndSave(machine, imagePath);
  }
  const failed = records.find((r) => r.error !== undefined || r.mismatch !== undefined);
  if (failed !== undefined) throw new CommandFailure(failed.mismatch ?? failed.error!);
  return 0;
}

function loadWorkload(file: string): ReturnType<typeof parseWorkload> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new CommandFailure(`${file}: cannot read: ${(error as Error).message}`, INVALID_WORKLOAD);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    throw new CommandFailure(`${file} is not valid JSON: ${(error as Error).message}`, INVALID_WORKLOAD);
  }
  try {
    return parseWorkload(doc);
  } catch (error) {
    if (error instanceof WorkloadFileError) throw new CommandFailure(`${file}: ${error.message}`, INVALID_WORKLOAD);
    throw error;
  }
}

const ADDRESS_OPS = new Set(["mmap", "mremap"]);
const PREVIEW_BYTES = 16;

/** One table row: index, op, pid, result (value, errno or signal) and what else the op returned. */
export function formatRow(r: OpRecord): string {
  const result =
    r.error !== undefined
      ? "not run"
      : r.signal !== undefined
        ? r.signal
        : r.errno !== undefined
          ? r.errno
          : ADDRESS_OPS.has(r.op)
            ? `0x${r.value.toString(16)}`
            : String(r.value);
  const details: string[] = [];
  if (r.faults.length > 0) details.push(`faults ${r.faults.join(",")}`);
  if (r.hex !== undefined) {
    const bytes = r.hex.length / 2;
    details.push(`hex ${r.hex.slice(0, PREVIEW_BYTES * 2)}${bytes > PREVIEW_BYTES ? `… (${bytes} bytes)` : ""}`);
  }
  const info = r.info as Record<string, unknown> | Array<{ name: string }> | undefined;
  if (r.op === "stat" && info !== undefined && !Array.isArray(info))
    details.push(`size ${String(info.size)} blocks ${String(info.blocks)} nlink ${String(info.nlink)}`);
  if (r.op === "readdir" && Array.isArray(info)) details.push(info.map((e) => e.name).join(" "));
  if (r.op === "powerloss" && info !== undefined && !Array.isArray(info))
    details.push(
      `${String(info.policy)} seed ${String(info.seed)}: ${String(info.linesDecided)} pending lines decided, ${String(info.linesLost)} lost, ${String(info.linesPartlyLost)} partly lost`,
    );
  if (r.message !== undefined) details.push(r.message);
  if (r.mismatch !== undefined) details.push(`MISMATCH: ${r.mismatch}`);
  if (r.error !== undefined) details.push(`ERROR: ${r.error}`);
  return `${String(r.i).padStart(4)}  ${r.op.padEnd(10)} ${String(r.pid).padStart(3)}  ${result.padEnd(16)} ${details.join("; ")}\n`;
}
