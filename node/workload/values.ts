/**
 * The value syntax of the workload language: numbers (integers, xfs_io-style sizes such as "4k",
 * variable references such as "$m+4096"), data (hex, text, or a byte pattern repeated), open flags,
 * protections and mapping flags. Parsing is pure and checks everything that can be checked before
 * the run; only variable references wait for the run (their values come from earlier results).
 */
import type { OpenFlags } from "../machine.js";

/** Largest data payload of one op (data, text or pattern+length), and largest read/load length. */
export const OP_DATA_BYTES_MAX = 64 << 20;
/** Variables one session may bind. */
export const VARIABLES_MAX = 4096;

/** A field whose text could not be understood; the caller adds the op index and field name. */
export class ValueSyntaxError extends Error {
  override readonly name = "ValueSyntaxError";
}

/** A number, possibly relative to a variable bound by an earlier op's `as`. */
export interface NumExpr {
  /** Variable name without "$", or undefined for a literal. */
  ref: string | undefined;
  offset: number;
  /** As written, for messages. */
  text: string;
}

const SUFFIX_BYTES: Readonly<Record<string, number>> = {
  b: 4096,
  s: 512,
  k: 1 << 10,
  m: 1 << 20,
  g: 1 << 30,
  t: 2 ** 40,
  p: 2 ** 50,
  e: 2 ** 60,
};
const LITERAL = /^(-?)(0x[0-9a-f]+|0[0-7]*|[1-9][0-9]*)([bskmgtpe]?)$/i;
const REFERENCE = /^\$([A-Za-z_][A-Za-z0-9_]*)(?:\s*([+-])\s*(.+))?$/;
export const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** "4096", "0x1000", "010" (octal, as C and xfs_io read it), "4k", "-8", "2b" (blocks), "1s" (sectors). */
export function parseLiteral(text: string): number {
  const m = LITERAL.exec(text.trim());
  if (m === null)
    throw new ValueSyntaxError(
      `"${text}" is not a number, a size like "4k" or "1m", or a variable reference like "$fd" or "$m+4096"`,
    );
  const [, sign, digits, suffix] = m as unknown as [string, string, string, string];
  const base = digits.toLowerCase().startsWith("0x") ? 16 : digits.length > 1 && digits.startsWith("0") ? 8 : 10;
  const magnitude = Number.parseInt(base === 16 ? digits.slice(2) : digits, base);
  const value = (sign === "-" ? -1 : 1) * magnitude * (suffix === "" ? 1 : SUFFIX_BYTES[suffix.toLowerCase()]!);
  if (!Number.isSafeInteger(value)) throw new ValueSyntaxError(`"${text}" is too large (beyond 2^53)`);
  return value;
}

export function parseNum(value: unknown): NumExpr {
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value))
      throw new ValueSyntaxError(`${value} is not an integer in the safe range (|n| < 2^53)`);
    return { ref: undefined, offset: value, text: String(value) };
  }
  if (typeof value !== "string")
    throw new ValueSyntaxError(`expected a number or a string such as "4k" or "$fd", got ${describe(value)}`);
  const ref = REFERENCE.exec(value.trim());
  if (ref !== null) {
    const [, name, sign, rest] = ref as unknown as [string, string, string | undefined, string | undefined];
    const offset = rest === undefined ? 0 : (sign === "-" ? -1 : 1) * parseLiteral(rest);
    return { ref: name, offset, text: value };
  }
  if (value.trim().startsWith("$"))
    throw new ValueSyntaxError(
      `"${value}" is not a variable reference: use $name, $name+N or $name-N (N a number or size)`,
    );
  return { ref: undefined, offset: parseLiteral(value), text: value };
}

export function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") return `"${value.length > 40 ? `${value.slice(0, 40)}…` : value}"`;
  return typeof value === "object" ? "an object" : `${typeof value} ${String(value)}`;
}

// ---------------------------------------------------------------------------------------------
// Data

