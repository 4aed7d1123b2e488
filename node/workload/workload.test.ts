import { describe, expect, it } from "vitest";
import { OP_NAMES, OP_SPECS, WorkloadOpError, parseOp } from "./ops.js";
import { ValueSyntaxError, parseNum, parseOpenFlags } from "./values.js";
import { WorkloadFileError, parseWorkload } from "./workload_file.js";

/** A valid example of every op (the test below checks that none is missing). */
export const EXAMPLE_OPS: Record<string, Record<string, unknown>> = {
  spawn: { op: "spawn" },
  open: { op: "open", path: "/f", flags: "O_RDWR|O_CREAT", mode: "0600" },
  close: { op: "close", fd: "$fd" },
  read: { op: "read", fd: 3, length: "4k" },
  pread: { op: "pread", fd: 3, offset: 0, length: 10 },
  write: { op: "write", fd: 3, text: "hello" },
  pwrite: { op: "pwrite", fd: 3, offset: "1m", data: "hex:58585858" },
  lseek: { op: "lseek", fd: 3, offset: 100 },
  ftruncate: { op: "ftruncate", fd: 3, size: "0x1000" },
  fallocate: { op: "fallocate", fd: 3, offset: 0, length: "8k", keep_size: true },
  punch: { op: "punch", fd: 3, offset: 2048, length: 8192 },
  zero: { op: "zero", fd: 3, offset: 0, length: 100, keep_size: false },
  fsync: { op: "fsync", fd: 3 },
  fdatasync: { op: "fdatasync", fd: 3 },
  sync: { op: "sync" },
  unlink: { op: "unlink", path: "/f" },
  rename: { op: "rename", from: "/a", to: "/b" },
  mkdir: { op: "mkdir", path: "/d" },
  rmdir: { op: "rmdir", path: "/d" },
  readdir: { op: "readdir", path: "/" },
  stat: { op: "stat", path: "/f" },
  mmap: { op: "mmap", fd: 3, offset: 0, length: "8k", prot: "rw", flags: "shared|sync" },
  munmap: { op: "munmap", addr: "$m", length: 4096 },
  mremap: { op: "mremap", addr: "$m", length: "16k", maymove: true },
  msync: { op: "msync", addr: "$m", length: 4096, flags: "async" },
  load: { op: "load", addr: "$m+4096", length: 8 },
  store: { op: "store", addr: "$m-8", pattern: "0x58", length: 5120 },
  ntstore: { op: "ntstore", addr: "$m", data: "hex:00ff" },
  clwb: { op: "clwb", addr: "$m", length: 64 },
  clflushopt: { op: "clflushopt", addr: "$m", length: 64 },
  clflush: { op: "clflush", addr: "$m", length: 64 },
  sfence: { op: "sfence", pid: 2 },
  fork: { op: "fork", as: "child" },
  exit: { op: "exit", pid: "$child" },
  powerloss: { op: "powerloss", policy: "torn", seed: "0x2a" },
  remount: { op: "remount", options: "dax,zero-on-extend=eof" },
};

function errorOf(raw: unknown, index = 0): WorkloadOpError {
  try {
    parseOp(raw, index);
  } catch (error) {
    if (error instanceof WorkloadOpError) return error;
    throw error;
  }
  throw new Error(`${JSON.stringify(raw)} parsed`);
}

