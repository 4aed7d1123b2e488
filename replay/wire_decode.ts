/**
 * A fast decoder for the three event kinds that make up nearly every log (Store, Flush, Fence),
 * reading the protobuf wire format of daxsim.v1.Event (proto/daxsim/v1/events.proto) directly into
 * domain events. Replay decodes every event of a log; the generated decoder builds a wire object
 * with bigints and then a domain object, about 2.7 µs per event, which is most of replay's time.
 *
 * Invariant: the result is exactly what proto/codec.ts decodeEvent() returns for the same bytes,
 * or this module hands the bytes to decodeEvent() (which then decodes or throws its
 * WireFormatError). The fast path accepts only the canonical encoding our encoder writes — fields
 * in ascending order, each once, known enum values, integers that fit — and falls back on
 * anything else, so no input is ever read differently. wire_decode.test.ts checks the equivalence
 * on random events of every kind and on damaged bytes.
 *
 * Store data is copied out of the input (a small copy per store): the DIMM's pending journal keeps
 * pending stores, and a view would keep a whole page of the SQLite log alive for each of them.
 */
import type { Event, FlushKind, Source } from "../proto/index.js";
import { decodeEvent } from "../proto/index.js";

/** Wire values of enum Source (events.proto), index = wire number. */
const SOURCES: readonly Source[] = ["unspecified", "direct", "syscall", "mmap", "metadata", "journal", "zeroing", "writeback", "recovery"];
/** Wire values of enum FlushKind; 0 (unspecified) is not a valid domain value. */
const FLUSH_KINDS: readonly (FlushKind | undefined)[] = [undefined, "clwb", "clflushopt", "clflush", "evict"];

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const UINT32_MAX = 0xffffffff;

/** Thrown inside the fast path when the bytes are not in canonical form; never escapes. */
class NotCanonical extends Error {}
const NOT_CANONICAL = new NotCanonical();

/** Reads varints and framing from one buffer; every read checks its bounds. */
class Cursor {
  pos = 0;
  end = 0;
  buf: Uint8Array = new Uint8Array(0);

  /** A varint that must fit in a safe integer (≤ 2^53 - 1). */
  varint(): number {
    const buf = this.buf;
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      if (this.pos >= this.end) throw NOT_CANONICAL;
      const b = buf[this.pos++]!;
      result += (b & 0x7f) * scale;
      if (b < 0x80) {
        if (result > MAX_SAFE) throw NOT_CANONICAL;
        return result;
      }
      scale *= 128;
    }
    // 8 bytes hold 56 bits: anything longer is either ≥ 2^56 or a non-minimal encoding.
    throw NOT_CANONICAL;
  }

  uint32(): number {
    const v = this.varint();
    if (v > UINT32_MAX) throw NOT_CANONICAL;
    return v;
  }

  bool(): boolean {
    const v = this.varint();
    // decodeEvent reads any non-zero varint as true; only 1 is canonical.
    if (v > 1) throw NOT_CANONICAL;
    return v === 1;
  }

  /** Length of a length-delimited field; the bytes follow at pos. */
  length(): number {
    const n = this.varint();
    if (this.pos + n > this.end) throw NOT_CANONICAL;
    return n;
  }
}

const cursor = new Cursor();

/**
 * Decodes one encoded daxsim.v1.Event: bytes [start, end) of `buf` (the whole buffer by default, so
 * a page of events is decoded without a view per event). Same result and errors as decodeEvent().
 */
export function decodeEventFast(buf: Uint8Array, start = 0, end = buf.length): { node: string; event: Event } {
  try {
    const fast = decodeCanonical(buf, start, end);
    if (fast !== undefined) return fast;
  } catch (error) {
    if (!(error instanceof NotCanonical)) throw error;
  }
  return decodeEvent(start === 0 && end === buf.length ? buf : buf.subarray(start, end));
}

/** A copy that owns its bytes (Buffer#slice would be a view of the input). */
function copyOf(buf: Uint8Array, at: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  // Small payloads (8-byte stores are the common case) copy faster byte by byte than through a view.
  if (n <= 64) for (let i = 0; i < n; i++) out[i] = buf[at + i]!;
  else out.set(buf.subarray(at, at + n));
  return out;
}

