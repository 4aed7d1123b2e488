import { describe, expect, it } from "vitest";
import { Prng } from "../node/index.js";
import { WireFormatError, decodeEvent, encodeEvent } from "../proto/index.js";
import type { Event, FlushKind, Source } from "../proto/index.js";
import { decodeEventFast, decodeEventInRun, eventEnd } from "./wire_decode.js";

const SOURCES: Source[] = [
  "unspecified",
  "direct",
  "syscall",
  "mmap",
  "metadata",
  "journal",
  "zeroing",
  "writeback",
  "recovery",
];
const FLUSH_KINDS: FlushKind[] = ["clwb", "clflushopt", "clflush", "evict"];

/** A number that is often 0, often small, sometimes near 2^53. */
function num(prng: Prng): number {
  switch (prng.below(4)) {
    case 0:
      return 0;
    case 1:
      return prng.below(200);
    case 2:
      return prng.below(1 << 30) * 4096;
    default:
      return Number.MAX_SAFE_INTEGER - prng.below(1000);
  }
}

function randomEvent(prng: Prng, seq: number): Event {
  const header = { seq, boot: prng.below(5), time: num(prng) };
  const prov = {
    source: SOURCES[prng.below(SOURCES.length)]!,
    pid: prng.below(70000),
    vaddr: num(prng),
    opId: num(prng),
  };
  switch (prng.below(7)) {
    case 0:
    case 1: {
      const data = new Uint8Array(1 + prng.below(300));
      for (let i = 0; i < data.length; i++) data[i] = prng.below(256);
      return {
        kind: "store",
        ...header,
        ...prov,
        addr: num(prng),
        data,
        nonTemporal: prng.below(2) === 1,
        inode: num(prng),
        fileOffset: num(prng),
        beyondEof: prng.below(2) === 1,
      };
    }
    case 2:
      return {
        kind: "flush",
        ...header,
        ...prov,
        addr: num(prng),
        lines: 1 + prng.below(100000),
        flushKind: FLUSH_KINDS[prng.below(4)]!,
      };
    case 3:
      return { kind: "fence", ...header, ...prov };
    case 4:
      return {
        kind: "op",
        ...header,
        startSeq: num(prng),
        pid: prng.below(10),
        name: "pwrite",
        argsJson: "{}",
        result: prng.below(2) === 0 ? -1 : num(prng),
        errno: "",
        signal: "",
        inode: num(prng),
        sizeAfter: num(prng),
      };
    case 5:
      return {
        kind: "mount",
        ...header,
        options: "dax",
        recoveredTxns: prng.below(3),
        fsckClean: true,
        fsckProblems: 0,
        mediaSha256: new Uint8Array(32).fill(7),
        formatted: false,
      };
    default:
      return {
        kind: "powerLoss",
        ...header,
        policy: "torn",
        seed: 5n,
        lines: [{ line: num(prng), versions: 2, kept: 0, wordKept: [0, 1, 2, 0, 1, 2, 0, 1] }],
        mediaSha256: new Uint8Array(32).fill(1),
        persistence: "adr",
        reason: "injected",
      };
  }
}

/** Compares two decode outcomes: equal events (bytes by content) or the same kind of error. */
function outcome(f: () => { node: string; event: Event }): unknown {
  try {
    const { node, event } = f();
    return {
      node,
      event: JSON.parse(
        JSON.stringify(event, (_k, v: unknown) =>
          v instanceof Uint8Array ? [...v] : typeof v === "bigint" ? String(v) : v,
        ),
      ),
    };
  } catch (error) {
    return { error: (error as Error).name, wire: error instanceof WireFormatError };
  }
}

describe("replay: fast event decoder", () => {
  it("decodes every kind exactly as decodeEvent does (seeded random events)", () => {
    const prng = new Prng(42n);
    for (let i = 1; i <= 3000; i++) {
      const bytes = encodeEvent(i % 3 === 0 ? "" : "node-7", randomEvent(prng, num(prng)));
      expect(outcome(() => decodeEventFast(bytes))).toEqual(outcome(() => decodeEvent(bytes)));
    }
  });

  it("agrees with decodeEvent on damaged bytes: cut, flipped and appended", () => {
    const prng = new Prng(7n);
    for (let i = 1; i <= 3000; i++) {
      const bytes = Uint8Array.from(encodeEvent("n1", randomEvent(prng, 1 + prng.below(1000))));
      let damaged: Uint8Array;
      switch (prng.below(3)) {
        case 0:
          damaged = bytes.subarray(0, prng.below(bytes.length));
          break;
        case 1:
          damaged = Uint8Array.from(bytes);
          {
            const at = prng.below(bytes.length);
            damaged[at] = damaged[at]! ^ (1 << prng.below(8));
          }
          break;
        default:
          damaged = Uint8Array.from([...bytes, prng.below(256)]);
      }
      expect(outcome(() => decodeEventFast(damaged))).toEqual(outcome(() => decodeEvent(damaged)));
    }
  });

  it("finds where each encoded event ends in a run of events back to back (a page blob)", () => {
    const prng = new Prng(9n);
    const parts = Array.from({ length: 500 }, (_v, i) => encodeEvent("n1", randomEvent(prng, i + 1)));
    const blob = new Uint8Array(Buffer.concat(parts));
    let offset = 0;
    for (const part of parts) {
      const end = eventEnd(blob, offset, blob.length);
      expect(end).toBe(offset + part.length);
      expect(outcome(() => decodeEventFast(blob, offset, end))).toEqual(outcome(() => decodeEvent(part)));
      const inRun = decodeEventInRun(blob, offset, blob.length)!;
      expect(inRun.end).toBe(end);
      expect(outcome(() => inRun)).toEqual(outcome(() => decodeEvent(part)));
      offset = end;
    }
    expect(eventEnd(Uint8Array.of(0x08, 0x01), 0, 2)).toBe(-1);
  });

  it("gives store data its own bytes, not a view of the input", () => {
    const input = Buffer.from(
      encodeEvent("n1", {
        kind: "store",
        seq: 1,
        boot: 0,
        time: 0,
        source: "mmap",
        pid: 1,
        vaddr: 0,
        opId: 0,
        addr: 64,
        data: Uint8Array.of(1, 2, 3),
        nonTemporal: false,
        inode: 0,
        fileOffset: 0,
        beyondEof: false,
      }),
    );
    const ev = decodeEventFast(input).event;
    if (ev.kind !== "store") throw new Error("not a store");
    input.fill(0);
    expect([...ev.data]).toEqual([1, 2, 3]);
  });
});
