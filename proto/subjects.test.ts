import { describe, expect, it } from "vitest";
import { encodeBatch, encodeEvent } from "./codec.js";
import { eventBatchLayout } from "./batch_layout.js";
import { WireFormatError } from "./errors.js";
import type { Event } from "./events.js";
import { DIRECT } from "./events.js";
import { NodeIdError, batchMsgId, eventSubject, nodeOfSubject } from "./subjects.js";

describe("subjects", () => {
  it("subjects: a node's subject and Msg-Id", () => {
    expect(eventSubject("n1")).toBe("daxsim.events.n1");
    expect(nodeOfSubject("daxsim.events.rack-2_a")).toBe("rack-2_a");
    expect(nodeOfSubject("daxsim.events.a.b")).toBeUndefined();
    expect(nodeOfSubject("other.n1")).toBeUndefined();
    expect(batchMsgId("n1", 4097)).toBe("n1:4097");
    expect(() => eventSubject("n 1")).toThrow(NodeIdError);
    expect(() => eventSubject("n1'; DROP TABLE events; --")).toThrow(NodeIdError);
    expect(() => batchMsgId("n1", 0)).toThrow(RangeError);
  });
});

describe("batch layout", () => {
  it("batch layout: each event's bytes inside a batch are exactly encodeEvent's", () => {
    const events: Event[] = [
      {
        kind: "store",
        seq: 9,
        boot: 1,
        time: 5,
        addr: 4096,
        data: new Uint8Array([1, 2, 3]),
        nonTemporal: true,
        source: "mmap",
        pid: 3,
        vaddr: 77,
        opId: 8,
        inode: 2,
        fileOffset: 100,
        beyondEof: true,
      },
      { kind: "fence", seq: 10, boot: 1, time: 6, ...DIRECT },
      {
        kind: "op",
        seq: 11,
        boot: 1,
        time: 7,
        startSeq: 9,
        pid: 3,
        name: "fsync",
        argsJson: "{}",
        result: -1,
        errno: "EIO",
        signal: "",
        inode: 2,
        sizeAfter: 0,
      },
    ];
    const bytes = encodeBatch("n1", events);
    const layout = eventBatchLayout(bytes);
    expect(layout.offsets).toHaveLength(3);
    events.forEach((ev, i) => {
      const slice = bytes.subarray(layout.offsets[i], layout.offsets[i]! + layout.lengths[i]!);
      expect(Buffer.from(slice).equals(Buffer.from(encodeEvent("n1", ev)))).toBe(true);
    });
  });

  it("batch layout: truncated bytes are a WireFormatError", () => {
    const bytes = encodeBatch("n1", [{ kind: "fence", seq: 1, boot: 0, time: 1, ...DIRECT }]);
    expect(() => eventBatchLayout(bytes.subarray(0, bytes.length - 2))).toThrow(WireFormatError);
  });
});
