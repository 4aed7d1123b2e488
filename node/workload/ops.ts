/**
 * The operations of the workload language: one table says which fields each op takes, and
 * parseOp turns one JSON object into a checked ParsedOp or a WorkloadOpError that names the op
 * index, the op and the field. The table is also what docs/workload.md lists.
 */
import type { FaultOutcome, PowerLossPolicy } from "../../proto/index.js";
import { isPowerLossPolicy } from "../../proto/index.js";
import type { Errno, Signal } from "../fs/errors.js";
import type { MountOptions } from "../fs/fs.js";
import { MountOptionError, parseMountOptions } from "../fs/fs.js";
import type { OpenFlags } from "../machine.js";
import { PrngSeedError, parseSeed } from "../sim/prng.js";
import { STRERROR } from "../xfs_io/c_lib.js";
import type { DataSpec, NumExpr } from "./values.js";
import {
  VARIABLE_NAME,
  ValueSyntaxError,
  describe,
  parseData,
  parseHex,
  parseMapFlags,
  parseMode,
  parseMsyncFlags,
  parseNum,
  parseOpenFlags,
  parseProt,
} from "./values.js";

type FieldKind =
  "num" | "str" | "bool" | "flags" | "mode" | "prot" | "mapflags" | "msyncflags" | "policy" | "seed" | "mount";

interface FieldSpec {
  kind: FieldKind;
  required: boolean;
}

interface OpSpec {
  fields: Readonly<Record<string, FieldSpec>>;
  /** Takes data: "data": "hex:…" | "text" | "pattern" + "length". */
  data?: true;
  /** Exactly one of these fields must be given (stat: path or fd). */
  oneOf?: readonly string[];
  summary: string;
}

const req = (kind: FieldKind): FieldSpec => ({ kind, required: true });
const opt = (kind: FieldKind): FieldSpec => ({ kind, required: false });
const range = { addr: req("num"), length: req("num") };

