import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EventLog, NullSink } from "../../node/events/event_log.js";
import { readImage, readImageHeader, writeImage } from "../../node/image/image_file.js";
import { Machine } from "../../node/machine.js";
import { StepClock } from "../../node/sim/clock.js";

const root = join(import.meta.dirname, "..", "..");
const bin = join(root, "bin", "daxsim.js");
let dir: string | undefined;

function daxsim(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: dir!, encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function sha(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

function mkfs(name: string, size = "16M"): string {
  const path = join(dir!, name);
  const r = daxsim("mkfs", path, "--size", size);
  expect(r.status).toBe(0);
  return path;
}

function writeJson(name: string, doc: unknown): string {
  const path = join(dir!, name);
  writeFileSync(path, JSON.stringify(doc));
  return path;
}

/** Copies of a good image damaged in the ways a user can meet: foreign, truncated, bad header, bad media. */
function damagedImages(good: string): Record<string, string> {
  const bytes = readFileSync(good);
  const out: Record<string, string> = {};
  const save = (name: string, data: Buffer): void => {
    out[name] = join(dir!, name);
    writeFileSync(out[name], data);
  };
  save("foreign.img", Buffer.from("#!/bin/sh\necho this is not an image\n"));
  save("truncated.img", bytes.subarray(0, bytes.length - 4096));
  const header = Buffer.from(bytes);
  header[17]! ^= 1;
  save("header.img", header);
  const media = Buffer.from(bytes);
  media[4096 + 5000]! ^= 0x40;
  save("media.img", media);
  return out;
}

beforeAll(() => {
  execFileSync(process.execPath, [join(root, "scripts", "setup.mjs")], { cwd: root });
  dir = mkdtempSync(join(tmpdir(), "daxsim-cli-"));
});
afterAll(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe("image commands", () => {
  it("cli: mkfs writes an image, refuses to overwrite it without --force, and checks its options", () => {
    const path = mkfs("m.img", "8M");
    const header = readImageHeader(path);
    expect(header).toMatchObject({ dimmSizeBytes: 8 << 20, persistence: "adr" });
    const before = sha(path);
    const again = daxsim("mkfs", path, "--size", "8M");
    expect(again.status).toBe(1);
    expect(again.stderr).toBe(`daxsim mkfs: ${path} exists; refusing to overwrite it (use --force to replace it)\n`);
    expect(sha(path)).toBe(before);
    const forced = daxsim(
      "mkfs",
      path,
      "--size",
      "4M",
      "--persistence",
      "eadr",
      "--inodes",
      "64",
      "--seed",
      "7",
      "--force",
    );
    expect(forced.status).toBe(0);
    expect(forced.stdout).toMatch(/: daxfs on a 4M eadr DIMM: 1024 blocks of 4096 bytes, 64 inodes, /);
    expect(readImageHeader(path)).toMatchObject({ dimmSizeBytes: 4 << 20, persistence: "eadr" });
    expect(daxsim("mkfs", join(dir!, "x.img"), "--size", "3K").status).toBe(2);
    expect(daxsim("mkfs", join(dir!, "x.img")).stderr).toMatch(/--size is required/);
    expect(daxsim("mkfs", join(dir!, "x.img"), "--size", "4M", "--persistence", "battery").status).toBe(2);
  });

  it("cli: hash prints the media hash that the header records and the DIMM computes", () => {
    const path = mkfs("h.img");
    const r = daxsim("hash", path);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`${readImageHeader(path).mediaSha256.toString("hex")}  ${path}\n`);
  });

  it("cli: fsck exits 0 on a clean image, 4 when it finds problems, 8 for an unusable image, 16 for bad usage (like e2fsck)", () => {
    const path = mkfs("f.img");
    const clean = daxsim("fsck", path);
    expect(clean.status).toBe(0);
    expect(clean.stdout).toBe(`${path}: clean: 1 inodes, 0 data blocks in use\n`);
    // A valid image whose filesystem has a leaked block: mark the last block used in the bitmap.
    const m = Machine.format(new EventLog(new NullSink(), new StepClock()), { dimm: { sizeBytes: 16 << 20 } });
    const sb = m.fs.sb;
    m.unmount();
    const leaked = join(dir!, "leak.img");
    writeImage(leaked, { dimmSizeBytes: 16 << 20, persistence: "adr" }, (c) => {
      const chunk = m.mediaChunk(c);
      if (c !== 0) return chunk;
      const copy = Buffer.from(chunk!);
      const block = sb.blockCount - 1;
      copy[sb.bitmapStart * 4096 + (block >> 3)]! |= 1 << (block & 7);
      return copy;
    });
    const problems = daxsim("fsck", leaked);
    expect(problems.status).toBe(4);
    expect(problems.stdout).toBe(
      `${leaked}: leaked-block: block ${sb.blockCount - 1} is in use in the bitmap but referenced by no inode\n${leaked}: 1 problem(s) found\n`,
    );
    const images = damagedImages(path);
    for (const image of Object.values(images)) {
      const before = sha(image);
      const r = daxsim("fsck", image);
      expect(r.status, image).toBe(8);
      expect(r.stderr, image).toMatch(new RegExp(`^daxsim fsck: ${image}`));
      expect(sha(image)).toBe(before);
    }
    expect(daxsim("fsck").status).toBe(16);
    expect(daxsim("fsck", path, "--repair").status).toBe(16);
  });

  it("cli: ls, cat, hash, run --dimm and io refuse foreign, truncated and damaged images and leave them byte for byte", () => {
    const good = mkfs("g.img");
    const images = damagedImages(good);
    const workload = writeJson("w.json", [{ op: "sync" }]);
    const messages: Record<string, RegExp> = {
      "foreign.img": /is not a daxsim image: it starts with 23 21 2f 62/,
      "truncated.img": /is truncated: it has \d+ bytes, but a 16M image has \d+/,
      "header.img": /header checksum does not match/,
      "media.img": /media does not match the hash in its header/,
    };
    for (const [name, image] of Object.entries(images)) {
      const before = sha(image);
      for (const args of [
        ["ls", image],
        ["cat", image, "/x"],
        ["hash", image],
        ["run", workload, "--dimm", image],
        ["io", "--dimm", image, "-c", "stat", "/x"],
      ]) {
        const r = daxsim(...args);
        expect(r.status, `${args[0]} ${name}`).toBe(1);
        expect(r.stderr, `${args[0]} ${name}`).toMatch(messages[name]!);
        expect(r.stderr).toMatch(/restore the image from a copy|made by "daxsim mkfs"/);
      }
      expect(sha(image), name).toBe(before);
    }
    expect(daxsim("ls", join(dir!, "missing.img")).stderr).toMatch(/no such image file; make one with "daxsim mkfs/);
  });

  it("cli: ls lists like ls -l and cat prints file bytes; neither writes the image", () => {
    const path = mkfs("l.img");
    const setup = writeJson("setup.json", [
      { op: "mkdir", path: "/dir" },
      { op: "open", path: "/dir/file", flags: "O_RDWR|O_CREAT", mode: "0640", as: "fd" },
      { op: "pwrite", fd: "$fd", offset: 0, text: "hello from the DIMM\n" },
      { op: "open", path: "/big", flags: "O_RDWR|O_CREAT", as: "big" },
      { op: "pwrite", fd: "$big", offset: "1m", pattern: "0x7a", length: 3 },
    ]);
    expect(daxsim("run", setup, "--dimm", path).status).toBe(0);
    const before = sha(path);
    const top = daxsim("ls", path);
    expect(top.stdout).toBe("-rw-r--r-- 1 1048579 big\ndrwxr-xr-x 2    4096 dir\n");
    expect(daxsim("ls", path, "/dir").stdout).toBe("-rw-r----- 1 20 file\n");
    expect(daxsim("ls", path, "dir/file").stdout).toBe("-rw-r----- 1 20 dir/file\n");
    const missing = daxsim("ls", path, "/nope");
    expect(missing.status).toBe(1);
    expect(missing.stderr).toBe("daxsim ls: cannot access '/nope': No such file or directory\n");
    expect(daxsim("cat", path, "/dir/file").stdout).toBe("hello from the DIMM\n");
    const big = spawnSync(process.execPath, [bin, "cat", path, "/big"], { cwd: dir! });
    expect(big.stdout.length).toBe((1 << 20) + 3);
    expect(big.stdout.subarray(0, 1 << 20).every((b) => b === 0)).toBe(true);
    expect(big.stdout.subarray(1 << 20).toString()).toBe("zzz");
    const isDir = daxsim("cat", path, "/dir");
    expect(isDir.status).toBe(1);
    expect(isDir.stderr).toBe("daxsim cat: /dir: Is a directory\n");
    expect(sha(path)).toBe(before);
  });
});

describe("daxsim run", () => {
  it("cli run: a passing workload exits 0; --json prints one result per line", () => {
    const r = daxsim("run", join(root, "examples", "punch_vs_mapping.json"), "--json");
    expect(r.status).toBe(0);
    const lines = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { i: number; op: string; ok: boolean });
    expect(lines.map((l) => l.i)).toEqual([...Array(lines.length).keys()]);
    expect(lines[0]).toEqual({ i: 0, op: "open", pid: 1, ok: true, value: 3, faults: [] });
    const table = daxsim("run", join(root, "examples", "map_sync.json"));
    expect(table.status).toBe(0);
    expect(table.stdout.split("\n")[0]).toBe("   i  op         pid  result           details");
    expect(table.stdout).toMatch(/\n {3}3 {2}store {8}1 {2}9 {16}faults allocated\n/);
  });

  it("cli run: the first failed expectation stops the run with exit 1, naming the op index, name, expected and actual", () => {
    const file = writeJson("mismatch.json", {
      ops: [
        { op: "open", path: "/f", flags: "O_RDWR|O_CREAT", as: "fd" },
        { op: "pwrite", fd: "$fd", offset: 0, text: "abc" },
        { op: "pread", fd: "$fd", offset: 0, length: 3, expect: { text: "abd" } },
        { op: "sync" },
      ],
    });
    const r = daxsim("run", file, "--json");
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(
      'daxsim run: op 2 (pread): expected text "abd" (3 bytes), got 3 bytes that differ first at byte 2: expected 64, got 63 (got 63…)\n',
    );
    expect(r.stdout.trim().split("\n")).toHaveLength(3);
    const errno = writeJson("errno.json", [{ op: "open", path: "/nope", expect: { ok: true } }]);
    expect(daxsim("run", errno).stderr).toBe("daxsim run: op 0 (open): expected success, got errno ENOENT\n");
    const unbound = writeJson("unbound.json", [{ op: "close", fd: "$fd" }]);
    const u = daxsim("run", unbound);
    expect(u.status).toBe(1);
    expect(u.stderr).toMatch(/op 0 \(close\): field "fd": \$fd has no value/);
  });

  it("cli run: a malformed workload exits 2 before anything runs, listing each bad op", () => {
    const file = writeJson("bad.json", [{ op: "sync" }, { op: "pwrite", fd: 3, offset: "x" }, { op: "mmap" }]);
    const r = daxsim("run", file);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(
      /^daxsim run: .*bad\.json: 2 malformed ops:\n {2}op 1 \(pwrite\): field "offset": "x" is not a number/,
    );
    expect(r.stderr).toMatch(/\n {2}op 2 \(mmap\): field "fd": missing\n$/);
    writeFileSync(join(dir!, "notjson.json"), "{ops: []}");
    expect(daxsim("run", join(dir!, "notjson.json")).stderr).toMatch(/notjson\.json is not valid JSON/);
    expect(daxsim("run", join(dir!, "notjson.json")).status).toBe(2);
    expect(daxsim("run").status).toBe(2);
  });

  it("cli run: with --dimm the image is loaded with recovery and saved after a clean unmount", () => {
    const path = mkfs("r.img");
    const first = writeJson("first.json", [
      { op: "open", path: "/kept", flags: "O_RDWR|O_CREAT", as: "fd" },
      { op: "pwrite", fd: "$fd", offset: 0, text: "written by run" },
      { op: "mmap", fd: "$fd", length: 4096, as: "m" },
      { op: "store", addr: "$m", text: "W", comment: "a mapped store, never synced: the clean unmount writes it back" },
    ]);
    expect(daxsim("run", first, "--dimm", path).status).toBe(0);
    const second = writeJson("second.json", [
      { op: "open", path: "/kept", as: "fd" },
      { op: "pread", fd: "$fd", offset: 0, length: 100, expect: { text: "Written by run" } },
    ]);
    const r = daxsim("run", second, "--dimm", path);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(daxsim("fsck", path).status).toBe(0);
    const small = mkfs("r8.img", "8M");
    const note = daxsim("run", join(root, "examples", "punch_vs_mapping.json"), "--dimm", small);
    expect(note.status).toBe(0);
    expect(note.stderr).toBe(
      `daxsim run: note: ${join(root, "examples", "punch_vs_mapping.json")} asks for a 16M adr DIMM; running on ${small} (8M adr) instead\n`,
    );
  });
});

describe("daxsim io", () => {
  it("cli io: two invocations in a row behave like a cycle mount (generic/029 case 2)", () => {
    const path = mkfs("io.img");
    const first = daxsim(
      "io",
      "--dimm",
      path,
      "-t",
      "-f",
      "-c",
      "truncate 5120",
      "-c",
      "pwrite -S 0x58 0 5120",
      "-c",
      "mmap -rw 0 5120",
      "-c",
      "mwrite -S 0x5a 2048 3072",
      "-c",
      "truncate 2048",
      "-c",
      "mwrite -S 0x57 1024 1024",
      "-c",
      "truncate 5120",
      "-c",
      "mwrite -S 0x59 2048 3072",
      "-c",
      "close",
      "/testfile",
    );
    expect(first.stderr).toBe("");
    expect(first.status).toBe(0);
    expect(first.stdout).toMatch(
      /^wrote 5120\/5120 bytes at offset 0\n5 KiB, 2 ops; [0-9.]+ sec \([0-9.]+ [GMK]iB\/sec and [0-9.]+ ops\/sec\)\n$/,
    );
    const second = daxsim(
      "io",
      "--dimm",
      path,
      "-r",
      "-c",
      "pread -v 1020 8",
      "-c",
      "pread -v 2044 8",
      "-c",
      "stat",
      "/testfile",
    );
    expect(second.status).toBe(0);
    expect(second.stdout).toMatch(/^000003fc:  58 58 58 58 57 57 57 57  XXXXWWWW\nread 8\/8 bytes at offset 1020\n/);
    expect(second.stdout).toMatch(/\n000007fc:  57 57 57 57 59 59 59 59  WWWWYYYY\nread 8\/8 bytes at offset 2044\n/);
    expect(second.stdout).toMatch(
      /\nfd\.path = "\/testfile"\nfd\.flags = non-sync,non-direct,read-only\nstat\.ino = 2\nstat\.type = regular file\nstat\.size = 5120\nstat\.blocks = 16\n$/,
    );
    expect(daxsim("fsck", path).status).toBe(0);
  });

  it("cli io: SIGBUS prints 'Bus error', exits 135, and the image is still saved and consistent", () => {
    const path = mkfs("bus.img");
    expect(daxsim("io", "--dimm", path, "-f", "-c", "pwrite -q 0 10", "/f").status).toBe(0);
    const r = daxsim(
      "io",
      "--dimm",
      path,
      "-c",
      "mmap -rw 0 8192",
      "-c",
      "mwrite -S 0x41 0 5",
      "-c",
      "mread 0 8192",
      "-c",
      "pwrite 0 1",
      "/f",
    );
    expect(r.status).toBe(135);
    expect(r.stderr).toBe("Bus error\n");
    expect(r.stdout).toBe("");
    expect(daxsim("fsck", path).status).toBe(0);
    const after = daxsim("io", "--dimm", path, "-r", "-c", "pread -v 0 10", "/f");
    expect(after.stdout).toMatch(/^00000000:  41 41 41 41 41 cd cd cd cd cd  AAAAA\.\.\.\.\.\n/);
    expect(readImage(path).header.dimmSizeBytes).toBe(16 << 20);
  });

  it("cli io: xfs_io-style usage errors exit 1; the image must be named with --dimm", () => {
    const path = mkfs("u.img");
    const before = sha(path);
    const noDimm = daxsim("io", "-c", "stat", "/f");
    expect(noDimm.status).toBe(1);
    expect(noDimm.stderr).toMatch(/--dimm IMG is required[\s\S]*Usage: daxsim io --dimm IMG/);
    expect(daxsim("io", "--dimm", path, "-Z", "/f").status).toBe(1);
    expect(daxsim("io", "--dimm", path, "-o", "dax,turbo", "/f").stderr).toMatch(/mount option "turbo"/);
    expect(sha(path)).toBe(before);
    const missing = daxsim("io", "--dimm", path, "-c", "stat", "/nope");
    expect(missing.status).toBe(1);
    expect(missing.stderr).toBe("/nope: No such file or directory\n");
  });
});
