/**
 * The NodeControl gRPC service over a NodeRuntime: checks every request (each problem names its
 * field), converts between the wire messages of node.proto and the runtime's domain values, and
 * streams ExecStream records with back-pressure. Errors become statuses in rpc_errors.ts only.
 *
 * Invariant: nothing here runs an op or touches the machine except through the runtime, so the
 * runtime's ordering and write-ahead guarantees hold for every RPC.
 */
import type { ServerDuplexStream, ServerUnaryCall, sendUnaryData } from "@grpc/grpc-js";
import { persistenceToWire, policyFromWire, policyToWire } from "../../proto/codec.js";
import type { PowerLossPolicy as WirePolicy } from "../../proto/gen/daxsim/v1/events.js";
import { PowerLossPolicy as WirePolicyEnum } from "../../proto/gen/daxsim/v1/events.js";
import type {
  ExecRequest,
  ExecResponse,
  HoldRequest,
  HoldResponse,
  NodeControlServer,
  NodeStatus,
  NodeStatusRequest,
  OpRecord as WireOpRecord,
  PowerLossRequest,
  PowerLossResult,
  PowerLossTrigger,
  ReleaseRequest,
  ReleaseResponse,
  ShutdownRequest,
  ShutdownResponse,
} from "../../proto/gen/daxsim/v1/node.js";
import type { PowerLossPolicy } from "../../proto/events.js";
import { WireFormatError } from "../../proto/errors.js";
import { parseOp } from "../workload/index.js";
import { HOLD_LEASE_MS_DEFAULT, HOLD_LEASE_MS_MAX, NodeRuntime } from "./node_runtime.js";
import type { InjectedPowerLoss, PowerLossSpec, RunRecord, TriggerSpec } from "./node_runtime.js";
import { InvalidArgumentError, toServiceError } from "./rpc_errors.js";

/** Ops one Exec request may carry (a request is also bounded by GRPC_RECEIVE_BYTES_MAX). */
export const EXEC_OPS_MAX = 100_000;
/** Longest `reason` a power-loss request may give. */
export const REASON_CHARS_MAX = 256;
/** Largest after_ops count. */
export const AFTER_OPS_MAX = 1_000_000_000;
/** Records queued for an ExecStream client before the node waits for it to read. */
const STREAM_HIGH_WATER_RECORDS = 1024;

/** Parses and checks workload_json: a JSON array of ops or {"ops": [...]}. Runs nothing. */
export function checkWorkloadJson(text: string, field = "workload_json"): unknown[] {
  if (text.trim() === "")
    throw new InvalidArgumentError(
      field,
      'empty: expected a JSON array of ops, e.g. [{"op":"open","path":"/f","flags":"rw,creat","as":"fd"}]',
    );
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    throw new InvalidArgumentError(field, `not JSON: ${(error as Error).message}`);
  }
  let ops: unknown;
  if (Array.isArray(doc)) {
    ops = doc;
  } else if (doc !== null && typeof doc === "object") {
    for (const key of Object.keys(doc)) {
      if (key === "ops" || key === "comment") continue;
      if (key === "dimm" || key === "mount" || key === "seed")
        throw new InvalidArgumentError(
          `${field}.${key}`,
          'a running node\'s DIMM, mount options and seed are set when the node starts; send only "ops"',
        );
      throw new InvalidArgumentError(`${field}.${key}`, "unknown field (known: ops, comment)");
    }
    ops = (doc as { ops?: unknown }).ops;
    if (!Array.isArray(ops)) throw new InvalidArgumentError(`${field}.ops`, "missing or not an array of ops");
  } else {
    throw new InvalidArgumentError(field, 'expected a JSON array of ops or an object with "ops"');
  }
  const list = ops as unknown[];
  if (list.length > EXEC_OPS_MAX)
    throw new InvalidArgumentError(
      field,
      `${list.length} ops is over the limit of ${EXEC_OPS_MAX} per request; send several batches`,
    );
  // parseOp throws WorkloadOpError naming op index, op and field (INVALID_ARGUMENT, workload_json: ...).
  list.forEach((raw, index) => parseOp(raw, index));
  return list;
}

export function checkSession(name: string): string {
  const problem = NodeRuntime.checkSessionName(name);
  if (problem !== undefined) throw new InvalidArgumentError("session", problem);
  return name;
}

