/**
 * The hot-path codec for EventBatch: the outbox encodes every event and ingest and replay decode
 * them, millions per second. The generated ts-proto code (proto/gen) converts every 64-bit field
 * through BigInt and allocates a writer chunk per sub-message, about 3.6 µs per store event to
 * encode and 1.6 µs to decode here. This module writes and reads the same wire bytes directly from
 * the domain events (JS numbers) for the three kinds that make up nearly all traffic — Store,
 * Flush, Fence — and hands every other kind to the generated code (codec.ts).
 *
 * Invariant (checked by fast_codec.test.ts over random events of every kind): encodeBatchFast
 * produces exactly the bytes of the generated encoder, and decodeBatchFast returns exactly what the
 * generated decoder + codec.ts return for every valid batch; bad input raises a WireFormatError in
 * both. The generated code stays the reference: a change to events.proto must be mirrored here,
 * and the byte-equality test fails until it is. Decoded store data is a view into the batch bytes.
 */
import { Event as WireEvent } from "./gen/daxsim/v1/events.js";
import { decodeBatchGenerated, decodeEvent, eventFromWire, eventToWire } from "./codec.js";
import type { DecodedBatch } from "./codec.js";
import { WireFormatError } from "./errors.js";
import type { Event, FenceEvent, FlushEvent, FlushKind, Source, StoreEvent } from "./events.js";
import type { EnumTable } from "./wire_enums.js";
import { FLUSH_KIND_TABLE, SOURCE_TABLE } from "./wire_enums.js";

/** Domain value → wire code. */
function codes<D extends string>(table: EnumTable<D, number>): Record<D, number> {
  return Object.fromEntries(table) as Record<D, number>;
}

/** Wire code → domain value (undefined for a code the table does not have). */
function byCode<D>(table: EnumTable<D, number>): Array<D | undefined> {
  const out: Array<D | undefined> = [];
  const codeMax = Math.max(...table.map(([, code]) => code));
  for (let code = 0; code <= codeMax; code++) out.push(table.find(([, c]) => c === code)?.[0]);
  return out;
}

const SOURCE_CODES = codes<Source>(SOURCE_TABLE);
const SOURCES = byCode<Source>(SOURCE_TABLE);
const FLUSH_CODES = codes<FlushKind>(FLUSH_KIND_TABLE);
const FLUSH_KINDS = byCode<FlushKind>(FLUSH_KIND_TABLE);

const utf8 = new TextEncoder();
/** Lenient, as the generated reader is: invalid UTF-8 becomes U+FFFD. */
const utf8Decoder = new TextDecoder("utf-8");

function varintSize(n: number): number {
  if (n < 0x80) return 1;
  if (n < 0x4000) return 2;
  if (n < 0x200000) return 3;
  if (n < 0x10000000) return 4;
  let size = 4;
  let rest = Math.floor(n / 0x10000000);
  while (rest > 0) {
    size++;
    rest = Math.floor(rest / 128);
  }
  return size;
}

/** A growable byte buffer with protobuf primitives. Numbers are non-negative integers < 2^53. */
class Writer {
  buf = new Uint8Array(1 << 16);
  pos = 0;

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.buf.subarray(0, this.pos));
    this.buf = grown;
  }

  varint(n: number): void {
    this.room(10);
    const b = this.buf;
    let p = this.pos;
    if (n < 0x80000000) {
      while (n >= 0x80) {
        b[p++] = (n & 0x7f) | 0x80;
        n >>>= 7;
      }
      b[p++] = n;
    } else {
      while (n >= 0x80) {
        b[p++] = (n % 128) | 0x80;
        n = Math.floor(n / 128);
      }
      b[p++] = n;
    }
    this.pos = p;
  }

  bytes(data: Uint8Array): void {
    this.varint(data.length);
    this.room(data.length);
    this.buf.set(data, this.pos);
    this.pos += data.length;
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}

function uintField(field: number, value: number): number {
  return value === 0 ? 0 : 1 + varintSize(value);
}

function checkU53(value: number, field: string): void {
  if (!Number.isSafeInteger(value) || value < 0)
    throw new WireFormatError(`${field}: ${value} is not an integer in [0, 2^53)`, field);
}

