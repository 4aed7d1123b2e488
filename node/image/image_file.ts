/**
 * The DIMM image file: what `daxsim mkfs` writes and every image tool reads. It owns the on-disk
 * format and its checks.
 *
 * Layout (little-endian):
 *   [0, 4096)  header
 *     0   8  magic "DAXSIMG\0"
 *     8   4  format version (1)
 *    12   4  header bytes (4096)
 *    16   8  DIMM size in bytes (a multiple of 1 MiB, 1 MiB … 64 GiB)
 *    24   4  persistence domain: 0 adr, 1 eadr
 *    28   4  chunk bytes (1 MiB, the unit of the media hash)
 *    32  32  media hash: SHA-256 over the SHA-256 of each 1 MiB chunk (node/dimm/state.ts)
 *    64  64  a human-readable note, NUL padded
 *  4092   4  CRC-32 (IEEE) of bytes [0, 4092)
 *   [4096, 4096 + size)  the media: the DIMM's durable bytes, what survives power loss
 *
 * Invariants: a file this module accepts has a valid header CRC, a supported version, sane fields,
 * exactly 4096 + size bytes, and media whose hash equals the header's; reading never writes. A
 * write is atomic (temporary file in the same folder, fsync, rename) and sparse: all-zero chunks
 * are holes. The writer computes the media hash from the bytes it writes; the loader checks the
 * same hash, so a hash pair brackets every image on disk.
 */
import { createHash } from "node:crypto";
import {
  closeSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  openSync,
  readSync,
  renameSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import type { Persistence } from "../../proto/index.js";
import { CHUNK_BYTES, DIMM_BYTES_MAX, DIMM_BYTES_MIN, formatSize } from "../dimm/geometry.js";
import { chunkSha256Of } from "../dimm/state.js";
import {
  ImageCorruptError,
  ImageForeignError,
  ImageIoError,
  ImageNotFoundError,
  ImageTruncatedError,
  ImageVersionError,
} from "./errors.js";
import { crc32 } from "../checksum.js";

export const IMAGE_HEADER_BYTES = 4096;
export const IMAGE_MAGIC = Buffer.from("DAXSIMG\0", "latin1");
export const IMAGE_VERSION = 1;
const PERSISTENCE_CODES: readonly Persistence[] = ["adr", "eadr"];
const NOTE = "daxsim DIMM image: 4096-byte header, then the media";
const CRC_OFFSET = IMAGE_HEADER_BYTES - 4;
const ZERO_CHUNK = Buffer.alloc(CHUNK_BYTES);
const REMEDY = 'restore the image from a copy, or make a new one with "daxsim mkfs"';

export interface ImageHeader {
  version: number;
  dimmSizeBytes: number;
  persistence: Persistence;
  /** SHA-256 over the per-chunk SHA-256 digests of the media (32 bytes). */
  mediaSha256: Buffer;
}

export interface DimmImage {
  path: string;
  header: ImageHeader;
  /** The media, per 1 MiB chunk; undefined for a chunk of zeros (never stored, or a hole). */
  chunks: (Buffer | undefined)[];
}

// ---------------------------------------------------------------------------------------------
// Media hash, computed exactly as DimmState.mediaSha256 does.

function isZeroChunk(chunk: Uint8Array): boolean {
  return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).equals(ZERO_CHUNK);
}

// ---------------------------------------------------------------------------------------------
// Header encoding

export function encodeHeader(header: ImageHeader): Buffer {
  if (header.mediaSha256.length !== 32) throw new RangeError("encodeHeader: media hash must be 32 bytes");
  const b = Buffer.alloc(IMAGE_HEADER_BYTES);
  IMAGE_MAGIC.copy(b, 0);
  b.writeUInt32LE(header.version, 8);
  b.writeUInt32LE(IMAGE_HEADER_BYTES, 12);
  b.writeBigUInt64LE(BigInt(header.dimmSizeBytes), 16);
  b.writeUInt32LE(PERSISTENCE_CODES.indexOf(header.persistence), 24);
  b.writeUInt32LE(CHUNK_BYTES, 28);
  header.mediaSha256.copy(b, 32);
  b.write(NOTE, 64, 64, "latin1");
  b.writeUInt32LE(crc32(b.subarray(0, CRC_OFFSET)), CRC_OFFSET);
  return b;
}

