/**
 * The seeded pseudo-random generator every random choice in node/ flows from. One 64-bit seed
 * reproduces a run; `split(label)` derives an independent stream per subsystem so that adding a
 * random choice in one place does not shift the choices made elsewhere.
 *
 * Algorithm: sfc32 (32-bit state words, fast in JS), seeded through splitmix64.
 */

const MASK64 = (1n << 64n) - 1n;

function splitmix64(state: bigint): [bigint, bigint] {
  const next = (state + 0x9e3779b97f4a7c15n) & MASK64;
  let z = next;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return [next, z ^ (z >> 31n)];
}

function fnv1a64(text: string): bigint {
  let hash = 0xcbf29ce484222325n;
  for (let i = 0; i < text.length; i++) {
    hash ^= BigInt(text.charCodeAt(i));
    hash = (hash * 0x100000001b3n) & MASK64;
  }
  return hash;
}

export class PrngSeedError extends Error {
  override readonly name = "PrngSeedError";
}

/** Parses a seed given by a person: decimal or 0x-hex, 0 ≤ seed < 2^64. */
export function parseSeed(text: string): bigint {
  const trimmed = text.trim();
  if (!/^(0x[0-9a-fA-F]+|[0-9]+)$/.test(trimmed)) {
    throw new PrngSeedError(`seed "${text}" is not a decimal or 0x-hex integer`);
  }
  const value = BigInt(trimmed);
  if (value > MASK64) throw new PrngSeedError(`seed ${text} does not fit in 64 bits`);
  return value;
}

export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(readonly seed: bigint) {
    if (seed < 0n || seed > MASK64) throw new PrngSeedError(`seed ${seed} is not in [0, 2^64)`);
    let state = seed;
    let x: bigint;
    [state, x] = splitmix64(state);
    this.a = Number(x & 0xffffffffn) | 0;
    this.b = Number(x >> 32n) | 0;
    [state, x] = splitmix64(state);
    this.c = Number(x & 0xffffffffn) | 0;
    this.d = Number(x >> 32n) | 0;
    for (let i = 0; i < 12; i++) this.nextU32();
  }

  /** An independent stream for a subsystem, e.g. prng.split("power-loss"). */
  split(label: string): Prng {
    const [, mixed] = splitmix64(this.seed ^ fnv1a64(label));
    return new Prng(mixed);
  }

  nextU32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform integer in [0, n), without modulo bias. 1 ≤ n ≤ 2^32. */
  below(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 0x1_0000_0000)
      throw new RangeError(`below(${n}): n must be an integer in [1, 2^32]`);
    if (n === 1) return 0;
    const limit = 0x1_0000_0000 - (0x1_0000_0000 % n);
    for (;;) {
      const x = this.nextU32();
      if (x < limit) return x % n;
    }
  }

  /** Uniform integer in [lo, hi], inclusive. */
  between(lo: number, hi: number): number {
    return lo + this.below(hi - lo + 1);
  }

  /** True with probability numerator/denominator (integers, as STYLE asks). */
  chance(numerator: number, denominator: number): boolean {
    return this.below(denominator) < numerator;
  }

  /** A 64-bit value, e.g. to seed a child run. */
  nextU64(): bigint {
    return (BigInt(this.nextU32()) << 32n) | BigInt(this.nextU32());
  }
}
