import { describe, expect, it } from "vitest";
import { GapTracker } from "./gap_tracker.js";

describe("gap tracker", () => {
  it("gaps: batches in order leave no gap", () => {
    const t = new GapTracker();
    expect(t.add("n1", 1, 10)).toEqual({ duplicate: false, gapsBefore: [], gapsAfter: [] });
    expect(t.add("n1", 11, 20).gapsAfter).toEqual([]);
    expect(t.progress("n1")).toEqual({ lastContiguousSeq: 20, highestSeq: 20, ahead: [] });
  });

  it("gaps: a batch ahead opens a gap; the late batch closes it; partial fills narrow it", () => {
    const t = new GapTracker();
    t.add("n1", 1, 10);
    expect(t.add("n1", 31, 40).gapsAfter).toEqual([{ fromSeq: 11, toSeq: 30 }]);
    expect(t.add("n1", 16, 20).gapsAfter).toEqual([
      { fromSeq: 11, toSeq: 15 },
      { fromSeq: 21, toSeq: 30 },
    ]);
    expect(t.add("n1", 11, 15).gapsAfter).toEqual([{ fromSeq: 21, toSeq: 30 }]);
    expect(t.progress("n1")!.lastContiguousSeq).toBe(20);
    expect(t.add("n1", 21, 30)).toEqual({ duplicate: false, gapsBefore: [{ fromSeq: 21, toSeq: 30 }], gapsAfter: [] });
    expect(t.progress("n1")).toEqual({ lastContiguousSeq: 40, highestSeq: 40, ahead: [] });
  });

  it("gaps: a node whose first batch starts above 1 has a gap from 1", () => {
    const t = new GapTracker();
    expect(t.add("n2", 5, 9).gapsAfter).toEqual([{ fromSeq: 1, toSeq: 4 }]);
  });

  it("gaps: duplicates change nothing; nodes are independent", () => {
    const t = new GapTracker();
    t.add("n1", 1, 10);
    t.add("n1", 21, 30);
    expect(t.add("n1", 3, 7).duplicate).toBe(true);
    expect(t.add("n1", 22, 25).duplicate).toBe(true);
    expect(t.add("n2", 1, 3).gapsAfter).toEqual([]);
    expect(t.gaps("n1")).toEqual([{ fromSeq: 11, toSeq: 20 }]);
    expect(t.nodeIds()).toEqual(["n1", "n2"]);
  });

  it("gaps: restore keeps the invariant and rejects an inconsistent state", () => {
    const t = new GapTracker();
    t.restore("n1", { lastContiguousSeq: 10, highestSeq: 30, ahead: [{ fromSeq: 21, toSeq: 30 }] });
    expect(t.gaps("n1")).toEqual([{ fromSeq: 11, toSeq: 20 }]);
    expect(() =>
      t.restore("n1", { lastContiguousSeq: 10, highestSeq: 30, ahead: [{ fromSeq: 11, toSeq: 30 }] }),
    ).toThrow(/touches/);
    expect(() => t.add("n1", 0, 3)).toThrow(RangeError);
  });
});
