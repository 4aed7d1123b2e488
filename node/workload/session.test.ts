import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { EventLog, NullSink } from "../events/event_log.js";
import { Machine } from "../machine.js";
import { StepClock } from "../sim/clock.js";
import type { OpRecord } from "./session.js";
import { WorkloadSession } from "./session.js";
import { machineForWorkload, parseWorkload } from "./workload_file.js";

const examples = join(import.meta.dirname, "..", "..", "examples");

function session(seed = 1n): WorkloadSession {
  const m = Machine.format(new EventLog(new NullSink(), new StepClock()), { dimm: { sizeBytes: 16 << 20 }, seed });
  return new WorkloadSession(m, { seed });
}

function only(records: OpRecord[]): OpRecord {
  expect(records).toHaveLength(1);
  return records[0]!;
}

describe("workload session", () => {
  it("session: variables bound with `as` carry over to later batches, with offsets", () => {
    const s = session();
    const [open, write] = s.exec([
      { op: "open", path: "/f", flags: "O_RDWR|O_CREAT", as: "fd" },
      { op: "pwrite", fd: "$fd", offset: 0, pattern: "0x58", length: "8k" },
    ]);
    expect(open).toEqual({ i: 0, op: "open", pid: 1, ok: true, value: 3, faults: [] });
    expect(write).toMatchObject({ i: 1, ok: true, value: 8192 });
    const later = s.exec([
      { op: "mmap", fd: "$fd", length: "8k", as: "m" },
      { op: "load", addr: "$m+4094", length: 4, expect: { hex: "58585858", faults: ["mapped", "mapped"] } },
    ]);
    expect(later.map((r) => r.i)).toEqual([2, 3]);
    expect(later[1]).toMatchObject({ ok: true, value: 4, hex: "58585858" });
    expect(later[1]!.mismatch).toBeUndefined();
    expect(s.variables.get("m")).toBe(later[0]!.value);
  });

  it("session: a malformed op or an unbound variable becomes a record with `error`; nothing throws and later ops run", () => {
    const s = session();
    const records = s.exec([
      { op: "pwrite", fd: "$fd", offset: 0, text: "x" },
      { op: "stat", path: "/" },
      "junk",
      { op: "open", path: "/missing", as: "fd" },
      { op: "close", fd: "$fd" },
      { op: "sync" },
    ]);
    expect(records.map((r) => r.i)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(records[0]).toEqual({
      i: 0,
      op: "pwrite",
      pid: 1,
      ok: false,
      value: -1,
      faults: [],
      error: `op 0 (pwrite): field "fd": $fd has no value (no earlier op binds it with "as")`,
    });
    expect(records[1]).toMatchObject({ ok: true, info: { type: "dir" } });
    expect(records[2]).toMatchObject({
      op: "?",
      ok: false,
      error: `op 2: an op must be an object like {"op": "open", ...}, got "junk"`,
    });
    expect(records[3]).toMatchObject({ ok: false, errno: "ENOENT" });
    expect(records[4]!.error).toBe(
      `op 4 (close): field "fd": $fd has no value (op 3 (open) that binds it failed with ENOENT)`,
    );
    expect(records[5]).toMatchObject({ ok: true });
  });

  it("session: an unbound variable in an expectation is a mismatch that names the op once", () => {
    const s = session();
    const [record] = s.exec([{ op: "stat", path: "/", expect: { size: "$nothing" } }]);
    expect(record!.mismatch).toBe(
      `op 0 (stat): field "expect.size": $nothing has no value (no earlier op binds it with "as")`,
    );
  });

  it("session: errno and signals are results (S9); a fatal signal kills only that process", () => {
    const s = session();
    const records = s.exec([
      { op: "close", fd: 42, expect: { errno: "EBADF" } },
      { op: "open", path: "/f", flags: "O_RDWR|O_CREAT", as: "fd" },
      { op: "pwrite", fd: "$fd", offset: 0, text: "abc" },
      { op: "mmap", fd: "$fd", length: "8k", prot: "r", as: "m" },
      { op: "fork", as: "child" },
      { op: "store", addr: "$m", text: "z", expect: { signal: "SIGSEGV", faults: ["sigsegv"] } },
      { op: "stat", path: "/f", expect: { errno: "ESRCH" }, comment: "pid 1 died of SIGSEGV" },
      { op: "load", pid: "$child", addr: "$m+4096", length: 1, expect: { signal: "SIGBUS", faults: ["sigbus"] } },
      { op: "spawn", as: "p" },
      { op: "open", pid: "$p", path: "/f", as: "fd2" },
      { op: "read", pid: "$p", fd: "$fd2", length: 10, expect: { text: "abc", value: 3 } },
    ]);
    expect(records.filter((r) => r.mismatch !== undefined || r.error !== undefined)).toEqual([]);
    expect(records[5]!.message).toMatch(/store to read-only mapping/);
  });

  it("session: a failed expectation says what was expected and what happened", () => {
    const s = session();
    s.exec([
      { op: "open", path: "/f", flags: "O_RDWR|O_CREAT", as: "fd" },
      { op: "pwrite", fd: "$fd", offset: 0, pattern: "0x41", length: 100 },
    ]);
    const check = (raw: Record<string, unknown>): string | undefined => only(s.exec([raw])).mismatch;
    expect(check({ op: "pread", fd: "$fd", offset: 0, length: 4, expect: { value: 5 } })).toMatch(
      /^op \d+ \(pread\): expected value 5, got success \(value 4\)$/,
    );
    expect(check({ op: "pread", fd: "$fd", offset: 0, length: 4, expect: { errno: "EIO" } })).toMatch(
      /expected errno EIO, got success \(value 4\)/,
    );
    expect(check({ op: "pread", fd: 99, offset: 0, length: 4, expect: { ok: true } })).toMatch(
      /expected success, got errno EBADF/,
    );
    expect(check({ op: "pread", fd: "$fd", offset: 0, length: 4, expect: { hex: "41414241" } })).toMatch(
      /expected hex 41414241 \(4 bytes\), got 4 bytes that differ first at byte 2: expected 42, got 41 \(got 4141…\)/,
    );
    expect(check({ op: "pread", fd: "$fd", offset: 98, length: 4, expect: { text: "AAAA" } })).toMatch(
      /expected text "AAAA" \(4 bytes\), got 2 bytes \(4141\)/,
    );
    expect(check({ op: "ftruncate", fd: "$fd", size: 50, expect: { size: 100 } })).toMatch(
      /expected size 100, got size 50/,
    );
    expect(check({ op: "sync", expect: { size: 1 } })).toMatch(
      /expected size 1, but the op names no file whose size can be read/,
    );
    expect(check({ op: "stat", fd: "$fd", expect: { value: "$fd" } })).toMatch(
      /expected value 3 \(\$fd\), got success \(value 50\)/,
    );
    expect(check({ op: "mmap", fd: "$fd", length: 4096, as: "m", expect: { value: "$m" } })).toBeUndefined();
    expect(check({ op: "load", addr: "$m", length: 1, expect: { faults: ["zero-page"] } })).toMatch(
      /expected faults \[zero-page\], got \[mapped\]/,
    );
  });

  it("session: stopAtFailure ends the batch at the first mismatch", () => {
    const s = session();
    const records = s.exec([{ op: "sync", expect: { ok: false } }, { op: "sync" }], { stopAtFailure: true });
    expect(records).toHaveLength(1);
    expect(records[0]!.mismatch).toMatch(/expected failure, got success/);
  });

  it("session: size expectations read the file an fd, path or mapped address names, after the op", () => {
    const s = session();
    const records = s.exec([
      { op: "open", path: "/f", flags: "O_RDWR|O_CREAT", as: "fd" },
      { op: "pwrite", fd: "$fd", offset: 0, text: "0123456789", expect: { size: 10 } },
      { op: "mmap", fd: "$fd", length: 4096, as: "m" },
      { op: "store", addr: "$m+100", text: "x", expect: { size: 10 }, comment: "beyond EOF: size unchanged (S5)" },
      { op: "stat", path: "/f", expect: { size: 10, value: 10 } },
      { op: "rename", from: "/f", to: "/g", expect: { size: 10 } },
    ]);
    expect(records.filter((r) => r.mismatch !== undefined || r.error !== undefined)).toEqual([]);
  });

  it("session: power losses without a seed draw from the session seed (reproducible); info says what was lost", () => {
    const ops = [
      { op: "open", path: "/f", flags: "O_RDWR|O_CREAT", as: "fd" },
      { op: "fsync", fd: "$fd" },
      { op: "pwrite", fd: "$fd", offset: 0, pattern: "0x58", length: "4k" },
      { op: "powerloss", policy: "random" },
    ];
    const a = session(9n).exec(ops)[3]!;
    const b = session(9n).exec(ops)[3]!;
    const c = session(10n).exec(ops)[3]!;
    expect(a.info).toEqual(b.info);
    expect((a.info as { seed: string }).seed).not.toBe((c.info as { seed: string }).seed);
    expect(a.info).toMatchObject({ policy: "random", linesDecided: expect.any(Number), fsckClean: true });
    expect((a.info as { linesDecided: number }).linesDecided).toBeGreaterThan(0);
  });

  it("session: remount changes mount options; readdir lists entries", () => {
    const s = session();
    const [mkdir, remount, readdir] = s.exec([
      { op: "mkdir", path: "/d" },
      { op: "remount", options: "dax,zero-on-extend=eof" },
      { op: "readdir", path: "/" },
    ]);
    expect(mkdir!.ok).toBe(true);
    expect(remount!.info).toMatchObject({ options: { zeroOnExtend: "eof" } });
    expect((readdir!.info as Array<{ name: string }>).map((e) => e.name)).toContain("d");
    expect(s.machine.mountOptions.zeroOnExtend).toBe("eof");
  });

  it("session: a read longer than the per-op limit is refused before it runs", () => {
    const s = session();
    s.exec([{ op: "open", path: "/f", flags: "O_RDWR|O_CREAT", as: "fd" }]);
    expect(only(s.exec([{ op: "pread", fd: "$fd", offset: 0, length: "65m" }])).error).toMatch(
      /field "length": 68157440 is over the 67108864-byte limit of one op/,
    );
  });

  it("session: every example workload in examples/ passes its own expectations", () => {
    const files = readdirSync(examples).filter((f) => f.endsWith(".json"));
    expect(files.length).toBeGreaterThanOrEqual(4);
    for (const file of files) {
      const workload = parseWorkload(JSON.parse(readFileSync(join(examples, file), "utf8")));
      const machine = machineForWorkload(workload.settings, new EventLog(new NullSink(), new StepClock()));
      const records = new WorkloadSession(machine, { seed: workload.settings.seed }).exec(workload.rawOps);
      const failed = records.filter((r) => r.mismatch !== undefined || r.error !== undefined);
      expect(failed, file).toEqual([]);
      expect(records.length, file).toBe(workload.ops.length);
      expect(
        records.some((r) => r.op !== "open" && workload.ops[r.i]!.expect !== undefined),
        file,
      ).toBe(true);
    }
  });
});
