/**
 * `daxsim fsck [--no-recovery] IMG`: checks the filesystem of an image the way a kernel would find
 * it — after mount-time recovery. Like e2fsck replaying the journal before it checks, it first runs
 * daxfs's own mount path (journal replay, orphan cleanup) on an in-memory copy of the media, then
 * checks the result; the image file is never written. A committed transaction that recovery
 * replays is reported, and an image that recovery cannot mount is a problem, not "clean".
 * --no-recovery checks the raw media as it is (a committed transaction is then only a note).
 * Exit status as e2fsck's, for the cases that apply:
 *   0  no problems found
 *   4  problems found, or the image does not mount (left uncorrected: daxsim fsck never writes)
 *   8  operational error: the image cannot be used (missing, foreign, truncated, damaged)
 *  16  usage or syntax error
 */
import { CHUNK_BYTES } from "../../node/dimm/geometry.js";
import { FsCorruptError, FsError } from "../../node/fs/errors.js";
import { formatFsckReport, fsck } from "../../node/fs/fsck.js";
import type { FsckReport } from "../../node/fs/fsck.js";
import type { DimmImage } from "../../node/image/image_file.js";
import { machineFromImage } from "../../node/image/machine_image.js";
import { flag, parse } from "./args.js";
import { CommandFailure, UsageError } from "./errors.js";
import type { CommandHelp } from "./help.js";
import { quietLog, readImageOrFail } from "./image_tools.js";

export const FSCK_EXIT = Object.freeze({ clean: 0, problems: 4, operational: 8, usage: 16 });

export const HELP: CommandHelp = {
  description: [
    "Like e2fsck, it replays the journal before it checks: daxfs's mount-time recovery (replay of a committed journal transaction, freeing of orphan inodes) runs on an in-memory copy of the media, and the result is checked. The image file is never written; to write the recovered state into it, run any `daxsim io --dimm IMG` command (it mounts with recovery and saves).",
  ],
  arguments: [{ name: "IMG", help: "a DIMM image (daxsim mkfs, replay --out, experiment --reproduce)." }],
  options: {
    "no-recovery": {
      type: "boolean",
      help: "check the raw media as it is, without recovery (a committed transaction in the journal is then a note, not replayed).",
    },
  },
  exitCodes: [
    { code: FSCK_EXIT.clean, meaning: "no problems found (after recovery)" },
    { code: FSCK_EXIT.problems, meaning: "problems found, or recovery cannot mount the image (nothing is corrected)" },
    { code: FSCK_EXIT.operational, meaning: "the image cannot be used: missing, foreign, truncated or damaged" },
    { code: FSCK_EXIT.usage, meaning: "usage error" },
  ],
};

export async function run(args: string[]): Promise<number> {
  let positionals: string[];
  let values;
  try {
    ({ values, positionals } = parse(args, HELP));
    if (positionals.length !== 1)
      throw new UsageError(
        positionals.length === 0 ? "name the image to check" : `one image, got ${positionals.length}`,
      );
  } catch (error) {
    if (error instanceof UsageError)
      throw new CommandFailure(`${error.message}\nusage: daxsim fsck [--no-recovery] IMG`, FSCK_EXIT.usage);
    throw error;
  }
  const path = positionals[0]!;
  const image = readImageOrFail(path, FSCK_EXIT.operational);
  const result = fsckImage(path, image, { recovery: !flag(values, "no-recovery") });
  process.stdout.write(result.lines.map((l) => `${path}: ${l}\n`).join(""));
  return result.exitCode;
}

/**
 * fsck of an image, after in-memory recovery unless `recovery` is false: the lines it prints
 * (without the `IMG: ` prefix) and the exit status. Never writes anything.
 */
export function fsckImage(
  path: string,
  image: DimmImage,
  options: { recovery: boolean },
): { lines: string[]; exitCode: number; recoveredTxns: number } {
  let raw: FsckReport;
  try {
    raw = fsck(mediaReader(image), image.header.dimmSizeBytes);
  } catch (error) {
    if (!(error instanceof MediaRangeError)) throw error;
    // A pointer fsck follows before checking it (an indirect block of a directory) leads off the media.
    return {
      lines: [`bad-pointer: ${error.message}`, "1 problem(s) found"],
      exitCode: FSCK_EXIT.problems,
      recoveredTxns: 0,
    };
  }
  const verdict = (report: FsckReport): number => (report.clean ? FSCK_EXIT.clean : FSCK_EXIT.problems);
  if (!options.recovery) return { lines: formatFsckReport(raw).split("\n"), exitCode: verdict(raw), recoveredTxns: 0 };
  const recovered = recoverInMemory(image);
  if ("mountError" in recovered) {
    return {
      lines: [
        ...reportLines(raw).map((l) => `before recovery: ${l}`),
        `mount-fails: recovery (as mount does) cannot mount the image: ${recovered.mountError}`,
        "1 problem(s) found",
      ],
      exitCode: FSCK_EXIT.problems,
      recoveredTxns: 0,
    };
  }
  const { recoveredTxns, orphansFreed, report } = recovered;
  const lines: string[] = [];
  if (recoveredTxns > 0 || orphansFreed > 0) {
    lines.push(
      `recovery (in memory, as mount does; ${path} is not written): replayed ${recoveredTxns} committed journal transaction(s), freed ${orphansFreed} orphan inode(s); the check below is of the recovered filesystem`,
    );
    for (const l of reportLines(raw)) lines.push(`before recovery: ${l}`);
  }
  lines.push(...formatFsckReport(report).split("\n"));
  return { lines, exitCode: verdict(report), recoveredTxns };
}

/** The notes and problems of a report, without its verdict line. */
function reportLines(report: FsckReport): string[] {
  return [...report.notes.map((n) => `note: ${n}`), ...report.problems.map((p) => `${p.kind}: ${p.message}`)];
}

/** Mount-time recovery on a copy of the image's media (the DIMM copies each chunk), then fsck of the result. */
function recoverInMemory(
  image: DimmImage,
): { recoveredTxns: number; orphansFreed: number; report: FsckReport } | { mountError: string } {
  try {
    const machine = machineFromImage(image, quietLog());
    const mount = machine.lastMount!;
    return { recoveredTxns: mount.recoveredTxns, orphansFreed: mount.orphansFreed, report: mount.fsck };
  } catch (error) {
    if (error instanceof FsError || error instanceof FsCorruptError) return { mountError: error.message };
    throw error;
  }
}

/** A read outside the media: only a damaged filesystem leads fsck there. */
export class MediaRangeError extends Error {
  override readonly name = "MediaRangeError";
}

/** Reads [addr, addr+length) of an image's media (chunks that are holes read as zeros). */
export function mediaReader(image: DimmImage): (addr: number, length: number) => Buffer {
  const size = image.header.dimmSizeBytes;
  return (addr, length) => {
    if (
      !Number.isSafeInteger(addr) ||
      !Number.isSafeInteger(length) ||
      addr < 0 ||
      length < 0 ||
      addr + length > size
    ) {
      throw new MediaRangeError(`a read of [${addr}, +${length}) is outside the ${size}-byte media`);
    }
    const out = Buffer.alloc(length);
    for (let done = 0; done < length;) {
      const at = addr + done;
      const c = Math.floor(at / CHUNK_BYTES);
      const off = at - c * CHUNK_BYTES;
      const n = Math.min(length - done, CHUNK_BYTES - off);
      image.chunks[c]?.copy(out, done, off, off + n);
      done += n;
    }
    return out;
  };
}