/**
 * Where the canonical Event that starts at `start` ends (≤ limit), without decoding it: the header
 * fields 1–4, then the oneof kind (a length-delimited field ≥ 10), which our encoder writes last.
 * Returns -1 when the bytes are not laid out that way; the caller then reads rows one by one.
 */
export function eventEnd(buf: Uint8Array, start: number, limit: number): number {
  const c = cursor;
  c.buf = buf;
  c.pos = start;
  c.end = limit;
  try {
    while (c.pos < c.end) {
      const tag = c.varint();
      const field = Math.floor(tag / 8);
      const wireType = tag & 7;
      if (field >= 10 && wireType === 2) {
        const n = c.length();
        return c.pos + n;
      }
      if (field === 1 && wireType === 2) {
        const n = c.length();
        c.pos += n;
      }
      else if (field >= 2 && field <= 4 && wireType === 0) c.varint();
      else return -1;
    }
  } catch (error) {
    if (error instanceof NotCanonical) return -1;
    throw error;
  }
  return -1;
}

/** Node ids are short and repeat on every event: decode each distinct one once. */
let lastNodeBytes: Uint8Array | undefined;
let lastNode = "";
const textDecoder = new TextDecoder("utf-8", { fatal: false });

function nodeOf(buf: Uint8Array, at: number, n: number): string {
  const prev = lastNodeBytes;
  if (prev !== undefined && prev.length === n) {
    let same = true;
    for (let i = 0; i < n; i++) {
      if (prev[i] !== buf[at + i]) {
        same = false;
        break;
      }
    }
    if (same) return lastNode;
  }
  // Only plain ASCII is taken on the fast path (node ids are [A-Za-z0-9_-]); the rest falls back.
  for (let i = 0; i < n; i++) if (buf[at + i]! >= 0x80) throw NOT_CANONICAL;
  lastNodeBytes = copyOf(buf, at, n);
  lastNode = textDecoder.decode(lastNodeBytes);
  return lastNode;
}

/**
 * Decodes the event that starts at `start` in a run of events back to back (a page blob), and says
 * where it ends. Undefined when its framing is not canonical (see eventEnd): read rows one by one.
 */
export function decodeEventInRun(buf: Uint8Array, start: number, limit: number): { node: string; event: Event; end: number } | undefined {
  try {
    const fast = decodeCanonical(buf, start, limit, false);
    if (fast !== undefined) return { node: fast.node, event: fast.event, end: cursor.end };
  } catch (error) {
    if (!(error instanceof NotCanonical)) throw error;
  }
  const end = eventEnd(buf, start, limit);
  if (end < 0) return undefined;
  const { node, event } = decodeEventFast(buf, start, end);
  return { node, event, end };
}

/**
 * The fast path over [start, stop): undefined for kinds it does not handle; throws NotCanonical to
 * fall back. With `whole`, the event must fill the range exactly; without, it may end earlier
 * (cursor.end then holds where it ends).
 */
function decodeCanonical(bytes: Uint8Array, start: number, stop: number, whole = true): { node: string; event: Event } | undefined {
  const c = cursor;
  c.buf = bytes;
  c.pos = start;
  c.end = stop;
  let node = "";
  let seq = 0;
  let boot = 0;
  let time = 0;
  let tag = c.pos < c.end ? c.varint() : 0;
  if (tag === 0x0a) {
    const n = c.length();
    node = nodeOf(bytes, c.pos, n);
    c.pos += n;
    tag = c.pos < c.end ? c.varint() : 0;
  }
  if (tag === 0x10) {
    seq = c.varint();
    tag = c.pos < c.end ? c.varint() : 0;
  }
  if (tag === 0x18) {
    boot = c.uint32();
    tag = c.pos < c.end ? c.varint() : 0;
  }
  if (tag === 0x20) {
    time = c.varint();
    tag = c.pos < c.end ? c.varint() : 0;
  }
  // The oneof kind must come last and be the only field left: store 0x52, flush 0x5a, fence 0x62.
  if (tag !== 0x52 && tag !== 0x5a && tag !== 0x62) return undefined;
  const n = c.length();
  const end = c.pos + n;
  if (whole && end !== c.end) throw NOT_CANONICAL;
  c.end = end;
  let event: Event;
  if (tag === 0x52) event = store(c, seq, boot, time);
  else if (tag === 0x5a) event = flush(c, seq, boot, time);
  else event = fence(c, seq, boot, time);
  if (c.pos !== end) throw NOT_CANONICAL;
  return { node, event };
}

