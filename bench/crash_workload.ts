/**
 * The standard workload of `daxsim bench crash`: about 100 operations of the kinds crash-consistency
 * tests are made of — create, write, fsync, rename, mmap stores with user-space flushes, truncate —
 * on a 1 MiB DIMM. Built here (not a file) so the benchmark and its test share one definition.
 */
export function standardCrashWorkload(): { dimm: { size: string }; seed: number; ops: unknown[] } {
  const ops: unknown[] = [];
  for (let f = 0; f < 4; f++) {
    const fd = `f${f}`;
    ops.push({ op: "open", path: `/file${f}`, flags: "O_CREAT|O_RDWR", as: fd });
    ops.push({
      op: "pwrite",
      fd: `$${fd}`,
      offset: 0,
      pattern: `0x${(0x41 + f).toString(16)}`,
      length: 3000 + 1000 * f,
    });
    ops.push({ op: "fsync", fd: `$${fd}` });
  }
  ops.push({ op: "mkdir", path: "/dir" });
  for (let f = 0; f < 4; f++) {
    const fd = `f${f}`;
    ops.push({ op: "mmap", fd: `$${fd}`, offset: 0, length: 8192, prot: "rw", flags: "shared", as: `m${f}` });
    for (let s = 0; s < 9; s++) {
      ops.push({ op: "store", addr: `$m${f}+${s * 300}`, pattern: `0x${(0x61 + s).toString(16)}`, length: 16 });
      if (s % 2 === 1) ops.push({ op: "clwb", addr: `$m${f}+${s * 300}`, length: 16 });
    }
    ops.push({ op: "sfence" });
    ops.push({ op: "pwrite", fd: `$${fd}`, offset: 2000, pattern: "0x7a", length: 100 });
    ops.push({ op: "fdatasync", fd: `$${fd}` });
  }
  ops.push({ op: "rename", from: "/file0", to: "/dir/renamed0" });
  ops.push({ op: "ftruncate", fd: "$f1", size: 1000 });
  ops.push({ op: "store", addr: "$m1+1500", text: "past eof" });
  ops.push({ op: "ftruncate", fd: "$f1", size: 6000 });
  ops.push({ op: "open", path: "/dir/new", flags: "O_CREAT|O_RDWR", as: "n" });
  ops.push({ op: "pwrite", fd: "$n", offset: 0, pattern: "0x6e", length: 5000 });
  ops.push({ op: "fsync", fd: "$n" });
  ops.push({ op: "unlink", path: "/file2" });
  ops.push({ op: "rename", from: "/file3", to: "/dir/new" });
  ops.push({ op: "open", path: "/tail", flags: "O_CREAT|O_RDWR", as: "t" });
  ops.push({ op: "pwrite", fd: "$t", offset: 0, pattern: "0x74", length: 700 });
  ops.push({ op: "mmap", fd: "$t", offset: 0, length: 4096, prot: "rw", flags: "shared", as: "mt" });
  ops.push({ op: "store", addr: "$mt+800", text: "beyond the end" });
  ops.push({ op: "clwb", addr: "$mt+800", length: 14 });
  ops.push({ op: "sfence" });
  ops.push({ op: "fsync", fd: "$t" });
  ops.push({ op: "ftruncate", fd: "$t", size: 2000 });
  ops.push({ op: "sync" });
  return { dimm: { size: "1M" }, seed: 7, ops };
}
