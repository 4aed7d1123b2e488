/**
 * The hand-written hot-path codec against the generated ts-proto code: the same bytes for every
 * batch, the same events back, and a WireFormatError from both for the same bad input.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeBatchGenerated, encodeBatchGenerated, encodeEvent, decodeEvent } from "./codec.js";
import type { Event, FaultOutcome, FlushKind, PowerLossPolicy, Source } from "./events.js";
import { WireFormatError } from "./errors.js";
import { decodeBatchFast, decodeEventFast, encodeBatchFast } from "./fast_codec.js";

const RUNS = Number(process.env.DAXSIM_PROPERTY_RUNS ?? 300);
const u53 = fc.oneof(
  fc.constant(0),
  fc.integer({ min: 1, max: 300 }),
  fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
);
const u32 = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffffffff }));
const source = fc.constantFrom<Source>(
  "unspecified",
  "direct",
  "syscall",
  "mmap",
  "metadata",
  "journal",
  "zeroing",
  "writeback",
  "recovery",
);
const provenance = { source, pid: u32, vaddr: u53, opId: u53 };
const text = fc.string({ unit: "binary", maxLength: 20 });

const kinds: fc.Arbitrary<Omit<Event, "seq" | "boot" | "time">>[] = [
  fc.record({
    kind: fc.constant("store" as const),
    addr: u53,
    data: fc.uint8Array({ maxLength: 70 }),
    nonTemporal: fc.boolean(),
    ...provenance,
    inode: u53,
    fileOffset: u53,
    beyondEof: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant("flush" as const),
    addr: u53,
    lines: u32,
    flushKind: fc.constantFrom<FlushKind>("clwb", "clflushopt", "clflush", "evict"),
    ...provenance,
  }),
  fc.record({ kind: fc.constant("fence" as const), ...provenance }),
  fc.record({
    kind: fc.constant("powerLoss" as const),
    policy: fc.constantFrom<PowerLossPolicy>("strict", "eadr-like", "random", "torn"),
    seed: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    lines: fc.array(
      fc.record({
        line: u53,
        versions: u32,
        kept: u32,
        wordKept: fc.oneof(fc.constant([]), fc.array(u32, { minLength: 8, maxLength: 8 })),
      }),
      { maxLength: 4 },
    ),
    mediaSha256: fc.uint8Array({ minLength: 32, maxLength: 32 }),
    persistence: fc.constantFrom("adr" as const, "eadr" as const),
    reason: text,
  }),
  fc.record({
    kind: fc.constant("fault" as const),
    pid: u32,
    vaddr: u53,
    inode: u53,
    page: u53,
    write: fc.boolean(),
    outcome: fc.constantFrom<FaultOutcome>(
      "zero-page",
      "allocated",
      "mapped",
      "mkwrite",
      "cow",
      "sigbus",
      "sigsegv",
      "page-cache",
    ),
    pfn: u53,
    sync: fc.boolean(),
    unmapped: fc.array(fc.record({ pid: u32, vaddr: u53, zeroPage: fc.boolean() }), { maxLength: 3 }),
    opId: u53,
  }),
  fc.record({
    kind: fc.constant("op" as const),
    startSeq: u53,
    pid: u32,
    name: text,
    argsJson: text,
    result: fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }),
    errno: text,
    signal: text,
    inode: u53,
    sizeAfter: u53,
  }),
  fc.record({
    kind: fc.constant("mount" as const),
    options: text,
    recoveredTxns: u32,
    fsckClean: fc.boolean(),
    fsckProblems: u32,
    mediaSha256: fc.uint8Array({ maxLength: 32 }),
    formatted: fc.boolean(),
  }),
];

const batchArb = fc
  .record({
    node: fc.string({ minLength: 1, maxLength: 8 }),
    firstSeq: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER - 100 }),
    boot: u32,
    bodies: fc.array(fc.oneof(...kinds), { minLength: 1, maxLength: 12 }),
    times: fc.array(u53, { minLength: 12, maxLength: 12 }),
  })
  .map(({ node, firstSeq, boot, bodies, times }) => ({
    node,
    events: bodies.map((b, i) => ({ ...b, seq: firstSeq + i, boot, time: times[i]! }) as Event),
  }));

describe("proto: fast codec", () => {
  it("proto fast codec: encodes every batch to exactly the generated code's bytes", () => {
    fc.assert(
      fc.property(batchArb, ({ node, events }) => {
        expect(Buffer.from(encodeBatchFast(node, events)).equals(Buffer.from(encodeBatchGenerated(node, events)))).toBe(
          true,
        );
      }),
      { numRuns: RUNS },
    );
  });

  it("proto fast codec: decodes to exactly what the generated decoder gives", () => {
    fc.assert(
      fc.property(batchArb, ({ node, events }) => {
        const bytes = encodeBatchGenerated(node, events);
        const fast = decodeBatchFast(bytes);
        const slow = decodeBatchGenerated(bytes);
        expect(fast).toEqual(slow);
        expect(fast.events).toEqual(events);
        for (const ev of events)
          expect(decodeEventFast(encodeEvent(node, ev))).toEqual(decodeEvent(encodeEvent(node, ev)));
      }),
      { numRuns: RUNS },
    );
  });

  it("proto fast codec: garbage and truncated batches are WireFormatErrors from both decoders", () => {
    fc.assert(
      fc.property(
        batchArb,
        fc.integer({ min: 1, max: 40 }),
        fc.uint8Array({ minLength: 1, maxLength: 40 }),
        ({ node, events }, cut, junk) => {
          const bytes = encodeBatchGenerated(node, events);
          for (const bad of [bytes.subarray(0, Math.max(0, bytes.length - cut)), junk]) {
            let fastError: unknown;
            let slowError: unknown;
            try {
              decodeBatchFast(bad);
            } catch (e) {
              fastError = e;
            }
            try {
              decodeBatchGenerated(bad);
            } catch (e) {
              slowError = e;
            }
            expect(fastError === undefined).toBe(slowError === undefined);
            if (fastError !== undefined) expect(fastError).toBeInstanceOf(WireFormatError);
          }
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("proto fast codec: a value that would lose precision is refused by name", () => {
    const ev: Event = {
      kind: "store",
      seq: 1,
      boot: 0,
      time: 0,
      addr: 2 ** 53,
      data: new Uint8Array(1),
      nonTemporal: false,
      source: "direct",
      pid: 0,
      vaddr: 0,
      opId: 0,
      inode: 0,
      fileOffset: 0,
      beyondEof: false,
    };
    expect(() => encodeBatchFast("n1", [ev])).toThrow(/store\.addr/);
    expect(() => encodeBatchFast("n1", [])).toThrow(WireFormatError);
  });
});
