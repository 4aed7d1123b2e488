/**
 * One scenario (or a few) per DAX rule S1–S9 of DESIGN §4, named by its ID, with the expected
 * outcome worked out from the rule (and linux-dax-semantics.md, cited by item).
 */
import { describe, expect, it } from "vitest";
import type { FaultEvent, FlushEvent, StoreEvent } from "../../proto/index.js";
import { CREATE, RDONLY, eventsSince, fileBytes, fill, mapShared, newMachine, ok } from "../testing/machine_fixture.js";

const PAGE = 4096;

describe("S1 read/write", () => {
  it("S1: read() is clamped at EOF and holes read as zeros", () => {
    const { m } = newMachine();
    const fd = ok(m.open(1, "/f", CREATE)).value;
    ok(m.write(1, fd, fill(100, 0x41), 3 * PAGE)); // blocks 0..2 are holes
    const r = ok(m.read(1, fd, 5 * PAGE, 0));
    expect(r.value).toBe(3 * PAGE + 100);
    expect(r.data!.subarray(0, 3 * PAGE).every((b) => b === 0)).toBe(true);
    expect(r.data!.subarray(3 * PAGE).every((b) => b === 0x41)).toBe(true);
    expect(ok(m.read(1, fd, 10, 10 * PAGE)).value).toBe(0);
    expect(m.fs.stat(m.fs.lookup("/f")).blocks4k).toBe(1); // holes were not allocated
  });

  it("S1: write() zeroes new blocks, copies with NT stores plus CLWB on unaligned edge lines, and does not fence", () => {
    const { m, sink } = newMachine();
    const fd = ok(m.open(1, "/f", CREATE)).value;
    const start = sink.events.length;
    ok(m.write(1, fd, fill(200, 7), 10)); // unaligned head and tail lines
    const evs = sink.events.slice(start);
    const stores = evs.filter((e): e is StoreEvent => e.kind === "store");
    expect(stores[0]).toMatchObject({ source: "zeroing", nonTemporal: true });
    expect(stores[0]!.data.length).toBe(PAGE);
    const data = stores.filter((s) => s.source === "syscall");
    expect(data.map((s) => [s.nonTemporal, s.data.length])).toEqual([
      [false, 54], // head line [10, 64): cached
      [true, 128], // [64, 192): non-temporal
      [false, 18], // tail line [192, 210): cached
    ]);
    const flushes = evs.filter((e): e is FlushEvent => e.kind === "flush");
    expect(flushes.map((f) => f.flushKind)).toEqual(["clwb", "clwb"]);
    expect(evs.some((e) => e.kind === "fence")).toBe(false);
    expect(data.every((s) => s.inode === m.fs.lookup("/f").ino)).toBe(true);
  });

  it("S1: a write that allocates tears down zero-page mappings so an existing mapping sees the data (generic/428)", () => {
    const { m } = newMachine();
    const fd = ok(m.open(1, "/f", CREATE)).value;
    ok(m.ftruncate(1, fd, 2 * PAGE));
    const addr = mapShared(m, fd, 2 * PAGE);
    expect(ok(m.load(1, addr + PAGE, 4)).faults).toEqual(["zero-page"]);
    ok(m.write(1, fd, Buffer.from("DATA"), PAGE));
    const again = ok(m.load(1, addr + PAGE, 4));
    expect(again.data!.toString()).toBe("DATA");
    expect(again.faults).toEqual(["mapped"]); // the zero-page PTE was gone: a fresh fault
  });
});

