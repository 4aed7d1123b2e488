/**
 * Property tests over random sequences of store / flush / fence / power loss. Each property is
 * checked against the naive ReferenceDimm, which is driven by the same emitted events.
 * A failure prints fast-check's seed and path; rerun with that seed to reproduce it.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { FlushKind, PowerLossPolicy } from "../../proto/index.js";
import { EventLog, MemorySink } from "../events/event_log.js";
import { StepClock } from "../sim/clock.js";
import { applyEvent, lineVersion, pendingLineVersions } from "./apply.js";
import { Dimm } from "./dimm.js";
import { CHUNK_BYTES, LINE_BYTES, WORD_BYTES } from "./geometry.js";
import { ReferenceDimm } from "./reference_model.js";
import { DimmState } from "./state.js";

const SIZE = 2 * CHUNK_BYTES;
/** DAXSIM_PROPERTY_RUNS=3000 npx vitest run node/dimm for a longer search; failures print fast-check's seed and path. */
const RUNS = Number(process.env.DAXSIM_PROPERTY_RUNS ?? 150);

type Op =
  | { op: "store"; addr: number; len: number; value: number; nt: boolean }
  | { op: "flush"; addr: number; len: number; kind: FlushKind }
  | { op: "fence" }
  | { op: "powerLoss"; policy: PowerLossPolicy; seed: bigint };

// Addresses near 0 and around the chunk boundary, so stores cross lines, pages and chunks.
// Page-aligned addresses with whole-page lengths exercise the uniform-page fast path of write().
const pageAddrArb = fc.oneof(
  fc.integer({ min: 0, max: 3 }).map((p) => p * 4096),
  fc.integer({ min: -2, max: 1 }).map((p) => CHUNK_BYTES + p * 4096),
);
const addrArb = fc.oneof(
  fc.integer({ min: 0, max: 3 * 4096 }),
  fc.integer({ min: CHUNK_BYTES - 5000, max: CHUNK_BYTES + 5000 }),
  pageAddrArb,
);
const lenArb = fc.oneof(
  fc.integer({ min: 1, max: 16 }),
  fc.integer({ min: 1, max: 9000 }),
  fc.constantFrom(4096, 8192),
);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constant("store" as const),
      addr: addrArb,
      len: lenArb,
      value: fc.integer({ min: 1, max: 255 }),
      nt: fc.boolean(),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant("flush" as const),
      addr: addrArb,
      len: fc.oneof(fc.integer({ min: 1, max: 5000 }), fc.constantFrom(4096, 8192)),
      kind: fc.constantFrom<FlushKind>("clwb", "clflushopt", "clflush"),
    }),
  },
  { weight: 2, arbitrary: fc.constant({ op: "fence" as const }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("powerLoss" as const),
      policy: fc.constantFrom<PowerLossPolicy>("strict", "eadr-like", "random", "torn"),
      seed: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    }),
  },
);

function run(
  ops: Op[],
  journalRecordsMax: number,
  check: (ctx: { dimm: Dimm; ref: ReferenceDimm; op: Op; before: ReferenceDimm | undefined }) => void,
): { dimm: Dimm; sink: MemorySink } {
  const sink = new MemorySink();
  const dimm = new Dimm({ sizeBytes: SIZE, journalRecordsMax }, new EventLog(sink, new StepClock()));
  const ref = new ReferenceDimm(SIZE);
  let fed = 0;
  for (const op of ops) {
    let before: ReferenceDimm | undefined;
    switch (op.op) {
      case "store": {
        const len = Math.min(op.len, SIZE - op.addr);
        if (op.nt) dimm.ntStore(op.addr, new Uint8Array(len).fill(op.value));
        else dimm.store(op.addr, new Uint8Array(len).fill(op.value));
        break;
      }
      case "flush":
        dimm.flush(op.addr, Math.min(op.len, SIZE - op.addr), op.kind);
        break;
      case "fence":
        dimm.fence();
        break;
      case "powerLoss": {
        // Bring the reference up to just before the power loss, then keep a frozen copy.
        for (; fed < sink.events.length; fed++) ref.apply(sink.events[fed]!);
        before = cloneReference(ref);
        dimm.powerLoss(op.policy, op.seed);
        break;
      }
    }
    for (; fed < sink.events.length; fed++) ref.apply(sink.events[fed]!);
    check({ dimm, ref, op, before });
  }
  return { dimm, sink };
}

function cloneReference(ref: ReferenceDimm): ReferenceDimm {
  const copy = new ReferenceDimm(ref.sizeBytes);
  copy.durable.set(ref.durable);
  copy.visible.set(ref.visible);
  for (const [line, entry] of ref.lines) copy.lines.set(line, { stores: [...entry.stores], mark: entry.mark });
  return copy;
}

const opsArb = fc.array(opArb, { minLength: 1, maxLength: 40 });
const journalArb = fc.constantFrom(16, 64, 1 << 18);

