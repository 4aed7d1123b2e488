/**
 * A workload file: either a JSON array of ops, or an object with the machine to run them on:
 *   { "dimm": {"size": "16M", "persistence": "adr"}, "mount": "dax,zero-on-extend=block",
 *     "seed": 1, "ops": [...] }
 * It owns the top-level checks (every op is checked with parseOp too, so a file that parses runs
 * no malformed op) and building the fresh machine the settings describe.
 */
import type { Persistence } from "../../proto/index.js";
import { isPersistence } from "../../proto/index.js";
import { DimmConfigError } from "../dimm/errors.js";
import { checkDimmSize, parseSize } from "../dimm/geometry.js";
import type { EventLog } from "../events/event_log.js";
import type { MountOptions } from "../fs/fs.js";
import { MountOptionError, parseMountOptions } from "../fs/fs.js";
import { Machine } from "../machine.js";
import { PrngSeedError, parseSeed } from "../sim/prng.js";
import type { ParsedOp } from "./ops.js";
import { WorkloadOpError, parseOp } from "./ops.js";
import { BATCH_OPS_MAX } from "./session.js";
import { describe } from "./values.js";

export const DEFAULT_DIMM_BYTES = 16 << 20;
/** Errors listed at once for a file with many malformed ops. */
const ERRORS_LISTED_MAX = 20;

export interface WorkloadSettings {
  dimm: { sizeBytes: number; persistence: Persistence };
  mount: MountOptions;
  seed: bigint;
  /** Which settings the file gave (the rest are defaults). */
  given: { dimm: boolean; mount: boolean; seed: boolean };
}

export interface Workload {
  settings: WorkloadSettings;
  /** The ops as written (what a session executes). */
  rawOps: unknown[];
  /** The same ops, checked. */
  ops: ParsedOp[];
}

/** The file is not a workload: names the top-level field, or lists the malformed ops. */
export class WorkloadFileError extends Error {
  override readonly name = "WorkloadFileError";
  constructor(
    message: string,
    readonly opErrors: readonly WorkloadOpError[] = [],
  ) {
    super(message);
  }
}

/** Checks a parsed JSON document; throws WorkloadFileError with every problem it can name. */
export function parseWorkload(doc: unknown): Workload {
  const settings: WorkloadSettings = {
    dimm: { sizeBytes: DEFAULT_DIMM_BYTES, persistence: "adr" },
    mount: parseMountOptions(""),
    seed: 1n,
    given: { dimm: false, mount: false, seed: false },
  };
  let rawOps: unknown;
  if (Array.isArray(doc)) {
    rawOps = doc;
  } else if (doc !== null && typeof doc === "object") {
    const top = doc as Record<string, unknown>;
    for (const key of Object.keys(top)) {
      if (!["dimm", "mount", "seed", "ops", "comment"].includes(key))
        throw new WorkloadFileError(`unknown top-level field "${key}" (known: dimm, mount, seed, ops, comment)`);
    }
    if (top.dimm !== undefined) {
      settings.dimm = parseDimm(top.dimm);
      settings.given.dimm = true;
    }
    if (top.mount !== undefined) {
      if (typeof top.mount !== "string")
        throw new WorkloadFileError(
          `"mount" must be a string such as "dax,zero-on-extend=block", got ${describe(top.mount)}`,
        );
      try {
        settings.mount = parseMountOptions(top.mount);
      } catch (error) {
        if (error instanceof MountOptionError) throw new WorkloadFileError(`"mount": ${error.message}`);
        throw error;
      }
      settings.given.mount = true;
    }
    if (top.seed !== undefined) {
      settings.seed = parseTopSeed(top.seed);
      settings.given.seed = true;
    }
    if (top.ops === undefined) throw new WorkloadFileError(`missing "ops": the list of operations`);
    rawOps = top.ops;
  } else {
    throw new WorkloadFileError(`a workload is a JSON array of ops or an object with "ops", got ${describe(doc)}`);
  }
  if (!Array.isArray(rawOps)) throw new WorkloadFileError(`"ops" must be an array, got ${describe(rawOps)}`);
  if (rawOps.length > BATCH_OPS_MAX)
    throw new WorkloadFileError(`${rawOps.length} ops is over the limit of ${BATCH_OPS_MAX}`);
  const ops: ParsedOp[] = [];
  const errors: WorkloadOpError[] = [];
  rawOps.forEach((raw, index) => {
    try {
      ops.push(parseOp(raw, index));
    } catch (error) {
      if (!(error instanceof WorkloadOpError)) throw error;
      errors.push(error);
    }
  });
  if (errors.length > 0) {
    const shown = errors.slice(0, ERRORS_LISTED_MAX).map((e) => `  ${e.message}`);
    if (errors.length > ERRORS_LISTED_MAX) shown.push(`  … and ${errors.length - ERRORS_LISTED_MAX} more`);
    throw new WorkloadFileError(
      `${errors.length} malformed op${errors.length === 1 ? "" : "s"}:\n${shown.join("\n")}`,
      errors,
    );
  }
  return { settings, rawOps, ops };
}

function parseDimm(value: unknown): WorkloadSettings["dimm"] {
  if (value === null || typeof value !== "object" || Array.isArray(value))
    throw new WorkloadFileError(
      `"dimm" must be an object like {"size": "16M", "persistence": "adr"}, got ${describe(value)}`,
    );
  const d = value as Record<string, unknown>;
  for (const key of Object.keys(d))
    if (key !== "size" && key !== "persistence")
      throw new WorkloadFileError(`unknown field "dimm.${key}" (known: size, persistence)`);
  let sizeBytes = DEFAULT_DIMM_BYTES;
  if (d.size !== undefined) {
    try {
      sizeBytes = typeof d.size === "number" ? d.size : typeof d.size === "string" ? parseSize(d.size) : Number.NaN;
      checkDimmSize(sizeBytes);
    } catch (error) {
      if (error instanceof DimmConfigError) throw new WorkloadFileError(`"dimm.size": ${error.message}`);
      throw error;
    }
  }
  const persistence = d.persistence ?? "adr";
  if (typeof persistence !== "string" || !isPersistence(persistence))
    throw new WorkloadFileError(`"dimm.persistence" must be "adr" or "eadr", got ${describe(persistence)}`);
  return { sizeBytes, persistence };
}

function parseTopSeed(value: unknown): bigint {
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) return BigInt(value);
  if (typeof value === "string") {
    try {
      return parseSeed(value);
    } catch (error) {
      if (error instanceof PrngSeedError) throw new WorkloadFileError(`"seed": ${error.message}`);
      throw error;
    }
  }
  throw new WorkloadFileError(
    `"seed" must be a non-negative integer or a decimal/0x-hex string, got ${describe(value)}`,
  );
}

/** A freshly formatted machine with the workload's DIMM and mount settings. */
export function machineForWorkload(settings: WorkloadSettings, log: EventLog): Machine {
  return Machine.format(log, {
    dimm: { sizeBytes: settings.dimm.sizeBytes, persistence: settings.dimm.persistence },
    mount: settings.mount,
    seed: settings.seed,
  });
}
