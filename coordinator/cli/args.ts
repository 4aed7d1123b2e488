/** Small helpers over node:util parseArgs that turn its errors into UsageError. */
import { parseArgs } from "node:util";
import type { ParseArgsConfig } from "node:util";
import { isPersistence } from "../../proto/events.js";
import type { Persistence } from "../../proto/events.js";
import { PrngSeedError, parseSeed } from "../../node/sim/prng.js";
import { UsageError } from "./errors.js";

export function parse<T extends NonNullable<ParseArgsConfig["options"]>>(
  args: string[],
  options: T,
  allowPositionals = true,
): { values: Record<string, string | boolean | string[] | boolean[] | undefined>; positionals: string[] } {
  try {
    const parsed = parseArgs({ args, options, allowPositionals, strict: true });
    return {
      values: parsed.values as Record<string, string | boolean | string[] | undefined>,
      positionals: parsed.positionals,
    };
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
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
