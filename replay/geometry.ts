/**
 * Which DIMM a log was made on. Replay must build a DimmState of the right size and persistence
 * domain before the first event, and the log's events do not carry them. In order of trust:
 *   1. what the caller says (CLI --dimm-size / --persistence, or a coordinator that knows its nodes);
 *   2. what the log records beside the events (LogInfo.dimm);
 *   3. what the log implies: the size from the superblock mkfs stored (its first store to address 0,
 *      checked by its CRC), the domain from the first PowerLoss event. A log with no power loss is
 *      taken as adr (the default); the Mount hashes then catch a wrong guess, and the divergence
 *      error says it was a guess.
 */
import type { Event, Persistence } from "../proto/index.js";
import { checkDimmSize } from "../node/index.js";
import { decodeSuperblock } from "../node/fs/layout.js";
import { DimmGeometryError } from "./errors.js";
import type { DimmGeometry, EventLogSource, LogInfo } from "./event_source.js";

/** Events read from the start of a log looking for mkfs's superblock, at most. */
const SUPERBLOCK_SCAN_EVENTS_MAX = 1_000_000;
const SUPERBLOCK_BYTES = 128;
/** The first window read looking for it (mkfs is a few dozen events). */
const SCAN_WINDOW_EVENTS = 32;

export type GeometrySource = "given" | "recorded" | "inferred";

export interface ResolvedGeometry extends DimmGeometry {
  /** Where each of the two values came from. */
  sizeFrom: GeometrySource;
  persistenceFrom: GeometrySource | "default";
}

export async function resolveGeometry(
  source: EventLogSource,
  info: LogInfo,
  given: Partial<DimmGeometry> = {},
): Promise<ResolvedGeometry> {
  let sizeBytes = given.sizeBytes;
  let sizeFrom: GeometrySource = "given";
  if (sizeBytes === undefined && info.dimm?.sizeBytes !== undefined) {
    sizeBytes = info.dimm.sizeBytes;
    sizeFrom = "recorded";
  }
  if (sizeBytes === undefined) {
    sizeBytes = await sizeFromSuperblock(source, info.lastSeq);
    sizeFrom = "inferred";
  }
  try {
    checkDimmSize(sizeBytes);
  } catch (error) {
    throw new DimmGeometryError(
      `node ${source.node}: DIMM size ${sizeBytes} (${sizeFrom}) is not usable: ${(error as Error).message}`,
      { cause: error },
    );
  }
  let persistence: Persistence;
  let persistenceFrom: ResolvedGeometry["persistenceFrom"];
  if (given.persistence !== undefined) [persistence, persistenceFrom] = [given.persistence, "given"];
  else if (info.dimm?.persistence !== undefined) [persistence, persistenceFrom] = [info.dimm.persistence, "recorded"];
  else if (info.firstPowerLossPersistence !== undefined)
    [persistence, persistenceFrom] = [info.firstPowerLossPersistence, "inferred"];
  else [persistence, persistenceFrom] = ["adr", "default"];
  return { sizeBytes, persistence, sizeFrom, persistenceFrom };
}

/** The size mkfs wrote into the superblock: the first store to address 0 before the first mount. */
async function sizeFromSuperblock(source: EventLogSource, lastSeq: number): Promise<number> {
  // Small windows first: mkfs is at the very start, and reading further than needed would also
  // trip over damage later in the log before replay itself gets there to report it in order.
  for (
    let after = 0, window = SCAN_WINDOW_EVENTS;
    after < Math.min(lastSeq, SUPERBLOCK_SCAN_EVENTS_MAX);
    after += window, window *= 4
  ) {
    for await (const page of source.pages(after, Math.min(lastSeq, after + window))) {
      for (const ev of page) {
        const size = superblockSize(ev);
        if (size !== undefined) return size;
        if (ev.kind === "mount") return noSize(source.node, `no mkfs before the first mount (seq ${ev.seq})`);
      }
    }
  }
  return noSize(
    source.node,
    lastSeq > SUPERBLOCK_SCAN_EVENTS_MAX
      ? `no mkfs in the first ${SUPERBLOCK_SCAN_EVENTS_MAX} events`
      : "the log has no mkfs",
  );
}

function superblockSize(ev: Event): number | undefined {
  if (ev.kind !== "store" || ev.addr !== 0 || ev.data.length < SUPERBLOCK_BYTES) return undefined;
  const sb = decodeSuperblock(ev.data.subarray(0, SUPERBLOCK_BYTES));
  return typeof sb === "string" ? undefined : sb.sizeBytes;
}

function noSize(node: string, why: string): never {
  throw new DimmGeometryError(
    `node ${node}: the DIMM size is not recorded with the log and cannot be inferred (${why}); give it (--dimm-size)`,
  );
}
