import { describe, expect, it } from "vitest";
import { Prng, PrngSeedError, parseSeed } from "./prng.js";

describe("prng", () => {
  it("prng: one seed gives one sequence; split streams are independent of each other's use", () => {
    const a = new Prng(42n);
    const b = new Prng(42n);
    const xs = Array.from({ length: 8 }, () => a.nextU32());
    expect(Array.from({ length: 8 }, () => b.nextU32())).toEqual(xs);
    expect(Array.from({ length: 8 }, () => new Prng(43n).nextU32())).not.toEqual(xs);
    const s1 = new Prng(1n).split("power-loss");
    const root = new Prng(1n);
    root.nextU32(); // using the parent does not change the child's stream
    const s2 = root.split("power-loss");
    expect(s1.nextU32()).toBe(s2.nextU32());
    expect(new Prng(1n).split("a").nextU32()).not.toBe(new Prng(1n).split("b").nextU32());
  });

  it("prng: below(n) stays in range and reaches every value", () => {
    const p = new Prng(7n);
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const x = p.below(7);
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(7);
      seen.add(x);
    }
    expect(seen.size).toBe(7);
    expect(() => p.below(0)).toThrow(RangeError);
    expect(() => p.below(2.5)).toThrow(RangeError);
  });

  it("prng: seeds parse from decimal and hex up to 2^64-1, anything else is a PrngSeedError", () => {
    expect(parseSeed("18446744073709551615")).toBe((1n << 64n) - 1n);
    expect(parseSeed("0x10")).toBe(16n);
    for (const bad of ["-1", "1e3", "18446744073709551616", "", "seed"])
      expect(() => parseSeed(bad)).toThrow(PrngSeedError);
  });
});