export type DataSpec =
  { kind: "hex"; bytes: Buffer } | { kind: "text"; bytes: Buffer } | { kind: "pattern"; byte: number; length: number };

/** A fresh buffer for one op (the machine takes ownership of what it is given). */
export function materialize(spec: DataSpec): Buffer {
  switch (spec.kind) {
    case "hex":
    case "text":
      return Buffer.from(spec.bytes);
    case "pattern":
      return Buffer.alloc(spec.length, spec.byte);
  }
}

export function dataLength(spec: DataSpec): number {
  return spec.kind === "pattern" ? spec.length : spec.bytes.length;
}

export function parseHex(text: string): Buffer {
  const hex = text.replace(/\s+/g, "");
  if (!/^([0-9a-fA-F]{2})*$/.test(hex))
    throw new ValueSyntaxError(`"${text.slice(0, 40)}" is not an even number of hex digits`);
  if (hex.length / 2 > OP_DATA_BYTES_MAX)
    throw new ValueSyntaxError(`hex data of ${hex.length / 2} bytes is over the ${OP_DATA_BYTES_MAX}-byte limit`);
  return Buffer.from(hex, "hex");
}

/** Reads "data": "hex:…", "text": "…", or "pattern": "0x58" with "length". Undefined when none is given. */
export function parseData(fields: Record<string, unknown>): DataSpec | undefined {
  const given = ["data", "text", "pattern"].filter((k) => fields[k] !== undefined);
  if (given.length === 0) {
    if (fields.length !== undefined)
      throw new ValueSyntaxError(`"length" without "pattern": give "pattern": "0x58" with it`);
    return undefined;
  }
  if (given.length > 1)
    throw new ValueSyntaxError(`give only one of "data", "text", "pattern" (got ${given.join(", ")})`);
  if (fields.data !== undefined) {
    if (typeof fields.data !== "string" || !fields.data.startsWith("hex:"))
      throw new ValueSyntaxError(
        `"data" must be a string "hex:…" (for text use "text", for a repeated byte "pattern" with "length")`,
      );
    if (fields.length !== undefined) throw new ValueSyntaxError(`"length" goes with "pattern" only`);
    return { kind: "hex", bytes: parseHex(fields.data.slice(4)) };
  }
  if (fields.text !== undefined) {
    if (typeof fields.text !== "string")
      throw new ValueSyntaxError(`"text" must be a string, got ${describe(fields.text)}`);
    if (fields.length !== undefined) throw new ValueSyntaxError(`"length" goes with "pattern" only`);
    const bytes = Buffer.from(fields.text, "utf8");
    if (bytes.length > OP_DATA_BYTES_MAX)
      throw new ValueSyntaxError(`text of ${bytes.length} bytes is over the ${OP_DATA_BYTES_MAX}-byte limit`);
    return { kind: "text", bytes };
  }
  const byte =
    typeof fields.pattern === "number"
      ? fields.pattern
      : typeof fields.pattern === "string"
        ? parseLiteralOr(fields.pattern)
        : Number.NaN;
  if (!Number.isInteger(byte) || byte < 0 || byte > 255)
    throw new ValueSyntaxError(`"pattern" must be one byte, 0..255 (e.g. "0x58"), got ${describe(fields.pattern)}`);
  if (fields.length === undefined) throw new ValueSyntaxError(`"pattern" needs "length"`);
  const length = parseNum(fields.length);
  if (length.ref !== undefined) throw new ValueSyntaxError(`"length" of a pattern must be a number, not a variable`);
  if (length.offset < 0 || length.offset > OP_DATA_BYTES_MAX)
    throw new ValueSyntaxError(`"length" ${length.text} must be in [0, ${OP_DATA_BYTES_MAX}]`);
  return { kind: "pattern", byte, length: length.offset };
}

function parseLiteralOr(text: string): number {
  try {
    return parseLiteral(text);
  } catch {
    return Number.NaN;
  }
}

// ---------------------------------------------------------------------------------------------
// Flags