/** Every op, its fields and a one-line summary (the docs list is generated from the same text). */
export const OP_SPECS = {
  spawn: { fields: {}, summary: "start a new process; value = its pid" },
  open: {
    fields: { path: req("str"), flags: opt("flags"), mode: opt("mode") },
    summary: "open(2); flags default O_RDONLY, mode 0644; value = fd",
  },
  close: { fields: { fd: req("num") }, summary: "close(2)" },
  read: { fields: { fd: req("num"), length: req("num") }, summary: "read(2) at the file offset; hex = bytes read" },
  pread: { fields: { fd: req("num"), offset: req("num"), length: req("num") }, summary: "pread(2); hex = bytes read" },
  write: { fields: { fd: req("num") }, data: true, summary: "write(2) at the file offset (or EOF with O_APPEND)" },
  pwrite: { fields: { fd: req("num"), offset: req("num") }, data: true, summary: "pwrite(2)" },
  lseek: { fields: { fd: req("num"), offset: req("num") }, summary: "lseek(2) with SEEK_SET" },
  ftruncate: { fields: { fd: req("num"), size: req("num") }, summary: "ftruncate(2)" },
  fallocate: {
    fields: { fd: req("num"), offset: req("num"), length: req("num"), keep_size: opt("bool") },
    summary: "fallocate(2) (mode 0, or FALLOC_FL_KEEP_SIZE)",
  },
  punch: {
    fields: { fd: req("num"), offset: req("num"), length: req("num") },
    summary: "fallocate(FALLOC_FL_PUNCH_HOLE|FALLOC_FL_KEEP_SIZE)",
  },
  zero: {
    fields: { fd: req("num"), offset: req("num"), length: req("num"), keep_size: opt("bool") },
    summary: "fallocate(FALLOC_FL_ZERO_RANGE)",
  },
  fsync: { fields: { fd: req("num") }, summary: "fsync(2)" },
  fdatasync: { fields: { fd: req("num") }, summary: "fdatasync(2)" },
  sync: { fields: {}, summary: "sync(2)" },
  unlink: { fields: { path: req("str") }, summary: "unlink(2)" },
  rename: { fields: { from: req("str"), to: req("str") }, summary: "rename(2) (replaces the target atomically)" },
  mkdir: { fields: { path: req("str") }, summary: "mkdir(2)" },
  rmdir: { fields: { path: req("str") }, summary: "rmdir(2)" },
  readdir: { fields: { path: req("str") }, summary: "the directory's entries; value = count, info = entries" },
  stat: {
    fields: { path: opt("str"), fd: opt("num") },
    oneOf: ["path", "fd"],
    summary: "stat(2) or fstat(2); value = size, info = the stat",
  },
  mmap: {
    fields: { fd: req("num"), offset: opt("num"), length: req("num"), prot: opt("prot"), flags: opt("mapflags") },
    summary:
      'mmap(2); prot "r"|"w"|"rw" (default rw), flags "shared"|"private"|"shared|sync" (default shared); value = address',
  },
  munmap: { fields: { ...range }, summary: "munmap(2)" },
  mremap: {
    fields: { ...range, maymove: opt("bool") },
    summary: "mremap(2) of the mapping at addr to length; value = new address",
  },
  msync: {
    fields: { ...range, flags: opt("msyncflags") },
    summary: 'msync(2); flags "sync"|"async"|"invalidate" (default sync)',
  },
  load: { fields: { ...range }, summary: "user loads from the mapping; hex = bytes loaded" },
  store: { fields: { addr: req("num") }, data: true, summary: "user stores (cached) through the mapping" },
  ntstore: {
    fields: { addr: req("num") },
    data: true,
    summary: "user non-temporal stores (durable at the next sfence)",
  },
  clwb: { fields: { ...range }, summary: "CLWB every line of the range" },
  clflushopt: { fields: { ...range }, summary: "CLFLUSHOPT every line of the range" },
  clflush: { fields: { ...range }, summary: "CLFLUSH every line of the range (durable at once)" },
  sfence: { fields: {}, summary: "SFENCE: flushed lines and non-temporal stores become durable" },
  fork: { fields: {}, summary: "fork(2); value = the child's pid" },
  exit: { fields: {}, summary: "the process exits (its files close, its mappings go)" },
  powerloss: {
    fields: { policy: opt("policy"), seed: opt("seed") },
    summary:
      "power loss (policy strict|eadr-like|random|torn, default strict), then remount with recovery; pid 1 exists again",
  },
  remount: {
    fields: { options: opt("mount") },
    summary: "clean unmount and mount again (optionally with new mount options)",
  },
} as const satisfies Record<string, OpSpec>;

export type OpName = keyof typeof OP_SPECS;
export const OP_NAMES = Object.keys(OP_SPECS) as OpName[];
const COMMON_FIELDS = ["op", "pid", "as", "expect", "comment"];

export type FieldValue =
  | { kind: "num"; value: NumExpr }
  | { kind: "str"; value: string }
  | { kind: "bool"; value: boolean }
  | { kind: "flags"; value: OpenFlags }
  | { kind: "mode"; value: number }
  | { kind: "prot"; value: { read: boolean; write: boolean } }
  | { kind: "mapflags"; value: { shared: boolean; sync: boolean } }
  | { kind: "msyncflags"; value: { sync: boolean; async: boolean; invalidate: boolean } }
  | { kind: "policy"; value: PowerLossPolicy }
  | { kind: "seed"; value: bigint }
  | { kind: "mount"; value: MountOptions };

export interface Expectation {
  ok?: boolean;
  value?: NumExpr;
  errno?: Errno;
  signal?: Signal;
  /** Expected bytes of read/pread/load (from "hex" or "text"). */
  bytes?: Buffer;
  bytesFrom?: "hex" | "text";
  faults?: FaultOutcome[];
  size?: NumExpr;
}

export interface ParsedOp {
  index: number;
  name: OpName;
  pid: NumExpr;
  as: string | undefined;
  expect: Expectation | undefined;
  fields: ReadonlyMap<string, FieldValue>;
  data: DataSpec | undefined;
}

/** A malformed op: names the op index, the op (when known) and the field. */
export class WorkloadOpError extends Error {
  override readonly name = "WorkloadOpError";
  constructor(
    readonly index: number,
    readonly op: string | undefined,
    readonly field: string | undefined,
    detail: string,
  ) {
    super(
      `op ${index}${op !== undefined ? ` (${op})` : ""}: ${field !== undefined ? `field "${field}": ` : ""}${detail}`,
    );
  }
}

