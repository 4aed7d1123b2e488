import { describe, expect, it } from "vitest";
import { EventLog, NullSink } from "../events/event_log.js";
import { shutDown } from "../image/machine_image.js";
import { Machine } from "../machine.js";
import { StepClock } from "../sim/clock.js";
import { DEFAULT_OPEN_OPTIONS, XfsIo } from "./xfs_io.js";
import type { OpenOptions } from "./xfs_io.js";

const MiB = 1 << 20;

function newMachine(sizeBytes = 16 * MiB): Machine {
  return Machine.format(new EventLog(new NullSink(), new StepClock()), { dimm: { sizeBytes }, seed: 5n });
}

/** xfstests' cycle mount: clean unmount, then a new machine from the durable media, with recovery. */
function cycleMount(m: Machine): Machine {
  shutDown(m);
  return Machine.fromMedia(
    new EventLog(new NullSink(), new StepClock()),
    { dimm: { sizeBytes: m.dimm.sizeBytes } },
    (c) => m.mediaChunk(c),
  );
}

interface Run {
  stdout: string;
  stderr: string;
  status: number;
}

/** One xfs_io invocation: `xfs_io [flags] -c … -c … path` on the machine (which stays mounted). */
function xfsIo(m: Machine, flags: Partial<OpenOptions>, commands: string[], paths: string[] = ["/testfile"]): Run {
  const out: string[] = [];
  const err: string[] = [];
  let now = 0;
  const io = new XfsIo({ machine: m, out: (t) => out.push(t), err: (t) => err.push(t), nowNs: () => (now += 1500) });
  if (io.openInitial(paths, { ...DEFAULT_OPEN_OPTIONS, ...flags }, 0o600)) io.runCommands(commands);
  else io.exitCode = 1;
  // The simulated xfs_io process ends: its descriptors close and its mappings go (pid 1 is reused).
  if (m.mm.processes.has(1)) m.exit(1);
  m.spawn(1);
  return { stdout: out.join(""), stderr: err.join(""), status: io.status };
}

/** xfstests' _filter_xfs_io. */
function filterXfsIo(text: string): string {
  return text.replace(
    /[0-9/.]* [GMKiBbytes]*, [0-9]* ops; [0-9/:. sec]* \([infa0-9/.-]* [EPGMKiBbytes]*\/sec and [infa0-9/.-]* ops\/sec\)/g,
    "XXX Bytes, X ops; XX:XX:XX.X (XXX YYY/sec and XXX ops/sec)",
  );
}

const RATE = "XXX Bytes, X ops; XX:XX:XX.X (XXX YYY/sec and XXX ops/sec)";

