/**
 * `daxsim fsck IMG`: checks the filesystem on an image's raw media, without mount-time recovery and
 * without changing the image. Exit status as e2fsck's, for the cases that apply:
 *   0  no problems found
 *   4  problems found (left uncorrected: daxsim fsck never writes)
 *   8  operational error: the image cannot be used (missing, foreign, truncated, damaged)
 *  16  usage or syntax error
 * A committed transaction still in the journal and orphan inodes are notes, not problems: the next
 * mount handles them.
 */
import { CHUNK_BYTES } from "../../node/dimm/geometry.js";
import { formatFsckReport, fsck } from "../../node/fs/fsck.js";
import type { DimmImage } from "../../node/image/image_file.js";
import { parse } from "./args.js";
import { CommandFailure, UsageError } from "./errors.js";
import { readImageOrFail } from "./image_tools.js";

export const FSCK_EXIT = Object.freeze({ clean: 0, problems: 4, operational: 8, usage: 16 });

export async function run(args: string[]): Promise<number> {
  let positionals: string[];
  try {
    ({ positionals } = parse(args, {}));
    if (positionals.length !== 1)
      throw new UsageError(
        positionals.length === 0 ? "name the image to check" : `one image, got ${positionals.length}`,
      );
  } catch (error) {
    if (error instanceof UsageError)
      throw new CommandFailure(`${error.message}\nusage: daxsim fsck IMG`, FSCK_EXIT.usage);
    throw error;
  }
  const path = positionals[0]!;
  const image = readImageOrFail(path, FSCK_EXIT.operational);
  let report;
  try {
    report = fsck(mediaReader(image), image.header.dimmSizeBytes);
  } catch (error) {
    if (!(error instanceof MediaRangeError)) throw error;
    // A pointer fsck follows before checking it (an indirect block of a directory) leads off the media.
    process.stdout.write(`${path}: bad-pointer: ${error.message}\n${path}: 1 problem(s) found\n`);
    return FSCK_EXIT.problems;
  }
  process.stdout.write(`${path}: ${formatFsckReport(report).split("\n").join(`\n${path}: `)}\n`);
  return report.clean ? FSCK_EXIT.clean : FSCK_EXIT.problems;
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
