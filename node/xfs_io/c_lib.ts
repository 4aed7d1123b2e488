/**
 * The few C library behaviours that xfs_io's command syntax and output depend on, reproduced so the
 * xfs_io-style tool reads arguments and prints numbers exactly as xfs_io does on glibc: strtoll /
 * strtoul with base 0 (prefix parsing), GNU getopt (with argument permutation and its error
 * messages), printf's "%.Nf" (round-half-to-even on the exact binary value), strerror and ctime.
 * Written from the documented behaviour of those functions; no code is copied.
 */
import type { Errno } from "../fs/errors.js";

const LLONG_MAX = (1n << 63n) - 1n;
const LLONG_MIN = -(1n << 63n);
const ULONG_MASK = (1n << 64n) - 1n;

export interface PrefixNumber {
  /** The value parsed (0 when nothing was). */
  value: bigint;
  /** Characters consumed; 0 when no digits were found (C: endptr == nptr). */
  consumed: number;
}

function isSpace(ch: string): boolean {
  return ch === " " || ch === "\t" || ch === "\n" || ch === "\v" || ch === "\f" || ch === "\r";
}

function digitValue(ch: string): number {
  const code = ch.charCodeAt(0);
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 97 && code <= 122) return code - 87;
  if (code >= 65 && code <= 90) return code - 55;
  return 99;
}

/** strtoll/strtoul's scan with base 0: whitespace, sign, "0x" hex, "0" octal, else decimal. */
function scanBase0(s: string): { negative: boolean; magnitude: bigint; consumed: number } {
  let i = 0;
  while (i < s.length && isSpace(s[i]!)) i++;
  let negative = false;
  if (s[i] === "+" || s[i] === "-") {
    negative = s[i] === "-";
    i++;
  }
  let base = 10;
  if (s[i] === "0" && (s[i + 1] === "x" || s[i + 1] === "X") && i + 2 < s.length && digitValue(s[i + 2]!) < 16) {
    base = 16;
    i += 2;
  } else if (s[i] === "0") {
    base = 8;
  }
  const start = i;
  let magnitude = 0n;
  while (i < s.length && digitValue(s[i]!) < base) {
    magnitude = magnitude * BigInt(base) + BigInt(digitValue(s[i]!));
    i++;
  }
  if (i === start) return { negative: false, magnitude: 0n, consumed: 0 };
  return { negative, magnitude, consumed: i };
}

/** strtoll(s, &end, 0): clamps to the long long range on overflow, as glibc does. */
export function strtoll(s: string): PrefixNumber {
  const { negative, magnitude, consumed } = scanBase0(s);
  let value = negative ? -magnitude : magnitude;
  if (value > LLONG_MAX) value = LLONG_MAX;
  if (value < LLONG_MIN) value = LLONG_MIN;
  return { value, consumed };
}

/** strtoul(s, &end, 0): a negative number wraps modulo 2^64, as in C. */
export function strtoul(s: string): PrefixNumber {
  const { negative, magnitude, consumed } = scanBase0(s);
  if (magnitude > ULONG_MASK) return { value: ULONG_MASK, consumed };
  return { value: negative ? -magnitude & ULONG_MASK : magnitude, consumed };
}

// ---------------------------------------------------------------------------------------------
// getopt (GNU: permutes, so options may follow operands; "--" ends options)

export interface GetoptResult {
  options: Array<{ opt: string; arg?: string }>;
  operands: string[];
  /** The first error, with glibc's message; processing stops there, as xfs_io's switch does. */
  error?: string;
}

/** Parses argv[1..] (argv[0] is the command name used in error messages) against `optstring`. */
export function getopt(argv: readonly string[], optstring: string): GetoptResult {
  const options: GetoptResult["options"] = [];
  const operands: string[] = [];
  const name = argv[0] ?? "";
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      operands.push(...argv.slice(i + 1));
      break;
    }
    if (arg.length < 2 || arg[0] !== "-") {
      operands.push(arg);
      continue;
    }
    for (let j = 1; j < arg.length; j++) {
      const opt = arg[j]!;
      const at = opt === ":" ? -1 : optstring.indexOf(opt);
      if (at < 0) return { options, operands, error: `${name}: invalid option -- '${opt}'` };
      if (optstring[at + 1] !== ":") {
        options.push({ opt });
        continue;
      }
      if (j + 1 < arg.length) {
        options.push({ opt, arg: arg.slice(j + 1) });
      } else if (i + 1 < argv.length) {
        options.push({ opt, arg: argv[++i]! });
      } else {
        return { options, operands, error: `${name}: option requires an argument -- '${opt}'` };
      }
      break;
    }
  }
  return { options, operands };
}