describe("S2 mmap", () => {
  it("S2: a read fault on a hole maps the zero page read-only and allocates nothing", () => {
    const { m, sink } = newMachine();
    const fd = ok(m.open(1, "/f", CREATE)).value;
    ok(m.ftruncate(1, fd, PAGE));
    const addr = mapShared(m, fd, PAGE);
    const before = m.fs.freeBlockCount;
    const r = ok(m.load(1, addr, 8));
    expect(r.faults).toEqual(["zero-page"]);
    expect([...r.data!]).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(m.fs.freeBlockCount).toBe(before);
    const fault = sink.events.filter((e): e is FaultEvent => e.kind === "fault").at(-1)!;
    expect(fault).toMatchObject({ outcome: "zero-page", write: false, page: 0, pfn: 0 });
  });

  it("S2: a write fault on a hole allocates a zeroed block, unmaps the zero page from every mapping, and the others refault", () => {
    const { m, sink } = newMachine();
    const fd = ok(m.open(1, "/f", CREATE)).value;
    ok(m.ftruncate(1, fd, PAGE));
    const a1 = mapShared(m, fd, PAGE);
    const child = ok(m.fork(1)).value;
    expect(ok(m.load(1, a1, 1)).faults).toEqual(["zero-page"]);
    expect(ok(m.load(child, a1, 1)).faults).toEqual(["zero-page"]);
    const a2 = mapShared(m, fd, PAGE); // a second mapping in process 1
    expect(ok(m.load(1, a2, 1)).faults).toEqual(["zero-page"]);
    const seq = m.log.nextSeq;
    const w = ok(m.store(child, a1 + 8, Buffer.from("X")));
    expect(w.faults).toEqual(["allocated"]);
    const fault = eventsSince(sink, seq).find((e): e is FaultEvent => e.kind === "fault")!;
    expect(fault.unmapped.map((u) => [u.pid, u.vaddr, u.zeroPage]).sort()).toEqual(
      [
        [1, a1, true],
        [1, a2, true],
        [child, a1, true],
      ].sort(),
    );
    expect(fault.pfn).toBeGreaterThan(0);
    const r1 = ok(m.load(1, a1 + 8, 1));
    expect(r1.faults).toEqual(["mapped"]);
    expect(r1.data!.toString()).toBe("X");
    expect(ok(m.load(1, a2 + 8, 1)).data!.toString()).toBe("X");
    expect(ok(m.load(child, a1 + 8, 1)).faults).toEqual([]); // the faulting process kept its writable PTE
  });

  it("S2: a read fault on an allocated block maps it read-only; the first store takes a mkwrite fault", () => {
    const { m } = newMachine();
    const fd = ok(m.open(1, "/f", CREATE)).value;
    ok(m.write(1, fd, fill(PAGE, 1), 0));
    const addr = mapShared(m, fd, PAGE);
    expect(ok(m.load(1, addr, 1)).faults).toEqual(["mapped"]);
    expect(ok(m.store(1, addr, Buffer.from([2]))).faults).toEqual(["mkwrite"]);
    expect(ok(m.store(1, addr + 1, Buffer.from([3]))).faults).toEqual([]);
    expect([...fileBytes(m, "/f").subarray(0, 3)]).toEqual([2, 3, 1]);
  });
});

describe("S3 private mappings", () => {
  it("S3: a write fault on a private mapping copies the page; the file is never modified and nothing is allocated", () => {
    const { m } = newMachine();
    const fd = ok(m.open(1, "/f", CREATE)).value;
    ok(m.write(1, fd, fill(100, 5), 0));
    ok(m.ftruncate(1, fd, 2 * PAGE)); // page 1 is a hole
    const addr = ok(
      m.mmap(1, { fd, offset: 0, length: 2 * PAGE, read: true, write: true, shared: false, sync: false }),
    ).value;
    const free = m.fs.freeBlockCount;
    expect(ok(m.store(1, addr, Buffer.from([9]))).faults).toEqual(["cow"]);
    expect(ok(m.store(1, addr + PAGE, Buffer.from([8]))).faults).toEqual(["cow"]);
    expect(m.fs.freeBlockCount).toBe(free);
    expect(fileBytes(m, "/f")[0]).toBe(5);
    expect(ok(m.load(1, addr, 2)).data!.toString("hex")).toBe("0905");
    ok(m.write(1, fd, Buffer.from([7]), 1)); // later file changes are invisible to a COWed page (E2)
    expect(ok(m.load(1, addr + 1, 1)).data![0]).toBe(5);
  });

  it("S3: before its first write a private mapping sees later changes to the file (E1)", () => {
    const { m } = newMachine();
    const fd = ok(m.open(1, "/f", CREATE)).value;
    ok(m.write(1, fd, fill(10, 1), 0));
    const addr = ok(
      m.mmap(1, { fd, offset: 0, length: PAGE, read: true, write: true, shared: false, sync: false }),
    ).value;
    expect(ok(m.load(1, addr, 1)).data![0]).toBe(1);
    ok(m.write(1, fd, Buffer.from([4]), 0));
    expect(ok(m.load(1, addr, 1)).data![0]).toBe(4);
  });
});