const FAULT_OUTCOME_SET: Readonly<Record<FaultOutcome, true>> = {
  "zero-page": true,
  allocated: true,
  mapped: true,
  mkwrite: true,
  cow: true,
  sigbus: true,
  sigsegv: true,
  "page-cache": true,
};
const SIGNALS: readonly Signal[] = ["SIGBUS", "SIGSEGV"];

function isOpName(name: string): name is OpName {
  return Object.prototype.hasOwnProperty.call(OP_SPECS, name);
}

/** Checks one op of a workload; throws WorkloadOpError naming what is wrong. */
export function parseOp(raw: unknown, index: number): ParsedOp {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw))
    throw new WorkloadOpError(
      index,
      undefined,
      undefined,
      `an op must be an object like {"op": "open", ...}, got ${describe(raw)}`,
    );
  const fields = raw as Record<string, unknown>;
  const name = fields.op;
  if (typeof name !== "string")
    throw new WorkloadOpError(index, undefined, "op", `missing or not a string (ops: ${OP_NAMES.join(", ")})`);
  if (!isOpName(name))
    throw new WorkloadOpError(index, name, "op", `unknown op "${name}" (ops: ${OP_NAMES.join(", ")})`);
  const spec: OpSpec = OP_SPECS[name];
  const fail = (field: string | undefined, detail: string): never => {
    throw new WorkloadOpError(index, name, field, detail);
  };
  const dataKeys = spec.data ? ["data", "text", "pattern", "length"] : [];
  const known = [...COMMON_FIELDS, ...Object.keys(spec.fields), ...dataKeys];
  for (const key of Object.keys(fields)) {
    if (!known.includes(key))
      fail(
        key,
        `unknown field (${name} takes: ${[...Object.keys(spec.fields), ...(spec.data ? ["data|text|pattern+length"] : [])].join(", ") || "no fields"}; every op: pid, as, expect, comment)`,
      );
  }
  const parsed = new Map<string, FieldValue>();
  for (const [field, fieldSpec] of Object.entries(spec.fields)) {
    const value = fields[field];
    if (value === undefined) {
      if (fieldSpec.required) fail(field, "missing");
      continue;
    }
    try {
      parsed.set(field, parseField(fieldSpec.kind, value));
    } catch (error) {
      if (error instanceof ValueSyntaxError || error instanceof MountOptionError || error instanceof PrngSeedError)
        fail(field, error.message);
      throw error;
    }
  }
  if (spec.oneOf !== undefined && spec.oneOf.filter((f) => parsed.has(f)).length !== 1)
    fail(undefined, `give exactly one of ${spec.oneOf.map((f) => `"${f}"`).join(" or ")}`);
  let data: DataSpec | undefined;
  if (spec.data) {
    try {
      data = parseData(fields);
    } catch (error) {
      if (error instanceof ValueSyntaxError) fail("data", error.message);
      throw error;
    }
    if (data === undefined)
      fail("data", `missing: give "data": "hex:…", "text": "…", or "pattern": "0x58" with "length"`);
  }
  let pid: NumExpr = { ref: undefined, offset: 1, text: "1" };
  if (fields.pid !== undefined) {
    try {
      pid = parseNum(fields.pid);
    } catch (error) {
      if (error instanceof ValueSyntaxError) fail("pid", error.message);
      throw error;
    }
  }
  const as = fields.as;
  if (as !== undefined && (typeof as !== "string" || !VARIABLE_NAME.test(as)))
    fail("as", `must be a variable name (letters, digits, _; not starting with a digit), got ${describe(as)}`);
  if (fields.comment !== undefined && typeof fields.comment !== "string") fail("comment", "must be a string");
  const expect =
    fields.expect === undefined
      ? undefined
      : parseExpect(fields.expect, (field, detail) => fail(field === undefined ? "expect" : `expect.${field}`, detail));
  return { index, name, pid, as: as as string | undefined, expect, fields: parsed, data };
}

