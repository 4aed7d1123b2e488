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
import { eventFromWire, eventToWire } from "./codec.js";
import type { DecodedBatch } from "./codec.js";
import { WireFormatError } from "./errors.js";
import type { Event, FenceEvent, FlushEvent, FlushKind, Source, StoreEvent } from "./events.js";

const SOURCE_CODES: Record<Source, number> = { unspecified: 0, direct: 1, syscall: 2, mmap: 3, metadata: 4, journal: 5, zeroing: 6, writeback: 7, recovery: 8 };
const SOURCES: Source[] = ["unspecified", "direct", "syscall", "mmap", "metadata", "journal", "zeroing", "writeback", "recovery"];
const FLUSH_CODES: Record<FlushKind, number> = { clwb: 1, clflushopt: 2, clflush: 3, evict: 4 };
const FLUSH_KINDS: Array<FlushKind | undefined> = [undefined, "clwb", "clflushopt", "clflush", "evict"];

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

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
  if (!Number.isSafeInteger(value) || value < 0) throw new WireFormatError(`${field}: ${value} is not an integer in [0, 2^53)`, field);
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
  return uintField(1, ev.addr) + uintField(2, ev.lines) + uintField(3, FLUSH_CODES[ev.flushKind]) + uintField(4, SOURCE_CODES[ev.source]) + uintField(5, ev.pid) + uintField(6, ev.vaddr) + uintField(7, ev.opId);
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
  if (SOURCE_CODES[ev.source] === undefined) throw new WireFormatError(`${ev.kind}.source: unknown value ${String(ev.source)}`, `${ev.kind}.source`);
  if (ev.kind === "store") {
    checkU53(ev.addr, "store.addr");
    checkU53(ev.inode, "store.inode");
    checkU53(ev.fileOffset, "store.file_offset");
  } else if (ev.kind === "flush") {
    checkU53(ev.addr, "flush.addr");
    if (FLUSH_CODES[ev.flushKind] === undefined) throw new WireFormatError(`flush.kind: unknown value ${String(ev.flushKind)}`, "flush.kind");
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
    (nodeBytes.length === 0 ? 0 : 1 + varintSize(nodeBytes.length) + nodeBytes.length) + uintField(2, ev.seq) + uintField(3, ev.boot) + uintField(4, ev.time) + 1 + varintSize(body) + body;
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
// Decoding

class Reader {
  pos = 0;
  constructor(
    readonly buf: Uint8Array,
    public end: number,
  ) {}

  varint(field: string): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new WireFormatError(`${field}: truncated varint`, field);
      const b = this.buf[this.pos++]!;
      result += (b & 0x7f) * scale;
      if (b < 0x80) {
        if (!Number.isSafeInteger(result)) throw new WireFormatError(`${field}: value does not fit in a JS number exactly (> 2^53 - 1)`, field);
        return result;
      }
      scale *= 128;
    }
    throw new WireFormatError(`${field}: varint longer than 10 bytes`, field);
  }

  /** A length-delimited field: returns [start, end) and moves past it. */
  delimited(field: string): [number, number] {
    const length = this.varint(field);
    const start = this.pos;
    if (start + length > this.end) throw new WireFormatError(`${field}: length ${length} runs past the message`, field);
    this.pos = start + length;
    return [start, start + length];
  }

  skip(wireType: number, field: string): void {
    switch (wireType) {
      case 0:
        this.varint(field);
        return;
      case 1:
        this.pos += 8;
        break;
      case 2:
        this.delimited(field);
        return;
      case 5:
        this.pos += 4;
        break;
      default:
        throw new WireFormatError(`${field}: unsupported wire type ${wireType}`, field);
    }
    if (this.pos > this.end) throw new WireFormatError(`${field}: truncated`, field);
  }
}

const EMPTY_BYTES = new Uint8Array(0);

