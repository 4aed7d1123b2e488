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
import { EXIT_OK, EXIT_USAGE } from "./help.js";
import type { CommandHelp } from "./help.js";
import { quietLog } from "./image_tools.js";

export const INODES_MAX = 1 << 20;

export const HELP: CommandHelp = {
  description: ["The image is written atomically; an existing file is never overwritten without --force."],
  arguments: [{ name: "IMG", help: "the image file to create." }],
  options: {
    size: {
      type: "string",
      value: "SIZE",
      help: "the DIMM size, with a K, M or G suffix (e.g. 64M); a whole number of 1 MiB chunks.",
      default: "required",
    },
    persistence: {
      type: "string",
      value: "DOMAIN",
      help: "the persistence domain recorded in the image: adr (caches are volatile) or eadr (caches are inside it).",
      values: ["adr", "eadr"],
      default: "adr",
    },
    inodes: {
      type: "string",
      value: "N",
      help: `inodes in the filesystem, 1..${INODES_MAX}.`,
      default: "one per 16 blocks of the DIMM (64 KiB), at least 64, at most 65536",
    },
    seed: {
      type: "string",
      value: "S",
      help: "seeds the filesystem's UUID (decimal or 0x hex).",
      default: "1",
    },
    force: { type: "boolean", help: "replace IMG if it exists." },
  },
  exitCodes: [
    EXIT_OK,
    {
      code: 1,
      meaning: "IMG exists (without --force), the DIMM is too small to format, or the file cannot be written",
    },
    EXIT_USAGE,
  ],
};

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, HELP);
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