describe("S4 fork", () => {
  it("S4: shared stores are seen both ways; private pages are inherited as copies; a child's private write stays private", () => {
    const { m } = newMachine();
    const fd = ok(m.open(1, "/f", CREATE)).value;
    ok(m.write(1, fd, fill(2 * PAGE, 0), 0));
    const shared = mapShared(m, fd, PAGE);
    const priv = ok(
      m.mmap(1, { fd, offset: PAGE, length: PAGE, read: true, write: true, shared: false, sync: false }),
    ).value;
    ok(m.store(1, priv, Buffer.from("P")));
    const child = ok(m.fork(1)).value;
    ok(m.store(child, shared, Buffer.from("c")));
    expect(ok(m.load(1, shared, 1)).data!.toString()).toBe("c");
    ok(m.store(1, shared + 1, Buffer.from("p")));
    expect(ok(m.load(child, shared + 1, 1)).data!.toString()).toBe("p");
    expect(ok(m.load(child, priv, 1)).data!.toString()).toBe("P");
    const cw = ok(m.store(child, priv, Buffer.from("Q")));
    expect(cw.faults).toEqual(["cow"]);
    expect(ok(m.load(1, priv, 1)).data!.toString()).toBe("P");
    expect(fileBytes(m, "/f")[PAGE]).toBe(0);
  });
});

describe("S5 EOF", () => {
  it("S5: the EOF page is fully mappable; access at the page-rounded EOF raises SIGBUS (generic/749)", () => {
    const { m } = newMachine();
    const fd = ok(m.open(1, "/f", CREATE)).value;
    ok(m.write(1, fd, fill(1000, 1), 0));
    const addr = mapShared(m, fd, 3 * PAGE);
    const tail = ok(m.load(1, addr + 1000, PAGE - 1000));
    expect(tail.data!.every((b) => b === 0)).toBe(true);
    const child = ok(m.fork(1)).value;
    const past = m.load(child, addr + PAGE, 1);
    expect(past.signal).toBe("SIGBUS");
    expect(past.faults).toEqual(["sigbus"]);
    expect(ok(m.spawn()).ok).toBe(true);
    expect(m.load(child, addr, 1).errno).toBe("ESRCH"); // SIGBUS killed the child
  });

  it("S5: a store beyond EOF inside the last page keeps the size, is invisible to read(), is flagged beyondEof, and survives a power loss once flushed", () => {
    const { m, sink } = newMachine();
    const fd = ok(m.open(1, "/f", CREATE)).value;
    ok(m.write(1, fd, fill(1000, 1), 0));
    ok(m.fsync(1, fd)); // the file itself must be durable to be there after the power loss
    const addr = mapShared(m, fd, PAGE);
    const seq = m.log.nextSeq;
    ok(m.store(1, addr + 996, Buffer.from("ABCDEFGH"))); // crosses EOF at 1000
    const stores = eventsSince(sink, seq).filter((e): e is StoreEvent => e.kind === "store");
    expect(stores.map((s) => [s.fileOffset, s.data.length, s.beyondEof])).toEqual([
      [996, 4, false],
      [1000, 4, true],
    ]);
    expect(m.fs.lookup("/f").size).toBe(1000);
    expect(ok(m.read(1, fd, 2000, 0)).value).toBe(1000);
    ok(m.flush(1, addr + 996, 8, "clwb"));
    ok(m.sfence(1));
    m.powerLoss("strict", 3n);
    const fd2 = ok(m.open(1, "/f", RDONLY)).value;
    const again = ok(
      m.mmap(1, { fd: fd2, offset: 0, length: PAGE, read: true, write: false, shared: true, sync: false }),
    ).value;
    expect(ok(m.load(1, again + 1000, 4)).data!.toString()).toBe("EFGH"); // H2: still on media
    expect(ok(m.read(1, fd2, 2000, 0)).value).toBe(1000);
  });

  it("S5: beyond-EOF bytes are zeroed when the file is extended (zero-on-extend=block), or survive with none", () => {
    for (const [mode, expected] of [
      ["block", "00000000"],
      ["none", "45464748"],
      ["eof", "00000000"],
    ] as const) {
      const { m } = newMachine({ mount: `zero-on-extend=${mode}` });
      const fd = ok(m.open(1, "/f", CREATE)).value;
      ok(m.write(1, fd, fill(1000, 1), 0));
      const addr = mapShared(m, fd, PAGE);
      ok(m.store(1, addr + 1000, Buffer.from("EFGH")));
      ok(m.ftruncate(1, fd, 2000));
      expect(ok(m.read(1, fd, 4, 1000)).data!.toString("hex")).toBe(expected);
    }
  });

  it("S5: truncating down over beyond-EOF data zeroes the rest of the new EOF block", () => {
    const { m } = newMachine();
    const fd = ok(m.open(1, "/f", CREATE)).value;
    ok(m.write(1, fd, fill(3000, 1), 0));
    ok(m.ftruncate(1, fd, 1000));
    const addr = mapShared(m, fd, PAGE);
    expect(ok(m.load(1, addr + 1000, 2000)).data!.every((b) => b === 0)).toBe(true);
  });
});

