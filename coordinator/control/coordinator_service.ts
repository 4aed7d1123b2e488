/**
 * The Coordinator gRPC service: node list, Exec forwarded to a node, power-loss injection on one
 * or several nodes, WatchEvents from the SQLite log, and ingest status.
 *
 * Power loss on several nodes at one instant (trigger now, or after the seeded delay): every node
 * is first held between two ops (NodeControl.Hold; each answers the seq it stopped at), and only
 * when all are held does each lose power, so no node runs another op after the instant at which any
 * of them lost power. at_seq and after_ops are per node: each node fires when its own log (or op
 * count) gets there, and the call returns when all have fired.
 *
 * Invariant: requests are checked before anything is sent to a node (each problem names its field);
 * a failure answers only its caller.
 */
import { randomBytes } from "node:crypto";
import type { ServerUnaryCall, ServerWritableStream, sendUnaryData } from "@grpc/grpc-js";
import type {
  CoordinatorExecRequest,
  CoordinatorServer,
  CoordinatorStatus,
  CoordinatorStatusRequest,
  InjectPowerLossRequest,
  InjectPowerLossResponse,
  ListNodesRequest,
  ListNodesResponse,
  WatchEventsRequest,
  RunExperimentRequest,
  ExperimentUpdate,
  ReplayRequest,
  ReplayResponse,
  SurvivalRequest,
  SurvivalResponse,
} from "../../proto/gen/daxsim/v1/coordinator.js";
import { replayRpc, survivalRpc } from "./replay_rpc.js";
import { ExperimentRunner } from "./experiment_rpc.js";
import type { Event as WireEvent, PowerLossPolicy as WirePolicy } from "../../proto/gen/daxsim/v1/events.js";
import type { ExecResponse, PowerLossRequest, PowerLossResult } from "../../proto/gen/daxsim/v1/node.js";
import { NodeControlClient } from "../../proto/gen/daxsim/v1/node.js";
import {
  AFTER_OPS_MAX,
  checkCount,
  checkPolicy,
  checkSession,
  checkWorkloadJson,
} from "../../node/control/node_service.js";
import {
  CancelledError,
  InvalidArgumentError,
  NotFoundError,
  ResourceExhaustedError,
  toServiceError,
} from "../../node/control/rpc_errors.js";
import { Prng } from "../../node/sim/prng.js";
import type { EventDb } from "../ingest/event_db.js";
import type { EventIngest } from "../ingest/ingest.js";
import { checkWatchRequest, streamEvents } from "./event_watch.js";
import { checkNodeField } from "./node_registry.js";
import type { NodeRegistry } from "./node_registry.js";
import { unary } from "./rpc_client.js";

/** Nodes one InjectPowerLoss may name. */
export const INJECT_NODES_MAX = 64;
/** Longest seeded delay. */
export const DELAY_MS_MAX = 3_600_000;
/** Default and largest wait for at_seq/after_ops triggers. */
export const TRIGGER_TIMEOUT_MS_DEFAULT = 600_000;
/** Concurrent WatchEvents streams. */
export const WATCHERS_MAX = 256;
const HOLD_LEASE_MS = 10_000;
const NODE_CALL_MS = 10_000;

export interface CoordinatorContext {
  registry: NodeRegistry;
  ingest: EventIngest;
  /** A read-only connection for WatchEvents (ingest writes on its own). */
  readDb: EventDb;
  dbFile: string;
  natsUrl: string;
  grpcAddress: () => string;
  /** Where RunExperiment stores results (its own connection: ingest writes on another). */
  experimentDb?: EventDb;
}

interface InjectPlan {
  nodes: string[];
  trigger: PowerLossRequest["trigger"];
  barrier: boolean;
  delayMaxMs: number | undefined;
  policy: WirePolicy;
  seed: bigint;
  kill: boolean;
  timeoutMs: number;
}

