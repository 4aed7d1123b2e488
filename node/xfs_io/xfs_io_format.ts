/**
 * xfs_io's number syntax and output formats, reproduced from the documented behaviour of xfsprogs'
 * libfrog/convert.c (cvtnum, cvtstr), libxcmd/input.c (timestr), libxcmd/command.c
 * (report_io_times) and io/pread.c (dump_buffer). Users' scripts and xfstests' filters
 * (_filter_xfs_io, _filter_xfs_io_offset, common_line_filter) parse these lines, so every space
 * matters.
 */
import { BLOCK_BYTES } from "../fs/layout.js";
import { cFixed, strtoll } from "./c_lib.js";

export const FS_BLOCK_BYTES = BLOCK_BYTES;
export const SECTOR_BYTES = 512;

/** Bytes per unit for cvtnum's one-letter suffixes (b and s are the block and sector size). */
export const SIZE_SUFFIX_BYTES: Readonly<Record<string, bigint>> = {
  b: BigInt(FS_BLOCK_BYTES),
  s: BigInt(SECTOR_BYTES),
  k: 1n << 10n,
  m: 1n << 20n,
  g: 1n << 30n,
  t: 1n << 40n,
  p: 1n << 50n,
  e: 1n << 60n,
};

/**
 * cvtnum: a C integer (base 0) with an optional one-letter unit. Returns -1 for anything else,
 * as xfs_io does; callers print "non-numeric ... argument". Values that are not safe JS integers
 * are also -1 (xfs_io would overflow or hand them to a syscall that fails).
 */
export function cvtnum(text: string): number {
  const { value, consumed } = strtoll(text);
  if (consumed === 0) return -1;
  const rest = text.slice(consumed);
  let result: bigint;
  if (rest === "") {
    result = value;
  } else {
    if (rest.length !== 1) return -1;
    const unit = SIZE_SUFFIX_BYTES[rest.toLowerCase()];
    if (unit === undefined) return -1;
    result = value * unit;
  }
  if (result > BigInt(Number.MAX_SAFE_INTEGER) || result < -BigInt(Number.MAX_SAFE_INTEGER)) return -1;
  return Number(result);
}

/** C's (int) conversion of a double as x86-64 does it: out-of-range values become INT_MIN. */
function cIntTruncate(value: number): number {
  if (!Number.isFinite(value) || value >= 2 ** 31 || value < -(2 ** 31)) return -(2 ** 31);
  return Math.trunc(value);
}

const UNITS: ReadonlyArray<[number, string]> = [
  [2 ** 60, "EiB"],
  [2 ** 50, "PiB"],
  [2 ** 40, "TiB"],
  [2 ** 30, "GiB"],
  [2 ** 20, "MiB"],
  [2 ** 10, "KiB"],
];

/** cvtstr: "5 KiB", "4.768 GiB", "512.000000 bytes". "precise" means the *byte* count is whole. */
export function cvtstr(value: number): string {
  const precise = value * 1000 === cIntTruncate(value) * 1000;
  for (const [unit, name] of UNITS) {
    if (value >= unit) return `${cFixed(value / unit, precise ? 0 : 3)} ${name}`;
  }
  return `${cFixed(value, 6)} bytes`;
}

export interface TimeVal {
  sec: number;
  usec: number;
}

/** A duration in nanoseconds as struct timeval (microseconds, at least 1 so rates stay finite). */
export function timeval(ns: number): TimeVal {
  const usec = Math.max(1, Math.floor(ns / 1000));
  return { sec: Math.floor(usec / 1_000_000), usec: usec % 1_000_000 };
}

/** timestr without TERSE/VERBOSE flags: "0.0001 sec" under a second, else "H:MM:SS.hh". */
export function timestr(tv: TimeVal, verboseFixed = false): string {
  const hundredths = Math.floor(tv.usec / 10_000);
  if (verboseFixed || tv.sec !== 0) {
    const h = Math.floor(tv.sec / 3600);
    const m = Math.floor((tv.sec % 3600) / 60);
    const s = tv.sec % 60;
    return `${h}:${String(m).padStart(2, "0")}:${String(s).padStart(2, "0")}.${String(hundredths).padStart(2, "0")}`;
  }
  return `0.${String(Math.floor(tv.usec / 100)).padStart(4, "0")} sec`;
}

function tdiv(value: number, tv: TimeVal): number {
  return value / (tv.sec + tv.usec / 1_000_000);
}

/**
 * report_io_times: the two lines after pwrite/pread ("wrote 5120/5120 bytes at offset 0" and
 * "5 KiB, 2 ops; 0.0000 sec (...)"), or the one compact line with -C.
 */
export function reportIoTimes(
  verb: string,
  elapsed: TimeVal,
  offset: number,
  count: number,
  total: number,
  ops: number,
  compact: boolean,
): string {
  const ts = timestr(elapsed, compact);
  if (compact) return `${total},${ops},${ts},${cFixed(tdiv(total, elapsed), 3)},${cFixed(tdiv(ops, elapsed), 3)}\n`;
  return `${verb} ${total}/${count} bytes at offset ${offset}\n${cvtstr(total)}, ${ops} ops; ${ts} (${cvtstr(tdiv(total, elapsed))}/sec and ${cFixed(tdiv(ops, elapsed), 4)} ops/sec)\n`;
}

function isAlnum(byte: number): boolean {
  return (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a);
}

/**
 * dump_buffer (pread -v, mread -v): 16 bytes a line, "%08llx:  " then "%02x " per byte, a space,
 * and the bytes as characters (letters and digits; '.' for everything else).
 */
export function dumpBuffer(offset: number, bytes: Uint8Array): string {
  const lines: string[] = [];
  for (let i = 0; i < bytes.length; i += 16) {
    const row = bytes.subarray(i, Math.min(i + 16, bytes.length));
    let hex = "";
    let text = "";
    for (const b of row) {
      hex += `${b.toString(16).padStart(2, "0")} `;
      text += isAlnum(b) ? String.fromCharCode(b) : ".";
    }
    lines.push(`${(offset + i).toString(16).padStart(8, "0")}:  ${hex} ${text}\n`);
  }
  return lines.join("");
}