describe("S6 dirty tracking and sync", () => {
  it("S6: fsync writes back every line of every dirty page, write-protects it in every mapping, and the next store takes mkwrite", () => {
    const { m, sink } = newMachine();
    const fd = ok(m.open(1, "/f", CREATE)).value;
    ok(m.write(1, fd, fill(2 * PAGE, 0), 0));
    const a = mapShared(m, fd, 2 * PAGE);
    const child = ok(m.fork(1)).value;
    ok(m.store(1, a + 10, Buffer.from("x"))); // page 0 dirty (mkwrite)
    ok(m.load(child, a + 10, 1));
    const seq = m.log.nextSeq;
    ok(m.fsync(1, fd));
    const evs = eventsSince(sink, seq);
    const clwb = evs.filter((e): e is FlushEvent => e.kind === "flush" && e.flushKind === "clwb");
    expect(clwb).toHaveLength(1);
    expect(clwb[0]!.lines).toBe(64); // the whole page
    expect(evs.some((e) => e.kind === "fence")).toBe(true);
    expect(m.dimm.loadDurable(clwb[0]!.addr + 10, 1).toString()).toBe("x");
    expect(ok(m.store(1, a + 11, Buffer.from("y"))).faults).toEqual(["mkwrite"]);
    expect(ok(m.store(child, a + 12, Buffer.from("z"))).faults).toEqual(["mkwrite"]);
    const seq2 = m.log.nextSeq;
    ok(m.msync(1, a, PAGE, { async: true }));
    expect(eventsSince(sink, seq2).filter((e) => e.kind !== "op")).toEqual([]); // MS_ASYNC does nothing
    ok(m.msync(1, a, PAGE, { sync: true }));
    expect(m.dimm.loadDurable(clwb[0]!.addr + 11, 2).toString()).toBe("yz");
  });

  it("S6: on eADR, fsync flushes no cache lines", () => {
    const { m, sink } = newMachine({ persistence: "eadr" });
    const fd = ok(m.open(1, "/f", CREATE)).value;
    ok(m.write(1, fd, fill(PAGE, 0), 0));
    const a = mapShared(m, fd, PAGE);
    ok(m.store(1, a, Buffer.from("e")));
    const seq = m.log.nextSeq;
    ok(m.fsync(1, fd));
    expect(eventsSince(sink, seq).filter((e) => e.kind === "flush" && e.source === "syscall")).toEqual([]);
  });
});

describe("S7 MAP_SYNC", () => {
  it("S7: a MAP_SYNC write fault that allocates makes the metadata durable before the PTE is writable; the data still needs a flush", () => {
    const { m } = newMachine();
    const fd = ok(m.open(1, "/f", CREATE)).value;
    ok(m.ftruncate(1, fd, PAGE));
    const addr = mapShared(m, fd, PAGE, { sync: true });
    const r = ok(m.store(1, addr, Buffer.from("S")));
    expect(r.faults).toEqual(["allocated"]);
    m.powerLoss("strict", 1n);
    const inode = m.fs.lookup("/f");
    expect(inode.size).toBe(PAGE); // the size and the allocation are durable
    expect(inode.blocks).toBe(1);
    expect(fileBytes(m, "/f")[0]).toBe(0); // the store itself was never flushed
  });

  it("S7: without MAP_SYNC the same fault's metadata is lost by a power loss before fsync", () => {
    const { m } = newMachine();
    const fd = ok(m.open(1, "/f", CREATE)).value;
    ok(m.fsync(1, fd));
    ok(m.ftruncate(1, fd, PAGE));
    const addr = mapShared(m, fd, PAGE);
    ok(m.store(1, addr, Buffer.from("S")));
    m.powerLoss("strict", 1n);
    expect(m.fs.lookup("/f").size).toBe(0);
  });
});

