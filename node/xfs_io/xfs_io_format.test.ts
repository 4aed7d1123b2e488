import { describe, expect, it } from "vitest";
import { cFixed, ctime, getopt, strtoll, strtoul } from "./c_lib.js";
import { cvtnum, cvtstr, dumpBuffer, reportIoTimes, timestr, timeval } from "./xfs_io_format.js";

describe("xfs_io formats", () => {
  it("xfs_io: cvtnum reads C integers (base 0) with one unit letter, like xfsprogs", () => {
    expect(cvtnum("5120")).toBe(5120);
    expect(cvtnum("0x58")).toBe(88);
    expect(cvtnum("010")).toBe(8); // octal, as strtoll with base 0
    expect(cvtnum("4k")).toBe(4096);
    expect(cvtnum("4K")).toBe(4096);
    expect(cvtnum("5017k")).toBe(5017 * 1024);
    expect(cvtnum("1m")).toBe(1 << 20);
    expect(cvtnum("2b")).toBe(8192); // file system blocks
    expect(cvtnum("3s")).toBe(1536); // sectors
    expect(cvtnum("1g")).toBe(2 ** 30);
    expect(cvtnum("08")).toBe(-1); // "0" then junk
    expect(cvtnum("4kk")).toBe(-1);
    expect(cvtnum("4q")).toBe(-1);
    expect(cvtnum("")).toBe(-1);
    expect(cvtnum("x")).toBe(-1);
    expect(cvtnum("-1")).toBe(-1);
    expect(cvtnum("8e")).toBe(-1); // 8 EiB: not a safe JS integer
  });

  it("xfs_io: strtoll/strtoul scan prefixes as C does", () => {
    expect(strtoll("  -42xyz")).toEqual({ value: -42n, consumed: 5 });
    expect(strtoll("0x")).toEqual({ value: 0n, consumed: 1 }); // "0", then "x" is not a hex digit
    expect(strtoll("abc").consumed).toBe(0);
    expect(strtoll("99999999999999999999").value).toBe((1n << 63n) - 1n);
    expect(strtoul("0x58").value).toBe(0x58n);
    expect(strtoul("58").value).toBe(58n);
    expect(strtoul("-1").value & 0xffn).toBe(0xffn);
  });

  it("xfs_io: getopt permutes options after operands, clusters flags, and reports errors as glibc", () => {
    expect(getopt(["pwrite", "-S", "0x58", "0", "5120"], "b:S:")).toEqual({
      options: [{ opt: "S", arg: "0x58" }],
      operands: ["0", "5120"],
    });
    expect(getopt(["mmap", "-rw", "0", "4k"], "rwxS")).toEqual({
      options: [{ opt: "r" }, { opt: "w" }],
      operands: ["0", "4k"],
    });
    expect(getopt(["pwrite", "0", "4k", "-S0x41"], "S:")).toEqual({
      options: [{ opt: "S", arg: "0x41" }],
      operands: ["0", "4k"],
    });
    expect(getopt(["pread", "--", "-1", "2"], "v")).toEqual({ options: [], operands: ["-1", "2"] });
    expect(getopt(["pread", "-z", "0", "1"], "v").error).toBe("pread: invalid option -- 'z'");
    expect(getopt(["pwrite", "0", "1", "-S"], "S:").error).toBe("pwrite: option requires an argument -- 'S'");
  });

  it("xfs_io: printf %.Nf rounds the exact binary value half to even", () => {
    expect(cFixed(2.5, 0)).toBe("2");
    expect(cFixed(3.5, 0)).toBe("4");
    expect(cFixed(1.0625, 3)).toBe("1.062"); // exact tie → even
    expect(cFixed(1.0635, 3)).toBe("1.063"); // 1.0635 is 1.06349999… in binary: below the tie
    expect(cFixed(4.76837158203125, 3)).toBe("4.768");
    expect(cFixed(0.5, 6)).toBe("0.500000");
    expect(cFixed(999.9999, 3)).toBe("1000.000");
    expect(cFixed(Infinity, 3)).toBe("inf");
    expect(cFixed(5e21, 0)).toBe("5000000000000000000000");
  });

  it("xfs_io: cvtstr prints sizes as xfs_io does ('precise' is about the byte count, and (int) of a big double is INT_MIN)", () => {
    expect(cvtstr(5120)).toBe("5 KiB");
    expect(cvtstr(5121)).toBe("5 KiB");
    expect(cvtstr(12288)).toBe("12 KiB");
    expect(cvtstr(5137408)).toBe("5 MiB");
    expect(cvtstr(512)).toBe("512.000000 bytes");
    expect(cvtstr(5)).toBe("5.000000 bytes");
    expect(cvtstr(5.12e9)).toBe("4.768 GiB"); // beyond int: not "precise"
    expect(cvtstr(1536.5)).toBe("1.500 KiB");
  });

  it("xfs_io: timestr and the rate lines have xfs_io's layout (what _filter_xfs_io matches)", () => {
    expect(timestr({ sec: 0, usec: 1234 })).toBe("0.0012 sec");
    expect(timestr({ sec: 3725, usec: 990000 })).toBe("1:02:05.99");
    expect(timeval(0)).toEqual({ sec: 0, usec: 1 });
    expect(timeval(2_500_000_000)).toEqual({ sec: 2, usec: 500000 });
    const text = reportIoTimes("wrote", { sec: 0, usec: 2 }, 0, 5120, 5120, 2, false);
    expect(text).toBe(
      "wrote 5120/5120 bytes at offset 0\n5 KiB, 2 ops; 0.0000 sec (2.384 GiB/sec and 1000000.0000 ops/sec)\n",
    );
    const filtered = text.replace(
      /[0-9/.]* [GMKiBbytes]*, [0-9]* ops; [0-9/:. sec]* \([infa0-9/.-]* [EPGMKiBbytes]*\/sec and [infa0-9/.-]* ops\/sec\)/,
      "XXX Bytes, X ops; XX:XX:XX.X (XXX YYY/sec and XXX ops/sec)",
    );
    expect(filtered).toBe(
      "wrote 5120/5120 bytes at offset 0\nXXX Bytes, X ops; XX:XX:XX.X (XXX YYY/sec and XXX ops/sec)\n",
    );
    expect(reportIoTimes("read", { sec: 0, usec: 4 }, 8, 16, 16, 1, true)).toBe(
      "16,1,0:00:00.00,4000000.000,250000.000\n",
    );
  });

  it("xfs_io: dump_buffer lines: offset, 16 hex bytes, then letters and digits", () => {
    const bytes = Buffer.concat([Buffer.from("Hello, World! 42"), Buffer.from([0x00, 0xaa, 0x7f])]);
    expect(dumpBuffer(0x1000, bytes)).toBe(
      "00001000:  48 65 6c 6c 6f 2c 20 57 6f 72 6c 64 21 20 34 32  Hello..World..42\n" + "00001010:  00 aa 7f  ...\n",
    );
    expect(dumpBuffer(0, Buffer.alloc(0))).toBe("");
  });

  it("xfs_io: ctime formats seconds since the epoch as ctime(3) in UTC", () => {
    expect(ctime(0)).toBe("Thu Jan  1 00:00:00 1970\n");
    expect(ctime(1_700_000_000)).toBe("Tue Nov 14 22:13:20 2023\n");
  });
});
