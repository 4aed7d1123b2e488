/**
 * `daxsim hash IMG`: prints the image's media hash (SHA-256 over the SHA-256 of each 1 MiB chunk
 * of media, as node/dimm/state.ts defines it and as Mount and PowerLoss events record it), in
 * sha256sum's layout. The media is read and checked against the header first.
 */
import { formatMediaHash } from "../../node/image/image_file.js";
import { parse } from "./args.js";
import { UsageError } from "./errors.js";
import { readImageOrFail } from "./image_tools.js";

export async function run(args: string[]): Promise<number> {
  const { positionals } = parse(args, {});
  if (positionals.length !== 1) throw new UsageError("give one image");
  const path = positionals[0]!;
  process.stdout.write(`${formatMediaHash(readImageOrFail(path).header)}  ${path}\n`);
  return 0;
}