describe("dimm: properties", () => {
  it("dimm property (a): folding the emitted events from an empty DIMM reproduces media and cache byte for byte", () => {
    fc.assert(
      fc.property(opsArb, journalArb, (ops, journalRecordsMax) => {
        const { dimm, sink } = run(ops, journalRecordsMax, () => {});
        const replayed = new DimmState(SIZE, "adr");
        for (const ev of sink.events) applyEvent(replayed, ev);
        const [liveMedia, replayMedia, liveVisible, replayVisible] = [0, 1, 2, 3].map(() => Buffer.alloc(SIZE));
        dimm.state.readMedia(0, liveMedia!);
        replayed.readMedia(0, replayMedia!);
        dimm.state.readVisible(0, liveVisible!);
        replayed.readVisible(0, replayVisible!);
        expect(replayMedia!.equals(liveMedia!)).toBe(true);
        expect(replayVisible!.equals(liveVisible!)).toBe(true);
        const live = pendingLineVersions(dimm.state);
        const again = pendingLineVersions(replayed);
        expect(again.map((p) => p.line)).toEqual(live.map((p) => p.line));
        for (let i = 0; i < live.length; i++) {
          const line = live[i]!.line;
          expect(replayed.lineState(line)).toBe(dimm.state.lineState(line));
          for (let k = 0; k <= live[i]!.records.length; k++) {
            expect(lineVersion(replayed, again[i]!, k).equals(lineVersion(dimm.state, live[i]!, k))).toBe(true);
          }
        }
        replayed.checkInvariants();
        dimm.state.checkInvariants();
      }),
      { numRuns: RUNS },
    );
  });

  it("dimm property: the DIMM agrees with the naive reference model after every operation", () => {
    fc.assert(
      fc.property(opsArb, journalArb, (ops, journalRecordsMax) => {
        run(ops, journalRecordsMax, ({ dimm, ref }) => {
          expect(dimm.loadDurable(0, SIZE).equals(ref.durable)).toBe(true);
          expect(dimm.load(0, SIZE).equals(ref.visible)).toBe(true);
          const pending = pendingLineVersions(dimm.state);
          expect(pending.map((p) => [p.line, p.records.length])).toEqual(
            ref.pendingLines().map((l) => [l, ref.versionCount(l)]),
          );
          for (const p of pending) expect(dimm.state.lineState(p.line)).toBe(ref.lineState(p.line));
        });
      }),
      { numRuns: RUNS },
    );
  });

  it("dimm property (b): under strict the post-crash media is exactly what was durable at the crash", () => {
    fc.assert(
      fc.property(opsArb, (ops) => {
        const withStrict = [...ops, { op: "powerLoss" as const, policy: "strict" as const, seed: 1n }];
        run(withStrict, 1 << 18, ({ dimm, op, before }) => {
          if (op.op !== "powerLoss" || op.policy !== "strict") return;
          expect(dimm.load(0, SIZE).equals(before!.durable)).toBe(true);
          expect(dimm.loadDurable(0, SIZE).equals(before!.durable)).toBe(true);
        });
      }),
      { numRuns: RUNS },
    );
  });

  it("dimm property (c): under any policy each line ends as a version the prefix rule allows (per word under torn)", () => {
    fc.assert(
      fc.property(opsArb, (ops) => {
        run(ops, 1 << 18, ({ dimm, op, before }) => {
          if (op.op !== "powerLoss") return;
          const after = dimm.load(0, SIZE);
          for (const line of before!.pendingLines()) {
            const content = after.subarray(line * LINE_BYTES, (line + 1) * LINE_BYTES);
            if (op.policy === "torn") {
              for (let w = 0; w < LINE_BYTES / WORD_BYTES; w++) {
                const word = content.subarray(w * WORD_BYTES, (w + 1) * WORD_BYTES);
                expect(before!.allowedWords(line, w).some((v) => Buffer.from(v).equals(word))).toBe(true);
              }
            } else {
              const allowed = Array.from({ length: before!.versionCount(line) + 1 }, (_, k) =>
                Buffer.from(before!.version(line, k)),
              );
              expect(allowed.some((v) => v.equals(content))).toBe(true);
              if (op.policy === "eadr-like") expect(allowed.at(-1)!.equals(content)).toBe(true);
            }
          }
          // Lines that were not pending keep their durable content.
          const pendingSet = new Set(before!.pendingLines());
          for (let line = 0; line < SIZE / LINE_BYTES; line++) {
            if (pendingSet.has(line)) continue;
            const a = line * LINE_BYTES;
            if (
              after[a] !== before!.durable[a] ||
              !after.subarray(a, a + LINE_BYTES).equals(before!.durable.subarray(a, a + LINE_BYTES))
            ) {
              throw new Error(`line ${line} was durable but changed at power loss`);
            }
          }
        });
      }),
      { numRuns: RUNS },
    );
  });
});
