/**
 * Sequences in the spirit of xfstests' mapped-write-vs-truncate, punch and zero-range tests, with
 * expected file contents worked out from the semantics, checked before and after a clean remount
 * (xfstests' cycle mount) — plus nodax mode, and a model-based random workload.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CREATE, fileBytes, fill, mapShared, newMachine, ok, tree } from "../testing/machine_fixture.js";
import type { Machine } from "../machine.js";

const PAGE = 4096;

/** Expected content from (offset, length, byte) runs over a file of `size` bytes. */
function expected(size: number, runs: Array<[number, number, number]>): Buffer {
  const b = Buffer.alloc(size);
  for (const [off, len, value] of runs) b.fill(value, off, Math.min(size, off + len));
  return b;
}

function checkBeforeAndAfterRemount(m: Machine, path: string, want: Buffer): void {
  expect(fileBytes(m, path).equals(want)).toBe(true);
  m.remount();
  expect(fileBytes(m, path).equals(want)).toBe(true);
  expect(m.fsck().problems).toEqual([]);
}

describe("xfstests-style sequences", () => {
  it("sequence: mapped write, truncate down into the mapping, truncate up: the tail reads zero (generic/029-like)", () => {
    const { m } = newMachine();
    const fd = ok(m.open(1, "/f", CREATE)).value;
    ok(m.write(1, fd, fill(2 * PAGE, 0x58), 0));
    const addr = mapShared(m, fd, 2 * PAGE);
    ok(m.store(1, addr + 100, fill(5000, 0x61)));
    ok(m.ftruncate(1, fd, 3000));
    ok(m.ftruncate(1, fd, 2 * PAGE));
    ok(m.fsync(1, fd));
    checkBeforeAndAfterRemount(
      m,
      "/f",
      expected(2 * PAGE, [
        [0, 100, 0x58],
        [100, 2900, 0x61],
      ]),
    );
  });

  it("sequence: store past EOF in the last page, then extend with pwrite: block zeroing hides the stale bytes (generic/030-like)", () => {
    const { m } = newMachine();
    const fd = ok(m.open(1, "/f", CREATE)).value;
    ok(m.write(1, fd, fill(1000, 0x31), 0));
    const addr = mapShared(m, fd, PAGE);
    ok(m.store(1, addr + 1000, fill(3000, 0x32)));
    ok(m.write(1, fd, fill(10, 0x33), 5000));
    ok(m.fsync(1, fd));
    checkBeforeAndAfterRemount(
      m,
      "/f",
      expected(5010, [
        [0, 1000, 0x31],
        [5000, 10, 0x33],
      ]),
    );
  });

  it("sequence: punch through a mapped range, store again through the mapping (generic/567-like)", () => {
    const { m } = newMachine();
    const fd = ok(m.open(1, "/f", CREATE)).value;
    ok(m.write(1, fd, fill(3 * PAGE, 0x58), 0));
    const addr = mapShared(m, fd, 3 * PAGE);
    ok(m.load(1, addr, 3 * PAGE));
    ok(m.fallocate(1, fd, 2048, 8192, { punchHole: true, keepSize: true }));
    const refault = ok(m.store(1, addr + PAGE + 10, fill(4, 0x59)));
    expect(refault.faults).toEqual(["allocated"]);
    ok(m.fsync(1, fd));
    checkBeforeAndAfterRemount(
      m,
      "/f",
      expected(3 * PAGE, [
        [0, 2048, 0x58],
        [PAGE + 10, 4, 0x59],
        [10240, 2048, 0x58],
      ]),
    );
  });

  it("sequence: zero range over mapped, partly written blocks, with keep-size past EOF", () => {
    const { m } = newMachine();
    const fd = ok(m.open(1, "/f", CREATE)).value;
    ok(m.write(1, fd, fill(2 * PAGE + 500, 0x41), 0));
    const addr = mapShared(m, fd, 3 * PAGE);
    ok(m.store(1, addr + 2 * PAGE + 600, fill(8, 0x42))); // beyond EOF
    ok(m.fallocate(1, fd, 1000, 2 * PAGE, { zeroRange: true, keepSize: true }));
    expect(m.fs.lookup("/f").size).toBe(2 * PAGE + 500);
    ok(m.ftruncate(1, fd, 3 * PAGE));
    ok(m.fsync(1, fd));
    checkBeforeAndAfterRemount(m, "/f", expected(3 * PAGE, [[0, 1000, 0x41]]));
  });

  it("sequence: fallocate with keep-size past EOF, truncate up into it: allocated blocks read as zeros", () => {
    const { m } = newMachine();
    const fd = ok(m.open(1, "/f", CREATE)).value;
    ok(m.write(1, fd, fill(100, 0x61), 0));
    ok(m.fallocate(1, fd, PAGE, 2 * PAGE, { keepSize: true }));
    expect(m.fs.lookup("/f").size).toBe(100);
    expect(m.fs.lookup("/f").blocks).toBe(3);
    ok(m.ftruncate(1, fd, 3 * PAGE));
    ok(m.fsync(1, fd));
    checkBeforeAndAfterRemount(m, "/f", expected(3 * PAGE, [[0, 100, 0x61]]));
  });

  it("sequence: a large file through the double-indirect map, truncated back, leaves fsck clean and space returned", () => {
    const { m } = newMachine({ sizeBytes: 16 << 20 });
    const fd = ok(m.open(1, "/big", CREATE)).value; // the root directory's first block is allocated here
    const free = m.fs.freeBlockCount;
    ok(m.write(1, fd, fill(6 << 20, 0x5a), 0)); // 1536 blocks: direct, indirect and double indirect
    ok(m.write(1, fd, fill(4, 0x7a), (6 << 20) - 4));
    ok(m.fsync(1, fd));
    expect(m.fsck().problems).toEqual([]);
    const content = fileBytes(m, "/big");
    expect(content.length).toBe(6 << 20);
    expect(content[(6 << 20) - 5]).toBe(0x5a);
    expect(content.subarray(-4).toString("hex")).toBe("7a7a7a7a");
    ok(m.ftruncate(1, fd, 10));
    ok(m.fsync(1, fd));
    expect(m.fs.freeBlockCount).toBe(free - 1);
    m.remount();
    expect(m.fsck().problems).toEqual([]);
    expect(fileBytes(m, "/big").equals(fill(10, 0x5a))).toBe(true);
  });
});

