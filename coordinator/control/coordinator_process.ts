/**
 * A whole coordinator as `daxsim coordinator` runs it: the SQLite event log and ingest from
 * JetStream, node discovery on NATS, and the Coordinator gRPC server with health and reflection.
 *
 * Invariant: stop() stops taking requests first, then ingest (committing what it decoded), then
 * closes NATS and SQLite, so a stopped coordinator has lost nothing that JetStream acknowledged.
 */
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { CoordinatorService } from "../../proto/gen/daxsim/v1/coordinator.js";
import { NATS_CONNECTION } from "../../proto/subjects.js";
import { startGrpcServer } from "../../node/control/grpc_server.js";
import type { RunningGrpcServer } from "../../node/control/grpc_server.js";
import { EventDb } from "../ingest/event_db.js";
import { EventIngest } from "../ingest/ingest.js";
import type { IngestLogRecord } from "../ingest/ingest.js";
import { coordinatorService } from "./coordinator_service.js";
import { NodeRegistry } from "./node_registry.js";

export interface CoordinatorOptions {
  nats: string;
  db: string;
  /** host:port; default 127.0.0.1:0. */
  grpc?: string;
  log?: (record: IngestLogRecord) => void;
}

export interface CoordinatorProcess {
  grpc: RunningGrpcServer;
  registry: NodeRegistry;
  ingest: EventIngest;
  nc: NatsConnection;
  stop(): Promise<void>;
}

export async function startCoordinatorProcess(options: CoordinatorOptions): Promise<CoordinatorProcess> {
  const db = await EventDb.open(options.db);
  const readDb = await EventDb.open(options.db, { readOnly: true });
  const experimentDb = await EventDb.open(options.db);
  const nc = await connect({ servers: options.nats, name: "daxsim-coordinator", ...NATS_CONNECTION });
  const ingest = await EventIngest.start({ nc, db, ...(options.log ? { log: options.log } : {}) });
  const registry = new NodeRegistry(nc);
  await registry.start();
  let grpc: RunningGrpcServer | undefined;
  const service = coordinatorService({
    registry,
    ingest,
    readDb,
    experimentDb,
    dbFile: options.db,
    natsUrl: options.nats,
    grpcAddress: () => grpc?.address ?? "",
  });
  grpc = await startGrpcServer(options.grpc ?? "127.0.0.1:0", [
    { name: "daxsim.v1.Coordinator", definition: CoordinatorService, implementation: service },
  ]);
  const running = grpc;
  let stopping: Promise<void> | undefined;
  return {
    grpc: running,
    registry,
    ingest,
    nc,
    stop() {
      stopping ??= (async () => {
        await running.stop();
        registry.stop();
        await ingest.stop();
        await nc.drain().catch(() => undefined);
        await readDb.close().catch(() => undefined);
        await experimentDb.close().catch(() => undefined);
        await db.close();
      })();
      return stopping;
    },
  };
}
