/**
 * Moving a Machine in and out of an image file: load (the DIMM starts with the image's media and
 * mounts with recovery), shut down cleanly, and save the durable media.
 *
 * Invariant: an image holds the durable media of a cleanly unmounted machine (what a power loss at
 * that moment would keep), fsck finds that media clean, and its hash equals the DIMM's own media
 * hash (both checked on every save). Lines still in the cache after unmount are not saved; after
 * shutDown the only such lines are stores into blocks the filesystem has freed.
 */
import type { EventLog } from "../events/event_log.js";
import type { MountOptions } from "../fs/fs.js";
import { Machine } from "../machine.js";
import { ImageInconsistentError } from "./errors.js";
import { writeImage } from "./image_file.js";
import type { DimmImage, ImageHeader } from "./image_file.js";

/** A machine whose DIMM holds the image's media, mounted with recovery. */
export function machineFromImage(image: DimmImage, log: EventLog, mount?: MountOptions): Machine {
  const options = {
    dimm: { sizeBytes: image.header.dimmSizeBytes, persistence: image.header.persistence },
    ...(mount !== undefined ? { mount } : {}),
  };
  return Machine.fromMedia(log, options, (c) => image.chunks[c]);
}

/** Directories walked and files synced by syncAllFiles: bounds on a tree walk of a small fs. */
const SYNC_FILES_MAX = 1 << 20;

/**
 * fsync of every regular file reachable from the root, through the syscall surface (a process of
 * its own). Linux's umount writes back every dirty DAX page (sync_filesystem → writeback with
 * WB_SYNC_ALL → CLWB of each dirty page); Machine.unmount does not (reported as a daxfs bug), so
 * callers that save an image do this first. Returns the number of files synced.
 */
export function syncAllFiles(machine: Machine): number {
  const spawned = machine.spawn();
  if (!spawned.ok) throw new Error(`syncAllFiles: cannot start a process: ${spawned.message ?? ""}`);
  const pid = spawned.value;
  const dirs = ["/"];
  let synced = 0;
  let visited = 0;
  while (dirs.length > 0) {
    const dir = dirs.pop()!;
    const listing = machine.readdir(pid, dir);
    if (!listing.ok) continue;
    for (const entry of listing.info as Array<{ name: string; type: "file" | "dir" }>) {
      if (entry.name === "." || entry.name === "..") continue;
      if (++visited > SYNC_FILES_MAX) throw new Error(`syncAllFiles: more than ${SYNC_FILES_MAX} entries`);
      const path = dir === "/" ? `/${entry.name}` : `${dir}/${entry.name}`;
      if (entry.type === "dir") {
        dirs.push(path);
        continue;
      }
      const opened = machine.open(pid, path, {
        read: true,
        write: false,
        create: false,
        excl: false,
        trunc: false,
        append: false,
      });
      if (!opened.ok) continue;
      machine.fsync(pid, opened.value);
      machine.close(pid, opened.value);
      synced++;
    }
  }
  machine.exit(pid);
  return synced;
}

/** Writes back every dirty page and unmounts cleanly (like umount). The machine is done afterwards. */
export function shutDown(machine: Machine): void {
  syncAllFiles(machine);
  machine.unmount();
}

/** Saves an unmounted machine's durable media to `path` (atomically). */
export function saveImage(machine: Machine, path: string): ImageHeader {
  if (machine.fs.isMounted) throw new Error("saveImage: unmount the machine first");
  const check = machine.fsckDurable();
  if (!check.clean) {
    const first = check.problems[0]!;
    throw new ImageInconsistentError(
      path,
      `${path}: not saved (the file keeps its previous content): after a clean unmount the durable media has ${check.problems.length} fsck problem(s), first ${first.kind}: ${first.message}`,
    );
  }
  const header = writeImage(path, { dimmSizeBytes: machine.dimm.sizeBytes, persistence: machine.persistence }, (c) =>
    machine.mediaChunk(c),
  );
  const own = machine.dimm.mediaSha256();
  if (!own.equals(header.mediaSha256))
    throw new Error(
      `saveImage: wrote media hash ${header.mediaSha256.toString("hex")} but the DIMM's is ${own.toString("hex")}`,
    );
  return header;
}