function decodeFastKind(r: Reader, kind: number, seq: number, boot: number, time: number): Event {
  if (kind === 10) {
    const ev: StoreEvent = { kind: "store", seq, boot, time, addr: 0, data: EMPTY_BYTES, nonTemporal: false, source: "unspecified", pid: 0, vaddr: 0, opId: 0, inode: 0, fileOffset: 0, beyondEof: false };
    while (r.pos < r.end) {
      const tag = r.varint("store");
      switch (tag) {
        case 8: ev.addr = r.varint("store.addr"); break;
        case 18: { const [s, e] = r.delimited("store.data"); ev.data = r.buf.subarray(s, e); break; }
        case 24: ev.nonTemporal = r.varint("store.non_temporal") !== 0; break;
        case 32: ev.source = sourceOf(r.varint("store.source"), "store.source"); break;
        case 40: ev.pid = r.varint("store.pid") >>> 0; break;
        case 48: ev.vaddr = r.varint("store.vaddr"); break;
        case 56: ev.inode = r.varint("store.inode"); break;
        case 64: ev.fileOffset = r.varint("store.file_offset"); break;
        case 72: ev.beyondEof = r.varint("store.beyond_eof") !== 0; break;
        case 80: ev.opId = r.varint("store.op_id"); break;
        default: r.skip(tag & 7, "store");
      }
    }
    return ev;
  }
  if (kind === 11) {
    const ev: FlushEvent = { kind: "flush", seq, boot, time, addr: 0, lines: 0, flushKind: "clwb", source: "unspecified", pid: 0, vaddr: 0, opId: 0 };
    let code = 0;
    while (r.pos < r.end) {
      const tag = r.varint("flush");
      switch (tag) {
        case 8: ev.addr = r.varint("flush.addr"); break;
        case 16: ev.lines = r.varint("flush.lines") >>> 0; break;
        case 24: code = r.varint("flush.kind"); break;
        case 32: ev.source = sourceOf(r.varint("flush.source"), "flush.source"); break;
        case 40: ev.pid = r.varint("flush.pid") >>> 0; break;
        case 48: ev.vaddr = r.varint("flush.vaddr"); break;
        case 56: ev.opId = r.varint("flush.op_id"); break;
        default: r.skip(tag & 7, "flush");
      }
    }
    const flushKind = FLUSH_KINDS[code];
    if (flushKind === undefined) throw new WireFormatError(`flush.kind: unknown enum value ${code}`, "flush.kind");
    ev.flushKind = flushKind;
    return ev;
  }
  const ev: FenceEvent = { kind: "fence", seq, boot, time, source: "unspecified", pid: 0, vaddr: 0, opId: 0 };
  while (r.pos < r.end) {
    const tag = r.varint("fence");
    switch (tag) {
      case 8: ev.source = sourceOf(r.varint("fence.source"), "fence.source"); break;
      case 16: ev.pid = r.varint("fence.pid") >>> 0; break;
      case 24: ev.opId = r.varint("fence.op_id"); break;
      case 32: ev.vaddr = r.varint("fence.vaddr"); break;
      default: r.skip(tag & 7, "fence");
    }
  }
  return ev;
}

function sourceOf(code: number, field: string): Source {
  const source = SOURCES[code];
  if (source === undefined) throw new WireFormatError(`${field}: unknown enum value ${code}`, field);
  return source;
}

function sameBytes(buf: Uint8Array, start: number, end: number, other: Uint8Array): boolean {
  if (end - start !== other.length) return false;
  for (let i = 0; i < other.length; i++) if (buf[start + i] !== other[i]) return false;
  return true;
}

/**
 * Decodes one Event message occupying [start, end) of buf. Its node is returned as `expectedNode`
 * when its bytes are `expectedNodeBytes` (no string decoding per event), else decoded.
 */
