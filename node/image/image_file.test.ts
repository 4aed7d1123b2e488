import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { crc32 } from "../checksum.js";
import { CHUNK_BYTES } from "../dimm/geometry.js";
import { EventLog, NullSink } from "../events/event_log.js";
import { Machine } from "../machine.js";
import type { OpenFlags } from "../machine.js";
import { StepClock } from "../sim/clock.js";
import {
  ImageCorruptError,
  ImageError,
  ImageForeignError,
  ImageNotFoundError,
  ImageTruncatedError,
  ImageVersionError,
} from "./errors.js";
import { IMAGE_HEADER_BYTES, readImage, readImageHeader, writeImage } from "./image_file.js";
import { machineFromImage, saveImage, shutDown } from "./machine_image.js";

const RW_CREATE: OpenFlags = { read: true, write: true, create: true, excl: false, trunc: false, append: false };
const MiB = CHUNK_BYTES;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "daxsim-image-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function log(): EventLog {
  return new EventLog(new NullSink(), new StepClock());
}

/** An image of a 4 MiB DIMM holding /f with `text` at offset 1 MiB (so one chunk in the middle is data). */
function makeImage(path: string, text = "hello, image"): Machine {
  const m = Machine.format(log(), { dimm: { sizeBytes: 4 * MiB }, seed: 3n });
  const fd = m.open(1, "/f", RW_CREATE).value;
  expect(m.write(1, fd, Buffer.from(text), 0).ok).toBe(true);
  expect(m.fsync(1, fd).ok).toBe(true);
  shutDown(m);
  saveImage(m, path);
  return m;
}

