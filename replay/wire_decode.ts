/**
 * Decoding a node's events as replay reads them from SQLite: one event per row, or many back to back
 * in a page blob. The decoding itself is proto/fast_codec.ts (the hot-path codec, checked byte for
 * byte against the generated code); this module adds the framing of a page blob (where an event
 * ends) and copies store data out, so events kept in the DIMM's pending journal do not keep a whole
 * page of the log alive.
 */
import type { Event } from "../proto/index.js";
import { decodeEventInRunFast, decodeEventRange } from "../proto/index.js";

/** Decodes one encoded daxsim.v1.Event: bytes [start, end) of `buf`. Same result and errors as decodeEvent(). */
export function decodeEventFast(buf: Uint8Array, start = 0, end = buf.length): { node: string; event: Event } {
  return decodeEventRange(buf, start, end, true);
}

/** Reads a varint at `at` (bounded by `limit`); returns [value, next] or undefined if malformed or past 2^53. */
function varintAt(buf: Uint8Array, at: number, limit: number): [number, number] | undefined {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10 && at < limit; i++) {
    const b = buf[at++]!;
    value += (b & 0x7f) * scale;
    if (b < 0x80) return Number.isSafeInteger(value) ? [value, at] : undefined;
    scale *= 128;
  }
  return undefined;
}

/**
 * Where the Event that starts at `start` ends (≤ limit), without decoding it: the header fields 1–4,
 * then the oneof kind (a length-delimited field ≥ 10), which our encoder writes last. Returns -1
 * when the bytes are not laid out that way; the caller then reads rows one by one.
 */
export function eventEnd(buf: Uint8Array, start: number, limit: number): number {
  let at = start;
  while (at < limit) {
    const tag = varintAt(buf, at, limit);
    if (tag === undefined) return -1;
    at = tag[1];
    const field = Math.floor(tag[0] / 8);
    const wireType = tag[0] & 7;
    if (wireType === 2 && (field === 1 || field >= 10)) {
      const length = varintAt(buf, at, limit);
      if (length === undefined || length[1] + length[0] > limit) return -1;
      if (field >= 10) return length[1] + length[0];
      at = length[1] + length[0];
    } else if (wireType === 0 && field >= 2 && field <= 4) {
      const value = varintAt(buf, at, limit);
      if (value === undefined) return -1;
      at = value[1];
    } else {
      return -1;
    }
  }
  return -1;
}

/**
 * Decodes the event that starts at `start` in a run of events back to back (a page blob), and says
 * where it ends. Undefined when its framing is not the canonical one (see eventEnd): read rows one
 * by one instead.
 */
export function decodeEventInRun(
  buf: Uint8Array,
  start: number,
  limit: number,
): { node: string; event: Event; end: number } | undefined {
  const fast = decodeEventInRunFast(buf, start, limit);
  if (fast !== undefined) return fast;
  const end = eventEnd(buf, start, limit);
  if (end < 0) return undefined;
  const { node, event } = decodeEventRange(buf, start, end, true);
  return { node, event, end };
}
