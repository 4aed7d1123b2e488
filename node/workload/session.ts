/**
 * The workload executor: a session runs batches of ops against one Machine and keeps the variables
 * that ops bind with `as` from one batch to the next (the gRPC Exec API sends batches; `daxsim run`
 * sends one). It owns the variables, the op counter and the seed stream of power losses.
 *
 * Invariants: exec never throws for a bad op — a malformed op, an unbound variable or an
 * impossible request becomes a record with `error` (the op did not run), an errno or a signal
 * becomes a record with ok false; only programmer errors escape. Records are numbered by the
 * session's op counter, so `i` is unique within a session.
 */
import type { FaultOutcome, PowerLossEvent } from "../../proto/index.js";
import { linesLost, linesPartlyLost } from "../../proto/index.js";
import { PAGE_BYTES } from "../dimm/geometry.js";
import type { Errno, Signal } from "../fs/errors.js";
import { FsCorruptError } from "../fs/errors.js";
import type { FileStat } from "../fs/fs.js";
import type { Machine, OpenFlags, OpResult } from "../machine.js";
import { MachineStateError } from "../machine.js";
import { Prng } from "../sim/prng.js";
import type { Expectation, FieldValue, OpName, ParsedOp } from "./ops.js";
import { WorkloadOpError, parseOp } from "./ops.js";
import type { NumExpr } from "./values.js";
import { OP_DATA_BYTES_MAX, VARIABLES_MAX, dataLength, materialize } from "./values.js";

/** The result of one op, as `daxsim run --json` prints it (one per line). */
export interface OpRecord {
  i: number;
  op: string;
  pid: number;
  ok: boolean;
  value: number;
  errno?: Errno;
  signal?: Signal;
  message?: string;
  /** Bytes returned by read, pread and load, as hex. */
  hex?: string;
  faults: FaultOutcome[];
  /** stat, readdir, powerloss and remount details. */
  info?: unknown;
  /** The op could not run: malformed, or a variable it names is not bound. */
  error?: string;
  /** An expectation did not hold: what was expected and what happened. */
  mismatch?: string;
}

export interface SessionOptions {
  /** Seeds the power losses that do not give their own seed. */
  seed?: bigint;
}

export interface ExecOptions {
  /** Stop after the first record with a mismatch or an error (daxsim run). */
  stopAtFailure?: boolean;
  /** Called with each record as soon as it exists (streaming output). */
  onRecord?: (record: OpRecord) => void;
}

/** Ops one exec call may run. */
export const BATCH_OPS_MAX = 1_000_000;
const O_RDONLY: OpenFlags = Object.freeze({
  read: true,
  write: false,
  create: false,
  excl: false,
  trunc: false,
  append: false,
});

type FieldValues = { [F in FieldValue as F["kind"]]: F["value"] };
type FieldOf<K extends FieldValue["kind"]> = FieldValues[K];

/** A reference to a variable that has no value, or an argument the machine cannot be asked. */
class OpRunError extends Error {
  override readonly name = "OpRunError";
  /** The message without its "op N (name): " prefix, for a caller that adds the prefix itself. */
  readonly detail: string;
  constructor(op: ParsedOp, detail: string) {
    super(`op ${op.index} (${op.name}): ${detail}`);
    this.detail = detail;
  }
}

export class WorkloadSession {
  private readonly vars = new Map<string, number>();
  /** Why a variable has no value: the op that should have bound it failed. */
  private readonly unbound = new Map<string, string>();
  private nextIndex = 0;
  private readonly powerLossSeeds: Prng;

  constructor(
    readonly machine: Machine,
    options: SessionOptions = {},
  ) {
    this.powerLossSeeds = new Prng(options.seed ?? 1n).split("workload-powerloss");
  }

  get variables(): ReadonlyMap<string, number> {
    return this.vars;
  }

  /** Runs a batch of raw (JSON) ops; one record each, in order. */
  exec(ops: readonly unknown[], options: ExecOptions = {}): OpRecord[] {
    if (ops.length > BATCH_OPS_MAX)
      throw new RangeError(`a batch of ${ops.length} ops is over the ${BATCH_OPS_MAX} limit`);
    const records: OpRecord[] = [];
    for (const raw of ops) {
      const record = this.execOne(raw);
      records.push(record);
      options.onRecord?.(record);
      if (options.stopAtFailure && (record.error !== undefined || record.mismatch !== undefined)) break;
    }
    return records;
  }

  /** Parses and runs one op. */
  execOne(raw: unknown): OpRecord {
    const index = this.nextIndex++;
    let op: ParsedOp;
    try {
      op = parseOp(raw, index);
    } catch (error) {
      if (!(error instanceof WorkloadOpError)) throw error;
      const name = typeof (raw as { op?: unknown } | null)?.op === "string" ? (raw as { op: string }).op : "?";
      return { i: index, op: name, pid: 0, ok: false, value: -1, faults: [], error: error.message };
    }
    return this.execParsed(op);
  }

