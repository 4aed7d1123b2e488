/**
 * What the image commands (mkfs, fsck, ls, cat, hash, run, io) share: reading an image with the
 * command's exit status for an unusable one, a machine and event log for in-process use, and the
 * ls-style mode string.
 */
import { EventLog, NullSink } from "../../node/events/event_log.js";
import { ImageError } from "../../node/image/errors.js";
import { readImage } from "../../node/image/image_file.js";
import { machineFromImage, saveImage, shutDown } from "../../node/image/machine_image.js";
import { FsCorruptError, FsError } from "../../node/fs/errors.js";
import type { Machine } from "../../node/machine.js";
import type { DimmImage } from "../../node/image/image_file.js";
import { StepClock } from "../../node/sim/clock.js";
import { CommandFailure } from "./errors.js";

/** Simulated nanoseconds per event: the clock behind the xfs_io-style rate lines. */
export const EVENT_STEP_NS = 25;

/** Reads and checks an image; an unusable one (left untouched) becomes a CommandFailure with `exitCode`. */
export function readImageOrFail(path: string, exitCode = 1): DimmImage {
  try {
    return readImage(path);
  } catch (error) {
    if (error instanceof ImageError) throw new CommandFailure(error.message, exitCode);
    throw error;
  }
}

/**
 * The image mounted (with recovery) on an in-memory DIMM; the file is never written. An image
 * that does not mount is a CommandFailure with `exitCode` that says so and points at fsck.
 */
export function mountImageOrFail(path: string, image: DimmImage, exitCode = 1): Machine {
  try {
    return machineFromImage(image, quietLog());
  } catch (error) {
    if (error instanceof FsError || error instanceof FsCorruptError)
      throw new CommandFailure(
        `${path} does not mount: ${error.message} (\`daxsim fsck ${path}\` checks it)`,
        exitCode,
      );
    throw error;
  }
}

/** An event log that keeps nothing (the image tools need the machine, not its history). */
export function quietLog(): EventLog {
  return new EventLog(new NullSink(), new StepClock(EVENT_STEP_NS));
}

/** "drwxr-xr-x" / "-rw-r--r--" from a mode. */
export function modeString(mode: number): string {
  const type = (mode & 0o170000) === 0o040000 ? "d" : "-";
  let perms = "";
  for (let shift = 6; shift >= 0; shift -= 3) {
    const bits = (mode >> shift) & 7;
    perms += `${bits & 4 ? "r" : "-"}${bits & 2 ? "w" : "-"}${bits & 1 ? "x" : "-"}`;
  }
  return type + perms;
}

/**
 * Writes to standard output that survive a reader going away (`daxsim run … | head`): after EPIPE
 * further output is dropped instead of crashing, so a command still finishes its work (and saves
 * its image).
 */
export function stdoutWriter(): (text: string | Uint8Array) => void {
  let broken = false;
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") throw error;
    broken = true;
  });
  return (text) => {
    if (!broken) process.stdout.write(text);
  };
}

/** Unmounts the machine cleanly and saves its durable media to `path`; an image error fails the command. */
export function shutDownAndSave(machine: Machine, path: string): void {
  try {
    shutDown(machine);
    saveImage(machine, path);
  } catch (error) {
    if (error instanceof ImageError) throw new CommandFailure(error.message);
    throw error;
  }
}