function storeBodySize(ev: StoreEvent): number {
  return (
    uintField(1, ev.addr) +
    (ev.data.length === 0 ? 0 : 1 + varintSize(ev.data.length) + ev.data.length) +
    (ev.nonTemporal ? 2 : 0) +
    uintField(4, SOURCE_CODES[ev.source]) +
    uintField(5, ev.pid) +
    uintField(6, ev.vaddr) +
    uintField(7, ev.inode) +
    uintField(8, ev.fileOffset) +
    (ev.beyondEof ? 2 : 0) +
    uintField(10, ev.opId)
  );
}

function flushBodySize(ev: FlushEvent): number {
  return (
    uintField(1, ev.addr) +
    uintField(2, ev.lines) +
    uintField(3, FLUSH_CODES[ev.flushKind]) +
    uintField(4, SOURCE_CODES[ev.source]) +
    uintField(5, ev.pid) +
    uintField(6, ev.vaddr) +
    uintField(7, ev.opId)
  );
}

function fenceBodySize(ev: FenceEvent): number {
  return uintField(1, SOURCE_CODES[ev.source]) + uintField(2, ev.pid) + uintField(3, ev.opId) + uintField(4, ev.vaddr);
}

function put(w: Writer, tag: number, value: number): void {
  if (value === 0) return;
  w.varint(tag);
  w.varint(value);
}

function checkFast(ev: StoreEvent | FlushEvent | FenceEvent): void {
  checkU53(ev.seq, "seq");
  checkU53(ev.time, "time");
  checkU53(ev.vaddr, `${ev.kind}.vaddr`);
  checkU53(ev.opId, `${ev.kind}.op_id`);
  if (SOURCE_CODES[ev.source] === undefined)
    throw new WireFormatError(`${ev.kind}.source: unknown value ${String(ev.source)}`, `${ev.kind}.source`);
  if (ev.kind === "store") {
    checkU53(ev.addr, "store.addr");
    checkU53(ev.inode, "store.inode");
    checkU53(ev.fileOffset, "store.file_offset");
  } else if (ev.kind === "flush") {
    checkU53(ev.addr, "flush.addr");
    if (FLUSH_CODES[ev.flushKind] === undefined)
      throw new WireFormatError(`flush.kind: unknown value ${String(ev.flushKind)}`, "flush.kind");
  }
}

/** Writes one Event message (without its outer tag/length). */
function writeEvent(w: Writer, nodeBytes: Uint8Array, ev: Event): void {
  if (ev.kind !== "store" && ev.kind !== "flush" && ev.kind !== "fence") {
    const bytes = WireEvent.encode(eventToWire(utf8Decoder.decode(nodeBytes), ev)).finish();
    w.varint(26);
    w.bytes(bytes);
    return;
  }
  checkFast(ev);
  const body = ev.kind === "store" ? storeBodySize(ev) : ev.kind === "flush" ? flushBodySize(ev) : fenceBodySize(ev);
  const kindTag = ev.kind === "store" ? 82 : ev.kind === "flush" ? 90 : 98;
  const size =
    (nodeBytes.length === 0 ? 0 : 1 + varintSize(nodeBytes.length) + nodeBytes.length) +
    uintField(2, ev.seq) +
    uintField(3, ev.boot) +
    uintField(4, ev.time) +
    1 +
    varintSize(body) +
    body;
  w.varint(26); // EventBatch.events
  w.varint(size);
  if (nodeBytes.length > 0) {
    w.varint(10);
    w.bytes(nodeBytes);
  }
  put(w, 16, ev.seq);
  put(w, 24, ev.boot);
  put(w, 32, ev.time);
  w.varint(kindTag);
  w.varint(body);
  switch (ev.kind) {
    case "store":
      put(w, 8, ev.addr);
      if (ev.data.length > 0) {
        w.varint(18);
        w.bytes(ev.data);
      }
      if (ev.nonTemporal) put(w, 24, 1);
      put(w, 32, SOURCE_CODES[ev.source]);
      put(w, 40, ev.pid);
      put(w, 48, ev.vaddr);
      put(w, 56, ev.inode);
      put(w, 64, ev.fileOffset);
      if (ev.beyondEof) put(w, 72, 1);
      put(w, 80, ev.opId);
      return;
    case "flush":
      put(w, 8, ev.addr);
      put(w, 16, ev.lines);
      put(w, 24, FLUSH_CODES[ev.flushKind]);
      put(w, 32, SOURCE_CODES[ev.source]);
      put(w, 40, ev.pid);
      put(w, 48, ev.vaddr);
      put(w, 56, ev.opId);
      return;
    case "fence":
      put(w, 8, SOURCE_CODES[ev.source]);
      put(w, 16, ev.pid);
      put(w, 24, ev.opId);
      put(w, 32, ev.vaddr);
      return;
  }
}

