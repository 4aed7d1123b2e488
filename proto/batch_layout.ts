/**
 * Where each event sits inside an encoded EventBatch. An EventBatch's `events` field holds every
 * event as an embedded daxsim.v1.Event message, and those bytes are exactly what encodeEvent()
 * produces for it (same generated encoder, node set in each event). Ingest stores them as the
 * `events.encoded` column by slicing the batch instead of encoding every event a second time,
 * which would cost more than the rest of ingest together.
 *
 * It only walks the field framing with the protobuf runtime's BinaryReader (the same reader the
 * generated code uses); decodeBatch() stays the one place that interprets the contents, and ingest
 * checks that both agree on the number of events.
 */
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { WireFormatError } from "./errors.js";

/** Field number of `repeated Event events` in daxsim.v1.EventBatch (events.proto). */
const EVENTS_FIELD = 3;

export interface BatchLayout {
  /** Byte offset of event i's encoded Event message inside the batch. */
  offsets: number[];
  /** Its length in bytes. */
  lengths: number[];
}

/** Offsets of the embedded events of an encoded EventBatch, in order. Throws WireFormatError. */
export function eventBatchLayout(bytes: Uint8Array): BatchLayout {
  const offsets: number[] = [];
  const lengths: number[] = [];
  const reader = new BinaryReader(bytes);
  try {
    while (reader.pos < reader.len) {
      const [field, wireType] = reader.tag();
      if (field === EVENTS_FIELD && wireType === WireType.LengthDelimited) {
        const length = reader.uint32();
        const offset = reader.pos;
        if (offset + length > reader.len) throw new RangeError("premature EOF");
        offsets.push(offset);
        lengths.push(length);
        reader.pos = offset + length;
      } else {
        reader.skip(wireType, field);
      }
    }
  } catch (cause) {
    throw new WireFormatError(`not a daxsim.v1.EventBatch: ${(cause as Error).message}`, "batch", { cause });
  }
  return { offsets, lengths };
}
