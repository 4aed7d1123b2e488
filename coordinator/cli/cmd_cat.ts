/**
 * `daxsim cat IMG PATH`: writes a file's bytes (what read(2) returns: up to its size, holes as
 * zeros, never bytes stored past EOF) to standard output. The image is mounted in memory with
 * recovery and never written back.
 */
import { once } from "node:events";
import { STRERROR } from "../../node/xfs_io/c_lib.js";
import { parse } from "./args.js";
import { CommandFailure, UsageError } from "./errors.js";
import { EXIT_OK, EXIT_USAGE } from "./help.js";
import type { CommandHelp } from "./help.js";
import { mountImageOrFail, readImageOrFail } from "./image_tools.js";

const READ_BYTES = 1 << 20;

export const HELP: CommandHelp = {
  arguments: [
    { name: "IMG", help: "a DIMM image (daxsim mkfs, replay --out, experiment --reproduce)." },
    { name: "PATH", help: "the file in the image's filesystem (absolute, or relative to /)." },
  ],
  options: {},
  exitCodes: [
    EXIT_OK,
    { code: 1, meaning: "the image cannot be read or does not mount, or the file cannot be opened or read" },
    EXIT_USAGE,
  ],
};

export async function run(args: string[]): Promise<number> {
  const { positionals } = parse(args, HELP);
  if (positionals.length !== 2) throw new UsageError("give the image and the path of a file in it");
  const [imagePath, target] = positionals as [string, string];
  const path = target.startsWith("/") ? target : `/${target}`;
  const machine = mountImageOrFail(imagePath, readImageOrFail(imagePath));
  const pid = 1;
  const opened = machine.open(pid, path, {
    read: true,
    write: false,
    create: false,
    excl: false,
    trunc: false,
    append: false,
  });
  if (!opened.ok)
    throw new CommandFailure(
      `${target}: ${opened.errno !== undefined ? STRERROR[opened.errno] : (opened.message ?? "cannot open")}`,
    );
  const size = machine.stat(pid, { fd: opened.value }).value;
  // Bounded: each read returns > 0 bytes until EOF, and the file has `size` bytes.
  for (let offset = 0, reads = 0; reads <= size / READ_BYTES + 1; reads++) {
    const chunk = machine.read(pid, opened.value, READ_BYTES, offset);
    if (!chunk.ok)
      throw new CommandFailure(
        `${target}: ${chunk.errno !== undefined ? STRERROR[chunk.errno] : (chunk.message ?? "read failed")}`,
      );
    if (chunk.value === 0) break;
    if (!process.stdout.write(chunk.data!)) await once(process.stdout, "drain");
    offset += chunk.value;
  }
  return 0;
}