function sha(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

/** Runs `read` on a damaged copy and checks the error class, the message, and that the file is untouched. */
function expectRefused(path: string, cls: new (...args: never[]) => ImageError, message: RegExp): void {
  const before = sha(path);
  const size = statSync(path).size;
  let caught: unknown;
  try {
    readImage(path);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(cls);
  expect((caught as Error).message).toMatch(message);
  expect((caught as Error).message).toContain(path);
  expect(sha(path)).toBe(before);
  expect(statSync(path).size).toBe(size);
}

describe("image file", () => {
  it('image: crc32 is the IEEE CRC (check value of "123456789")', () => {
    expect(crc32(Buffer.from("123456789"))).toBe(0xcbf43926);
    expect(crc32(Buffer.alloc(0))).toBe(0);
  });

  it("image: save then load gives the same media, hash and files", () => {
    const path = join(dir, "a.img");
    const m = makeImage(path);
    const image = readImage(path);
    expect(image.header.dimmSizeBytes).toBe(4 * MiB);
    expect(image.header.persistence).toBe("adr");
    expect(image.header.mediaSha256.equals(m.dimm.mediaSha256())).toBe(true);
    const again = machineFromImage(image, log());
    expect(again.dimm.mediaSha256().equals(image.header.mediaSha256)).toBe(true);
    const fd = again.open(1, "/f", { ...RW_CREATE, create: false }).value;
    expect(again.read(1, fd, 100, 0).data!.toString()).toBe("hello, image");
    expect(again.lastMount?.fsck.clean).toBe(true);
  });

  it("image: the header carries persistence, and an eadr image loads as eadr", () => {
    const path = join(dir, "e.img");
    const m = Machine.format(log(), { dimm: { sizeBytes: 2 * MiB, persistence: "eadr" } });
    m.unmount();
    saveImage(m, path);
    expect(readImageHeader(path).persistence).toBe("eadr");
    expect(machineFromImage(readImage(path), log()).persistence).toBe("eadr");
  });

  it("image: zero chunks are holes (the file is sparse) and its length is header + media", () => {
    const path = join(dir, "sparse.img");
    const chunks = 64;
    writeImage(path, { dimmSizeBytes: chunks * MiB, persistence: "adr" }, (c) =>
      c === 5 ? Buffer.alloc(MiB, 7) : c === 9 ? Buffer.alloc(MiB) : undefined,
    );
    const st = statSync(path);
    expect(st.size).toBe(IMAGE_HEADER_BYTES + chunks * MiB);
    expect(st.blocks * 512).toBeLessThan(4 * MiB); // 1 data chunk + header, not 64 MiB
    const image = readImage(path);
    expect(image.chunks.filter((c) => c !== undefined).length).toBe(1);
    expect(image.chunks[5]![0]).toBe(7);
  });

  it("image: a write leaves no temporary file and replaces an existing image atomically", () => {
    const path = join(dir, "r.img");
    writeImage(path, { dimmSizeBytes: MiB, persistence: "adr" }, () => Buffer.alloc(MiB, 1));
    const first = sha(path);
    writeImage(path, { dimmSizeBytes: MiB, persistence: "adr" }, () => Buffer.alloc(MiB, 2));
    expect(sha(path)).not.toBe(first);
    expect(readdirSync(dir)).toEqual(["r.img"]);
  });

  it("image: a missing file is ImageNotFoundError saying how to make one", () => {
    expect(() => readImage(join(dir, "nope.img"))).toThrow(ImageNotFoundError);
    expect(() => readImage(join(dir, "nope.img"))).toThrow(/daxsim mkfs/);
  });

  it("image: a foreign file is refused (wrong magic) and left untouched", () => {
    const path = join(dir, "elf");
    writeFileSync(path, Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46]), Buffer.alloc(10000, 1)]));
    expectRefused(path, ImageForeignError, /not a daxsim image: it starts with 7f 45 4c 46/);
    const empty = join(dir, "empty");
    writeFileSync(empty, "");
    expectRefused(empty, ImageForeignError, /empty file/);
  });

  it("image: a damaged header is refused by its CRC and left untouched", () => {
    const path = join(dir, "crc.img");
    makeImage(path);
    const bytes = readFileSync(path);
    bytes[20]! ^= 0x01; // a byte of the DIMM size
    writeFileSync(path, bytes);
    expectRefused(path, ImageCorruptError, /header checksum does not match .*restore the image from a copy/);
  });

  it("image: another format version is refused with the version named", () => {
    const path = join(dir, "v2.img");
    makeImage(path);
    const bytes = readFileSync(path);
    bytes.writeUInt32LE(2, 8);
    bytes.writeUInt32LE(crc32(bytes.subarray(0, IMAGE_HEADER_BYTES - 4)), IMAGE_HEADER_BYTES - 4);
    writeFileSync(path, bytes);
    expectRefused(path, ImageVersionError, /version 2 daxsim image; this daxsim reads version 1/);
  });

  it("image: a truncated file is refused (in the header and in the media)", () => {
    const path = join(dir, "t.img");
    makeImage(path);
    const bytes = readFileSync(path);
    writeFileSync(path, bytes.subarray(0, bytes.length - 100));
    expectRefused(path, ImageTruncatedError, /truncated: it has \d+ bytes, but a 4M image has \d+/);
    writeFileSync(path, bytes.subarray(0, 1000));
    expectRefused(path, ImageTruncatedError, /truncated inside its header/);
  });

  it("image: bytes appended after the media are refused", () => {
    const path = join(dir, "long.img");
    makeImage(path);
    writeFileSync(path, Buffer.concat([readFileSync(path), Buffer.from("x")]));
    expectRefused(path, ImageCorruptError, /1 bytes after the end of its 4M media/);
  });

  it("image: one changed media byte is caught by the media hash", () => {
    const path = join(dir, "h.img");
    makeImage(path);
    const bytes = readFileSync(path);
    bytes[IMAGE_HEADER_BYTES + 3 * MiB + 17]! ^= 0x80;
    writeFileSync(path, bytes);
    expectRefused(path, ImageCorruptError, /media does not match the hash in its header/);
  });

  it("image: a header field that is wrong under a valid CRC is refused", () => {
    const path = join(dir, "f.img");
    makeImage(path);
    const bytes = readFileSync(path);
    bytes.writeUInt32LE(9, 24); // persistence code
    bytes.writeUInt32LE(crc32(bytes.subarray(0, IMAGE_HEADER_BYTES - 4)), IMAGE_HEADER_BYTES - 4);
    writeFileSync(path, bytes);
    expectRefused(path, ImageCorruptError, /persistence code 9/);
  });

  it("image: saving a mounted machine is a programmer error", () => {
    const m = Machine.format(log(), { dimm: { sizeBytes: MiB * 2 } });
    expect(() => saveImage(m, join(dir, "x.img"))).toThrow(/unmount the machine first/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("image: stores through a mapping of a closed file are in the saved image (shutDown writes back dirty pages)", () => {
    const path = join(dir, "mapped.img");
    const m = Machine.format(log(), { dimm: { sizeBytes: 4 * MiB } });
    const fd = m.open(1, "/f", RW_CREATE).value;
    m.write(1, fd, Buffer.alloc(8192, 0x58), 0);
    const addr = m.mmap(1, { fd, offset: 0, length: 8192, read: true, write: true, shared: true, sync: false }).value;
    m.store(1, addr + 100, Buffer.from("mapped store"));
    m.close(1, fd);
    shutDown(m);
    saveImage(m, path);
    const again = machineFromImage(readImage(path), log());
    const fd2 = again.open(1, "/f", { ...RW_CREATE, create: false }).value;
    expect(again.read(1, fd2, 12, 100).data!.toString()).toBe("mapped store");
  });

  it("image: a clean Machine.unmount() makes stores through a mapping durable (it writes back dirty mapped pages)", () => {
    const m = Machine.format(log(), { dimm: { sizeBytes: 4 * MiB } });
    const fd = m.open(1, "/f", RW_CREATE).value;
    m.write(1, fd, Buffer.alloc(8192, 0x58), 0);
    m.fsync(1, fd);
    const addr = m.mmap(1, { fd, offset: 0, length: 8192, read: true, write: true, shared: true, sync: false }).value;
    m.store(1, addr + 100, Buffer.from("mapped store"));
    m.close(1, fd);
    m.unmount();
    expect(m.dimm.loadDurable(0, 4 * MiB).includes(Buffer.from("mapped store"))).toBe(true);
  });
});
