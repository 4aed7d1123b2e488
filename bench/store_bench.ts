/**
 * `daxsim bench store`: the cost of the DIMM model itself.
 *   store-8b       8-byte cached stores through the DIMM API, events to a counting sink, against a
 *                  plain Float64Array store loop. Target ≥ 3×10^6 stores/s.
 *   ntstore-4k     4 KiB non-temporal stores through the DIMM API (data handed over, as the
 *                  filesystem does), a fence every 64 KiB, against Buffer.copy of 4 KiB into the same
 *                  span. Target ratio ≥ 0.3.
 *   ntstore-4k-copied  the same when the DIMM must copy the caller's bytes for the event (informational).
 */
import { CountingSink, EventLog } from "../node/events/event_log.js";
import { Dimm } from "../node/dimm/dimm.js";
import { StepClock } from "../node/sim/clock.js";
import type { BenchResult } from "./harness.js";
import { compareRates } from "./harness.js";

const MiB = 1 << 20;
/** Both sides write the same span, so both see the same cache behaviour. */
const SPAN_BYTES = 4 * MiB;

export function benchStore(options: { seconds: number }): BenchResult[] {
  const rounds = 5;
  const roundMs = Math.max(100, (options.seconds * 1000) / (rounds * 2 * 3));
  const results: BenchResult[] = [];

  {
    const sink = new CountingSink();
    const dimm = new Dimm({ sizeBytes: 64 * MiB }, new EventLog(sink, new StepClock()));
    const word = new Uint8Array(8).fill(0x5a);
    let next = 0;
    const typed = new Float64Array(SPAN_BYTES / 8);
    let slot = 0;
    const r = compareRates(
      "store-8b",
      "stores/s",
      (n) => {
        for (let i = 0; i < n; i++) {
          dimm.store(next, word);
          next = (next + 8) % SPAN_BYTES;
        }
        return n;
      },
      (n) => {
        for (let i = 0; i < n; i++) {
          typed[slot] = i;
          slot = (slot + 1) % typed.length;
        }
        return n;
      },
      { rounds, roundMs },
    );
    r.target = "≥ 3e6 stores/s";
    r.met = r.value >= 3e6;
    r.events = sink.events;
    results.push(r);
  }

  for (const owned of [true, false]) {
    const dimm = new Dimm({ sizeBytes: 64 * MiB }, new EventLog(new CountingSink(), new StepClock()));
    // A source of distinct, never-modified 4 KiB blocks (owned stores keep references to them).
    const source = new Uint8Array(MiB);
    for (let i = 0; i < source.length; i++) source[i] = (i * 31) & 0xff;
    const target = Buffer.alloc(SPAN_BYTES);
    let off = 0;
    let block = 0;
    let baseOff = 0;
    let baseBlock = 0;
    const r = compareRates(
      owned ? "ntstore-4k" : "ntstore-4k-copied",
      "stores/s",
      (n) => {
        for (let i = 0; i < n; i++) {
          const from = block * 4096;
          dimm.ntStore(off, source.subarray(from, from + 4096), undefined, owned);
          off = (off + 4096) % SPAN_BYTES;
          block = (block + 1) % 256;
          if (block % 16 === 0) dimm.fence();
        }
        return n;
      },
      (n) => {
        for (let i = 0; i < n; i++) {
          const from = baseBlock * 4096;
          Buffer.prototype.copy.call(source, target, baseOff, from, from + 4096);
          baseOff = (baseOff + 4096) % SPAN_BYTES;
          baseBlock = (baseBlock + 1) % 256;
        }
        return n;
      },
      { rounds, roundMs },
    );
    if (owned) {
      r.target = "ratio ≥ 0.3 vs Buffer.copy";
      r.met = r.ratio >= 0.3;
    }
    results.push(r);
  }
  return results;
}