describe("nodax (page-cache mode)", () => {
  it("nodax: read/write copy twice through the page cache; writeback at fsync; counters show it", () => {
    const { m } = newMachine({ mount: "nodax" });
    const fd = ok(m.open(1, "/f", CREATE)).value;
    ok(m.write(1, fd, fill(2 * PAGE, 0x61), 0));
    expect(m.data.pageCacheBytes).toBe(2 * PAGE);
    const blocks = m.fs.blockMap;
    const inode = m.fs.lookup("/f");
    expect(m.dimm.load(blocks.get(inode, 0) * PAGE, 4).every((b) => b === 0)).toBe(true); // not written back yet
    ok(m.fsync(1, fd));
    expect(m.dimm.loadDurable(blocks.get(inode, 0) * PAGE, 4).every((b) => b === 0x61)).toBe(true);
    expect(m.data.counters.bytesCopied).toBe(4 * PAGE); // user→cache, cache→media
  });

  it("nodax: writeback zeroes the post-EOF tail of the EOF page (H1), unlike DAX (H2)", () => {
    for (const [mount, tail] of [
      ["nodax", "00000000"],
      ["dax", "62626262"],
    ] as const) {
      const { m } = newMachine({ mount });
      const fd = ok(m.open(1, "/f", CREATE)).value;
      ok(m.write(1, fd, fill(1000, 0x61), 0));
      const addr = mapShared(m, fd, PAGE);
      ok(m.store(1, addr + 1000, fill(4, 0x62)));
      ok(m.fsync(1, fd));
      m.remount();
      const fd2 = ok(m.open(1, "/f", CREATE)).value;
      const again = mapShared(m, fd2, PAGE);
      expect(ok(m.load(1, again + 1000, 4)).data!.toString("hex"), mount).toBe(tail);
    }
  });

  it("nodax: a power loss drops unwritten page-cache data", () => {
    const { m } = newMachine({ mount: "nodax" });
    const fd = ok(m.open(1, "/f", CREATE)).value;
    ok(m.write(1, fd, fill(100, 0x61), 0));
    ok(m.fsync(1, fd));
    ok(m.write(1, fd, fill(100, 0x62), 0));
    m.powerLoss("eadr-like", 0n);
    expect(m.data.pageCacheBytes).toBe(0);
    expect(fileBytes(m, "/f").equals(fill(100, 0x61))).toBe(true);
  });

  it("nodax: MAP_SYNC is refused with EOPNOTSUPP", () => {
    const { m } = newMachine({ mount: "nodax" });
    const fd = ok(m.open(1, "/f", CREATE)).value;
    expect(m.mmap(1, { fd, offset: 0, length: PAGE, read: true, write: true, shared: true, sync: true }).errno).toBe(
      "EOPNOTSUPP",
    );
  });

  it("dax: no page cache at all and one copy per byte", () => {
    const { m } = newMachine();
    const fd = ok(m.open(1, "/f", CREATE)).value;
    ok(m.write(1, fd, fill(3 * PAGE, 1), 0));
    ok(m.read(1, fd, 3 * PAGE, 0));
    ok(m.fsync(1, fd));
    expect(m.data.pageCacheBytes).toBe(0);
    expect(m.data.counters.bytesCopied).toBe(6 * PAGE);
  });
});