function parseField(kind: FieldKind, value: unknown): FieldValue {
  switch (kind) {
    case "num":
      return { kind, value: parseNum(value) };
    case "str":
      if (typeof value !== "string") throw new ValueSyntaxError(`expected a string, got ${describe(value)}`);
      return { kind, value };
    case "bool":
      if (typeof value !== "boolean") throw new ValueSyntaxError(`expected true or false, got ${describe(value)}`);
      return { kind, value };
    case "flags":
      return { kind, value: parseOpenFlags(value) };
    case "mode":
      return { kind, value: parseMode(value) };
    case "prot":
      return { kind, value: parseProt(value) };
    case "mapflags":
      return { kind, value: parseMapFlags(value) };
    case "msyncflags":
      return { kind, value: parseMsyncFlags(value) };
    case "policy":
      if (typeof value !== "string" || !isPowerLossPolicy(value))
        throw new ValueSyntaxError(`expected "strict", "eadr-like", "random" or "torn", got ${describe(value)}`);
      return { kind, value };
    case "seed":
      if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) return { kind, value: BigInt(value) };
      if (typeof value === "string") return { kind, value: parseSeed(value) };
      throw new ValueSyntaxError(
        `expected a seed (a non-negative integer, or a decimal or 0x-hex string), got ${describe(value)}`,
      );
    case "mount":
      if (typeof value !== "string")
        throw new ValueSyntaxError(`expected mount options like "dax,zero-on-extend=eof", got ${describe(value)}`);
      return { kind, value: parseMountOptions(value) };
  }
}

const EXPECT_KEYS = ["ok", "value", "errno", "signal", "hex", "text", "faults", "size"];

function parseExpect(raw: unknown, fail: (field: string | undefined, detail: string) => never): Expectation {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw))
    return fail(undefined, `must be an object such as {"ok": true}, got ${describe(raw)}`);
  const e = raw as Record<string, unknown>;
  const out: Expectation = {};
  for (const key of Object.keys(e))
    if (!EXPECT_KEYS.includes(key)) fail(key, `unknown expectation (known: ${EXPECT_KEYS.join(", ")})`);
  if (e.ok !== undefined) out.ok = typeof e.ok === "boolean" ? e.ok : fail("ok", "must be true or false");
  for (const key of ["value", "size"] as const) {
    if (e[key] === undefined) continue;
    try {
      out[key] = parseNum(e[key]);
    } catch (error) {
      if (error instanceof ValueSyntaxError) fail(key, error.message);
      throw error;
    }
  }
  if (e.errno !== undefined) {
    if (typeof e.errno !== "string" || !Object.prototype.hasOwnProperty.call(STRERROR, e.errno))
      fail(
        "errno",
        `expected an errno name such as "ENOENT" (known: ${Object.keys(STRERROR).join(", ")}), got ${describe(e.errno)}`,
      );
    out.errno = e.errno as Errno;
  }
  if (e.signal !== undefined) {
    if (!SIGNALS.includes(e.signal as Signal))
      fail("signal", `expected "SIGBUS" or "SIGSEGV", got ${describe(e.signal)}`);
    out.signal = e.signal as Signal;
  }
  if (e.hex !== undefined && e.text !== undefined) fail(undefined, `give "hex" or "text", not both`);
  if (e.hex !== undefined) {
    if (typeof e.hex !== "string") fail("hex", "must be a string of hex digits");
    try {
      out.bytes = parseHex(e.hex as string);
    } catch (error) {
      if (error instanceof ValueSyntaxError) fail("hex", error.message);
      throw error;
    }
    out.bytesFrom = "hex";
  }
  if (e.text !== undefined) {
    if (typeof e.text !== "string") fail("text", "must be a string");
    out.bytes = Buffer.from(e.text as string, "utf8");
    out.bytesFrom = "text";
  }
  if (e.faults !== undefined) {
    if (
      !Array.isArray(e.faults) ||
      !e.faults.every((f) => typeof f === "string" && Object.prototype.hasOwnProperty.call(FAULT_OUTCOME_SET, f))
    ) {
      fail("faults", `must be an array of fault outcomes (${Object.keys(FAULT_OUTCOME_SET).join(", ")})`);
    }
    out.faults = e.faults as FaultOutcome[];
  }
  return out;
}
