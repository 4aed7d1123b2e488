/**
 * Commands daxsim prints for a person to paste (reproducers, "inspect it with …"): they must work
 * from any directory. So they name the CLI as `daxsim` only when that name on $PATH is this very
 * installation (after `npm link` or `npm install -g`), and otherwise by the absolute path of its
 * bin/daxsim.js (executable, `#!/usr/bin/env node`); file arguments are made absolute by the
 * caller, and every argument is quoted for a POSIX shell when it needs to be.
 */
import { existsSync, realpathSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** Directories walked up from this module to find the package root (source: 2, dist/: 3). */
const ROOT_SEARCH_MAX = 6;

let cached: string | undefined;

/** The absolute path of this installation's bin/daxsim.js. */
export function daxsimBin(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let up = 0; up < ROOT_SEARCH_MAX; up++) {
    const bin = join(dir, "bin", "daxsim.js");
    if (existsSync(bin) && existsSync(join(dir, "package.json"))) return bin;
    dir = dirname(dir);
  }
  throw new Error(`cannot find bin/daxsim.js above ${fileURLToPath(import.meta.url)}`);
}

/** `daxsim` if $PATH's daxsim is this installation, else the absolute bin/daxsim.js. */
export function daxsimCommand(path = process.env.PATH ?? ""): string {
  if (cached !== undefined && path === process.env.PATH) return cached;
  const bin = daxsimBin();
  const own = realpathSync(bin);
  let command = shellQuote(bin);
  for (const dir of path.split(delimiter)) {
    if (dir === "") continue;
    const candidate = join(dir, "daxsim");
    if (!existsSync(candidate)) continue;
    // The first daxsim on PATH is the one a shell runs: use the short name only if it is us.
    if (realpathSync(candidate) === own) command = "daxsim";
    break;
  }
  if (path === process.env.PATH) cached = command;
  return command;
}

/** `arg` as one word of a POSIX shell command line. */
export function shellQuote(arg: string): string {
  if (arg !== "" && /^[A-Za-z0-9_./:=,@%+-]+$/.test(arg)) return arg;
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** A daxsim command line that works pasted anywhere: `daxsim experiment /abs/w.json --seed 1`. */
export function daxsimCommandLine(args: readonly string[]): string {
  return [daxsimCommand(), ...args.map(shellQuote)].join(" ");
}