function sourceOf(v: number): Source {
  const s = SOURCES[v];
  if (s === undefined) throw NOT_CANONICAL;
  return s;
}

const EMPTY = new Uint8Array(0);

function store(c: Cursor, seq: number, boot: number, time: number): Event {
  let addr = 0;
  let data: Uint8Array = EMPTY;
  let nonTemporal = false;
  let source: Source = "unspecified";
  let pid = 0;
  let vaddr = 0;
  let inode = 0;
  let fileOffset = 0;
  let beyondEof = false;
  let opId = 0;
  let last = 0;
  while (c.pos < c.end) {
    const tag = c.varint();
    const field = tag >>> 3;
    if (field <= last || (tag & 7) !== (field === 2 ? 2 : 0)) throw NOT_CANONICAL;
    last = field;
    switch (field) {
      case 1:
        addr = c.varint();
        break;
      case 2: {
        const n = c.length();
        data = copyOf(c.buf, c.pos, n);
        c.pos += n;
        break;
      }
      case 3:
        nonTemporal = c.bool();
        break;
      case 4:
        source = sourceOf(c.varint());
        break;
      case 5:
        pid = c.uint32();
        break;
      case 6:
        vaddr = c.varint();
        break;
      case 7:
        inode = c.varint();
        break;
      case 8:
        fileOffset = c.varint();
        break;
      case 9:
        beyondEof = c.bool();
        break;
      case 10:
        opId = c.varint();
        break;
      default:
        throw NOT_CANONICAL;
    }
  }
  return { kind: "store", seq, boot, time, addr, data, nonTemporal, source, pid, vaddr, inode, fileOffset, beyondEof, opId };
}

function flush(c: Cursor, seq: number, boot: number, time: number): Event {
  let addr = 0;
  let lines = 0;
  let flushKind: FlushKind | undefined;
  let source: Source = "unspecified";
  let pid = 0;
  let vaddr = 0;
  let opId = 0;
  let last = 0;
  while (c.pos < c.end) {
    const tag = c.varint();
    const field = tag >>> 3;
    if (field <= last || (tag & 7) !== 0) throw NOT_CANONICAL;
    last = field;
    switch (field) {
      case 1:
        addr = c.varint();
        break;
      case 2:
        lines = c.uint32();
        break;
      case 3:
        flushKind = FLUSH_KINDS[c.varint()];
        if (flushKind === undefined) throw NOT_CANONICAL;
        break;
      case 4:
        source = sourceOf(c.varint());
        break;
      case 5:
        pid = c.uint32();
        break;
      case 6:
        vaddr = c.varint();
        break;
      case 7:
        opId = c.varint();
        break;
      default:
        throw NOT_CANONICAL;
    }
  }
  // An absent kind is FLUSH_KIND_UNSPECIFIED, which decodeEvent rejects with its own error.
  if (flushKind === undefined) throw NOT_CANONICAL;
  return { kind: "flush", seq, boot, time, addr, lines, flushKind, source, pid, vaddr, opId };
}

function fence(c: Cursor, seq: number, boot: number, time: number): Event {
  let source: Source = "unspecified";
  let pid = 0;
  let opId = 0;
  let vaddr = 0;
  let last = 0;
  while (c.pos < c.end) {
    const tag = c.varint();
    const field = tag >>> 3;
    if (field <= last || (tag & 7) !== 0) throw NOT_CANONICAL;
    last = field;
    switch (field) {
      case 1:
        source = sourceOf(c.varint());
        break;
      case 2:
        pid = c.uint32();
        break;
      case 3:
        opId = c.varint();
        break;
      case 4:
        vaddr = c.varint();
        break;
      default:
        throw NOT_CANONICAL;
    }
  }
  return { kind: "fence", seq, boot, time, source, pid, vaddr, opId };
}
