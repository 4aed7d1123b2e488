/**
 * `daxsim hash IMG`: prints the image's media hash (SHA-256 over the SHA-256 of each 1 MiB chunk
 * of media, as node/dimm/state.ts defines it and as Mount and PowerLoss events record it), in
 * sha256sum's layout. The media is read and checked against the header first.
 */
import { formatMediaHash } from "../../node/image/image_file.js";
import { parse } from "./args.js";
import { UsageError } from "./errors.js";
import { EXIT_OK, EXIT_USAGE } from "./help.js";
import type { CommandHelp } from "./help.js";
import { readImageOrFail } from "./image_tools.js";

export const HELP: CommandHelp = {
  arguments: [{ name: "IMG", help: "a DIMM image; its media is read and checked against its header." }],
  options: {},
  exitCodes: [EXIT_OK, { code: 1, meaning: "the image cannot be read or is damaged" }, EXIT_USAGE],
};

export async function run(args: string[]): Promise<number> {
  const { positionals } = parse(args, HELP);
  if (positionals.length !== 1) throw new UsageError("give one image");
  const path = positionals[0]!;
  process.stdout.write(`${formatMediaHash(readImageOrFail(path).header)}  ${path}\n`);
  return 0;
}