  /** Runs an op already checked by parseOp (its index is the one parseOp was given). */
  execParsed(op: ParsedOp): OpRecord {
    let pid = 0;
    let args: Map<string, number>;
    try {
      pid = this.resolve(op, "pid", op.pid);
      args = new Map<string, number>();
      for (const [field, value] of op.fields)
        if (value.kind === "num") args.set(field, this.resolve(op, field, value.value));
    } catch (error) {
      if (!(error instanceof OpRunError)) throw error;
      return { i: op.index, op: op.name, pid, ok: false, value: -1, faults: [], error: error.message };
    }
    const inodeBefore = op.expect?.size !== undefined ? this.targetInode(op, pid, args) : undefined;
    let result: OpResult;
    try {
      result = this.run(op, pid, args);
    } catch (error) {
      if (!(error instanceof OpRunError || error instanceof MachineStateError || error instanceof FsCorruptError))
        throw error;
      return {
        i: op.index,
        op: op.name,
        pid,
        ok: false,
        value: -1,
        faults: [],
        error: `op ${op.index} (${op.name}): ${error.message}`,
      };
    }
    const record = toRecord(op, pid, result);
    if (op.as !== undefined) this.bind(op, record);
    if (op.expect !== undefined) {
      const ino = inodeBefore ?? (op.expect.size !== undefined ? this.targetInode(op, pid, args) : undefined);
      const mismatch = this.check(op, op.expect, record, result.data, ino);
      if (mismatch !== undefined) record.mismatch = mismatch;
    }
    return record;
  }

  // -------------------------------------------------------------------------------------------
  // Variables

  private resolve(op: ParsedOp, field: string, expr: NumExpr): number {
    if (expr.ref === undefined) return expr.offset;
    const base = this.vars.get(expr.ref);
    if (base === undefined) {
      const why = this.unbound.get(expr.ref) ?? 'no earlier op binds it with "as"';
      throw new OpRunError(op, `field "${field}": $${expr.ref} has no value (${why})`);
    }
    const value = base + expr.offset;
    if (!Number.isSafeInteger(value))
      throw new OpRunError(op, `field "${field}": ${expr.text} = ${value} is out of range`);
    return value;
  }

  private bind(op: ParsedOp, record: OpRecord): void {
    const name = op.as!;
    if (!record.ok) {
      this.vars.delete(name);
      this.unbound.set(
        name,
        `op ${op.index} (${op.name}) that binds it ${record.error !== undefined ? "did not run" : `failed with ${record.errno ?? record.signal}`}`,
      );
      return;
    }
    if (!this.vars.has(name) && this.vars.size >= VARIABLES_MAX)
      throw new RangeError(`more than ${VARIABLES_MAX} variables`);
    this.vars.set(name, record.value);
    this.unbound.delete(name);
  }

  // -------------------------------------------------------------------------------------------
  // Running one op

  private field<K extends FieldValue["kind"]>(op: ParsedOp, name: string, kind: K): FieldOf<K> | undefined {
    const value = op.fields.get(name);
    if (value === undefined) return undefined;
    if (value.kind !== kind) throw new Error(`field ${name} of ${op.name} is ${value.kind}, not ${kind}`);
    return value.value as unknown as FieldOf<K>;
  }

  private str(op: ParsedOp, name: string): string {
    const value = this.field(op, name, "str");
    if (value === undefined) throw new Error(`${op.name}: ${name} missing after parsing`);
    return value;
  }

  private length(op: ParsedOp, args: Map<string, number>, name = "length"): number {
    const n = args.get(name)!;
    if (n > OP_DATA_BYTES_MAX)
      throw new OpRunError(op, `field "${name}": ${n} is over the ${OP_DATA_BYTES_MAX}-byte limit of one op`);
    return n;
  }