/** A wire policy (UNSPECIFIED: strict); unknown values name the field. */
export function checkPolicy(value: WirePolicy, field = "policy"): PowerLossPolicy {
  if (value === WirePolicyEnum.POWER_LOSS_POLICY_UNSPECIFIED) return "strict";
  try {
    return policyFromWire(value, field);
  } catch (error) {
    if (error instanceof WireFormatError)
      throw new InvalidArgumentError(
        field,
        `unknown power-loss policy ${String(value)} (POWER_LOSS_POLICY_STRICT, _EADR_LIKE, _RANDOM, _TORN)`,
      );
    throw error;
  }
}

/** A uint64 count or seq that must fit a JS number and lie in [min, max]. */
export function checkCount(value: bigint, field: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value < BigInt(min) || value > BigInt(max))
    throw new InvalidArgumentError(field, `${value} is outside [${min}, ${max}]`);
  return Number(value);
}

export function checkReason(reason: string): string {
  if (reason.length > REASON_CHARS_MAX)
    throw new InvalidArgumentError("reason", `${reason.length} characters is over the limit of ${REASON_CHARS_MAX}`);
  return reason;
}

export function triggerFromWire(trigger: PowerLossTrigger | undefined): TriggerSpec {
  const when = trigger?.when;
  if (when === undefined || when.$case === "now") return { kind: "now" };
  if (when.$case === "atSeq") return { kind: "at-seq", seq: checkCount(when.value, "trigger.at_seq", 1) };
  return { kind: "after-ops", ops: checkCount(when.value, "trigger.after_ops", 1, AFTER_OPS_MAX) };
}

export function recordToWire(run: RunRecord): WireOpRecord {
  const r = run.record;
  return {
    i: BigInt(r.i),
    op: r.op,
    pid: r.pid,
    ok: r.ok,
    value: BigInt(r.value),
    errno: r.errno ?? "",
    signal: r.signal ?? "",
    message: r.message ?? "",
    hex: r.hex ?? "",
    faults: [...r.faults],
    infoJson:
      r.info === undefined
        ? ""
        : JSON.stringify(r.info, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v)),
    error: r.error ?? "",
    mismatch: r.mismatch ?? "",
    firstSeq: BigInt(run.firstSeq),
    lastSeq: BigInt(run.lastSeq),
    boot: run.boot,
  };
}

export function powerLossToWire(node: string, p: InjectedPowerLoss): PowerLossResult {
  return {
    node,
    seq: BigInt(p.seq),
    boot: p.boot,
    policy: policyToWire(p.policy),
    seed: p.seed,
    mediaSha256: Buffer.from(p.mediaSha256),
    linesDecided: p.linesDecided,
    linesLost: p.linesLost,
    linesPartlyLost: p.linesPartlyLost,
    killed: p.killed,
    ackedThroughSeq: BigInt(p.ackedThroughSeq),
    recoveredTxns: p.recoveredTxns,
    fsckClean: p.fsckClean,
    mountMediaSha256: Buffer.from(p.mountMediaSha256),
    trigger: p.trigger,
  };
}

export interface NodeServiceContext {
  runtime: NodeRuntime;
  grpcAddress: () => string;
  /** Called after a Shutdown reply: stop the server and the process. */
  onShutdown: () => void;
}

