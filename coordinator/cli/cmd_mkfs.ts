/**
 * `daxsim mkfs IMG --size 64M [--persistence adr|eadr] [--inodes N] [--seed S] [--force]`: formats
 * a new DIMM with daxfs and writes it as an image file (atomically). An existing file is never
 * overwritten without --force.
 */
import { existsSync } from "node:fs";
import { DimmConfigError } from "../../node/dimm/errors.js";
import { checkDimmSize, formatSize, parseSize } from "../../node/dimm/geometry.js";
import { FsError } from "../../node/fs/errors.js";
import { ImageError } from "../../node/image/errors.js";
import { formatMediaHash } from "../../node/image/image_file.js";
import { saveImage } from "../../node/image/machine_image.js";
import { Machine } from "../../node/machine.js";
import { flag, intOption, parse, persistenceOption, seedOption, str } from "./args.js";
import { CommandFailure, UsageError } from "./errors.js";
import { quietLog } from "./image_tools.js";

export const INODES_MAX = 1 << 20;

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    size: { type: "string" },
    persistence: { type: "string" },
    inodes: { type: "string" },
    seed: { type: "string" },
    force: { type: "boolean" },
  });
  if (positionals.length !== 1)
    throw new UsageError(
      positionals.length === 0 ? "name the image file to create" : `one image file, got ${positionals.length}`,
    );
  const path = positionals[0]!;
  const sizeText = str(values, "size");
  if (sizeText === undefined) throw new UsageError("--size is required (e.g. --size 64M)");
  let sizeBytes: number;
  try {
    sizeBytes = parseSize(sizeText);
    checkDimmSize(sizeBytes);
  } catch (error) {
    if (error instanceof DimmConfigError) throw new UsageError(`--size ${sizeText}: ${error.message}`);
    throw error;
  }
  const persistence = persistenceOption(values) ?? "adr";
  const inodes = str(values, "inodes") === undefined ? undefined : intOption(values, "inodes", 0, 1, INODES_MAX);
  const seed = seedOption(values) ?? 1n;
  if (existsSync(path) && !flag(values, "force"))
    throw new CommandFailure(`${path} exists; refusing to overwrite it (use --force to replace it)`);

  let machine: Machine;
  try {
    machine = Machine.format(quietLog(), {
      dimm: { sizeBytes, persistence },
      seed,
      ...(inodes !== undefined ? { inodes } : {}),
    });
  } catch (error) {
    if (error instanceof FsError)
      throw new CommandFailure(`cannot format a ${formatSize(sizeBytes)} DIMM: ${error.message}`);
    throw error;
  }
  const sb = machine.fs.sb;
  const freeBlocks = machine.fs.freeBlockCount;
  machine.unmount();
  try {
    const header = saveImage(machine, path);
    process.stdout.write(
      `${path}: daxfs on a ${formatSize(sizeBytes)} ${persistence} DIMM: ${sb.blockCount} blocks of 4096 bytes, ${sb.inodeCount} inodes, ` +
        `journal ${sb.journalBlocks} blocks, ${freeBlocks} data blocks free\nmedia sha256 ${formatMediaHash(header)}\n`,
    );
  } catch (error) {
    if (error instanceof ImageError) throw new CommandFailure(error.message);
    throw error;
  }
  return 0;
}