  private run(op: ParsedOp, pid: number, args: Map<string, number>): OpResult {
    const m = this.machine;
    const a = (name: string): number => args.get(name)!;
    const name: OpName = op.name;
    switch (name) {
      case "spawn":
        return m.spawn();
      case "open":
        return m.open(
          pid,
          this.str(op, "path"),
          this.field(op, "flags", "flags") ?? O_RDONLY,
          this.field(op, "mode", "mode") ?? 0o644,
        );
      case "close":
        return m.close(pid, a("fd"));
      case "read":
        return m.read(pid, a("fd"), this.length(op, args));
      case "pread":
        return m.read(pid, a("fd"), this.length(op, args), a("offset"));
      case "write":
        return m.write(pid, a("fd"), materialize(op.data!));
      case "pwrite":
        return m.write(pid, a("fd"), materialize(op.data!), a("offset"));
      case "lseek":
        return m.lseek(pid, a("fd"), a("offset"));
      case "ftruncate":
        return m.ftruncate(pid, a("fd"), a("size"));
      case "fallocate":
        return m.fallocate(pid, a("fd"), a("offset"), a("length"), {
          keepSize: this.field(op, "keep_size", "bool") ?? false,
        });
      case "punch":
        return m.fallocate(pid, a("fd"), a("offset"), a("length"), { punchHole: true, keepSize: true });
      case "zero":
        return m.fallocate(pid, a("fd"), a("offset"), a("length"), {
          zeroRange: true,
          keepSize: this.field(op, "keep_size", "bool") ?? false,
        });
      case "fsync":
        return m.fsync(pid, a("fd"), false);
      case "fdatasync":
        return m.fsync(pid, a("fd"), true);
      case "sync":
        return m.sync(pid);
      case "unlink":
        return m.unlink(pid, this.str(op, "path"));
      case "rename":
        return m.rename(pid, this.str(op, "from"), this.str(op, "to"));
      case "mkdir":
        return m.mkdir(pid, this.str(op, "path"));
      case "rmdir":
        return m.rmdir(pid, this.str(op, "path"));
      case "readdir":
        return m.readdir(pid, this.str(op, "path"));
      case "stat": {
        const path = this.field(op, "path", "str");
        return m.stat(pid, path !== undefined ? { path } : { fd: a("fd") });
      }
      case "mmap": {
        const prot = this.field(op, "prot", "prot") ?? { read: true, write: true };
        const flags = this.field(op, "flags", "mapflags") ?? { shared: true, sync: false };
        return m.mmap(pid, {
          fd: a("fd"),
          offset: args.get("offset") ?? 0,
          length: a("length"),
          read: prot.read,
          write: prot.write,
          shared: flags.shared,
          sync: flags.sync,
        });
      }
      case "munmap":
        return m.munmap(pid, a("addr"), a("length"));
      case "mremap":
        return m.mremap(pid, a("addr"), a("length"), this.field(op, "maymove", "bool") ?? false);
      case "msync":
        return m.msync(
          pid,
          a("addr"),
          a("length"),
          this.field(op, "flags", "msyncflags") ?? { sync: true, async: false, invalidate: false },
        );
      case "load":
        return m.load(pid, a("addr"), this.length(op, args));
      case "store":
      case "ntstore":
        if (dataLength(op.data!) === 0) throw new OpRunError(op, `field "data": a store needs at least one byte`);
        return m.store(pid, a("addr"), materialize(op.data!), name === "ntstore");
      case "clwb":
      case "clflushopt":
      case "clflush":
        return m.flush(pid, a("addr"), a("length"), name);
      case "sfence":
        return m.sfence(pid);
      case "fork":
        return m.fork(pid);
      case "exit":
        return m.exit(pid);
      case "powerloss":
        return this.powerLoss(op);
      case "remount": {
        const options = this.field(op, "options", "mount");
        m.remount(options);
        return { ok: true, value: 0, faults: [], info: { options: m.mountOptions } };
      }
      default: {
        const unreachable: never = name;
        throw new Error(`unhandled op ${String(unreachable)}`);
      }
    }
  }

  private powerLoss(op: ParsedOp): OpResult {
    const policy = this.field(op, "policy", "policy") ?? "strict";
    const seed = this.field(op, "seed", "seed") ?? this.powerLossSeeds.nextU64();
    const event: PowerLossEvent = this.machine.powerLoss(policy, seed, `workload op ${op.index}`);
    const mount = this.machine.lastMount;
    return {
      ok: true,
      value: 0,
      faults: [],
      info: {
        policy,
        seed: seed.toString(),
        linesDecided: event.lines.length,
        linesLost: linesLost(event),
        linesPartlyLost: linesPartlyLost(event),
        mediaSha256: Buffer.from(event.mediaSha256).toString("hex"),
        recoveredTxns: mount?.recoveredTxns ?? 0,
        fsckClean: mount?.fsck.clean ?? false,
      },
    };
  }

  /** The inode an op names (by fd, path or mapped address), read without a syscall. */
  private targetInode(op: ParsedOp, pid: number, args: Map<string, number>): number | undefined {
    const mm = this.machine.mm;
    try {
      const fd = args.get("fd");
      if (fd !== undefined) return mm.fileOf(mm.process(pid), fd).ino;
      const path = this.field(op, "path", "str") ?? this.field(op, "to", "str");
      if (path !== undefined) return this.machine.fs.lookup(path).ino;
      const addr = args.get("addr");
      if (addr !== undefined) return mm.process(pid).findVma(Math.floor(addr / PAGE_BYTES))?.ino;
    } catch {
      return undefined;
    }
    return undefined;
  }