export function nodeControlService(ctx: NodeServiceContext): NodeControlServer {
  const { runtime } = ctx;
  const node = runtime.settings.node;
  return {
    async exec(call: ServerUnaryCall<ExecRequest, ExecResponse>, callback: sendUnaryData<ExecResponse>) {
      const ops = checkWorkloadJson(call.request.workloadJson);
      const session = checkSession(call.request.session);
      const result = await runtime.runBatch(ops, session);
      callback(null, {
        records: result.records.map(recordToWire),
        powerLoss: result.powerLoss === undefined ? undefined : powerLossToWire(node, result.powerLoss),
        lastSeq: BigInt(runtime.log.lastSeq),
      });
    },

    execStream(call: ServerDuplexStream<ExecRequest, WireOpRecord>) {
      serveExecStream(runtime, call);
    },

    status(_call: ServerUnaryCall<NodeStatusRequest, NodeStatus>, callback: sendUnaryData<NodeStatus>) {
      const s = runtime.status();
      callback(null, {
        node,
        lastSeq: BigInt(s.lastSeq),
        ackedThroughSeq: BigInt(s.ackedThroughSeq),
        boot: s.boot,
        mounted: s.mounted,
        mountOptions: s.mountOptions,
        fsckClean: s.fsckClean,
        recoveredTxns: s.recoveredTxns,
        mediaSha256: Buffer.from(s.mediaSha256),
        dimmSizeBytes: BigInt(runtime.settings.dimmSizeBytes),
        persistence: persistenceToWire(runtime.settings.persistence),
        opsRun: BigInt(s.opsRun),
        powerLosses: BigInt(s.boot),
        armedTrigger: s.armed,
        held: s.held,
        startedSeq: BigInt(runtime.startedSeq),
        grpcAddress: ctx.grpcAddress(),
        eventsWritten: BigInt(s.eventsWritten),
      });
    },

    async powerLoss(
      call: ServerUnaryCall<PowerLossRequest, PowerLossResult>,
      callback: sendUnaryData<PowerLossResult>,
    ) {
      const r = call.request;
      const spec: PowerLossSpec = {
        trigger: triggerFromWire(r.trigger),
        policy: checkPolicy(r.policy),
        kill: r.kill,
        reason: checkReason(r.reason),
        ...(r.seed !== undefined ? { seed: r.seed } : {}),
      };
      const abort = new AbortController();
      call.once("cancelled", () => abort.abort());
      const result = await runtime.powerLoss(spec, abort.signal);
      callback(null, powerLossToWire(node, result));
    },

    hold(call: ServerUnaryCall<HoldRequest, HoldResponse>, callback: sendUnaryData<HoldResponse>) {
      const leaseMs = call.request.leaseMs === 0 ? HOLD_LEASE_MS_DEFAULT : call.request.leaseMs;
      if (leaseMs > HOLD_LEASE_MS_MAX)
        throw new InvalidArgumentError("lease_ms", `${leaseMs} is over the limit of ${HOLD_LEASE_MS_MAX}`);
      const at = runtime.hold(leaseMs);
      callback(null, { lastSeq: BigInt(at.lastSeq), boot: at.boot });
    },

    release(_call: ServerUnaryCall<ReleaseRequest, ReleaseResponse>, callback: sendUnaryData<ReleaseResponse>) {
      runtime.release();
      callback(null, {});
    },

    async shutdown(
      _call: ServerUnaryCall<ShutdownRequest, ShutdownResponse>,
      callback: sendUnaryData<ShutdownResponse>,
    ) {
      const done = await runtime.shutdown();
      callback(null, { lastSeq: BigInt(done.lastSeq), mediaSha256: Buffer.from(done.mediaSha256) });
      ctx.onShutdown();
    },
  };
}

/**
 * ExecStream: each request is a batch run in the node's op order; each record is written as soon as
 * it exists (sync-type ops after the flush). A malformed request ends the stream with its status;
 * the node goes on serving everyone else.
 */
function serveExecStream(runtime: NodeRuntime, call: ServerDuplexStream<ExecRequest, WireOpRecord>): void {
  let chain: Promise<void> = Promise.resolve();
  let failed = false;
  let queued = 0;
  const write = async (run: RunRecord): Promise<void> => {
    if (failed || call.cancelled) return;
    queued++;
    const flushed = call.write(recordToWire(run));
    if (!flushed && queued > STREAM_HIGH_WATER_RECORDS)
      await new Promise<void>((resolve) => call.once("drain", () => resolve()));
    if (flushed) queued = 0;
  };
  const fail = (error: unknown): void => {
    if (failed) return;
    failed = true;
    call.emit("error", toServiceError(error));
  };
  call.on("data", (request: ExecRequest) => {
    chain = chain.then(async () => {
      if (failed || call.cancelled) return;
      try {
        const ops = checkWorkloadJson(request.workloadJson);
        await runtime.runBatch(ops, checkSession(request.session), write);
      } catch (error) {
        fail(error);
      }
    });
  });
  call.on("end", () => {
    void chain.then(() => {
      if (!failed) call.end();
    });
  });
  call.on("error", () => (failed = true));
}
