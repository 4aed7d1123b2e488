/**
 * A whole node as `daxsim node` runs it: one NATS connection (durable-log read-back, the outbox,
 * announcements), the NodeRuntime rebuilt from the node's durable log, the NodeControl gRPC server
 * with health and reflection, and the announcer that lets coordinators anywhere on the NATS cluster
 * find the node.
 *
 * Invariants: the node announces itself only once it serves gRPC and its start-up events are
 * acknowledged; a shutdown announces `leaving` after the final flush; the heartbeat is the only
 * timer and it carries no simulation state.
 */
import { hostname } from "node:os";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { NodeAnnouncement, NodeControlService } from "../../proto/gen/daxsim/v1/node.js";
import { persistenceToWire } from "../../proto/codec.js";
import { NATS_CONNECTION, NODE_ANNOUNCE_SUBJECT, NODE_DISCOVER_SUBJECT, checkNodeId } from "../../proto/subjects.js";
import { NatsOutbox } from "../events/nats_outbox.js";
import type { NatsOutboxOptions } from "../events/nats_outbox.js";
import { readDurableLog } from "./durable_log.js";
import { startGrpcServer } from "./grpc_server.js";
import type { RunningGrpcServer } from "./grpc_server.js";
import { NodeRuntime } from "./node_runtime.js";
import type { NodeSettings } from "./node_runtime.js";
import { nodeControlService } from "./node_service.js";

/** A node announces itself at least this often. */
export const HEARTBEAT_MS = 1_000;

export interface NodeProcessOptions extends NodeSettings {
  nats: string | string[];
  /** host:port for NodeControl; default 127.0.0.1:0. */
  grpc?: string;
  outbox?: Omit<NatsOutboxOptions, "node">;
  /** SIGKILL of this process by default; tests pass their own. */
  onKill?: () => void;
  /** After a Shutdown RPC has been answered; default: nothing (the caller watches `stopped`). */
  onShutdown?: () => void;
  log?: (record: { level: "info" | "warn" | "error"; msg: string; [k: string]: unknown }) => void;
}

export interface NodeProcess {
  runtime: NodeRuntime;
  grpc: RunningGrpcServer;
  nc: NatsConnection;
  /** Resolves when the node stopped serving (Shutdown RPC or stop()). */
  stopped: Promise<void>;
  /** Clean shutdown (as the Shutdown RPC), then announces leaving and closes everything. */
  stop(): Promise<void>;
  /** As a crash: closes everything without flushing. */
  abandon(): Promise<void>;
}

export async function startNodeProcess(options: NodeProcessOptions): Promise<NodeProcess> {
  const node = checkNodeId(options.node);
  const log = options.log ?? (() => undefined);
  const nc = await connect({ servers: options.nats, name: `daxsim-node-${node}`, ...NATS_CONNECTION });
  let grpc: RunningGrpcServer | undefined;
  let announcer: Announcer | undefined;
  let settle!: () => void;
  const stopped = new Promise<void>((resolve) => (settle = resolve));
  try {
    const durable = await readDurableLog(nc, node);
    log({
      level: "info",
      msg: "durable log read",
      node,
      lastSeq: durable.lastSeq,
      dimmEvents: durable.dimmEvents.length,
      duplicateBatches: durable.duplicateBatches,
      ignoredMessages: durable.ignoredMessages,
    });
    const outbox = new NatsOutbox(nc, {
      ...options.outbox,
      node,
      onPublishError: (error, msgId, attempt) =>
        log({ level: "warn", msg: "publish failed; re-sending", msgId, attempt, error: String(error) }),
    });
    const onKill = options.onKill ?? (() => setTimeout(() => process.kill(process.pid, "SIGKILL"), 50));
    const runtime = await NodeRuntime.start({ ...options, node }, durable, outbox, { onKill });
    let shuttingDown: Promise<void> | undefined;
    const finish = async (): Promise<void> => {
      announcer?.stop(true);
      await nc.flush().catch(() => undefined);
      await grpc?.stop();
      await nc.drain().catch(() => undefined);
      settle();
    };
    const service = nodeControlService({
      runtime,
      grpcAddress: () => grpc?.address ?? "",
      onShutdown: () => {
        shuttingDown ??= finish();
        options.onShutdown?.();
      },
    });
    grpc = await startGrpcServer(options.grpc ?? "127.0.0.1:0", [
      { name: "daxsim.v1.NodeControl", definition: NodeControlService, implementation: service },
    ]);
    announcer = new Announcer(nc, () => announcement(runtime, grpc!.address, false));
    announcer.start();
    log({
      level: "info",
      msg: "serving",
      node,
      grpc: grpc.address,
      startedSeq: runtime.startedSeq,
      boot: runtime.log.boot,
    });
    const running = grpc;
    return {
      runtime,
      grpc: running,
      nc,
      stopped,
      async stop() {
        if (runtime.isServing) await runtime.shutdown();
        shuttingDown ??= finish();
        await shuttingDown;
      },
      async abandon() {
        announcer?.stop(false);
        await outbox.abandon();
        running.server.forceShutdown();
        await nc.close().catch(() => undefined);
        settle();
      },
    };
  } catch (error) {
    await grpc?.stop();
    await nc.close().catch(() => undefined);
    throw error;
  }
}

function announcement(runtime: NodeRuntime, grpcAddress: string, leaving: boolean): NodeAnnouncement {
  return {
    node: runtime.settings.node,
    grpcAddress,
    dimmSizeBytes: BigInt(runtime.settings.dimmSizeBytes),
    persistence: persistenceToWire(runtime.settings.persistence),
    startedSeq: BigInt(runtime.startedSeq),
    pid: process.pid,
    hostname: hostname(),
    leaving,
    lastSeq: BigInt(runtime.log.lastSeq),
    heartbeatMs: HEARTBEAT_MS,
  };
}

/** Publishes the node's announcement at start, every heartbeat, on discovery requests, and at stop. */
class Announcer {
  private timer: NodeJS.Timeout | undefined;
  private discover: Subscription | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly make: () => NodeAnnouncement,
  ) {}

  start(): void {
    this.publish(false);
    this.timer = setInterval(() => this.publish(false), HEARTBEAT_MS);
    this.discover = this.nc.subscribe(NODE_DISCOVER_SUBJECT, { callback: () => this.publish(false) });
  }

  stop(leaving: boolean): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.discover?.unsubscribe();
    if (leaving) this.publish(true);
  }

  private publish(leaving: boolean): void {
    if (this.nc.isClosed()) return;
    const message = { ...this.make(), leaving };
    this.nc.publish(NODE_ANNOUNCE_SUBJECT, NodeAnnouncement.encode(message).finish());
  }
}
