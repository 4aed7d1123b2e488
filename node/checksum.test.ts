import { describe, expect, it } from "vitest";
import { crc32, crc32Table } from "./checksum.js";
import { Prng } from "./sim/prng.js";

describe("checksum", () => {
  it('crc32: the IEEE check value of "123456789" in both implementations', () => {
    const check = new TextEncoder().encode("123456789");
    expect(crc32(check)).toBe(0xcbf43926);
    expect(crc32Table(check)).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
    expect(crc32Table(new Uint8Array(0))).toBe(0);
  });

  it("crc32: native and table agree on random buffers and on continuation (seeded)", () => {
    const seed = 0x5eedn;
    const prng = new Prng(seed);
    for (let i = 0; i < 200; i++) {
      const len = prng.below(5000);
      const bytes = new Uint8Array(len);
      for (let j = 0; j < len; j++) bytes[j] = prng.below(256);
      const cut = prng.below(len + 1);
      const whole = crc32Table(bytes);
      expect(crc32(bytes), `seed ${seed} case ${i}`).toBe(whole);
      expect(crc32(bytes.subarray(cut), crc32(bytes.subarray(0, cut))), `seed ${seed} case ${i}`).toBe(whole);
      expect(crc32Table(bytes.subarray(cut), crc32Table(bytes.subarray(0, cut)))).toBe(whole);
    }
  });
});