function decodeEventAt(buf: Uint8Array, start: number, end: number, expectedNode = "", expectedNodeBytes: Uint8Array = EMPTY_BYTES, index = -1): { node: string; event: Event } {
  const r = new Reader(buf, end);
  r.pos = start;
  let node = "";
  let seq = 0;
  let boot = 0;
  let time = 0;
  let kind = 0;
  let kindStart = 0;
  let kindEnd = 0;
  while (r.pos < end) {
    const tag = r.varint("event");
    switch (tag) {
      case 10: {
        const [s, e] = r.delimited("node");
        node = sameBytes(buf, s, e, expectedNodeBytes) ? expectedNode : utf8Decoder.decode(buf.subarray(s, e));
        break;
      }
      case 16: seq = r.varint("seq"); break;
      case 24: boot = r.varint("boot") >>> 0; break;
      case 32: time = r.varint("time"); break;
      default:
        if ((tag & 7) === 2 && tag >>> 3 >= 10 && tag >>> 3 <= 16) {
          kind = tag >>> 3;
          [kindStart, kindEnd] = r.delimited("kind");
        } else {
          r.skip(tag & 7, "event");
        }
    }
  }
  // A batch checks the event's node before anything else about it (as codec.ts does).
  if (index >= 0 && node !== "" && node !== expectedNode) throw new WireFormatError(`event ${index} belongs to node ${node}, batch to ${expectedNode}`, "events.node");
  if (kind === 0) throw new WireFormatError("event has no kind", "kind");
  if (kind <= 12) {
    r.pos = kindStart;
    r.end = kindEnd;
    return { node, event: decodeFastKind(r, kind, seq, boot, time) };
  }
  let wire: WireEvent;
  try {
    wire = WireEvent.decode(buf.subarray(start, end));
  } catch (cause) {
    throw new WireFormatError(`not a daxsim.v1.Event: ${(cause as Error).message}`, "event", { cause });
  }
  return { node: wire.node, event: eventFromWire(wire) };
}

/** Decodes and checks an EventBatch (one node, consecutive seqs), as decodeBatch does, faster. */
export function decodeBatchFast(bytes: Uint8Array): DecodedBatch {
  const r = new Reader(bytes, bytes.length);
  let node = "";
  let firstSeq = 0;
  const ranges: Array<[number, number]> = [];
  try {
    while (r.pos < bytes.length) {
      const tag = r.varint("batch");
      switch (tag) {
        case 10: { const [s, e] = r.delimited("node"); node = utf8Decoder.decode(bytes.subarray(s, e)); break; }
        case 16: firstSeq = r.varint("first_seq"); break;
        case 26: ranges.push(r.delimited("events")); break;
        default: r.skip(tag & 7, "batch");
      }
    }
  } catch (cause) {
    if (cause instanceof WireFormatError && cause.field === "first_seq" && /JS number/.test(cause.message)) throw cause;
    throw new WireFormatError(`not a daxsim.v1.EventBatch: ${(cause as Error).message}`, "batch", { cause });
  }
  if (node === "") throw new WireFormatError("batch has no node id", "node");
  if (ranges.length === 0) throw new WireFormatError("batch has no events", "events");
  if (firstSeq < 1) throw new WireFormatError("first_seq must be at least 1", "first_seq");
  const events: Event[] = [];
  const nodeBytes = utf8.encode(node);
  for (let i = 0; i < ranges.length; i++) {
    const [s, e] = ranges[i]!;
    const decoded = decodeEventAt(bytes, s, e, node, nodeBytes, i);
    if (decoded.node !== "" && decoded.node !== node) throw new WireFormatError(`event ${i} belongs to node ${decoded.node}, batch to ${node}`, "events.node");
    if (decoded.event.seq !== firstSeq + i) throw new WireFormatError(`event ${i} has seq ${decoded.event.seq}, expected ${firstSeq + i}`, "events.seq");
    events.push(decoded.event);
  }
  return { node, firstSeq, events };
}

/** Decodes one Event (the `events.encoded` column), as decodeEvent does, faster for hot kinds. */
export function decodeEventFast(bytes: Uint8Array): { node: string; event: Event } {
  try {
    return decodeEventAt(bytes, 0, bytes.length);
  } catch (cause) {
    if (cause instanceof WireFormatError) throw cause;
    throw new WireFormatError(`not a daxsim.v1.Event: ${(cause as Error).message}`, "event", { cause });
  }
}
