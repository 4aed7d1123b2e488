/**
 * Export of a node's log as a PMDK pmreorder store log — the text pmemcheck writes with
 * `--log-stores=yes` — so pmreorder and other tools that read that format can replay daxsim traces
 * with their own consistency checkers. And a parser of that format (the rules pmreorder's own
 * reader applies), used by the tests and handy for anyone post-processing such logs.
 *
 * The format (facts from PMDK's pmemcheck and pmreorder sources): one stream of entries separated
 * by "|"; pmreorder uses the entries between the last one containing START and the last one
 * containing STOP. Fields inside an entry are separated by ";", numbers are hex with 0x:
 *   START
 *   REGISTER_FILE;<path>;0x<map base>;0x<size>;0x<offset>   a file mapped at <map base>
 *   STORE;0x<addr>;0x<value>;0x<size>    <value> is the stored bytes as a little-endian integer
 *   FLUSH;0x<addr>;0x<size>              CLWB/CLFLUSHOPT/CLFLUSH of [addr, addr+size)
 *   FENCE                                 SFENCE
 *   NAME.BEGIN / NAME.END                 user markers (pmreorder -x can give them an engine)
 *   STOP
 * pmreorder replays, at each FENCE after a FLUSH, only the stores that were flushed.
 *
 * Mapping of daxsim events (docs/replay.md):
 *   - the whole DIMM is one registered file (the raw media, see writeRawMedia) at mapBase;
 *   - a store becomes STOREs of at most 8 naturally aligned bytes (as the CPU's own stores are);
 *   - a non-temporal store is followed by a FLUSH of its lines: it is pending until the next fence
 *     like a flushed line (pmreorder would otherwise never write it);
 *   - CLWB / CLFLUSHOPT → FLUSH; CLFLUSH and cache evictions (durable at once) → FLUSH then FENCE,
 *     as pmemcheck itself logs CLFLUSH unless run with --weak-clflush;
 *   - SFENCE → FENCE. Power losses, mounts, faults and ops have no equivalent and are left out.
 *
 * Invariant: parsing the export back gives, in order, exactly the log's stores (byte for byte),
 * flushes and fences plus the entries the mapping above adds (pmreorder.test.ts).
 */
import { closeSync, fsyncSync, ftruncateSync, openSync, writeSync } from "node:fs";
import type { Event } from "../proto/index.js";
import { CHUNK_BYTES, LINE_BYTES } from "../node/index.js";
import type { DimmState } from "../node/index.js";
import type { DimmGeometry, EventLogSource } from "./event_source.js";
import { replayLog } from "./replayer.js";

/** Where the DIMM's byte 0 appears in the exported addresses (a typical mmap base). */
export const PMREORDER_MAP_BASE_DEFAULT = 0x7f0000000000;
/** Characters that would split an entry or a field: a registered path must not contain them. */
const SEPARATORS = /[|;\n]/;
/** Text buffered before it is handed to the writer. */
const OUTPUT_CHUNK_CHARS = 1 << 16;

export class PmreorderExportError extends Error {
  override readonly name = "PmreorderExportError";
}

export interface PmreorderExportOptions {
  /** The path REGISTER_FILE names: the raw media file the checker opens. */
  mediaPath: string;
  mapBase?: number;
  /** Export events with fromSeq ≤ seq ≤ toSeq (default: the whole log). */
  fromSeq?: number;
  toSeq?: number;
  dimm?: Partial<DimmGeometry>;
  /** Called with the replayed DIMM just before the first exported event (to save its media). */
  atStart?: (state: DimmState) => void;
}

export interface PmreorderExportStats {
  stores: number;
  storeEntries: number;
  flushEntries: number;
  fenceEntries: number;
  fromSeq: number;
  toSeq: number;
}

/**
 * Writes the store log of `source` to `write` (called with text chunks, in order). The log is
 * replayed (and verified) through toSeq on the way, so only a log that replays cleanly exports.
 */
