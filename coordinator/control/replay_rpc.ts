/**
 * Coordinator.Replay and Coordinator.Survival: thin wrappers over replay/ on the coordinator's own
 * SQLite log. Replay's typed errors become RPC errors here (and only here): an unknown node or
 * power loss is NOT_FOUND, a log that diverges, has a gap or edited bytes is DATA_LOSS naming the
 * first bad event, a seq past the end is OUT_OF_RANGE.
 */
import type {
  ReplayRequest,
  ReplayResponse,
  SurvivalRequest,
  SurvivalResponse,
} from "../../proto/gen/daxsim/v1/coordinator.js";
import { persistenceToWire } from "../../proto/codec.js";
import { DataLossError, InvalidArgumentError, NotFoundError, OutOfRangeError } from "../../node/control/rpc_errors.js";
import {
  LogTruncatedError,
  NodeNotFoundError,
  PowerLossNotFoundError,
  ReplayError,
  SURVIVAL_FORMATS,
  SqliteEventLog,
  formatSurvival,
  replayLog,
  survivalReport,
} from "../../replay/index.js";
import type { SurvivalFormat } from "../../replay/index.js";
import { isValidNodeId } from "../../proto/subjects.js";

function checkNode(node: string): void {
  if (!isValidNodeId(node)) throw new InvalidArgumentError("node", `"${node}" is not a node id`);
}

/** Replay's errors as the RPC errors clients see. */
function asRpcError(error: unknown): unknown {
  if (error instanceof NodeNotFoundError) return new NotFoundError("node", error.message);
  if (error instanceof PowerLossNotFoundError) return new NotFoundError("power_loss_seq", error.message);
  if (error instanceof LogTruncatedError) return new OutOfRangeError("at_seq", error.message);
  if (error instanceof ReplayError) return new DataLossError("node", error.message);
  return error;
}

async function withLog<T>(dbFile: string, node: string, body: (log: SqliteEventLog) => Promise<T>): Promise<T> {
  let log: SqliteEventLog | undefined;
  try {
    log = await SqliteEventLog.open(dbFile, node);
    return await body(log);
  } catch (error) {
    throw asRpcError(error);
  } finally {
    await log?.close().catch(() => undefined);
  }
}

export async function replayRpc(dbFile: string, r: ReplayRequest): Promise<ReplayResponse> {
  checkNode(r.node);
  if (r.atSeq > BigInt(Number.MAX_SAFE_INTEGER)) throw new InvalidArgumentError("at_seq", `${r.atSeq} is not a seq`);
  return withLog(dbFile, r.node, async (log) => {
    const result = await replayLog(log, r.atSeq === 0n ? {} : { atSeq: Number(r.atSeq) });
    return {
      node: r.node,
      lastSeq: BigInt(result.lastSeq),
      boot: result.boot,
      eventsApplied: BigInt(result.eventsApplied),
      hashesChecked: result.hashesChecked,
      mediaSha256: Buffer.from(result.mediaSha256, "hex"),
      pendingLines: result.pendingLines,
      dimmSizeBytes: BigInt(result.dimm.sizeBytes),
      persistence: persistenceToWire(result.dimm.persistence),
    };
  });
}

export async function survivalRpc(dbFile: string, r: SurvivalRequest): Promise<SurvivalResponse> {
  checkNode(r.node);
  const format = (r.format === "" ? "json" : r.format) as SurvivalFormat;
  if (!(SURVIVAL_FORMATS as readonly string[]).includes(format))
    throw new InvalidArgumentError("format", `"${r.format}" is not one of ${SURVIVAL_FORMATS.join(", ")}`);
  if (r.powerLossSeq > BigInt(Number.MAX_SAFE_INTEGER))
    throw new InvalidArgumentError("power_loss_seq", `${r.powerLossSeq} is not a seq`);
  return withLog(dbFile, r.node, async (log) => {
    const report = await survivalReport(log, r.powerLossSeq === 0n ? {} : { powerLossSeq: Number(r.powerLossSeq) });
    const byCategory: Record<string, bigint> = {};
    for (const [category, totals] of Object.entries(report.totals)) byCategory[category] = BigInt(totals.stores);
    return {
      node: r.node,
      powerLossSeq: BigInt(report.powerLoss.seq),
      report: formatSurvival(report, format, { dataOnly: r.dataOnly }),
      storesByCategory: byCategory,
      beyondEofStores: report.beyondEof.length,
      hashesChecked: report.hashesChecked,
    };
  });
}