/** The bytes of the generated encoder's EventBatch {node, first_seq, events}, written directly. */
export function encodeBatchFast(node: string, events: readonly Event[]): Uint8Array {
  const first = events[0];
  if (first === undefined) throw new WireFormatError("an EventBatch needs at least one event", "events");
  checkU53(first.seq, "first_seq");
  const nodeBytes = utf8.encode(node);
  const w = new Writer();
  if (nodeBytes.length > 0) {
    w.varint(10);
    w.bytes(nodeBytes);
  }
  put(w, 16, first.seq);
  for (const ev of events) writeEvent(w, nodeBytes, ev);
  return w.finish();
}

// -----------------------------------------------------------------------------------------------
// Decoding: canonical bytes on the fast path, everything else through the generated code.

/**
 * Thrown inside the fast path when the bytes are not the canonical encoding of a Store, Flush or
 * Fence event (what encodeBatchFast and the generated encoder write): a truncated or overlong
 * varint, a value that does not fit, an unknown field or enum value, a group. The caller then
 * decodes with the generated code, so damaged input is read exactly as the generated decoder reads
 * it (and fails with its WireFormatError) — the fast path never interprets odd bytes itself.
 */
class NotCanonical extends Error {}
const NOT_CANONICAL = new NotCanonical();

class Reader {
  pos = 0;
  constructor(
    public buf: Uint8Array,
    public end: number,
  ) {}

  /** Points the reader at [start, end) of buf (one reader is reused for every event). */
  at(buf: Uint8Array, start: number, end: number): Reader {
    this.buf = buf;
    this.pos = start;
    this.end = end;
    return this;
  }

  /** A varint that fits in [0, 2^53). */
  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      if (this.pos >= this.end) throw NOT_CANONICAL;
      const b = this.buf[this.pos++]!;
      result += (b & 0x7f) * scale;
      if (b < 0x80) {
        if (result > Number.MAX_SAFE_INTEGER) throw NOT_CANONICAL;
        return result;
      }
      scale *= 128;
    }
    throw NOT_CANONICAL;
  }

  /** A varint that fits in 32 bits (uint32, bool and enum fields). */
  varint32(): number {
    const v = this.varint();
    if (v > 0xffffffff) throw NOT_CANONICAL;
    return v;
  }

  /** Start of the last length-delimited field read. */
  fieldStart = 0;

  /** A length-delimited field: sets fieldStart, moves past it and returns its end. */
  delimited(): number {
    const length = this.varint();
    const start = this.pos;
    if (start + length > this.end) throw NOT_CANONICAL;
    this.fieldStart = start;
    this.pos = start + length;
    return this.pos;
  }
}

const EMPTY_BYTES = new Uint8Array(0);
const eventReader = new Reader(EMPTY_BYTES, 0);

/** A plain Uint8Array that owns its bytes (small ones copied byte by byte: faster than a view + set). */
function copyOf(buf: Uint8Array, start: number, end: number): Uint8Array {
  const n = end - start;
  const out = new Uint8Array(n);
  if (n <= 64) for (let i = 0; i < n; i++) out[i] = buf[start + i]!;
  else out.set(buf.subarray(start, end));
  return out;
}

/** Node ids repeat on every event: the last one decoded, by its bytes. */
let lastNodeBytes: Uint8Array = EMPTY_BYTES;
let lastNode = "";

function nodeAt(buf: Uint8Array, start: number, end: number): string {
  if (sameBytes(buf, start, end, lastNodeBytes)) return lastNode;
  lastNodeBytes = copyOf(buf, start, end);
  lastNode = utf8Decoder.decode(lastNodeBytes);
  return lastNode;
}

function sourceOf(code: number): Source {
  const source = SOURCES[code];
  if (source === undefined) throw NOT_CANONICAL;
  return source;
}