// ---------------------------------------------------------------------------------------------
// printf("%.Nf")

/** printf("%.<digits>f", value) as glibc prints it: exact binary value, ties to even. */
export function cFixed(value: number, digits: number): string {
  if (!Number.isInteger(digits) || digits < 0 || digits > 20) throw new RangeError(`cFixed: ${digits} digits`);
  if (Number.isNaN(value)) return "nan";
  if (!Number.isFinite(value)) return value > 0 ? "inf" : "-inf";
  const negative = value < 0 || Object.is(value, -0);
  const exact = exactDecimal(Math.abs(value));
  const point = exact.indexOf(".");
  const intPart = point < 0 ? exact : exact.slice(0, point);
  const frac = (point < 0 ? "" : exact.slice(point + 1)).padEnd(digits + 1, "0");
  let kept = intPart + frac.slice(0, digits);
  const next = frac[digits]!;
  const rest = frac.slice(digits + 1);
  const roundUp = next > "5" || (next === "5" && (/[1-9]/.test(rest) || Number(kept[kept.length - 1]) % 2 === 1));
  if (roundUp) kept = incrementDecimal(kept);
  const whole = kept.slice(0, kept.length - digits) || "0";
  const text = digits === 0 ? whole : `${whole}.${kept.slice(kept.length - digits)}`;
  return negative ? `-${text}` : text;
}

/** The exact decimal expansion of a finite non-negative double. */
function exactDecimal(x: number): string {
  if (x >= 1e21) return BigInt(x).toString(); // integers only at this size
  // toFixed is exact (it rounds only past the requested digits); 100 digits cover every double ≥ 1e-48.
  return x.toFixed(100).replace(/0+$/, "").replace(/\.$/, "");
}

function incrementDecimal(digits: string): string {
  const out = digits.split("");
  for (let i = out.length - 1; i >= 0; i--) {
    if (out[i] !== "9") {
      out[i] = String(Number(out[i]) + 1);
      return out.join("");
    }
    out[i] = "0";
  }
  return `1${out.join("")}`;
}

// ---------------------------------------------------------------------------------------------
// strerror, ctime

/** glibc's strerror text for every errno the simulated kernel returns (a new Errno must be added). */
export const STRERROR: Readonly<Record<Errno, string>> = {
  EPERM: "Operation not permitted",
  ENOENT: "No such file or directory",
  ESRCH: "No such process",
  EIO: "Input/output error",
  EBADF: "Bad file descriptor",
  ENOMEM: "Cannot allocate memory",
  EACCES: "Permission denied",
  EFAULT: "Bad address",
  EBUSY: "Device or resource busy",
  EEXIST: "File exists",
  ENODEV: "No such device",
  ENOTDIR: "Not a directory",
  EISDIR: "Is a directory",
  EINVAL: "Invalid argument",
  EMFILE: "Too many open files",
  EFBIG: "File too large",
  ENOSPC: "No space left on device",
  ESPIPE: "Illegal seek",
  EROFS: "Read-only file system",
  EMLINK: "Too many links",
  ENAMETOOLONG: "File name too long",
  ENOTEMPTY: "Directory not empty",
  EOPNOTSUPP: "Operation not supported",
  EOVERFLOW: "Value too large for defined data type",
};

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** ctime(3) in UTC: "Thu Jan  1 00:00:00 1970\n". */
export function ctime(epochSeconds: number): string {
  const d = new Date(epochSeconds * 1000);
  const two = (n: number): string => String(n).padStart(2, "0");
  return `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, " ")} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} ${d.getUTCFullYear()}\n`;
}
