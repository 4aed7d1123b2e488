/**
 * Helpers for tests that drive a whole simulated machine: a formatted, mounted Machine over a small
 * DIMM with every event kept, and small assertions on operation results.
 */
import { createHash } from "node:crypto";
import type { Event, Persistence } from "../../proto/index.js";
import { EventLog, MemorySink } from "../events/event_log.js";
import { parseMountOptions } from "../fs/fs.js";
import { Machine } from "../machine.js";
import type { OpenFlags, OpResult } from "../machine.js";
import { StepClock } from "../sim/clock.js";

export const MiB = 1 << 20;

export interface Fixture {
  m: Machine;
  sink: MemorySink;
  log: EventLog;
}

export function newMachine(
  options: { sizeBytes?: number; mount?: string; persistence?: Persistence; seed?: bigint } = {},
): Fixture {
  const sink = new MemorySink();
  const log = new EventLog(sink, new StepClock());
  const m = Machine.format(log, {
    dimm: { sizeBytes: options.sizeBytes ?? 4 * MiB, persistence: options.persistence ?? "adr" },
    mount: parseMountOptions(options.mount ?? ""),
    seed: options.seed ?? 1n,
  });
  return { m, sink, log };
}

export const RDWR: OpenFlags = { read: true, write: true, create: false, excl: false, trunc: false, append: false };
export const CREATE: OpenFlags = { ...RDWR, create: true };
export const RDONLY: OpenFlags = { ...RDWR, write: false };

/** Asserts the operation succeeded and returns it. */
export function ok(r: OpResult): OpResult {
  if (!r.ok) throw new Error(`operation failed: ${r.errno ?? r.signal}: ${r.message}`);
  return r;
}

export function fill(length: number, value: number): Buffer {
  return Buffer.alloc(length, value);
}

/** The file's bytes as read() sees them. */
export function fileBytes(m: Machine, path: string): Buffer {
  const inode = m.fs.lookup(path);
  return m.data.read(inode, 0, inode.size);
}

/** A snapshot of the namespace: path → type, size, and a hash of the content. */
export function tree(m: Machine, dir = "/"): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of m.fs.readdir(dir)) {
    if (e.name === "." || e.name === "..") continue;
    const path = dir === "/" ? `/${e.name}` : `${dir}/${e.name}`;
    if (e.type === "dir") {
      out[path] = "dir";
      Object.assign(out, tree(m, path));
    } else {
      const bytes = fileBytes(m, path);
      out[path] = `file ${bytes.length} ${createHash("sha256").update(bytes).digest("hex").slice(0, 12)}`;
    }
  }
  return out;
}

export function eventsSince(sink: MemorySink, seq: number): Event[] {
  return sink.events.filter((e) => e.seq >= seq);
}

/** Maps `length` bytes of fd shared and read-write; returns the address. */
export function mapShared(
  m: Machine,
  fd: number,
  length: number,
  options: { pid?: number; sync?: boolean; write?: boolean; offset?: number } = {},
): number {
  return ok(
    m.mmap(options.pid ?? 1, {
      fd,
      offset: options.offset ?? 0,
      length,
      read: true,
      write: options.write ?? true,
      shared: true,
      sync: options.sync ?? false,
    }),
  ).value;
}