describe("workload parser", () => {
  it("workload: every op has a valid example, and it parses", () => {
    expect(Object.keys(EXAMPLE_OPS).sort()).toEqual([...OP_NAMES].sort());
    OP_NAMES.forEach((name, i) => {
      const op = parseOp(EXAMPLE_OPS[name], i);
      expect(op.name).toBe(name);
      expect(op.index).toBe(i);
    });
  });

  it("workload: a missing required field is named with the op index and the op, for every op", () => {
    for (const name of OP_NAMES) {
      for (const [field, spec] of Object.entries(OP_SPECS[name].fields as Record<string, { required: boolean }>)) {
        if (!spec.required) continue;
        const raw = { ...EXAMPLE_OPS[name] };
        delete raw[field];
        expect(errorOf(raw, 7).message).toBe(`op 7 (${name}): field "${field}": missing`);
      }
      if ("data" in OP_SPECS[name]) {
        const raw = { op: name, fd: 3, offset: 0, addr: 0 };
        const message = errorOf(
          Object.fromEntries(Object.entries(raw).filter(([k]) => k === "op" || k in OP_SPECS[name].fields)),
          2,
        ).message;
        expect(message).toMatch(
          new RegExp(`^op 2 \\(${name}\\): field "data": missing: give "data": "hex:…", "text": "…", or "pattern"`),
        );
      }
    }
  });

  it("workload: malformed ops get clear errors naming index, op and field", () => {
    expect(errorOf("open", 0).message).toBe(`op 0: an op must be an object like {"op": "open", ...}, got "open"`);
    expect(errorOf({ path: "/f" }, 1).message).toMatch(/^op 1: field "op": missing or not a string/);
    expect(errorOf({ op: "opne" }, 2).message).toMatch(
      /^op 2 \(opne\): field "op": unknown op "opne" \(ops: spawn, open, /,
    );
    expect(errorOf({ op: "pwrite", fd: 3, ofset: 0, text: "x" }, 3).message).toMatch(
      /^op 3 \(pwrite\): field "ofset": unknown field \(pwrite takes: fd, offset, data\|text\|pattern\+length; every op: pid, as, expect, comment\)$/,
    );
    expect(errorOf({ op: "pread", fd: 3, offset: "12q", length: 1 }, 4).message).toMatch(
      /^op 4 \(pread\): field "offset": "12q" is not a number, a size like "4k"/,
    );
    expect(errorOf({ op: "pread", fd: "$", offset: 0, length: 1 }, 5).message).toMatch(
      /field "fd": "\$" is not a variable reference/,
    );
    expect(errorOf({ op: "read", fd: 3, length: 1.5 }).message).toMatch(/field "length": 1.5 is not an integer/);
    expect(errorOf({ op: "read", fd: 3, length: true }).message).toMatch(
      /field "length": expected a number or a string/,
    );
    expect(errorOf({ op: "open", path: "/f", flags: "O_RDWR|O_CREATE" }).message).toMatch(
      /field "flags": unknown open flag "O_CREATE"/,
    );
    expect(errorOf({ op: "open", path: "/f", flags: "O_RDONLY|O_WRONLY" }).message).toMatch(
      /O_RDONLY and O_WRONLY together/,
    );
    expect(errorOf({ op: "open", path: "/f", mode: "0999" }).message).toMatch(
      /field "mode": mode must be permission bits/,
    );
    expect(errorOf({ op: "open", path: 7 }).message).toMatch(/field "path": expected a string, got number 7/);
    expect(errorOf({ op: "mmap", fd: 3, length: 1, prot: "x" }).message).toMatch(
      /field "prot": prot must be "r", "w" or "rw"/,
    );
    expect(errorOf({ op: "mmap", fd: 3, length: 1, flags: "private|sync" }).message).toMatch(
      /field "flags": "sync" \(MAP_SYNC\) needs a shared mapping/,
    );
    expect(errorOf({ op: "msync", addr: 0, length: 1, flags: "now" }).message).toMatch(/unknown msync flag "now"/);
    expect(errorOf({ op: "fallocate", fd: 3, offset: 0, length: 1, keep_size: "yes" }).message).toMatch(
      /field "keep_size": expected true or false/,
    );
    expect(errorOf({ op: "powerloss", policy: "lenient" }).message).toMatch(
      /field "policy": expected "strict", "eadr-like", "random" or "torn"/,
    );
    expect(errorOf({ op: "powerloss", seed: -1 }).message).toMatch(/field "seed": expected a seed/);
    expect(errorOf({ op: "remount", options: "dax,fast" }).message).toMatch(
      /field "options": mount option "fast" is not one of/,
    );
    expect(errorOf({ op: "stat" }).message).toBe(`op 0 (stat): give exactly one of "path" or "fd"`);
    expect(errorOf({ op: "stat", path: "/f", fd: 3 }).message).toBe(`op 0 (stat): give exactly one of "path" or "fd"`);
    expect(errorOf({ op: "sync", pid: "one" }).message).toMatch(/field "pid": "one" is not a number/);
    expect(errorOf({ op: "sync", as: "1x" }).message).toMatch(/field "as": must be a variable name/);
    expect(errorOf({ op: "sync", comment: 3 }).message).toMatch(/field "comment": must be a string/);
  });

  it("workload: data is hex, text, or a pattern with a length — exactly one", () => {
    expect(parseOp({ op: "write", fd: 3, data: "hex:00 ff" }, 0).data).toEqual({
      kind: "hex",
      bytes: Buffer.from([0, 255]),
    });
    expect(parseOp({ op: "write", fd: 3, text: "é" }, 0).data).toEqual({ kind: "text", bytes: Buffer.from("é") });
    expect(parseOp({ op: "write", fd: 3, pattern: 88, length: "5k" }, 0).data).toEqual({
      kind: "pattern",
      byte: 88,
      length: 5120,
    });
    expect(errorOf({ op: "write", fd: 3, data: "hex:123" }).message).toMatch(
      /field "data": "123" is not an even number of hex digits/,
    );
    expect(errorOf({ op: "write", fd: 3, data: "58" }).message).toMatch(
      /field "data": "data" must be a string "hex:…"/,
    );
    expect(errorOf({ op: "write", fd: 3, data: "hex:00", text: "a" }).message).toMatch(
      /give only one of "data", "text", "pattern" \(got data, text\)/,
    );
    expect(errorOf({ op: "write", fd: 3, pattern: "0x58" }).message).toMatch(/"pattern" needs "length"/);
    expect(errorOf({ op: "write", fd: 3, pattern: "0x158", length: 1 }).message).toMatch(/"pattern" must be one byte/);
    expect(errorOf({ op: "write", fd: 3, text: "a", length: 1 }).message).toMatch(/"length" goes with "pattern" only/);
    expect(errorOf({ op: "write", fd: 3, pattern: 1, length: "$n" }).message).toMatch(
      /"length" of a pattern must be a number, not a variable/,
    );
    expect(errorOf({ op: "write", fd: 3, pattern: 1, length: "65m" }).message).toMatch(/must be in \[0, 67108864\]/);
  });

  it("workload: numbers are integers, xfs_io-style sizes, or variable references with an offset", () => {
    expect(parseNum(4096)).toEqual({ ref: undefined, offset: 4096, text: "4096" });
    expect(parseNum("4k").offset).toBe(4096);
    expect(parseNum("1M").offset).toBe(1 << 20);
    expect(parseNum("0x10").offset).toBe(16);
    expect(parseNum("010").offset).toBe(8);
    expect(parseNum("2b").offset).toBe(8192);
    expect(parseNum("-8").offset).toBe(-8);
    expect(parseNum("$fd")).toEqual({ ref: "fd", offset: 0, text: "$fd" });
    expect(parseNum("$m+4096")).toEqual({ ref: "m", offset: 4096, text: "$m+4096" });
    expect(parseNum("$m - 8")).toEqual({ ref: "m", offset: -8, text: "$m - 8" });
    expect(parseNum("$m+4k").offset).toBe(4096);
    for (const bad of ["4kk", "08", "", "1.5", "$1x", "$m+", "$m*2", "0x"])
      expect(() => parseNum(bad)).toThrow(ValueSyntaxError);
    expect(() => parseNum(2 ** 60)).toThrow(/safe range/);
    expect(() => parseNum("8e")).toThrow(/too large/);
  });

  it("workload: open flags accept a |-string or an array; no access mode is O_RDONLY", () => {
    expect(parseOpenFlags("O_WRONLY|O_CREAT|O_TRUNC")).toEqual({
      read: false,
      write: true,
      create: true,
      excl: false,
      trunc: true,
      append: false,
    });
    expect(parseOpenFlags(["O_RDWR", "O_APPEND", "O_EXCL"])).toEqual({
      read: true,
      write: true,
      create: false,
      excl: true,
      trunc: false,
      append: true,
    });
    expect(parseOpenFlags("O_CREAT")).toMatchObject({ read: true, write: false });
  });

  it("workload: expectations are checked when parsed", () => {
    const op = parseOp(
      {
        op: "load",
        addr: 0,
        length: 2,
        expect: { ok: true, hex: "5a5a", faults: ["zero-page"], size: "4k", value: "$n+1" },
      },
      0,
    );
    expect(op.expect).toMatchObject({
      ok: true,
      bytes: Buffer.from("ZZ"),
      bytesFrom: "hex",
      faults: ["zero-page"],
      size: { offset: 4096 },
      value: { ref: "n", offset: 1 },
    });
    expect(errorOf({ op: "sync", expect: { ok: "yes" } }).message).toMatch(/field "expect.ok": must be true or false/);
    expect(errorOf({ op: "sync", expect: { errno: "ENOENTT" } }).message).toMatch(
      /field "expect.errno": expected an errno name/,
    );
    expect(errorOf({ op: "sync", expect: { signal: "SIGKILL" } }).message).toMatch(
      /field "expect.signal": expected "SIGBUS" or "SIGSEGV"/,
    );
    expect(errorOf({ op: "sync", expect: { faults: ["minor"] } }).message).toMatch(
      /field "expect.faults": must be an array of fault outcomes/,
    );
    expect(errorOf({ op: "sync", expect: { hex: "zz" } }).message).toMatch(
      /field "expect.hex": "zz" is not an even number/,
    );
    expect(errorOf({ op: "sync", expect: { hex: "00", text: "a" } }).message).toMatch(
      /field "expect": give "hex" or "text", not both/,
    );
    expect(errorOf({ op: "sync", expect: { sized: 1 } }).message).toMatch(/field "expect.sized": unknown expectation/);
    expect(errorOf({ op: "sync", expect: [] }).message).toMatch(/field "expect": must be an object/);
  });

  it("workload: a file is an array of ops or an object with dimm, mount, seed and ops", () => {
    expect(parseWorkload([{ op: "sync" }]).settings).toMatchObject({
      dimm: { sizeBytes: 16 << 20, persistence: "adr" },
      seed: 1n,
      given: { dimm: false, mount: false, seed: false },
    });
    const w = parseWorkload({
      dimm: { size: "32M", persistence: "eadr" },
      mount: "dax,zero-on-extend=eof",
      seed: "0x10",
      ops: [{ op: "sync" }],
      comment: "c",
    });
    expect(w.settings).toMatchObject({
      dimm: { sizeBytes: 32 << 20, persistence: "eadr" },
      mount: { dax: true, zeroOnExtend: "eof" },
      seed: 16n,
    });
    expect(w.ops).toHaveLength(1);
    const bad: Array<[unknown, RegExp]> = [
      [{ ops: [], extra: 1 }, /unknown top-level field "extra"/],
      [{ dimm: { size: "3K" }, ops: [] }, /"dimm.size": DIMM size 3072 bytes is outside/],
      [{ dimm: { size: "16M", persistence: "battery" }, ops: [] }, /"dimm.persistence" must be "adr" or "eadr"/],
      [{ dimm: { sizes: 1 }, ops: [] }, /unknown field "dimm.sizes"/],
      [{ mount: "dax,zero-on-extend=all", ops: [] }, /"mount": mount option "zero-on-extend=all"/],
      [{ seed: "-3", ops: [] }, /"seed": seed "-3"/],
      [{ seed: 1 }, /missing "ops"/],
      [{ ops: {} }, /"ops" must be an array/],
      [42, /a workload is a JSON array of ops or an object with "ops"/],
    ];
    for (const [doc, message] of bad) expect(() => parseWorkload(doc)).toThrow(message);
  });

  it("workload: every malformed op of a file is listed, by index", () => {
    let caught: WorkloadFileError | undefined;
    try {
      parseWorkload([{ op: "sync" }, { op: "read", fd: 3 }, { op: "sync" }, { op: "nope" }]);
    } catch (error) {
      caught = error as WorkloadFileError;
    }
    expect(caught).toBeInstanceOf(WorkloadFileError);
    expect(caught!.opErrors.map((e) => e.index)).toEqual([1, 3]);
    expect(caught!.message).toBe(
      `2 malformed ops:\n  op 1 (read): field "length": missing\n  op 3 (nope): field "op": unknown op "nope" (ops: ${OP_NAMES.join(", ")})`,
    );
  });
});