describe("S8 truncate, punch, zero range", () => {
  it("S8: punch unmaps the pages, zeroes partial blocks in place, frees whole blocks; a refault of a punched page maps the zero page (generic/567)", () => {
    const { m } = newMachine();
    const fd = ok(m.open(1, "/f", CREATE)).value;
    ok(m.write(1, fd, fill(3 * PAGE, 0x58), 0));
    const addr = mapShared(m, fd, 3 * PAGE);
    ok(m.store(1, addr + 2048, fill(8192, 0x59)));
    const blocks = m.fs.lookup("/f").blocks;
    ok(m.fallocate(1, fd, 2048, 8192, { punchHole: true, keepSize: true }));
    expect(m.fs.lookup("/f").blocks).toBe(blocks - 1); // only block 1 is whole
    const r = ok(m.load(1, addr + PAGE, 8));
    expect(r.faults).toEqual(["zero-page"]);
    const content = fileBytes(m, "/f");
    expect(content.subarray(0, 2048).every((b) => b === 0x58)).toBe(true);
    expect(content.subarray(2048, 10240).every((b) => b === 0)).toBe(true);
    expect(content.subarray(10240).every((b) => b === 0x58)).toBe(true);
  });

  it("S8: zero range keeps blocks allocated and reads as zeros; truncate unmaps pages past the new EOF (SIGBUS after)", () => {
    const { m } = newMachine();
    const fd = ok(m.open(1, "/f", CREATE)).value;
    ok(m.write(1, fd, fill(3 * PAGE, 0x31), 0));
    ok(m.fallocate(1, fd, 100, 2 * PAGE, { zeroRange: true, keepSize: true }));
    const c = fileBytes(m, "/f");
    expect(c.subarray(100, 100 + 2 * PAGE).every((b) => b === 0)).toBe(true);
    expect(c[99]).toBe(0x31);
    expect(c[100 + 2 * PAGE]).toBe(0x31);
    expect(m.fs.lookup("/f").blocks).toBe(3);
    const addr = mapShared(m, fd, 3 * PAGE);
    ok(m.load(1, addr + 2 * PAGE, 1));
    ok(m.ftruncate(1, fd, PAGE));
    const child = ok(m.fork(1)).value;
    expect(m.load(child, addr + 2 * PAGE, 1).signal).toBe("SIGBUS");
  });
});

describe("S9 errors", () => {
  it("S9: bad descriptors, offsets, addresses and protections are errno or signal results, never crashes", () => {
    const { m } = newMachine();
    const fd = ok(m.open(1, "/f", CREATE)).value;
    expect(m.read(1, 99, 10).errno).toBe("EBADF");
    expect(m.write(1, fd, Buffer.from("x"), -1).errno).toBe("EINVAL");
    expect(m.write(1, fd, Buffer.from("x"), 2 ** 52).errno).toBe("EFBIG");
    expect(m.open(1, "/nope", RDONLY).errno).toBe("ENOENT");
    expect(m.open(1, "/f", { ...CREATE, excl: true }).errno).toBe("EEXIST");
    expect(m.open(1, "relative", CREATE).errno).toBe("EINVAL");
    expect(m.mkdir(1, "/f/sub").errno).toBe("ENOTDIR");
    expect(m.rmdir(1, "/").errno).toBe("EINVAL");
    const ro = ok(m.open(1, "/f", RDONLY)).value;
    expect(m.write(1, ro, Buffer.from("x"), 0).errno).toBe("EBADF");
    expect(
      m.mmap(1, { fd: ro, offset: 0, length: PAGE, read: true, write: true, shared: true, sync: false }).errno,
    ).toBe("EACCES");
    expect(m.mmap(1, { fd, offset: 1, length: PAGE, read: true, write: true, shared: true, sync: false }).errno).toBe(
      "EINVAL",
    );
    ok(m.ftruncate(1, fd, PAGE));
    const child = ok(m.fork(1)).value;
    const roMap = ok(
      m.mmap(child, { fd, offset: 0, length: PAGE, read: true, write: false, shared: true, sync: false }),
    ).value;
    expect(m.store(child, roMap, Buffer.from("x")).signal).toBe("SIGSEGV");
    const other = ok(m.fork(1)).value;
    expect(m.load(other, 0x1000, 1).signal).toBe("SIGSEGV");
    expect(m.load(1, 0x1000, 0).errno).toBe("EINVAL");
    expect(m.read(77, fd, 1).errno).toBe("ESRCH");
  });

  it("S9: a full DIMM gives ENOSPC (and a short write), and the filesystem stays consistent", () => {
    const { m } = newMachine({ sizeBytes: 1 << 20 });
    const fd = ok(m.open(1, "/big", CREATE)).value;
    const w = ok(m.write(1, fd, fill(2 << 20, 1), 0));
    expect(w.value).toBeGreaterThan(0);
    expect(w.value).toBeLessThan(2 << 20);
    expect(m.write(1, fd, fill(PAGE, 1), 2 << 20).errno).toBe("ENOSPC");
    ok(m.fsync(1, fd));
    expect(m.fsck().clean).toBe(true);
    const f2 = m.open(1, "/more", CREATE);
    if (f2.ok) expect(m.write(1, f2.value, fill(PAGE, 1), 0).errno).toBe("ENOSPC");
    ok(m.sync(1));
    expect(m.fsck().problems).toEqual([]);
  });
});
