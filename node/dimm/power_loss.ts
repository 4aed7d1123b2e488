/**
 * Power-loss policies: which version of each pending line survives. The decision is made here, with
 * the seeded Prng, and recorded in the PowerLoss event; applying the event never rolls dice.
 *
 *   strict     nothing that was not durable survives (every line keeps 0 of its pending stores);
 *   eadr-like  everything survives (every line keeps all of them);
 *   random     each line keeps a uniformly chosen prefix of its pending stores;
 *   torn       each aligned 8-byte word of each line keeps its own uniformly chosen prefix.
 */
import type { LineDecision, PowerLossPolicy } from "../../proto/index.js";
import { isPowerLossPolicy } from "../../proto/index.js";
import { Prng } from "../sim/prng.js";
import type { PendingLine } from "./apply.js";
import { DimmArgumentError } from "./errors.js";
import { WORDS_PER_LINE } from "./geometry.js";

export function checkPolicy(policy: string): PowerLossPolicy {
  if (!isPowerLossPolicy(policy)) {
    throw new DimmArgumentError(`power-loss policy "${policy}" is not one of strict, eadr-like, random, torn`);
  }
  return policy;
}

export function decidePowerLoss(
  pending: readonly PendingLine[],
  policy: PowerLossPolicy,
  seed: bigint,
): LineDecision[] {
  const prng = new Prng(seed).split("power-loss");
  return pending.map((p): LineDecision => {
    const versions = p.records.length;
    switch (policy) {
      case "strict":
        return { line: p.line, versions, kept: 0, wordKept: [] };
      case "eadr-like":
        return { line: p.line, versions, kept: versions, wordKept: [] };
      case "random":
        return { line: p.line, versions, kept: prng.below(versions + 1), wordKept: [] };
      case "torn": {
        const wordKept: number[] = [];
        for (let w = 0; w < WORDS_PER_LINE; w++) wordKept.push(prng.below(versions + 1));
        return { line: p.line, versions, kept: 0, wordKept };
      }
    }
  });
}