const OPEN_FLAG_NAMES = ["O_RDONLY", "O_WRONLY", "O_RDWR", "O_CREAT", "O_EXCL", "O_TRUNC", "O_APPEND"] as const;

function flagWords(value: unknown, what: string): string[] {
  if (typeof value === "string")
    return value
      .split("|")
      .map((w) => w.trim())
      .filter((w) => w !== "");
  if (Array.isArray(value) && value.every((w) => typeof w === "string"))
    return (value as string[]).map((w) => w.trim());
  throw new ValueSyntaxError(`${what} must be a string like "A|B" or an array of strings, got ${describe(value)}`);
}

/** "O_RDWR|O_CREAT" or ["O_RDWR", "O_CREAT"]. No access mode means O_RDONLY, as in C. */
export function parseOpenFlags(value: unknown): OpenFlags {
  const flags: OpenFlags = { read: true, write: false, create: false, excl: false, trunc: false, append: false };
  let access: string | undefined;
  for (const word of flagWords(value, "open flags")) {
    if (!(OPEN_FLAG_NAMES as readonly string[]).includes(word))
      throw new ValueSyntaxError(`unknown open flag "${word}" (known: ${OPEN_FLAG_NAMES.join(", ")})`);
    if (word === "O_RDONLY" || word === "O_WRONLY" || word === "O_RDWR") {
      if (access !== undefined && access !== word)
        throw new ValueSyntaxError(`${access} and ${word} together: give one access mode`);
      access = word;
      flags.read = word !== "O_WRONLY";
      flags.write = word !== "O_RDONLY";
    } else if (word === "O_CREAT") flags.create = true;
    else if (word === "O_EXCL") flags.excl = true;
    else if (word === "O_TRUNC") flags.trunc = true;
    else flags.append = true;
  }
  return flags;
}

/** 420, "0644" or "0o644". */
export function parseMode(value: unknown): number {
  const mode =
    typeof value === "number"
      ? value
      : typeof value === "string"
        ? Number.parseInt(value.replace(/^0o/i, ""), 8)
        : Number.NaN;
  if (
    !Number.isInteger(mode) ||
    mode < 0 ||
    mode > 0o7777 ||
    (typeof value === "string" && !/^(0o)?[0-7]+$/i.test(value))
  ) {
    throw new ValueSyntaxError(`mode must be permission bits, e.g. "0644" or 420, got ${describe(value)}`);
  }
  return mode;
}

export function parseProt(value: unknown): { read: boolean; write: boolean } {
  if (value === "r") return { read: true, write: false };
  if (value === "w") return { read: false, write: true };
  if (value === "rw" || value === "wr") return { read: true, write: true };
  throw new ValueSyntaxError(`prot must be "r", "w" or "rw", got ${describe(value)}`);
}

export function parseMapFlags(value: unknown): { shared: boolean; sync: boolean } {
  const words = new Set(flagWords(value, "mmap flags"));
  for (const w of words)
    if (w !== "shared" && w !== "private" && w !== "sync")
      throw new ValueSyntaxError(`unknown mmap flag "${w}" (known: shared, private, sync)`);
  if (words.has("shared") && words.has("private")) throw new ValueSyntaxError(`"shared" and "private" together`);
  if (words.has("private") && words.has("sync")) throw new ValueSyntaxError(`"sync" (MAP_SYNC) needs a shared mapping`);
  if (!words.has("shared") && !words.has("private") && !words.has("sync"))
    throw new ValueSyntaxError(`mmap flags need "shared" or "private"`);
  return { shared: !words.has("private"), sync: words.has("sync") };
}

export function parseMsyncFlags(value: unknown): { sync: boolean; async: boolean; invalidate: boolean } {
  const words = new Set(flagWords(value, "msync flags"));
  for (const w of words)
    if (w !== "sync" && w !== "async" && w !== "invalidate")
      throw new ValueSyntaxError(`unknown msync flag "${w}" (known: sync, async, invalidate)`);
  return { sync: words.has("sync"), async: words.has("async"), invalidate: words.has("invalidate") };
}
