/**
 * Small helpers over node:util parseArgs that turn its errors into UsageError. parse() builds the
 * parser from a command's declarative help (help.ts), so every option a command accepts has help
 * text, and answers --help / -h by throwing HelpRequested before the command does anything.
 */
import { parseArgs } from "node:util";
import type { ParseArgsConfig } from "node:util";
import { isPersistence } from "../../proto/events.js";
import type { Persistence } from "../../proto/events.js";
import { PrngSeedError, parseSeed } from "../../node/sim/prng.js";
import { UsageError } from "./errors.js";
import { HELP_OPTION, HelpRequested } from "./help.js";
import type { CommandHelp, OptionSpec } from "./help.js";

export interface ParsedArgs {
  values: Record<string, string | boolean | string[] | boolean[] | undefined>;
  positionals: string[];
}

type RawOptions = NonNullable<ParseArgsConfig["options"]>;

function isCommandHelp(spec: CommandHelp | RawOptions): spec is CommandHelp {
  return "exitCodes" in spec && Array.isArray(spec.exitCodes) && "options" in spec;
}

function parserOptions(options: Readonly<Record<string, OptionSpec>>): RawOptions {
  const out: RawOptions = {};
  for (const [name, spec] of Object.entries(options)) {
    out[name] = {
      type: spec.type,
      ...(spec.short !== undefined ? { short: spec.short } : {}),
      ...(spec.type === "string" && spec.multiple === true ? { multiple: true } : {}),
    };
  }
  out.help = { type: "boolean", short: HELP_OPTION.short! };
  return out;
}

/** A spec for a command that still passes raw parseArgs options: every option lacks help (and the test says so). */
function undocumented(options: RawOptions, allowPositionals: boolean): CommandHelp {
  const specs: Record<string, OptionSpec> = {};
  for (const [name, o] of Object.entries(options)) {
    const short = o.short !== undefined ? { short: o.short } : {};
    specs[name] =
      o.type === "boolean"
        ? { type: "boolean", help: "", ...short }
        : { type: "string", value: "VALUE", help: "", default: "", multiple: o.multiple === true, ...short };
  }
  return {
    options: specs,
    arguments: allowPositionals ? [{ name: "ARGS", help: "" }] : [],
    exitCodes: [],
  };
}

const asksForHelp = (args: readonly string[]): boolean => args.includes("--help") || args.includes("-h");

/** Parses `args` against the command's HELP; --help or -h anywhere throws HelpRequested. */
export function parse(args: string[], help: CommandHelp): ParsedArgs;
/**
 * @deprecated Declare the options in a CommandHelp (help.ts) and call parse(args, HELP): options
 * passed like this have no help text, and cli_help.test.ts fails until they do.
 */
export function parse(args: string[], options: RawOptions, allowPositionals?: boolean): ParsedArgs;
export function parse(args: string[], spec: CommandHelp | RawOptions, allowPositionalsGiven = true): ParsedArgs {
  const help = isCommandHelp(spec) ? spec : undocumented(spec, allowPositionalsGiven);
  // Raw options may be spreads of OptionSpecs (COORDINATOR_OPTIONS …), whose `default` is help
  // text, not a value: parseArgs sees only type, short and multiple either way.
  const options = parserOptions(isCommandHelp(spec) ? spec.options : help.options);
  const allowPositionals = isCommandHelp(spec) ? (spec.arguments?.length ?? 0) > 0 : allowPositionalsGiven;
  let parsed;
  try {
    parsed = parseArgs({ args, options, allowPositionals, strict: true });
  } catch (error) {
    if (asksForHelp(args)) throw new HelpRequested(help);
    throw new UsageError((error as Error).message, { cause: error });
  }
  const values = parsed.values as ParsedArgs["values"];
  if (values.help === true) throw new HelpRequested(help);
  delete values.help;
  return { values, positionals: parsed.positionals };
}

export function str(values: Record<string, unknown>, name: string): string | undefined {
  const value = values[name];
  return typeof value === "string" ? value : undefined;
}

/** A string option that must be given; `meta` names its value in the message ("--nats URL is required"). */
export function required(values: Record<string, unknown>, name: string, meta: string): string {
  const value = str(values, name);
  if (value === undefined) throw new UsageError(`--${name} ${meta} is required`);
  return value;
}

export function strs(values: Record<string, unknown>, name: string): string[] {
  const value = values[name];
  return Array.isArray(value) ? (value as string[]) : typeof value === "string" ? [value] : [];
}

export function flag(values: Record<string, unknown>, name: string): boolean {
  return values[name] === true;
}

export function intOption(
  values: Record<string, unknown>,
  name: string,
  fallback: number,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const text = str(values, name);
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < min || value > max)
    throw new UsageError(`--${name} ${text}: expected an integer in [${min}, ${max}]`);
  return value;
}

/** A count of at least `min` (up to 16 digits), as the bigint the RPCs take; undefined when not given. */
export function countOption(values: Record<string, unknown>, name: string, min: number): bigint | undefined {
  const text = str(values, name);
  if (text === undefined) return undefined;
  if (!/^\d{1,16}$/.test(text) || Number(text) < min)
    throw new UsageError(`--${name} ${text}: expected an integer ≥ ${min}`);
  return BigInt(text);
}

/** --seed S (decimal or 0x hex, see parseSeed); undefined when not given. */
export function seedOption(values: Record<string, unknown>): bigint | undefined {
  const text = str(values, "seed");
  if (text === undefined) return undefined;
  try {
    return parseSeed(text);
  } catch (error) {
    if (error instanceof PrngSeedError) throw new UsageError(`--seed: ${error.message}`);
    throw error;
  }
}

/** --persistence adr|eadr; undefined when not given. */
export function persistenceOption(values: Record<string, unknown>): Persistence | undefined {
  const text = str(values, "persistence");
  if (text !== undefined && !isPersistence(text)) throw new UsageError(`--persistence ${text}: expected adr or eadr`);
  return text;
}
