/**
 * The one-DIMM demo: a seeded script of stores, flushes and fences, then a power loss under each
 * policy, and for each store what became of it. Every store writes its own byte value (its number),
 * so after the crash each byte of media says which store it came from.
 */
import type { PowerLossPolicy } from "../../proto/index.js";
import { POWER_LOSS_POLICIES } from "../../proto/index.js";
import { Dimm } from "../../node/dimm/dimm.js";
import { EventLog, MemorySink } from "../../node/events/event_log.js";
import { StepClock } from "../../node/sim/clock.js";
import { Prng } from "../../node/sim/prng.js";
import { daxsimCommandLine } from "../cli/reproducer.js";
import { SURVIVAL_CATEGORIES, survivalCategory } from "../../replay/index.js";
import type { SurvivalCategory } from "../../replay/index.js";

interface ScriptStore {
  id: number;
  addr: number;
  length: number;
  nonTemporal: boolean;
  persistedBy: string;
}

type Step =
  | { kind: "store"; store: ScriptStore }
  | { kind: "clwb" | "clflush"; addr: number; length: number }
  | { kind: "fence" };

/** Builds the seeded script: 16 stores into 4 pages, some persisted by CLWB+SFENCE or CLFLUSH. */
export function demoScript(seed: bigint): Step[] {
  const prng = new Prng(seed).split("dimm-demo");
  const steps: Step[] = [];
  for (let id = 1; id <= 16; id++) {
    const addr = prng.below(4 * 4096 - 200);
    const length = prng.chance(1, 2) ? 8 : prng.between(9, 150);
    const nonTemporal = prng.chance(1, 4);
    const persist = prng.below(4); // 0: nothing, 1: clwb+sfence, 2: clflush, 3: clwb without a fence
    const persistedBy = nonTemporal
      ? persist === 1
        ? "sfence"
        : "nothing (NT store, no fence)"
      : ["nothing", "clwb+sfence", "clflush", "clwb, no fence"][persist]!;
    const store: ScriptStore = { id, addr, length, nonTemporal, persistedBy };
    steps.push({ kind: "store", store });
    if (nonTemporal) {
      if (persist === 1) steps.push({ kind: "fence" });
    } else if (persist === 1) {
      steps.push({ kind: "clwb", addr, length }, { kind: "fence" });
    } else if (persist === 2) {
      steps.push({ kind: "clflush", addr, length });
    } else if (persist === 3) {
      steps.push({ kind: "clwb", addr, length });
    }
  }
  return steps;
}

export interface StoreFate {
  id: number;
  addr: number;
  length: number;
  how: string;
  persistedBy: string;
  /** Whether the store's (not superseded) bytes were durable when power failed: later fences count. */
  durableAtCrash: "yes" | "no" | "part" | "-";
  /** Bytes of this store on media after the crash. */
  survivedBytes: number;
  /** Bytes a later store overwrote before the crash. */
  supersededBytes: number;
  /** The survival report's outcome (replay/survival.ts); nothing zeroes here. */
  fate: SurvivalCategory;
}

export function runDemoPolicy(seed: bigint, policy: PowerLossPolicy): { fates: StoreFate[]; mediaSha256: string } {
  const dimm = new Dimm({ sizeBytes: 1 << 20 }, new EventLog(new MemorySink(), new StepClock()));
  const stores: ScriptStore[] = [];
  for (const step of demoScript(seed)) {
    if (step.kind === "store") {
      const data = new Uint8Array(step.store.length).fill(step.store.id);
      if (step.store.nonTemporal) dimm.ntStore(step.store.addr, data);
      else dimm.store(step.store.addr, data);
      stores.push(step.store);
    } else if (step.kind === "fence") {
      dimm.fence();
    } else {
      dimm.flush(step.addr, step.length, step.kind);
    }
  }
  const visible = dimm.load(0, 4 * 4096);
  const durable = dimm.loadDurable(0, 4 * 4096);
  const loss = dimm.powerLoss(policy, seed);
  const media = dimm.load(0, 4 * 4096);
  const fates = stores.map((s): StoreFate => {
    let survivedBytes = 0;
    let supersededBytes = 0;
    let durableBytes = 0;
    for (let b = s.addr; b < s.addr + s.length; b++) {
      if (durable[b] === s.id) durableBytes++;
      if (media[b] === s.id) survivedBytes++;
      else if (visible[b] !== s.id) supersededBytes++;
    }
    const live = s.length - supersededBytes;
    const fate = survivalCategory({
      survived: survivedBytes,
      lost: live - survivedBytes,
      superseded: supersededBytes,
      zeroed: 0,
    });
    const durableAtCrash = live === 0 ? "-" : durableBytes === live ? "yes" : durableBytes === 0 ? "no" : "part";
    return {
      id: s.id,
      addr: s.addr,
      length: s.length,
      how: s.nonTemporal ? "ntstore" : "store",
      persistedBy: s.persistedBy,
      durableAtCrash,
      survivedBytes,
      supersededBytes,
      fate,
    };
  });
  return { fates, mediaSha256: Buffer.from(loss.mediaSha256).toString("hex") };
}

export function dimmDemoReport(seed: bigint): string {
  const out: string[] = [
    `daxsim one-DIMM demo, seed ${seed} (replay: ${daxsimCommandLine(["demo", "--one-dimm", "--seed", String(seed)])})`,
    "",
  ];
  for (const policy of POWER_LOSS_POLICIES) {
    const { fates, mediaSha256 } = runDemoPolicy(seed, policy);
    out.push(`power loss, policy ${policy}: media sha256 ${mediaSha256.slice(0, 16)}…`);
    out.push("  store  addr    len  kind     followed by                    durable  fate");
    for (const f of fates) {
      const detail = f.fate.startsWith("partly-")
        ? `${f.fate} (${f.survivedBytes}/${f.length} bytes on media)`
        : f.fate;
      out.push(
        `  #${String(f.id).padEnd(4)} ${String(f.addr).padStart(6)} ${String(f.length).padStart(4)}  ${f.how.padEnd(8)} ${f.persistedBy.padEnd(30)} ${f.durableAtCrash.padEnd(8)} ${detail}`,
      );
    }
    const count = (fate: StoreFate["fate"]): number => fates.filter((f) => f.fate === fate).length;
    const seen = SURVIVAL_CATEGORIES.filter((c) => c !== "zeroed" && c !== "partly-zeroed");
    out.push(`  => ${seen.map((c) => `${count(c)} ${c}`).join(", ")}`, "");
  }
  return out.join("\n");
}