  // -------------------------------------------------------------------------------------------
  // Expectations

  private check(
    op: ParsedOp,
    e: Expectation,
    record: OpRecord,
    data: Buffer | undefined,
    ino: number | undefined,
  ): string | undefined {
    const got = outcome(record);
    const problems: string[] = [];
    if (record.error !== undefined) return undefined;
    if (e.ok !== undefined && record.ok !== e.ok) problems.push(`expected ${e.ok ? "success" : "failure"}, got ${got}`);
    if (e.errno !== undefined && record.errno !== e.errno) problems.push(`expected errno ${e.errno}, got ${got}`);
    if (e.signal !== undefined && record.signal !== e.signal) problems.push(`expected signal ${e.signal}, got ${got}`);
    if (e.value !== undefined) {
      const want = this.resolveExpected(op, "expect.value", e.value, problems);
      if (want !== undefined && record.value !== want)
        problems.push(`expected value ${want}${e.value.ref !== undefined ? ` (${e.value.text})` : ""}, got ${got}`);
    }
    if (e.bytes !== undefined) {
      const difference = compareBytes(e.bytes, data);
      if (difference !== undefined)
        problems.push(`expected ${e.bytesFrom} ${preview(e.bytes, e.bytesFrom!)}, ${difference}`);
    }
    if (
      e.faults !== undefined &&
      (e.faults.length !== record.faults.length || e.faults.some((f, i) => record.faults[i] !== f))
    ) {
      problems.push(`expected faults [${e.faults.join(", ")}], got [${record.faults.join(", ")}]`);
    }
    if (e.size !== undefined) {
      const want = this.resolveExpected(op, "expect.size", e.size, problems);
      const size = ino === undefined ? undefined : this.sizeOf(ino);
      if (size === undefined) problems.push(`expected size ${want}, but the op names no file whose size can be read`);
      else if (want !== undefined && size !== want) problems.push(`expected size ${want}, got size ${size}`);
    }
    return problems.length === 0 ? undefined : `op ${op.index} (${op.name}): ${problems.join("; ")}`;
  }

  /** An expected number; an unbound variable in it is one more problem (and undefined). */
  private resolveExpected(op: ParsedOp, field: string, expr: NumExpr, problems: string[]): number | undefined {
    try {
      return this.resolve(op, field, expr);
    } catch (error) {
      if (!(error instanceof OpRunError)) throw error;
      problems.push(error.detail);
      return undefined;
    }
  }

  private sizeOf(ino: number): number | undefined {
    try {
      return this.machine.fs.inode(ino).size;
    } catch {
      return undefined;
    }
  }
}

function toRecord(op: ParsedOp, pid: number, result: OpResult): OpRecord {
  // Keys in the order `daxsim run --json` prints them.
  return {
    i: op.index,
    op: op.name,
    pid,
    ok: result.ok,
    value: result.value,
    ...(result.errno !== undefined ? { errno: result.errno } : {}),
    ...(result.signal !== undefined ? { signal: result.signal } : {}),
    ...(!result.ok && result.message !== undefined ? { message: result.message } : {}),
    ...(result.data !== undefined ? { hex: result.data.toString("hex") } : {}),
    faults: [...result.faults],
    ...(result.info !== undefined ? { info: op.name === "stat" ? { ...(result.info as FileStat) } : result.info } : {}),
  };
}

function outcome(record: OpRecord): string {
  if (record.signal !== undefined) return `signal ${record.signal}`;
  if (record.errno !== undefined) return `errno ${record.errno}`;
  return record.ok ? `success (value ${record.value})` : "failure";
}

function preview(bytes: Buffer, from: "hex" | "text"): string {
  const shown =
    from === "hex" ? bytes.subarray(0, 16).toString("hex") : JSON.stringify(bytes.subarray(0, 32).toString("latin1"));
  return `${shown}${bytes.length > (from === "hex" ? 16 : 32) ? "…" : ""} (${bytes.length} bytes)`;
}

/** Where two byte strings first differ, in words; undefined when equal. */
function compareBytes(want: Buffer, got: Buffer | undefined): string | undefined {
  if (got === undefined) return "but the op returned no bytes";
  const n = Math.min(want.length, got.length);
  for (let i = 0; i < n; i++) {
    if (want[i] !== got[i]) {
      return `got ${got.length} bytes that differ first at byte ${i}: expected ${want[i]!.toString(16).padStart(2, "0")}, got ${got[i]!.toString(16).padStart(2, "0")} (got ${got.subarray(i, i + 16).toString("hex")}…)`;
    }
  }
  if (want.length !== got.length)
    return `got ${got.length} bytes (${got.subarray(0, 16).toString("hex")}${got.length > 16 ? "…" : ""})`;
  return undefined;
}