export function coordinatorService(ctx: CoordinatorContext): CoordinatorServer {
  const { registry } = ctx;
  let watchers = 0;
  const experiments = new ExperimentRunner(ctx.experimentDb);
  return {
    listNodes(_call: ServerUnaryCall<ListNodesRequest, ListNodesResponse>, callback: sendUnaryData<ListNodesResponse>) {
      const ingested = ctx.ingest.status().nodes;
      const now = Date.now();
      callback(null, {
        nodes: registry.list().map((k) => {
          const a = k.announcement;
          return {
            node: a.node,
            grpcAddress: a.grpcAddress,
            dimmSizeBytes: a.dimmSizeBytes,
            persistence: a.persistence,
            startedSeq: a.startedSeq,
            pid: a.pid,
            hostname: a.hostname,
            reachable: registry.isReachable(k),
            lastSeq: a.lastSeq,
            ingestedSeq: BigInt(ingested[a.node]?.lastContiguousSeq ?? 0),
            msSinceSeen: BigInt(Math.max(0, now - k.lastSeenMs)),
          };
        }),
      });
    },

    async exec(call: ServerUnaryCall<CoordinatorExecRequest, ExecResponse>, callback: sendUnaryData<ExecResponse>) {
      const r = call.request;
      checkNodeField(r.node, "node");
      checkWorkloadJson(r.workloadJson);
      checkSession(r.session);
      const known = registry.reachable(r.node);
      const client = known.client;
      const response = await unary(
        client,
        client.exec,
        { workloadJson: r.workloadJson, session: r.session },
        { parent: call },
        r.node,
      );
      callback(null, response);
    },

    async injectPowerLoss(
      call: ServerUnaryCall<InjectPowerLossRequest, InjectPowerLossResponse>,
      callback: sendUnaryData<InjectPowerLossResponse>,
    ) {
      const plan = checkInject(call.request, registry);
      const cancelled = new AbortController();
      call.once("cancelled", () => cancelled.abort());
      let delayMs = 0;
      if (plan.delayMaxMs !== undefined) {
        delayMs = new Prng(plan.seed).split("power-loss-delay").below(plan.delayMaxMs + 1);
        await cancellableSleep(delayMs, cancelled.signal);
      }
      const results = plan.barrier ? await injectAtOnce(plan, registry) : await injectEach(plan, registry);
      callback(null, { results, seed: plan.seed, delayMs: BigInt(delayMs) });
    },

    async replay(call: ServerUnaryCall<ReplayRequest, ReplayResponse>, callback: sendUnaryData<ReplayResponse>) {
      callback(null, await replayRpc(ctx.dbFile, call.request));
    },

    async survival(
      call: ServerUnaryCall<SurvivalRequest, SurvivalResponse>,
      callback: sendUnaryData<SurvivalResponse>,
    ) {
      callback(null, await survivalRpc(ctx.dbFile, call.request));
    },

    runExperiment(call: ServerWritableStream<RunExperimentRequest, ExperimentUpdate>) {
      experiments.serve(call);
    },

    watchEvents(call: ServerWritableStream<WatchEventsRequest, WireEvent>) {
      const fail = (error: unknown): void => {
        call.emit("error", toServiceError(error));
      };
      try {
        const spec = checkWatchRequest(call.request);
        if (spec.node !== "" && !registry.has(spec.node) && ctx.ingest.status().nodes[spec.node] === undefined) {
          throw new NotFoundError("node", `no node "${spec.node}" has announced itself or has events in the log`);
        }
        if (watchers >= WATCHERS_MAX)
          throw new ResourceExhaustedError("", `${WATCHERS_MAX} WatchEvents streams are open; close one`);
        watchers++;
        streamEvents(ctx.readDb, spec, call).then(
          () => {
            watchers--;
            if (!call.cancelled) call.end();
          },
          (error: unknown) => {
            watchers--;
            fail(error);
          },
        );
      } catch (error) {
        fail(error);
      }
    },

    status(
      _call: ServerUnaryCall<CoordinatorStatusRequest, CoordinatorStatus>,
      callback: sendUnaryData<CoordinatorStatus>,
    ) {
      const s = ctx.ingest.status();
      const names = new Set([...Object.keys(s.nodes), ...registry.list().map((k) => k.announcement.node)]);
      callback(null, {
        dbFile: ctx.dbFile,
        natsUrl: ctx.natsUrl,
        nodes: [...names].sort().map((node) => {
          const ingest = s.nodes[node];
          const announced = registry.has(node) ? Number(registry.get(node).announcement.lastSeq) : 0;
          const lcs = ingest?.lastContiguousSeq ?? 0;
          return {
            node,
            lastContiguousSeq: BigInt(lcs),
            highestSeq: BigInt(ingest?.highestSeq ?? 0),
            gaps: (ingest?.gaps ?? []).map((g) => ({ fromSeq: BigInt(g.fromSeq), toSeq: BigInt(g.toSeq) })),
            nodeLastSeq: BigInt(announced),
            lagEvents: BigInt(Math.max(0, announced - lcs)),
            eventsInLog: BigInt(ingest?.eventsInLog ?? 0),
          };
        }),
        pendingMessages: BigInt(s.pendingMessages),
        rejected: BigInt(s.rejected),
        batchesCommitted: BigInt(s.batchesCommitted),
        eventsCommitted: BigInt(s.eventsCommitted),
        eventsInLog: BigInt(s.eventsInLog),
        lastStreamSeq: BigInt(s.lastStreamSeq),
        ingestFailure: s.failure ?? "",
        grpcAddress: ctx.grpcAddress(),
      });
    },
  };
}