/** Decodes and checks a header; throws the ImageError that says what is wrong. */
export function decodeHeader(path: string, b: Buffer): ImageHeader {
  if (b.length < IMAGE_MAGIC.length || !b.subarray(0, IMAGE_MAGIC.length).equals(IMAGE_MAGIC)) {
    const start = [...b.subarray(0, 8)].map((x) => x.toString(16).padStart(2, "0")).join(" ");
    throw new ImageForeignError(
      path,
      `${path} is not a daxsim image: it starts with ${start === "" ? "nothing (empty file)" : start}, not "DAXSIMG"; name an image made by "daxsim mkfs"`,
    );
  }
  if (b.length < IMAGE_HEADER_BYTES) {
    throw new ImageTruncatedError(
      path,
      `${path} is truncated inside its header (${b.length} of ${IMAGE_HEADER_BYTES} bytes); ${REMEDY}`,
    );
  }
  const stored = b.readUInt32LE(CRC_OFFSET);
  const computed = crc32(b.subarray(0, CRC_OFFSET));
  if (stored !== computed) {
    throw new ImageCorruptError(
      path,
      `${path}: the header checksum does not match (stored 0x${hex32(stored)}, computed 0x${hex32(computed)}): the header is damaged; ${REMEDY}`,
    );
  }
  const version = b.readUInt32LE(8);
  if (version !== IMAGE_VERSION) {
    throw new ImageVersionError(
      path,
      `${path} is a version ${version} daxsim image; this daxsim reads version ${IMAGE_VERSION} only: use the daxsim that wrote it`,
    );
  }
  const headerBytes = b.readUInt32LE(12);
  const sizeBig = b.readBigUInt64LE(16);
  const persistenceCode = b.readUInt32LE(24);
  const chunkBytes = b.readUInt32LE(28);
  const problem =
    headerBytes !== IMAGE_HEADER_BYTES
      ? `header size ${headerBytes}, expected ${IMAGE_HEADER_BYTES}`
      : chunkBytes !== CHUNK_BYTES
        ? `chunk size ${chunkBytes}, expected ${CHUNK_BYTES}`
        : sizeBig < BigInt(DIMM_BYTES_MIN) || sizeBig > BigInt(DIMM_BYTES_MAX) || sizeBig % BigInt(CHUNK_BYTES) !== 0n
          ? `DIMM size ${sizeBig} is not a multiple of 1 MiB in [${formatSize(DIMM_BYTES_MIN)}, ${formatSize(DIMM_BYTES_MAX)}]`
          : persistenceCode >= PERSISTENCE_CODES.length
            ? `persistence code ${persistenceCode} is neither 0 (adr) nor 1 (eadr)`
            : undefined;
  // A field can be wrong under a correct CRC only if a buggy writer produced it.
  if (problem !== undefined) throw new ImageCorruptError(path, `${path}: bad header field: ${problem}; ${REMEDY}`);
  return {
    version,
    dimmSizeBytes: Number(sizeBig),
    persistence: PERSISTENCE_CODES[persistenceCode]!,
    mediaSha256: Buffer.from(b.subarray(32, 64)),
  };
}

function hex32(n: number): string {
  return n.toString(16).padStart(8, "0");
}

// ---------------------------------------------------------------------------------------------
// Reading

function openForRead(path: string): number {
  try {
    return openSync(path, "r");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT")
      throw new ImageNotFoundError(
        path,
        `${path}: no such image file; make one with "daxsim mkfs ${path} --size 64M"`,
        { cause: error },
      );
    throw new ImageIoError(path, `${path}: cannot open: ${(error as Error).message}`, { cause: error });
  }
}

