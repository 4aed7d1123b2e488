/**
 * Sizes of the simulated hardware. A page is also the filesystem block. The DIMM is always fully
 * mapped: PFN n is bytes [n·PAGE_BYTES, (n+1)·PAGE_BYTES) of the media.
 */
import { DimmConfigError } from "./errors.js";

export const PAGE_BYTES = 4096;
export const LINE_BYTES = 64;
/** The power-fail atomic unit: an aligned 8-byte word. */
export const WORD_BYTES = 8;
export const WORDS_PER_LINE = LINE_BYTES / WORD_BYTES;
export const LINES_PER_PAGE = PAGE_BYTES / LINE_BYTES;
/** Media and line metadata are allocated lazily in chunks of this size. */
export const CHUNK_BYTES = 1 << 20;
export const LINES_PER_CHUNK = CHUNK_BYTES / LINE_BYTES;
export const PAGES_PER_CHUNK = CHUNK_BYTES / PAGE_BYTES;

export const DIMM_BYTES_MIN = 1 << 20;
export const DIMM_BYTES_MAX = 64 * 1024 ** 3;

const UNITS: Record<string, number> = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/** Parses "64M", "4G", "1048576", "1MiB" into bytes. Throws DimmConfigError naming the text. */
export function parseSize(text: string): number {
  const match = /^\s*(\d+)\s*([KMGT]?)(i?B)?\s*$/i.exec(text);
  if (match === null) throw new DimmConfigError(`size "${text}" is not a number with an optional K/M/G/T suffix`);
  const unit = UNITS[match[2]!.toUpperCase()];
  const value = Number(match[1]) * unit!;
  if (!Number.isSafeInteger(value)) throw new DimmConfigError(`size "${text}" is too large`);
  return value;
}

export function formatSize(bytes: number): string {
  for (const [suffix, unit] of [
    ["G", 1024 ** 3],
    ["M", 1024 ** 2],
    ["K", 1024],
  ] as const) {
    if (bytes >= unit && bytes % unit === 0) return `${bytes / unit}${suffix}`;
  }
  return String(bytes);
}

/** Checks a DIMM size: a multiple of 1 MiB in [1 MiB, 64 GiB]. */
export function checkDimmSize(sizeBytes: number): void {
  if (!Number.isSafeInteger(sizeBytes)) throw new DimmConfigError(`DIMM size ${sizeBytes} is not an integer`);
  if (sizeBytes < DIMM_BYTES_MIN || sizeBytes > DIMM_BYTES_MAX) {
    throw new DimmConfigError(
      `DIMM size ${sizeBytes} bytes is outside [${formatSize(DIMM_BYTES_MIN)}, ${formatSize(DIMM_BYTES_MAX)}]`,
    );
  }
  if (sizeBytes % CHUNK_BYTES !== 0)
    throw new DimmConfigError(`DIMM size ${sizeBytes} bytes is not a multiple of 1 MiB`);
}