function decodeFastKind(r: Reader, kind: number, seq: number, boot: number, time: number, copyData: boolean): Event {
  if (kind === 10) {
    const ev: StoreEvent = {
      kind: "store",
      seq,
      boot,
      time,
      addr: 0,
      data: EMPTY_BYTES,
      nonTemporal: false,
      source: "unspecified",
      pid: 0,
      vaddr: 0,
      opId: 0,
      inode: 0,
      fileOffset: 0,
      beyondEof: false,
    };
    while (r.pos < r.end) {
      switch (r.varint()) {
        case 8:
          ev.addr = r.varint();
          break;
        case 18: {
          const e = r.delimited();
          const s = r.fieldStart;
          ev.data = copyData ? copyOf(r.buf, s, e) : r.buf.subarray(s, e);
          break;
        }
        case 24:
          ev.nonTemporal = r.varint32() !== 0;
          break;
        case 32:
          ev.source = sourceOf(r.varint32());
          break;
        case 40:
          ev.pid = r.varint32();
          break;
        case 48:
          ev.vaddr = r.varint();
          break;
        case 56:
          ev.inode = r.varint();
          break;
        case 64:
          ev.fileOffset = r.varint();
          break;
        case 72:
          ev.beyondEof = r.varint32() !== 0;
          break;
        case 80:
          ev.opId = r.varint();
          break;
        default:
          throw NOT_CANONICAL;
      }
    }
    return ev;
  }
  if (kind === 11) {
    const ev: FlushEvent = {
      kind: "flush",
      seq,
      boot,
      time,
      addr: 0,
      lines: 0,
      flushKind: "clwb",
      source: "unspecified",
      pid: 0,
      vaddr: 0,
      opId: 0,
    };
    let code = 0;
    while (r.pos < r.end) {
      switch (r.varint()) {
        case 8:
          ev.addr = r.varint();
          break;
        case 16:
          ev.lines = r.varint32();
          break;
        case 24:
          code = r.varint32();
          break;
        case 32:
          ev.source = sourceOf(r.varint32());
          break;
        case 40:
          ev.pid = r.varint32();
          break;
        case 48:
          ev.vaddr = r.varint();
          break;
        case 56:
          ev.opId = r.varint();
          break;
        default:
          throw NOT_CANONICAL;
      }
    }
    const flushKind = FLUSH_KINDS[code];
    if (flushKind === undefined) throw NOT_CANONICAL;
    ev.flushKind = flushKind;
    return ev;
  }
  const ev: FenceEvent = { kind: "fence", seq, boot, time, source: "unspecified", pid: 0, vaddr: 0, opId: 0 };
  while (r.pos < r.end) {
    switch (r.varint()) {
      case 8:
        ev.source = sourceOf(r.varint32());
        break;
      case 16:
        ev.pid = r.varint32();
        break;
      case 24:
        ev.opId = r.varint();
        break;
      case 32:
        ev.vaddr = r.varint();
        break;
      default:
        throw NOT_CANONICAL;
    }
  }
  return ev;
}

function sameBytes(buf: Uint8Array, start: number, end: number, other: Uint8Array): boolean {
  if (end - start !== other.length) return false;
  for (let i = 0; i < other.length; i++) if (buf[start + i] !== other[i]) return false;
  return true;
}

/**
 * The fast path for one Event starting at `start` in buf, within `limit`: undefined for a kind it
 * leaves to the generated code; throws NotCanonical for bytes it does not read itself. With `run`,
 * the event may be followed by others (a page of events back to back): it ends right after its
 * kind field, which the encoders write last; otherwise it must fill [start, limit) exactly. The node
 * comes back as `knownNode` when its bytes are `knownNodeBytes` (no string decoding per event).
 */
function fastEvent(
  buf: Uint8Array,
  start: number,
  limit: number,
  run: boolean,
  copyData: boolean,
  knownNode: string,
  knownNodeBytes: Uint8Array,
): { node: string; event: Event; end: number } | undefined {
  const r = eventReader.at(buf, start, limit);
  let node = "";
  let seq = 0;
  let boot = 0;
  let time = 0;
  let kind = 0;
  let kindStart = 0;
  let kindEnd = 0;
  while (r.pos < limit && !(run && kind !== 0)) {
    const tag = r.varint();
    switch (tag) {
      case 10: {
        const e = r.delimited();
        node = sameBytes(buf, r.fieldStart, e, knownNodeBytes) ? knownNode : nodeAt(buf, r.fieldStart, e);
        break;
      }
      case 16:
        seq = r.varint();
        break;
      case 24:
        boot = r.varint32();
        break;
      case 32:
        time = r.varint();
        break;
      case 82:
      case 90:
      case 98:
      case 106:
      case 114:
      case 122:
      case 130:
        kind = tag >>> 3;
        kindEnd = r.delimited();
        kindStart = r.fieldStart;
        break;
      default:
        throw NOT_CANONICAL;
    }
  }
  if (kind < 10 || kind > 12) return undefined;
  const end = run ? kindEnd : limit;
  r.pos = kindStart;
  r.end = kindEnd;
  return { node, event: decodeFastKind(r, kind, seq, boot, time, copyData), end };
}

