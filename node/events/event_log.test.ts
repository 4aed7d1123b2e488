import { describe, expect, it } from "vitest";
import type { Event } from "../../proto/index.js";
import { ManualClock } from "../sim/clock.js";
import { CountingSink, EventLog, MemorySink } from "./event_log.js";

const fence = (): Event => ({ kind: "fence", seq: 0, boot: 0, time: 0, source: "direct", pid: 0, vaddr: 0, opId: 0 });

describe("event log", () => {
  it("event log: stamps seq from 1 (or where a node resumes), boot and the clock's time, in order", () => {
    const clock = new ManualClock(100);
    const sink = new MemorySink();
    const log = new EventLog(sink, clock);
    log.append(fence());
    clock.advance(5);
    log.advanceBoot();
    log.append(fence());
    expect(sink.events.map((e) => [e.seq, e.boot, e.time])).toEqual([
      [1, 0, 100],
      [2, 1, 105],
    ]);
    expect(log.lastSeq).toBe(2);
    const resumed = new EventLog(new MemorySink(), clock, { nextSeq: 41, boot: 3 });
    expect(resumed.append(fence())).toMatchObject({ seq: 41, boot: 3 });
  });

  it("event log: a listener sees each event after the sink and can stop the running operation by throwing", () => {
    const sink = new CountingSink();
    const log = new EventLog(sink, new ManualClock());
    const seen: number[] = [];
    const stop = log.addListener((ev) => {
      seen.push(ev.seq);
      if (ev.seq === 2) throw new Error("power fails here");
    });
    log.append(fence());
    expect(() => log.append(fence())).toThrow("power fails here");
    expect(sink.events).toBe(2); // the event was logged before the listener ran
    stop();
    log.append(fence());
    expect(seen).toEqual([1, 2]);
  });

  it("event log: a starting seq that is not an integer ≥ 1 is refused", () => {
    for (const nextSeq of [0, -1, 1.5, Number.NaN])
      expect(() => new EventLog(new MemorySink(), new ManualClock(), { nextSeq })).toThrow(RangeError);
    expect(() => new ManualClock().advance(-1)).toThrow(RangeError);
  });
});
