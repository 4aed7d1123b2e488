/**
 * Which crash states to check at one crash point. At a crash point the DIMM has pending lines, each
 * with n pending stores in program order; the persistence model (DESIGN §3) allows each line to end
 * as any prefix of them (0..n), and with --torn each 8-byte word independently. A crash state is one
 * such choice for every pending line. Strategies (all deterministic; random ones from the seed):
 *
 *   prefix        (default) strict and eadr-like, then each line alone at each of its prefixes while
 *                 every other line is lost, and again while every other line survives. O(Σ n) states;
 *                 it finds a store that may persist before an earlier one in another line (a commit
 *                 record without its records) and a store that may be lost after later ones persist.
 *   subsets:K     every set of at most K lines surviving whole, the others lost (Chipmunk-style).
 *   random:N      N states, each line (each word with --torn) at a random prefix.
 *   full:CAP      the whole product of per-line prefixes, in a fixed order, at most CAP states.
 *
 * With --torn, prefix also varies each word of each line alone, and full varies words.
 */
import { Prng } from "../../node/sim/prng.js";

export type Strategy =
  { kind: "prefix" } | { kind: "subsets"; k: number } | { kind: "random"; n: number } | { kind: "full"; cap: number };

export class StrategyError extends Error {
  override readonly name = "StrategyError";
}

export function parseStrategy(text: string): Strategy {
  const [kind, arg] = text.split(":", 2) as [string, string | undefined];
  const count = (what: string, max: number): number => {
    const n = Number(arg);
    if (arg === undefined || !Number.isSafeInteger(n) || n < 1 || n > max)
      throw new StrategyError(`strategy ${kind}:${arg ?? ""}: ${what} must be an integer in [1, ${max}]`);
    return n;
  };
  switch (kind) {
    case "prefix":
      if (arg !== undefined) throw new StrategyError("strategy prefix takes no argument");
      return { kind: "prefix" };
    case "subsets":
      return { kind: "subsets", k: count("K", 4) };
    case "random":
      return { kind: "random", n: count("N", 1_000_000) };
    case "full":
      return { kind: "full", cap: count("CAP", 10_000_000) };
    default:
      throw new StrategyError(`strategy "${text}" is not prefix, subsets:K, random:N or full:CAP`);
  }
}

export function formatStrategy(s: Strategy): string {
  switch (s.kind) {
    case "prefix":
      return "prefix";
    case "subsets":
      return `subsets:${s.k}`;
    case "random":
      return `random:${s.n}`;
    case "full":
      return `full:${s.cap}`;
  }
}

/** A pending line at a crash point: its index and how many pending stores it has. */
export interface PendingInfo {
  line: number;
  versions: number;
}

/**
 * One crash state: every pending line keeps `fallback` (0 = lost, or all of its versions) unless
 * it is listed in `chosen` with its own prefix (or, for torn, one prefix per word).
 */
export interface CrashState {
  fallback: "none" | "all";
  chosen: Array<{ line: number; kept: number; wordKept?: number[] }>;
}

/** Upper bound on states one crash point may produce with any strategy (a safety limit). */
export const STATES_PER_POINT_MAX = 5_000_000;

/** Calls `emit` for each state of the strategy at one crash point, in a fixed order. */
export function enumerateStates(
  pending: readonly PendingInfo[],
  strategy: Strategy,
  torn: boolean,
  seed: bigint,
  emit: (state: CrashState) => void,
): void {
  if (pending.length === 0) {
    emit({ fallback: "none", chosen: [] });
    return;
  }
  switch (strategy.kind) {
    case "prefix":
      return prefixStates(pending, torn, emit);
    case "subsets":
      return subsetStates(pending, strategy.k, emit);
    case "random":
      return randomStates(pending, strategy.n, torn, seed, emit);
    case "full":
      return fullStates(pending, strategy.cap, torn, emit);
  }
}

function prefixStates(pending: readonly PendingInfo[], torn: boolean, emit: (state: CrashState) => void): void {
  emit({ fallback: "none", chosen: [] });
  emit({ fallback: "all", chosen: [] });
  for (const fallback of ["none", "all"] as const) {
    for (const p of pending) {
      for (let kept = 0; kept <= p.versions; kept++) {
        if ((fallback === "none" && kept === 0) || (fallback === "all" && kept === p.versions)) continue; // same as the base state
        emit({ fallback, chosen: [{ line: p.line, kept }] });
      }
      if (!torn) continue;
      for (let w = 0; w < 8; w++) {
        for (let kept = 0; kept <= p.versions; kept++) {
          const wordKept = new Array<number>(8).fill(fallback === "none" ? 0 : p.versions);
          if (wordKept[w] === kept) continue;
          wordKept[w] = kept;
          emit({ fallback, chosen: [{ line: p.line, kept: 0, wordKept }] });
        }
      }
    }
  }
}

function subsetStates(pending: readonly PendingInfo[], k: number, emit: (state: CrashState) => void): void {
  const n = pending.length;
  const pick: number[] = [];
  const walk = (start: number): void => {
    emit({ fallback: "none", chosen: pick.map((i) => ({ line: pending[i]!.line, kept: pending[i]!.versions })) });
    if (pick.length === k) return;
    for (let i = start; i < n; i++) {
      pick.push(i);
      walk(i + 1);
      pick.pop();
    }
  };
  walk(0);
}

function randomStates(
  pending: readonly PendingInfo[],
  count: number,
  torn: boolean,
  seed: bigint,
  emit: (state: CrashState) => void,
): void {
  const prng = new Prng(seed).split("experiment-random-states");
  for (let s = 0; s < count; s++) {
    const chosen = pending.map((p) => {
      if (!torn) return { line: p.line, kept: prng.below(p.versions + 1) };
      const wordKept = Array.from({ length: 8 }, () => prng.below(p.versions + 1));
      return { line: p.line, kept: 0, wordKept };
    });
    emit({ fallback: "none", chosen });
  }
}

function fullStates(
  pending: readonly PendingInfo[],
  cap: number,
  torn: boolean,
  emit: (state: CrashState) => void,
): void {
  // Digits of a mixed-radix counter: one per line (per word with torn), radix versions + 1.
  const radices: number[] = [];
  for (const p of pending) for (let w = 0; w < (torn ? 8 : 1); w++) radices.push(p.versions + 1);
  const digits = new Array<number>(radices.length).fill(0);
  for (let emitted = 0; emitted < cap; emitted++) {
    let d = 0;
    const chosen = pending.map((p) => {
      if (!torn) return { line: p.line, kept: digits[d++]! };
      const wordKept = digits.slice(d, d + 8);
      d += 8;
      return { line: p.line, kept: 0, wordKept };
    });
    emit({ fallback: "none", chosen });
    let i = 0;
    while (i < digits.length) {
      digits[i]!++;
      if (digits[i]! < radices[i]!) break;
      digits[i] = 0;
      i++;
    }
    if (i === digits.length) return; // wrapped: every state emitted
  }
}

/** The number of states `full` would visit without a cap (Infinity past 2^53). */
export function fullStateCount(pending: readonly PendingInfo[], torn: boolean): number {
  let count = 1;
  for (const p of pending) count *= (p.versions + 1) ** (torn ? 8 : 1);
  return count;
}
