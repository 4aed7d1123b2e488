/**
 * `daxsim ls IMG [PATH]`: lists a directory of the image's filesystem (or one file) like `ls -l`,
 * with the columns mode, links, size and name. The image is mounted in memory with recovery, as a
 * kernel would, but never written back: ls changes nothing on disk.
 */
import type { FileStat } from "../../node/fs/fs.js";
import { STRERROR } from "../../node/xfs_io/c_lib.js";
import { parse } from "./args.js";
import { CommandFailure, UsageError } from "./errors.js";
import { EXIT_OK, EXIT_USAGE } from "./help.js";
import type { CommandHelp } from "./help.js";
import { modeString, mountImageOrFail, readImageOrFail } from "./image_tools.js";

/** Entries listed at most (a directory of daxfs holds far fewer). */
const ENTRIES_MAX = 1 << 20;

export const HELP: CommandHelp = {
  arguments: [
    { name: "IMG", help: "a DIMM image (daxsim mkfs, replay --out, experiment --reproduce)." },
    { name: "PATH", help: "the directory (or file) to list; default /." },
  ],
  options: {},
  exitCodes: [
    EXIT_OK,
    { code: 1, meaning: "the image cannot be read or does not mount, or PATH cannot be accessed" },
    EXIT_USAGE,
  ],
};

export async function run(args: string[]): Promise<number> {
  const { positionals } = parse(args, HELP);
  if (positionals.length < 1 || positionals.length > 2) throw new UsageError("give the image and at most one path");
  const [imagePath, target = "/"] = positionals as [string, string | undefined];
  const path = target.startsWith("/") ? target : `/${target}`;
  const machine = mountImageOrFail(imagePath, readImageOrFail(imagePath));
  const pid = 1;
  const top = machine.stat(pid, { path });
  if (!top.ok)
    throw new CommandFailure(
      `cannot access '${target}': ${top.errno !== undefined ? STRERROR[top.errno] : (top.message ?? "failed")}`,
    );
  const rows: Array<{ st: FileStat; name: string }> = [];
  const st = top.info as FileStat;
  if (st.type === "dir") {
    const listing = machine.readdir(pid, path);
    if (!listing.ok)
      throw new CommandFailure(
        `cannot open directory '${target}': ${listing.errno !== undefined ? STRERROR[listing.errno] : "failed"}`,
      );
    // Like ls -l without -a: no "." and "..".
    const entries = (listing.info as Array<{ name: string }>)
      .map((e) => e.name)
      .filter((name) => name !== "." && name !== "..")
      .sort();
    if (entries.length > ENTRIES_MAX) throw new CommandFailure(`more than ${ENTRIES_MAX} entries`);
    for (const name of entries) {
      const entry = machine.stat(pid, { path: path === "/" ? `/${name}` : `${path.replace(/\/+$/, "")}/${name}` });
      if (entry.ok) rows.push({ st: entry.info as FileStat, name });
    }
  } else {
    rows.push({ st, name: target });
  }
  const linksWidth = Math.max(1, ...rows.map((r) => String(r.st.nlink).length));
  const sizeWidth = Math.max(1, ...rows.map((r) => String(r.st.size).length));
  const lines = rows.map(
    (r) =>
      `${modeString(r.st.mode)} ${String(r.st.nlink).padStart(linksWidth)} ${String(r.st.size).padStart(sizeWidth)} ${r.name}\n`,
  );
  process.stdout.write(lines.join(""));
  return 0;
}