/**
 * Decodes the Event occupying bytes [start, end) of `buf` (e.g. one of many back to back in a page
 * of the SQLite log), exactly as decodeEvent() would. With `copyData`, store data is copied out, so
 * events do not keep `buf` alive.
 */
export function decodeEventRange(
  buf: Uint8Array,
  start: number,
  end: number,
  copyData: boolean,
): { node: string; event: Event } {
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > buf.length || start > end)
    throw new RangeError(`decodeEventRange: [${start}, ${end}) is not inside ${buf.length} bytes`);
  try {
    const fast = fastEvent(buf, start, end, false, copyData, "", EMPTY_BYTES);
    if (fast !== undefined) return { node: fast.node, event: fast.event };
  } catch (error) {
    if (!(error instanceof NotCanonical)) throw error;
  }
  return decodeEvent(start === 0 && end === buf.length ? buf : buf.subarray(start, end));
}

/**
 * Decodes the event that starts at `start` in a run of events back to back (a page of the SQLite
 * log), copying store data out, and says where it ends. Undefined when it is not a canonically laid
 * out Store, Flush or Fence: the caller decodes it another way (e.g. row by row).
 */
export function decodeEventInRunFast(
  buf: Uint8Array,
  start: number,
  limit: number,
): { node: string; event: Event; end: number } | undefined {
  try {
    return fastEvent(buf, start, limit, true, true, "", EMPTY_BYTES);
  } catch (error) {
    if (error instanceof NotCanonical) return undefined;
    throw error;
  }
}

/** Decodes one Event (the `events.encoded` column), as decodeEvent does, faster for hot kinds. */
export function decodeEventFast(bytes: Uint8Array): { node: string; event: Event } {
  return decodeEventRange(bytes, 0, bytes.length, false);
}

/** Decodes and checks an EventBatch (one node, consecutive seqs), exactly as decodeBatchGenerated does. */
export function decodeBatchFast(bytes: Uint8Array): DecodedBatch {
  let node = "";
  let firstSeq = 0;
  const events: Event[] = [];
  try {
    const r = new Reader(bytes, bytes.length);
    const ranges: number[] = [];
    while (r.pos < bytes.length) {
      switch (r.varint()) {
        case 10: {
          const e = r.delimited();
          node = utf8Decoder.decode(bytes.subarray(r.fieldStart, e));
          break;
        }
        case 16:
          firstSeq = r.varint();
          break;
        case 26: {
          const e = r.delimited();
          ranges.push(r.fieldStart, e);
          break;
        }
        default:
          throw NOT_CANONICAL;
      }
    }
    if (node === "" || ranges.length === 0 || firstSeq < 1) throw NOT_CANONICAL; // the generated path says which
    const nodeBytes = utf8.encode(node);
    for (let i = 0; i < ranges.length / 2; i++) {
      const s = ranges[2 * i]!;
      const e = ranges[2 * i + 1]!;
      const fast = fastEvent(bytes, s, e, false, false, node, nodeBytes);
      if (fast === undefined) {
        // As decodeBatchGenerated: the event's node is checked before its content is converted.
        let wire: WireEvent;
        try {
          wire = WireEvent.decode(bytes.subarray(s, e));
        } catch {
          throw NOT_CANONICAL;
        }
        if (wire.node !== "" && wire.node !== node)
          throw new WireFormatError(`event ${i} belongs to node ${wire.node}, batch to ${node}`, "events.node");
        events.push(checkBatchEvent(node, firstSeq, i, wire.node, eventFromWire(wire)));
      } else {
        events.push(checkBatchEvent(node, firstSeq, i, fast.node, fast.event));
      }
    }
  } catch (error) {
    if (error instanceof NotCanonical) return decodeBatchGenerated(bytes);
    throw error;
  }
  return { node, firstSeq, events };
}

function checkBatchEvent(batchNode: string, firstSeq: number, i: number, node: string, event: Event): Event {
  if (node !== "" && node !== batchNode)
    throw new WireFormatError(`event ${i} belongs to node ${node}, batch to ${batchNode}`, "events.node");
  if (event.seq !== firstSeq + i)
    throw new WireFormatError(`event ${i} has seq ${event.seq}, expected ${firstSeq + i}`, "events.seq");
  return event;
}