describe("model-based random workload", () => {
  type Step =
    | { op: "write"; file: number; offset: number; length: number; value: number }
    | { op: "truncate"; file: number; size: number }
    | { op: "punch"; file: number; offset: number; length: number }
    | { op: "zero"; file: number; offset: number; length: number }
    | { op: "mstore"; file: number; offset: number; length: number; value: number }
    | { op: "rename"; from: number; to: number }
    | { op: "unlink"; file: number }
    | { op: "remount" };
  const off = fc.integer({ min: 0, max: 40000 });
  const len = fc.integer({ min: 1, max: 9000 });
  const file = fc.integer({ min: 0, max: 3 });
  const step: fc.Arbitrary<Step> = fc.oneof(
    {
      weight: 5,
      arbitrary: fc.record({
        op: fc.constant("write" as const),
        file,
        offset: off,
        length: len,
        value: fc.integer({ min: 1, max: 255 }),
      }),
    },
    { weight: 2, arbitrary: fc.record({ op: fc.constant("truncate" as const), file, size: off }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant("punch" as const), file, offset: off, length: len }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant("zero" as const), file, offset: off, length: len }) },
    {
      weight: 3,
      arbitrary: fc.record({
        op: fc.constant("mstore" as const),
        file,
        offset: off,
        length: fc.integer({ min: 1, max: 300 }),
        value: fc.integer({ min: 1, max: 255 }),
      }),
    },
    { weight: 1, arbitrary: fc.record({ op: fc.constant("rename" as const), from: file, to: file }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant("unlink" as const), file }) },
    { weight: 1, arbitrary: fc.constant({ op: "remount" as const }) },
  );

  it("random workload: reads always match a plain byte-array model of each file, and fsck stays clean", () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 30 }), fc.constantFrom("dax", "nodax"), (steps, mount) => {
        const { m } = newMachine({ sizeBytes: 2 << 20, mount });
        const model = new Map<string, Buffer>();
        const path = (i: number): string => `/f${i}`;
        const withFd = (p: string, body: (fd: number) => void): void => {
          const fd = ok(m.open(1, p, CREATE)).value;
          body(fd);
          ok(m.close(1, fd));
        };
        for (const s of steps) {
          switch (s.op) {
            case "write": {
              const p = path(s.file);
              const before = model.get(p) ?? Buffer.alloc(0);
              withFd(p, (fd) => ok(m.write(1, fd, fill(s.length, s.value), s.offset)));
              const next = Buffer.alloc(Math.max(before.length, s.offset + s.length));
              before.copy(next);
              next.fill(s.value, s.offset, s.offset + s.length);
              model.set(p, next);
              break;
            }
            case "truncate": {
              const p = path(s.file);
              const before = model.get(p) ?? Buffer.alloc(0);
              withFd(p, (fd) => ok(m.ftruncate(1, fd, s.size)));
              const next = Buffer.alloc(s.size);
              before.copy(next, 0, 0, Math.min(s.size, before.length));
              model.set(p, next);
              break;
            }
            case "punch":
            case "zero": {
              const p = path(s.file);
              const before = model.get(p) ?? Buffer.alloc(0);
              withFd(p, (fd) =>
                ok(
                  m.fallocate(
                    1,
                    fd,
                    s.offset,
                    s.length,
                    s.op === "punch" ? { punchHole: true, keepSize: true } : { zeroRange: true, keepSize: true },
                  ),
                ),
              );
              const next = Buffer.from(before);
              next.fill(0, Math.min(s.offset, next.length), Math.min(s.offset + s.length, next.length));
              model.set(p, next);
              break;
            }
            case "mstore": {
              const p = path(s.file);
              const before = model.get(p);
              if (before === undefined || s.offset >= before.length) break;
              const n = Math.min(s.length, before.length - s.offset);
              withFd(p, (fd) => {
                const addr = mapShared(m, fd, before.length);
                ok(m.store(1, addr + s.offset, fill(n, s.value)));
                ok(m.munmap(1, addr, before.length));
              });
              before.fill(s.value, s.offset, s.offset + n);
              break;
            }
            case "rename": {
              const from = path(s.from);
              const to = path(s.to);
              const content = model.get(from);
              const r = m.rename(1, from, to);
              if (content === undefined) expect(r.errno).toBe("ENOENT");
              else {
                ok(r);
                model.delete(from);
                model.set(to, content);
              }
              break;
            }
            case "unlink": {
              const r = m.unlink(1, path(s.file));
              if (model.delete(path(s.file))) ok(r);
              else expect(r.errno).toBe("ENOENT");
              break;
            }
            case "remount":
              m.remount();
              break;
          }
        }
        for (const [p, content] of model) expect(fileBytes(m, p).equals(content), p).toBe(true);
        expect(Object.keys(tree(m)).sort()).toEqual([...model.keys()].sort());
        m.remount();
        for (const [p, content] of model) expect(fileBytes(m, p).equals(content), `${p} after remount`).toBe(true);
        expect(m.fsck().problems).toEqual([]);
      }),
      { numRuns: Number(process.env.DAXSIM_PROPERTY_RUNS ?? 60) },
    );
  });
});