function readFully(fd: number, path: string, into: Buffer, position: number): number {
  let done = 0;
  // Bounded: each successful read makes progress, and a 0-byte read (EOF) ends the loop.
  while (done < into.length) {
    let n: number;
    try {
      n = readSync(fd, into, done, into.length - done, position + done);
    } catch (error) {
      throw new ImageIoError(path, `${path}: read failed at byte ${position + done}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    if (n === 0) break;
    done += n;
  }
  return done;
}

/** Reads only the header (checked). The media is not read, so its hash is not verified. */
export function readImageHeader(path: string): ImageHeader {
  const fd = openForRead(path);
  try {
    const head = Buffer.alloc(IMAGE_HEADER_BYTES);
    const n = readFully(fd, path, head, 0);
    return decodeHeader(path, head.subarray(0, n));
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads and checks a whole image: header, length, and the media hash. Throws an ImageError (and has
 * changed nothing) when the file is unusable. Memory: one buffer per non-zero 1 MiB chunk.
 */
export function readImage(path: string): DimmImage {
  const fd = openForRead(path);
  try {
    let fileBytes: number;
    try {
      fileBytes = fstatSync(fd).size;
    } catch (error) {
      throw new ImageIoError(path, `${path}: cannot stat: ${(error as Error).message}`, { cause: error });
    }
    const head = Buffer.alloc(IMAGE_HEADER_BYTES);
    const headBytes = readFully(fd, path, head, 0);
    const header = decodeHeader(path, head.subarray(0, headBytes));
    const expected = IMAGE_HEADER_BYTES + header.dimmSizeBytes;
    if (fileBytes < expected) {
      throw new ImageTruncatedError(
        path,
        `${path} is truncated: it has ${fileBytes} bytes, but a ${formatSize(header.dimmSizeBytes)} image has ${expected}; ${REMEDY}`,
      );
    }
    if (fileBytes > expected) {
      throw new ImageCorruptError(
        path,
        `${path} has ${fileBytes - expected} bytes after the end of its ${formatSize(header.dimmSizeBytes)} media (expected ${expected} bytes in all): something appended to it; ${REMEDY}`,
      );
    }
    const chunkCount = header.dimmSizeBytes / CHUNK_BYTES;
    const chunks: (Buffer | undefined)[] = new Array<Buffer | undefined>(chunkCount).fill(undefined);
    const outer = createHash("sha256");
    for (let c = 0; c < chunkCount; c++) {
      const chunk = Buffer.alloc(CHUNK_BYTES);
      const n = readFully(fd, path, chunk, IMAGE_HEADER_BYTES + c * CHUNK_BYTES);
      if (n !== CHUNK_BYTES) throw new ImageTruncatedError(path, `${path} ended while reading chunk ${c}; ${REMEDY}`);
      const zero = isZeroChunk(chunk);
      outer.update(chunkSha256Of(zero ? undefined : chunk));
      if (!zero) chunks[c] = chunk;
    }
    const actual = outer.digest();
    if (!actual.equals(header.mediaSha256)) {
      throw new ImageCorruptError(
        path,
        `${path}: the media does not match the hash in its header (header ${header.mediaSha256.toString("hex")}, media ${actual.toString("hex")}): it was changed outside daxsim or damaged; ${REMEDY}`,
      );
    }
    return { path, header, chunks };
  } finally {
    closeSync(fd);
  }
}

// ---------------------------------------------------------------------------------------------
// Writing

export interface ImageGeometry {
  dimmSizeBytes: number;
  persistence: Persistence;
}

/**
 * Writes an image atomically: the media from `chunk(c)` (undefined = zeros) goes to a temporary
 * file in the same folder, holes where a chunk is all zeros, then the header, fsync, and a rename
 * over `path`. A crash or error leaves either the old file or the new one, never a mix. Returns the
 * header written.
 */
export function writeImage(
  path: string,
  geometry: ImageGeometry,
  chunk: (c: number) => Uint8Array | undefined,
): ImageHeader {
  const { dimmSizeBytes, persistence } = geometry;
  if (
    !Number.isSafeInteger(dimmSizeBytes) ||
    dimmSizeBytes < DIMM_BYTES_MIN ||
    dimmSizeBytes > DIMM_BYTES_MAX ||
    dimmSizeBytes % CHUNK_BYTES !== 0
  ) {
    throw new RangeError(`writeImage: DIMM size ${dimmSizeBytes} is not a multiple of 1 MiB in range`);
  }
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  let fd: number;
  try {
    fd = openSync(temp, "w", 0o644);
  } catch (error) {
    throw new ImageIoError(path, `${path}: cannot create ${temp}: ${(error as Error).message}`, { cause: error });
  }
  let renamed = false;
  try {
    const outer = createHash("sha256");
    const chunkCount = dimmSizeBytes / CHUNK_BYTES;
    for (let c = 0; c < chunkCount; c++) {
      const content = chunk(c);
      if (content !== undefined && content.length !== CHUNK_BYTES)
        throw new RangeError(`writeImage: chunk ${c} has ${content.length} bytes`);
      const zero = content === undefined || isZeroChunk(content);
      outer.update(chunkSha256Of(zero ? undefined : content));
      if (!zero) writeFully(fd, path, content, IMAGE_HEADER_BYTES + c * CHUNK_BYTES);
    }
    const header: ImageHeader = { version: IMAGE_VERSION, dimmSizeBytes, persistence, mediaSha256: outer.digest() };
    writeFully(fd, path, encodeHeader(header), 0);
    try {
      ftruncateSync(fd, IMAGE_HEADER_BYTES + dimmSizeBytes); // the length; trailing zero chunks stay holes
      fsyncSync(fd);
    } catch (error) {
      throw new ImageIoError(path, `${path}: cannot finish ${temp}: ${(error as Error).message}`, { cause: error });
    }
    closeSync(fd);
    fd = -1;
    try {
      renameSync(temp, path);
      renamed = true;
    } catch (error) {
      throw new ImageIoError(path, `${path}: cannot replace it with ${temp}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    syncFolder(dirname(path));
    return header;
  } finally {
    if (fd >= 0) closeSync(fd);
    if (!renamed) {
      try {
        unlinkSync(temp);
      } catch {
        // Nothing to clean up.
      }
    }
  }
}

function writeFully(fd: number, path: string, data: Uint8Array, position: number): void {
  let done = 0;
  while (done < data.length) {
    try {
      done += writeSync(fd, data, done, data.length - done, position + done);
    } catch (error) {
      throw new ImageIoError(path, `${path}: write failed at byte ${position + done}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
}

/** Makes the rename durable. Some platforms cannot fsync a folder; the rename is still atomic there. */
function syncFolder(folder: string): void {
  let fd = -1;
  try {
    fd = openSync(folder, "r");
    fsyncSync(fd);
  } catch {
    // Best effort (see above).
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

export function formatMediaHash(header: ImageHeader): string {
  return header.mediaSha256.toString("hex");
}