function checkInject(r: InjectPowerLossRequest, registry: NodeRegistry): InjectPlan {
  if (r.nodes.length === 0) throw new InvalidArgumentError("nodes", "empty: name at least one node");
  if (r.nodes.length > INJECT_NODES_MAX)
    throw new InvalidArgumentError("nodes", `${r.nodes.length} nodes is over the limit of ${INJECT_NODES_MAX}`);
  const seen = new Set<string>();
  for (const [i, node] of r.nodes.entries()) {
    checkNodeField(node, `nodes[${i}]`);
    if (seen.has(node)) throw new InvalidArgumentError(`nodes[${i}]`, `"${node}" is named twice`);
    seen.add(node);
  }
  checkPolicy(r.policy);
  const timeoutMs = r.timeoutMs === 0 ? TRIGGER_TIMEOUT_MS_DEFAULT : r.timeoutMs;
  if (timeoutMs > TRIGGER_TIMEOUT_MS_DEFAULT)
    throw new InvalidArgumentError("timeout_ms", `${timeoutMs} is over the limit of ${TRIGGER_TIMEOUT_MS_DEFAULT}`);
  const t = r.trigger;
  let trigger: PowerLossRequest["trigger"] = { when: { $case: "now", value: {} } };
  let delayMaxMs: number | undefined;
  if (t?.$case === "atSeq") trigger = { when: { $case: "atSeq", value: BigInt(checkCount(t.value, "at_seq", 1)) } };
  if (t?.$case === "afterOps")
    trigger = { when: { $case: "afterOps", value: BigInt(checkCount(t.value, "after_ops", 1, AFTER_OPS_MAX)) } };
  if (t?.$case === "delayMaxMs") delayMaxMs = checkCount(t.value, "delay_max_ms", 0, DELAY_MS_MAX);
  // Unknown nodes after the shape checks: NOT_FOUND names the first one; then reachability.
  for (const [i, node] of r.nodes.entries()) registry.reachable(node, `nodes[${i}]`);
  const barrier = trigger?.when?.$case === "now";
  const seed = r.seed ?? randomBytes(8).readBigUInt64BE();
  return { nodes: r.nodes, trigger, barrier, delayMaxMs, policy: r.policy, seed, kill: r.kill, timeoutMs };
}

function request(plan: InjectPlan): PowerLossRequest {
  return { trigger: plan.trigger, policy: plan.policy, seed: plan.seed, kill: plan.kill, reason: "" };
}

/** Holds every node, then powers them all off: one instant for the whole set. */
async function injectAtOnce(plan: InjectPlan, registry: NodeRegistry): Promise<PowerLossResult[]> {
  const clients = plan.nodes.map((node) => ({ node, client: registry.reachable(node).client }));
  if (clients.length > 1) {
    const holds = await Promise.allSettled(
      clients.map(({ node, client }) =>
        unary(client, client.hold, { leaseMs: HOLD_LEASE_MS }, { deadline: Date.now() + NODE_CALL_MS }, node),
      ),
    );
    const failed = holds.find((h): h is PromiseRejectedResult => h.status === "rejected");
    if (failed !== undefined) {
      await Promise.allSettled(
        clients.map(({ node, client }) =>
          unary(client, client.release, {}, { deadline: Date.now() + NODE_CALL_MS }, node),
        ),
      );
      throw failed.reason;
    }
  }
  return Promise.all(
    clients.map(({ node, client }) => powerLossOn(node, client, request(plan), Date.now() + NODE_CALL_MS * 3)),
  );
}

/** Arms each node's own trigger; resolves when all have fired. */
async function injectEach(plan: InjectPlan, registry: NodeRegistry): Promise<PowerLossResult[]> {
  const clients = plan.nodes.map((node) => ({ node, client: registry.reachable(node).client }));
  const deadline = Date.now() + plan.timeoutMs;
  return Promise.all(clients.map(({ node, client }) => powerLossOn(node, client, request(plan), deadline)));
}

async function powerLossOn(
  node: string,
  client: NodeControlClient,
  req: PowerLossRequest,
  deadline: number,
): Promise<PowerLossResult> {
  return unary(client, client.powerLoss, req, { deadline }, node);
}

/**
 * Waits `ms`, or until `signal` aborts (the caller cancelled): then rejects with CancelledError, so
 * the call ends as CANCELLED (rpc_errors.ts), never INTERNAL.
 */
export function cancellableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const cancelled = (): void => {
      clearTimeout(timer);
      reject(new CancelledError("", `the call was cancelled during its ${ms} ms delay; no power loss was injected`));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", cancelled);
      resolve();
    }, ms);
    if (signal.aborted) cancelled();
    else signal.addEventListener("abort", cancelled, { once: true });
  });
}