export async function exportPmreorder(
  source: EventLogSource,
  write: (text: string) => void,
  options: PmreorderExportOptions,
): Promise<PmreorderExportStats> {
  if (SEPARATORS.test(options.mediaPath))
    throw new PmreorderExportError(
      `media path ${JSON.stringify(options.mediaPath)} contains "|", ";" or a newline, which the store-log format cannot carry`,
    );
  const base = options.mapBase ?? PMREORDER_MAP_BASE_DEFAULT;
  if (!Number.isSafeInteger(base) || base < 0)
    throw new PmreorderExportError(`map base ${base} must be a non-negative safe integer`);
  const fromSeq = options.fromSeq ?? 1;
  let buffer = "";
  const emit = (entry: string): void => {
    buffer += entry;
    if (buffer.length >= OUTPUT_CHUNK_CHARS) {
      write(buffer);
      buffer = "";
    }
  };
  const stats: PmreorderExportStats = {
    stores: 0,
    storeEntries: 0,
    flushEntries: 0,
    fenceEntries: 0,
    fromSeq,
    toSeq: 0,
  };
  let started = false;
  const start = (state: DimmState): void => {
    started = true;
    options.atStart?.(state);
    emit(`START|REGISTER_FILE;${options.mediaPath};${hex(base)};${hex(state.sizeBytes)};0x0`);
  };
  const result = await replayLog(source, {
    ...(options.toSeq !== undefined ? { atSeq: options.toSeq } : {}),
    ...(options.dimm !== undefined ? { dimm: options.dimm } : {}),
    observer: {
      before: (ev, state) => {
        if (ev.seq < fromSeq) return;
        if (!started) start(state);
        exportEvent(ev, base, emit, stats);
      },
    },
  });
  if (!started) start(result.state);
  stats.toSeq = result.lastSeq;
  emit("|STOP\n");
  if (buffer.length > 0) write(buffer);
  return stats;
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

function exportEvent(ev: Event, base: number, emit: (entry: string) => void, stats: PmreorderExportStats): void {
  switch (ev.kind) {
    case "store": {
      stats.stores++;
      stats.storeEntries += emitStore(ev.addr, ev.data, base, emit);
      if (ev.nonTemporal) {
        const first = Math.floor(ev.addr / LINE_BYTES) * LINE_BYTES;
        const end = Math.ceil((ev.addr + ev.data.length) / LINE_BYTES) * LINE_BYTES;
        emit(`|FLUSH;${hex(base + first)};${hex(end - first)}`);
        stats.flushEntries++;
      }
      return;
    }
    case "flush":
      emit(`|FLUSH;${hex(base + ev.addr)};${hex(ev.lines * LINE_BYTES)}`);
      stats.flushEntries++;
      if (ev.flushKind === "clflush" || ev.flushKind === "evict") {
        emit("|FENCE");
        stats.fenceEntries++;
      }
      return;
    case "fence":
      emit("|FENCE");
      stats.fenceEntries++;
      return;
    case "powerLoss":
    case "mount":
    case "fault":
    case "op":
      return;
    default:
      assertNever(ev);
  }
}

function assertNever(value: never): never {
  throw new TypeError(`unknown event kind ${JSON.stringify((value as { kind?: unknown }).kind)}`);
}

/** Splits [addr, addr+data.length) into naturally aligned pieces of 1, 2, 4 or 8 bytes. */
function emitStore(addr: number, data: Uint8Array, base: number, emit: (entry: string) => void): number {
  let done = 0;
  let entries = 0;
  while (done < data.length) {
    const at = addr + done;
    let size = 8;
    while (size > 1 && (at % size !== 0 || done + size > data.length)) size >>= 1;
    emit(`|STORE;${hex(base + at)};${littleEndianHex(data, done, size)};${hex(size)}`);
    done += size;
    entries++;
  }
  return entries;
}

const HEX_DIGITS = "0123456789abcdef";

/** The bytes [from, from+size) as a little-endian unsigned integer in hex, like printf("0x%lx"). */
function littleEndianHex(data: Uint8Array, from: number, size: number): string {
  let text = "";
  for (let i = from + size - 1; i >= from; i--) {
    const b = data[i]!;
    text += HEX_DIGITS[b >> 4]! + HEX_DIGITS[b & 15]!;
  }
  text = text.replace(/^0+/, "");
  return `0x${text === "" ? "0" : text}`;
}

/** Writes the durable media of `state` as a raw file of the DIMM's size (sparse where zero). */
export function writeRawMedia(state: DimmState, path: string): void {
  const fd = openSync(path, "w", 0o644);
  try {
    const chunk = Buffer.allocUnsafe(CHUNK_BYTES);
    for (let c = 0; c < state.chunkCount; c++) {
      if (state.mem[c] === undefined) continue;
      state.readMedia(c * CHUNK_BYTES, chunk);
      let done = 0;
      while (done < CHUNK_BYTES) done += writeSync(fd, chunk, done, CHUNK_BYTES - done, c * CHUNK_BYTES + done);
    }
    ftruncateSync(fd, state.sizeBytes);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

// ---------------------------------------------------------------------------------------------
// Reading a store log back

export type PmreorderEntry =
  | { op: "STORE"; address: bigint; size: number; value: Uint8Array }
  | { op: "FLUSH"; address: bigint; size: bigint }
  | { op: "FENCE" }
  | { op: "REGISTER_FILE"; name: string; address: bigint; size: bigint; offset: bigint }
  | { op: "MARKER"; name: string };

export class PmreorderParseError extends Error {
  override readonly name = "PmreorderParseError";
}

function parseHex(text: string | undefined, what: string): bigint {
  if (text === undefined || !/^0x[0-9a-fA-F]+$/.test(text))
    throw new PmreorderParseError(`${what}: ${JSON.stringify(text)} is not a 0x hex number`);
  return BigInt(text);
}

/**
 * Parses a store log as pmreorder does: split on "|", keep what lies between the last entry
 * containing START and the last containing STOP, and turn each entry into an operation. A STORE's
 * value must fit its size; an unknown entry must be a NAME.BEGIN / NAME.END marker.
 */
export function parsePmreorderLog(text: string): PmreorderEntry[] {
  const parts = text.split("|");
  let startIndex = 0;
  let stopIndex = 0;
  parts.forEach((part, i) => {
    if (part.includes("START")) startIndex = i;
    else if (part.includes("STOP")) stopIndex = i;
  });
  const entries: PmreorderEntry[] = [];
  for (const part of parts.slice(startIndex + 1, stopIndex)) {
    const fields = part.split(";");
    switch (fields[0]) {
      case "STORE": {
        const address = parseHex(fields[1], "STORE address");
        const value = parseHex(fields[2], "STORE value");
        const size = Number(parseHex(fields[3], "STORE size"));
        if (value >> BigInt(8 * size) !== 0n)
          throw new PmreorderParseError(`STORE value ${fields[2]} does not fit in ${size} bytes`);
        const bytes = new Uint8Array(size);
        for (let i = 0; i < size; i++) bytes[i] = Number((value >> BigInt(8 * i)) & 0xffn);
        entries.push({ op: "STORE", address, size, value: bytes });
        break;
      }
      case "FLUSH":
        entries.push({
          op: "FLUSH",
          address: parseHex(fields[1], "FLUSH address"),
          size: parseHex(fields[2], "FLUSH size"),
        });
        break;
      case "FENCE":
        entries.push({ op: "FENCE" });
        break;
      case "REGISTER_FILE":
        entries.push({
          op: "REGISTER_FILE",
          name: fields[1] ?? "",
          address: parseHex(fields[2], "REGISTER_FILE address"),
          size: parseHex(fields[3], "REGISTER_FILE size"),
          offset: parseHex(fields[4], "REGISTER_FILE offset"),
        });
        break;
      default: {
        const name = fields[0] ?? "";
        if (!name.endsWith(".BEGIN") && !name.endsWith(".END"))
          throw new PmreorderParseError(
            `unknown entry ${JSON.stringify(part)}: not an operation and not a .BEGIN/.END marker`,
          );
        entries.push({ op: "MARKER", name });
      }
    }
  }
  return entries;
}
