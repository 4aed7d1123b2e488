/**
 * `daxsim io --dimm IMG [-afrst] [-m mode] [-o mount-options] [--seed S] [-c cmd]... [PATH...]`:
 * xfs_io over a DIMM image (docs/io.md). Each invocation mounts the image with recovery, opens the
 * paths, runs the -c commands in order, then unmounts cleanly and saves the image, so two
 * invocations in a row behave like xfstests' cycle mount. Exit status: xfs_io's (0, or 1 when a
 * command failed or a path could not be opened); 135 when the process died of SIGBUS ("Bus error"
 * on stderr), 139 for SIGSEGV; the image is saved and consistent in every case. An image that
 * cannot be read is refused (exit 1) and left untouched.
 */
import { MountOptionError, parseMountOptions } from "../../node/fs/fs.js";
import type { MountOptions } from "../../node/fs/fs.js";
import { machineFromImage } from "../../node/image/machine_image.js";
import { PrngSeedError, parseSeed } from "../../node/sim/prng.js";
import { strtoul } from "../../node/xfs_io/c_lib.js";
import { DEFAULT_OPEN_OPTIONS, XfsIo } from "../../node/xfs_io/xfs_io.js";
import type { OpenOptions } from "../../node/xfs_io/xfs_io.js";
import { flag, parse, str, strs } from "./args.js";
import { CommandFailure, UsageError } from "./errors.js";
import type { CommandHelp } from "./help.js";
import { quietLog, readImageOrFail, shutDownAndSave, stdoutWriter } from "./image_tools.js";

export const IO_USAGE = "Usage: daxsim io --dimm IMG [-afrst] [-m mode] [-o mount-options] [--seed S] [-c cmd]... file";

export const HELP: CommandHelp = {
  description: [
    "Each invocation mounts the image with recovery, opens the paths with the open flags, runs the -c commands in order (xfs_io's syntax and output lines: pwrite, pread, mmap, mwrite, mread, msync, fsync, truncate, fpunch, fzero, falloc, stat, close …; docs/io.md), then unmounts cleanly and saves the image, so two invocations in a row behave like xfstests' cycle mount.",
  ],
  arguments: [{ name: "PATH", help: "files to open before the commands run (the first is the current file)." }],
  options: {
    dimm: {
      type: "string",
      value: "IMG",
      help: "the DIMM image to work on (make one with daxsim mkfs); saved back at the end.",
      default: "required",
    },
    command: {
      type: "string",
      short: "c",
      value: "CMD",
      help: 'an xfs_io command, e.g. "pwrite -S 0x58 0 4k"; run in order.',
      default: "none",
      multiple: true,
    },
    append: { type: "boolean", short: "a", help: "open the paths with O_APPEND." },
    create: { type: "boolean", short: "f", help: "create the paths if they do not exist (O_CREAT)." },
    readonly: { type: "boolean", short: "r", help: "open the paths read-only." },
    sync: { type: "boolean", short: "s", help: "open the paths with O_SYNC." },
    trunc: { type: "boolean", short: "t", help: "truncate the paths on open (O_TRUNC)." },
    mode: {
      type: "string",
      short: "m",
      value: "MODE",
      help: "the permission bits for created files (octal, as xfs_io -m).",
      default: "0600",
    },
    mount: {
      type: "string",
      short: "o",
      value: "OPTS",
      help: "mount options, comma-separated: dax or nodax, zero-on-extend=none|block|eof, bug=NAME (docs/bugs.md).",
      default: "dax,zero-on-extend=block",
    },
    seed: {
      type: "string",
      value: "S",
      help: "seeds the power losses of the powerloss command that give no seed (decimal or 0x hex).",
      default: "0",
    },
  },
  exitCodes: [
    { code: 0, meaning: "every command succeeded" },
    {
      code: 1,
      meaning:
        "a command failed, a path could not be opened, a usage error (as xfs_io), or the image cannot be read (it is then left untouched)",
    },
    { code: 135, meaning: 'the process died of SIGBUS ("Bus error" on stderr); the image is saved and consistent' },
    { code: 139, meaning: "the process died of SIGSEGV; the image is saved and consistent" },
  ],
};

function usageFailure(detail: string): CommandFailure {
  return new CommandFailure(`${detail}\n${IO_USAGE}`, 1);
}

export async function run(args: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseIoArgs>;
  try {
    parsed = parseIoArgs(args);
  } catch (error) {
    if (
      error instanceof UsageError ||
      error instanceof TypeError ||
      error instanceof MountOptionError ||
      error instanceof PrngSeedError
    )
      throw usageFailure(error.message);
    throw error;
  }
  const { imagePath, commands, paths, flags, mode, mount, seed } = parsed;
  const image = readImageOrFail(imagePath);
  const log = quietLog();
  const machine = machineFromImage(image, log, mount);
  const io = new XfsIo({
    machine,
    out: stdoutWriter(),
    err: (text) => process.stderr.write(text),
    nowNs: () => log.now(),
    progname: "daxsim io",
    powerLossSeed: seed,
  });
  const opened = io.openInitial(paths, flags, mode);
  if (opened) io.runCommands(commands);
  shutDownAndSave(machine, imagePath);
  return opened ? io.status : 1;
}

function parseIoArgs(args: string[]): {
  imagePath: string;
  commands: string[];
  paths: string[];
  flags: OpenOptions;
  mode: number;
  mount: MountOptions | undefined;
  seed: bigint;
} {
  const { values, positionals } = parse(args, HELP);
  const dimm = str(values, "dimm");
  const modeText = str(values, "mode");
  const mountText = str(values, "mount");
  const seedText = str(values, "seed");
  if (dimm === undefined)
    throw new TypeError("--dimm IMG is required: the DIMM image to work on (make one with daxsim mkfs)");
  let mode = 0o600;
  if (modeText !== undefined) {
    const m = strtoul(modeText);
    if (m.consumed === 0) throw new TypeError(`non-numeric mode -- ${modeText}`);
    mode = Number(m.value & 0o7777n);
  }
  const flags: OpenOptions = {
    ...DEFAULT_OPEN_OPTIONS,
    append: flag(values, "append"),
    create: flag(values, "create"),
    readOnly: flag(values, "readonly"),
    sync: flag(values, "sync"),
    trunc: flag(values, "trunc"),
  };
  return {
    imagePath: dimm,
    commands: strs(values, "command"),
    paths: positionals,
    flags,
    mode,
    mount: mountText === undefined ? undefined : parseMountOptions(mountText),
    seed: seedText === undefined ? 0n : parseSeed(seedText),
  };
}