/** A file's content (what read(2) returns) as runs: "X[0,2048) Y[2048,10240)". */
function contentRuns(m: Machine, path: string): string {
  const fd = m.open(1, path, { read: true, write: false, create: false, excl: false, trunc: false, append: false });
  expect(fd.ok).toBe(true);
  const size = m.stat(1, { fd: fd.value }).value;
  const data = m.read(1, fd.value, size, 0).data!;
  m.close(1, fd.value);
  const runs: string[] = [];
  for (let i = 0; i < data.length;) {
    let j = i;
    while (j < data.length && data[j] === data[i]) j++;
    const b = data[i]!;
    runs.push(`${b >= 0x21 && b < 0x7f ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, "0")}`}[${i},${j})`);
    i = j;
  }
  return runs.join(" ");
}

describe("daxsim io (xfs_io work-alike)", () => {
  it("io: pwrite -S and pread -v print xfs_io's lines", () => {
    const m = newMachine();
    const r = xfsIo(m, { create: true, trunc: true }, ["pwrite -S 0x58 0 5120", "pread -v 0 20", "pread -v 5100 100"]);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe("");
    expect(filterXfsIo(r.stdout)).toBe(
      [
        "wrote 5120/5120 bytes at offset 0",
        RATE,
        "00000000:  58 58 58 58 58 58 58 58 58 58 58 58 58 58 58 58  XXXXXXXXXXXXXXXX",
        "00000010:  58 58 58 58  XXXX",
        "read 20/20 bytes at offset 0",
        RATE,
        "000013ec:  58 58 58 58 58 58 58 58 58 58 58 58 58 58 58 58  XXXXXXXXXXXXXXXX",
        "000013fc:  58 58 58 58  XXXX",
        "read 20/100 bytes at offset 5100",
        RATE,
        "",
      ].join("\n"),
    );
  });

  it("io: pwrite -b writes in blocks (ops counted) and pread reads in 4096-byte blocks", () => {
    const m = newMachine();
    const r = xfsIo(m, { create: true }, ["pwrite -b 1k 0 5120", "pread 0 5120", "pwrite -q -S 0 0 1"]);
    expect(r.stdout).toMatch(/^wrote 5120\/5120 bytes at offset 0\n5 KiB, 5 ops; /);
    expect(r.stdout).toMatch(/\nread 5120\/5120 bytes at offset 0\n5 KiB, 2 ops; /);
    expect(r.stdout.split("\n").length).toBe(5); // -q printed nothing
    expect(contentRuns(m, "/testfile")).toBe("\\x00[0,1) \\xcd[1,5120)"); // the default pattern is 0xcd
  });

  it("io: generic/029 — mapped writes against truncate down/up, before and after a cycle mount", () => {
    const cases: Array<{ commands: string[]; expected: string }> = [
      {
        commands: [
          "truncate 5120",
          "pwrite -S 0x58 0 5120",
          "mmap -rw 0 5120",
          "mwrite -S 0x5a 2048 3072",
          "truncate 2048",
          "truncate 5120",
          "mwrite -S 0x59 2048 3072",
          "close",
        ],
        expected: "X[0,2048) Y[2048,5120)",
      },
      {
        commands: [
          "truncate 5120",
          "pwrite -S 0x58 0 5120",
          "mmap -rw 0 5120",
          "mwrite -S 0x5a 2048 3072",
          "truncate 2048",
          "mwrite -S 0x57 1024 1024",
          "truncate 5120",
          "mwrite -S 0x59 2048 3072",
          "close",
        ],
        expected: "X[0,1024) W[1024,2048) Y[2048,5120)",
      },
      {
        commands: [
          "truncate 5121",
          "pwrite -S 0x58 0 5121",
          "mmap -rw 0 5121",
          "mwrite -S 0x5a 2047 3071",
          "truncate 2047",
          "mwrite -S 0x57 513 1025",
          "truncate 5121",
          "mwrite -S 0x59 2047 3071",
          "close",
        ],
        expected: "X[0,513) W[513,1538) X[1538,2047) Y[2047,5118) \\x00[5118,5121)",
      },
    ];
    for (const { commands, expected } of cases) {
      let m = newMachine();
      const r = xfsIo(m, { create: true, trunc: true }, commands);
      const size = commands[1]!.split(" ").pop();
      expect(filterXfsIo(r.stdout)).toBe(`wrote ${size}/${size} bytes at offset 0\n${RATE}\n`);
      expect(r.stderr).toBe("");
      expect(contentRuns(m, "/testfile")).toBe(expected);
      m = cycleMount(m);
      expect(contentRuns(m, "/testfile")).toBe(expected);
    }
  });

  it("io: generic/030 — mapped writes against mremap + truncate down/up", () => {
    const cases: Array<{ commands: string[]; expected: string }> = [
      {
        commands: [
          "truncate 5017k",
          "pwrite -S 0x58 0 5017k",
          "mmap -rw 0 5017k",
          "truncate 5020k",
          "mremap -m 5020k",
          "mwrite -S 0x57 5017k 3k",
          "mremap 5017k ",
          "truncate 5017k",
          "truncate 5020k",
          "mremap -m 5020k",
          "mwrite -S 0x59 5017k 3k",
          "close",
        ],
        expected: "X[0,5137408) Y[5137408,5140480)",
      },
      {
        commands: [
          "truncate 5017k",
          "pwrite -S 0x58 0 5017k",
          "mmap -rw 0 5017k",
          "truncate 5020k",
          "mremap -m 5020k",
          "mwrite -S 0x57 5017k 3k",
          "mremap 5017k ",
          "truncate 5017k",
          "mwrite -S 0x5a 5016k 1k",
          "truncate 5020k",
          "mremap -m 5020k",
          "mwrite -S 0x59 5017k 3k",
          "close",
        ],
        expected: "X[0,5136384) Z[5136384,5137408) Y[5137408,5140480)",
      },
      {
        commands: [
          "truncate 5136912",
          "pwrite -S 0x58 0 5136912",
          "mmap -rw 0 5136912",
          "mremap 5136912",
          "truncate 5136912",
          "truncate 5139720",
          "mremap -m 5139720",
          "mwrite -S 0 5136912 2808",
          "mwrite -S 0 5136912 2808",
          "mwrite -S 0 5136912 2808",
          "mremap 5136912 ",
          "truncate 5136912",
          "truncate 5139720",
          "mremap -m 5139720",
          "mwrite -S 0 5136912 2808",
          "mwrite -S 0 5136912 2808",
          "mwrite -S 0x59 5136912 2808",
          "truncate 5140480",
          "mremap 5140480",
          "msync -s 0 5140480",
          "mremap 5139720",
          "munmap",
          "close",
        ],
        expected: "X[0,5136912) Y[5136912,5139720) \\x00[5139720,5140480)",
      },
    ];
    for (const { commands, expected } of cases) {
      let m = newMachine(32 * MiB);
      const r = xfsIo(m, { create: true, trunc: true }, commands);
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      expect(contentRuns(m, "/testfile")).toBe(expected);
      m = cycleMount(m);
      expect(contentRuns(m, "/testfile")).toBe(expected);
    }
  });

  it("io: generic/567 — a punched hole under a live mapping refaults: X[0,2048) Y[2048,10240) X[10240,12288)", () => {
    let m = newMachine();
    const r = xfsIo(m, { create: true, trunc: true }, [
      "pwrite -S 0x58 0 12288",
      "mmap -rw 0 12288",
      "mwrite -S 0x5a 2048 8192",
      "fpunch 2048 8192",
      "mwrite -S 0x59 2048 8192",
      "close",
    ]);
    expect(filterXfsIo(r.stdout)).toBe(`wrote 12288/12288 bytes at offset 0\n${RATE}\n`);
    expect(contentRuns(m, "/testfile")).toBe("X[0,2048) Y[2048,10240) X[10240,12288)");
    m = cycleMount(m);
    expect(contentRuns(m, "/testfile")).toBe("X[0,2048) Y[2048,10240) X[10240,12288)");
  });

  it("io: generic/749 — the EOF page is zero-filled and writable; past the page boundary is SIGBUS (exit 135, image consistent)", () => {
    let m = newMachine();
    xfsIo(m, { create: true }, ["pwrite -S 0xaa -b 512 3 5"], ["/file"]);
    m = cycleMount(m);
    // zero fill of the EOF page beyond EOF (8 bytes of file, 4096 mapped)
    const zero = xfsIo(m, { readOnly: true }, ["mmap -r 0 4096", "mread -v 8 4088", "munmap"], ["/file"]);
    const hexColumn = (line: string): string[] =>
      /^[0-9a-f]{8}: {2}((?:[0-9a-f]{2} )+) /.exec(line)?.[1]!.trim().split(" ") ?? [];
    const dumped = new Set(zero.stdout.split("\n").flatMap(hexColumn));
    expect(zero.stdout.split("\n").length).toBe(256 + 1);
    expect([...dumped]).toEqual(["00"]);
    // a write up to the page boundary keeps the size and the file's bytes
    m = cycleMount(m);
    const w = xfsIo(m, {}, ["mmap -w 0 4096", "mwrite 8 4088", "munmap"], ["/file"]);
    expect(w.status).toBe(0);
    expect(contentRuns(m, "/file")).toBe("\\x00[0,3) \\xaa[3,8)");
    // reading past the mapping is refused by xfs_io itself (no access, exit 1)
    const range = xfsIo(m, { readOnly: true }, ["mmap -r 0 4096", "mread 0 4106"], ["/file"]);
    expect(range.stdout).toBe("range (0:0) is beyond mapping (0:4096)\n");
    expect(range.status).toBe(1);
    // a mapping past the page-rounded EOF: the access there is SIGBUS, and nothing after it runs
    const bus = xfsIo(m, { readOnly: true }, ["mmap -r 0 4106", "mread 0 4106", "pread -v 0 8"], ["/file"]);
    expect(bus.stderr).toBe("Bus error\n");
    expect(bus.stdout).toBe("");
    expect(bus.status).toBe(135);
    const busWrite = xfsIo(m, {}, ["mmap -w 0 4106", "mwrite 0 4106"], ["/file"]);
    expect(busWrite.status).toBe(135);
    m = cycleMount(m);
    expect(m.lastMount?.fsck.clean).toBe(true);
    // The size is unchanged; page 0 was written (byte by byte, like xfs_io's loop) before page 1 faulted.
    expect(contentRuns(m, "/file")).toBe("X[0,8)");
  });

  it("io: mmap, mwrite and mread -v/-f dump the mapping as xfs_io does; munmap lists what is left", () => {
    const m = newMachine();
    const r = xfsIo(m, { create: true }, [
      "pwrite -S 0x41 0 8192",
      "mmap -rw 4096 4096",
      "mwrite -S 0x62 4100 3",
      "mread -v 4096 20",
      "mread -f 4096 20",
      "mmap -r 0 4096",
      "mmap",
      "munmap",
    ]);
    const lines = filterXfsIo(r.stdout).split("\n");
    expect(lines.slice(2, 6)).toEqual([
      "00000000:  41 41 41 41 62 62 62 41 41 41 41 41 41 41 41 41  AAAAbbbAAAAAAAAA",
      "00000010:  41 41 41 41  AAAA",
      "00001000:  41 41 41 41 62 62 62 41 41 41 41 41 41 41 41 41  AAAAbbbAAAAAAAAA",
      "00001010:  41 41 41 41  AAAA",
    ]);
    expect(lines[6]).toMatch(/^ 000  0x[0-9a-f]+ - 0x[0-9a-f]+ rw-       \/testfile \(4096 : 4096\)$/);
    expect(lines[7]).toMatch(/^\[001\] 0x[0-9a-f]+ - 0x[0-9a-f]+ r--       \/testfile \(0 : 4096\)$/);
    // munmap removes the current (last) mapping and lists the rest, the remaining one now current
    expect(lines[8]).toMatch(/^\[000\] 0x[0-9a-f]+ - 0x[0-9a-f]+ rw-       \/testfile \(4096 : 4096\)$/);
    expect(r.stderr).toBe("");
  });

  it("io: mmap -S is MAP_SYNC and shows as 'S' in the mapping list", () => {
    const m = newMachine();
    const r = xfsIo(m, { create: true }, ["truncate 4096", "mmap -S -rw 0 4096", "mmap"]);
    expect(r.stdout).toMatch(/^\[000\] 0x[0-9a-f]+ - 0x[0-9a-f]+ rw- S       \/testfile \(0 : 4096\)\n$/);
  });

  it("io: mread's chunking quirks: a first chunk of one byte dumps nothing; -r dumps chunks reversed from the end", () => {
    const m = newMachine();
    const r = xfsIo(m, { create: true }, [
      "pwrite 0 8192",
      "mmap -rw 0 8192",
      "mwrite -S 0x31 0 1",
      "mwrite -S 0x32 1 1",
      "mread -v 0 4097",
      "mread -r -v 0 3",
    ]);
    const dumps = r.stdout.split("\n").filter((l) => /^[0-9a-f]{8}:/.test(l));
    expect(dumps).toEqual(["00000000:  cd 32 31  .21"]);
  });

  it("io: truncate, fpunch, fzero and falloc change size and blocks as stat shows", () => {
    const m = newMachine();
    const r = xfsIo(m, { create: true }, [
      "pwrite -q -S 0x58 0 16k",
      "stat",
      "fpunch 4k 4k",
      "stat",
      "fzero 0 1k",
      "truncate 6000",
      "stat",
      "falloc -k 16k 8k",
      "stat",
      "falloc 0 20k",
      "stat",
    ]);
    const stats = r.stdout
      .split("fd.path")
      .slice(1)
      .map((s) => `fd.path${s}`);
    expect(stats[0]).toBe(
      'fd.path = "/testfile"\nfd.flags = non-sync,non-direct,read-write\nstat.ino = 2\nstat.type = regular file\nstat.size = 16384\nstat.blocks = 32\n',
    );
    expect(stats[1]).toMatch(/stat\.size = 16384\nstat\.blocks = 24\n$/);
    expect(stats[2]).toMatch(/stat\.size = 6000\nstat\.blocks = 8\n$/); // block 1 was punched, 2 and 3 truncated away
    expect(stats[3]).toMatch(/stat\.size = 6000\nstat\.blocks = 24\n$/);
    expect(stats[4]).toMatch(/stat\.size = 20480\nstat\.blocks = 48\n$/);
    expect(contentRuns(m, "/testfile")).toBe("\\x00[0,1024) X[1024,4096) \\x00[4096,20480)");
  });

  it("io: stat -v adds the times (ctime format) and stat -r the raw fields; open -r shows read-only", () => {
    const m = newMachine();
    xfsIo(m, { create: true }, ["pwrite -q 0 100"]);
    const r = xfsIo(m, { readOnly: true }, ["stat -v", "stat -r"]);
    expect(r.stdout).toMatch(/^fd\.path = "\/testfile"\nfd\.flags = non-sync,non-direct,read-only\n/);
    expect(r.stdout).toMatch(
      /stat\.atime = \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\nstat\.mtime = .*\nstat\.ctime = .*\n/,
    );
    expect(r.stdout).toMatch(/\nstat\.blksize = 4096\nstat\.nlink = 1\n/);
    expect(r.stdout).toMatch(/\nstat\.mode: 0100600\n/);
  });

  it("io: errors are xfs_io's lines: perror text on stderr, usage on stdout, exit 1 for failed commands", () => {
    const m = newMachine();
    xfsIo(m, { create: true }, ["pwrite -q 0 10"]);
    const ro = xfsIo(m, { readOnly: true }, ["pwrite 0 10", "fpunch 0 4k", "fsync"]);
    expect(ro.stderr).toBe("pwrite: Bad file descriptor\nfallocate: Bad file descriptor\n");
    expect(ro.status).toBe(1);
    const misc = xfsIo(m, {}, [
      "mread 0 10",
      "frobnicate",
      "pwrite 0",
      "truncate 1q",
      "pwrite -z 0 1",
      "mmap -rw 0 4096",
      "mread 8192 10",
      "msync 100 10",
      "mmap -rw 1 4096",
    ]);
    expect(misc.stderr).toBe(
      "no mapped regions, try 'help mmap'\n" +
        'command "frobnicate" not found\n' +
        "bad argument count 1 to pwrite, expected at least 2 arguments\n" +
        "pwrite: invalid option -- 'z'\n" +
        "mmap: Invalid argument\n",
    );
    expect(misc.stdout).toMatch(
      /^non-numeric truncate argument -- 1q\npwrite \[-b bs\] \[-S seed\] \[-wW\] \[-qC\] off len -- writes a number of bytes at a specified offset\noffset \(8192\) is beyond end of mapping \(0\)\noffset address \(0x[0-9a-f]+\) is not page aligned\n$/,
    );
    expect(misc.status).toBe(1);
    const missing = xfsIo(m, {}, ["pwrite 0 1"], ["/nope"]);
    expect(missing.stderr).toBe("/nope: No such file or directory\n");
    expect(missing.status).toBe(1);
    expect(missing.stdout).toBe("");
  });

  it("io: commands that are not one-shot run once per open file; close lists the files left", () => {
    const m = newMachine();
    const r = xfsIo(m, { create: true }, ["open -f /second", "pwrite -q -S 0x61 0 3", "close", "close"]);
    // The iteration left the last file current; closing it makes the one left current.
    expect(r.stdout).toBe("[000] /testfile      (foreign,non-sync,non-direct,read-write)\n");
    expect(contentRuns(m, "/testfile")).toBe("a[0,3)");
    expect(contentRuns(m, "/second")).toBe("a[0,3)");
  });

  it("io: powerloss — unsynced pwrite is lost under strict; the file is reopened; fsync'd data stays", () => {
    const m = newMachine();
    const r = xfsIo(m, { create: true }, [
      "pwrite -q -S 0x41 0 4k",
      "fsync",
      "pwrite -q -S 0x42 4k 4k",
      "powerloss -p strict",
      "stat",
      "pread -v 4094 4",
    ]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(/stat\.size = 4096\n/);
    expect(filterXfsIo(r.stdout)).toMatch(/00000ffe:  41 41  AA\nread 2\/4 bytes at offset 4094\n/);
  });

  it("io: powerloss — a store beyond EOF survives when flushed (clwb + sfence) and is lost when not (S5)", () => {
    for (const flush of [true, false]) {
      const m = newMachine();
      const commands = [
        "pwrite -q -S 0x41 0 10",
        "fsync",
        "mmap -rw 0 4096",
        "mwrite -S 0x5a 100 4",
        ...(flush ? ["clwb 64 64", "sfence"] : []),
        "powerloss -p strict -s 3",
        "mmap -r 0 4096",
        "mread -v 96 16",
      ];
      const r = xfsIo(m, { create: true }, commands);
      expect(r.stderr).toBe("");
      expect(r.stdout).toBe(
        flush
          ? "00000060:  00 00 00 00 5a 5a 5a 5a 00 00 00 00 00 00 00 00  ....ZZZZ........\n"
          : "00000060:  00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00  ................\n",
      );
      expect(contentRuns(m, "/testfile")).toBe("A[0,10)");
    }
  });

  it("io: a file that did not survive the power loss is dropped from the table with perror", () => {
    const m = newMachine();
    const r = xfsIo(m, { create: true }, ["pwrite -q 0 10", "powerloss", "stat"]);
    expect(r.stderr).toBe("/testfile: No such file or directory\n");
    expect(r.stdout).toBe(""); // stat ran on no file: xfs_io iterates over an empty table
  });

  it("io: a store to a read-only mapping is SIGSEGV: 'Segmentation fault', exit 139", () => {
    const m = newMachine();
    const r = xfsIo(m, { create: true }, ["pwrite -q 0 4096", "mmap -r 0 4096", "mwrite 0 1", "pwrite 0 1"]);
    expect(r.stderr).toBe("Segmentation fault\n");
    expect(r.status).toBe(139);
  });
});
