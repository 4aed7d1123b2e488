/**
 * `daxsim io --dimm IMG [-afrst] [-m mode] [-o mount-options] [--seed S] [-c cmd]... [PATH...]`:
 * xfs_io over a DIMM image (docs/io.md). Each invocation mounts the image with recovery, opens the
 * paths, runs the -c commands in order, then unmounts cleanly and saves the image, so two
 * invocations in a row behave like xfstests' cycle mount. Exit status: xfs_io's (0, or 1 when a
 * command failed or a path could not be opened); 135 when the process died of SIGBUS ("Bus error"
 * on stderr), 139 for SIGSEGV; the image is saved and consistent in every case. An image that
 * cannot be read is refused (exit 1) and left untouched.
 */
import { parseArgs } from "node:util";
import { MountOptionError, parseMountOptions } from "../../node/fs/fs.js";
import type { MountOptions } from "../../node/fs/fs.js";
import { machineFromImage } from "../../node/image/machine_image.js";
import { PrngSeedError, parseSeed } from "../../node/sim/prng.js";
import { strtoul } from "../../node/xfs_io/c_lib.js";
import { DEFAULT_OPEN_OPTIONS, XfsIo } from "../../node/xfs_io/xfs_io.js";
import type { OpenOptions } from "../../node/xfs_io/xfs_io.js";
import { CommandFailure } from "./errors.js";
import { quietLog, readImageOrFail, shutDownAndSave, stdoutWriter } from "./image_tools.js";

export const IO_USAGE = "Usage: daxsim io --dimm IMG [-afrst] [-m mode] [-o mount-options] [--seed S] [-c cmd]... file";

function usageFailure(detail: string): CommandFailure {
  return new CommandFailure(`${detail}\n${IO_USAGE}`, 1);
}

export async function run(args: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseIoArgs>;
  try {
    parsed = parseIoArgs(args);
  } catch (error) {
    if (error instanceof TypeError || error instanceof MountOptionError || error instanceof PrngSeedError)
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
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      dimm: { type: "string" },
      command: { type: "string", short: "c", multiple: true },
      append: { type: "boolean", short: "a" },
      create: { type: "boolean", short: "f" },
      readonly: { type: "boolean", short: "r" },
      sync: { type: "boolean", short: "s" },
      trunc: { type: "boolean", short: "t" },
      mode: { type: "string", short: "m" },
      mount: { type: "string", short: "o" },
      seed: { type: "string" },
    },
  });
  if (values.dimm === undefined)
    throw new TypeError("--dimm IMG is required: the DIMM image to work on (make one with daxsim mkfs)");
  let mode = 0o600;
  if (values.mode !== undefined) {
    const m = strtoul(values.mode);
    if (m.consumed === 0) throw new TypeError(`non-numeric mode -- ${values.mode}`);
    mode = Number(m.value & 0o7777n);
  }
  const flags: OpenOptions = {
    ...DEFAULT_OPEN_OPTIONS,
    append: values.append === true,
    create: values.create === true,
    readOnly: values.readonly === true,
    sync: values.sync === true,
    trunc: values.trunc === true,
  };
  return {
    imagePath: values.dimm,
    commands: values.command ?? [],
    paths: positionals,
    flags,
    mode,
    mount: values.mount === undefined ? undefined : parseMountOptions(values.mount),
    seed: values.seed === undefined ? 0n : parseSeed(values.seed),
  };
}
