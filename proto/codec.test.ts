import { describe, expect, it } from "vitest";
import { Event as WireEvent, EventBatch as WireEventBatch } from "./gen/daxsim/v1/events.js";
import { decodeBatch, decodeEvent, encodeBatch, encodeEvent } from "./codec.js";
import type { Event } from "./events.js";
import { WireFormatError } from "./errors.js";

const header = { seq: 1, boot: 0, time: 10 };
const samples: Event[] = [
  {
    ...header,
    kind: "store",
    addr: 2 ** 40,
    data: Uint8Array.from([1, 2, 3]),
    nonTemporal: true,
    source: "mmap",
    pid: 7,
    vaddr: 0x7f0000001000,
    opId: 5,
    inode: 12,
    fileOffset: 4096,
    beyondEof: true,
  },
  {
    ...header,
    seq: 2,
    kind: "flush",
    addr: 64,
    lines: 3,
    flushKind: "clflushopt",
    source: "syscall",
    pid: 1,
    vaddr: 0,
    opId: 0,
  },
  { ...header, seq: 3, kind: "fence", source: "journal", pid: 0, vaddr: 0, opId: 9 },
  {
    ...header,
    seq: 4,
    kind: "powerLoss",
    policy: "torn",
    seed: (1n << 64n) - 1n,
    lines: [{ line: 3, versions: 2, kept: 0, wordKept: [0, 1, 2, 0, 1, 2, 0, 1] }],
    mediaSha256: new Uint8Array(32).fill(7),
    persistence: "adr",
    reason: "injected",
  },
  {
    ...header,
    seq: 5,
    kind: "fault",
    pid: 3,
    vaddr: 4096,
    inode: 2,
    page: 1,
    write: true,
    outcome: "allocated",
    pfn: 99,
    sync: false,
    unmapped: [{ pid: 4, vaddr: 8192, zeroPage: true }],
    opId: 4,
  },
  {
    ...header,
    seq: 6,
    kind: "op",
    startSeq: 5,
    pid: 3,
    name: "pwrite",
    argsJson: '{"fd":3}',
    result: -1,
    errno: "EBADF",
    signal: "",
    inode: 0,
    sizeAfter: 0,
  },
  {
    ...header,
    seq: 7,
    kind: "mount",
    options: "dax",
    recoveredTxns: 2,
    fsckClean: true,
    fsckProblems: 0,
    mediaSha256: new Uint8Array(32),
    formatted: false,
  },
];

describe("proto: codec", () => {
  it("proto: every event kind survives encode and decode unchanged", () => {
    for (const ev of samples) {
      const back = decodeEvent(encodeEvent("n1", ev));
      expect(back.node).toBe("n1");
      expect(back.event).toEqual(ev);
    }
  });

  it("proto: a batch carries consecutive events of one node", () => {
    const batch = decodeBatch(encodeBatch("n2", samples));
    expect(batch.node).toBe("n2");
    expect(batch.firstSeq).toBe(1);
    expect(batch.events).toEqual(samples);
  });

  it("proto: a 64-bit value above 2^53 is refused by name, never rounded", () => {
    const wire = WireEvent.encode({
      node: "n1",
      seq: 2n ** 60n,
      boot: 0,
      time: 0n,
      kind: { $case: "fence", value: { source: 0, pid: 0, opId: 0n, vaddr: 0n } },
    }).finish();
    expect(() => decodeEvent(wire)).toThrow(WireFormatError);
    expect(() => decodeEvent(wire)).toThrow(/seq: 1152921504606846976 does not fit/);
    expect(() => encodeEvent("n1", { ...samples[2]!, seq: 2 ** 60 + 0.5 })).toThrow(/seq/);
  });

  it("proto: garbage, gaps, foreign nodes and empty batches are WireFormatErrors", () => {
    expect(() => decodeBatch(Uint8Array.from([0xff, 0xff, 0xff]))).toThrow(WireFormatError);
    expect(() => decodeBatch(WireEventBatch.encode({ node: "", firstSeq: 1n, events: [] }).finish())).toThrow(
      /no node/,
    );
    expect(() => decodeBatch(WireEventBatch.encode({ node: "n1", firstSeq: 1n, events: [] }).finish())).toThrow(
      /no events/,
    );
    const gap = [samples[0]!, { ...samples[1]!, seq: 5 }];
    expect(() => decodeBatch(encodeBatch("n1", gap))).toThrow(/expected 2/);
    const wire = WireEventBatch.encode({
      node: "n1",
      firstSeq: 1n,
      events: [{ node: "n9", seq: 1n, boot: 0, time: 0n, kind: undefined }],
    }).finish();
    expect(() => decodeBatch(wire)).toThrow(/belongs to node n9/);
    const noKind = WireEvent.encode({ node: "n1", seq: 1n, boot: 0, time: 0n, kind: undefined }).finish();
    expect(() => decodeEvent(noKind)).toThrow(/no kind/);
  });
});
