/**
 * The public surface of coordinator/: the daxsim command line (and, in later issues, the Coordinator
 * gRPC service, ingest and power-loss injection).
 */
export { COMMANDS, runCli } from "./cli/main.js";
export type { Command } from "./cli/main.js";
export { CommandFailure, UsageError } from "./cli/errors.js";
export {
  NATS_INSTALL_COMMAND,
  NatsServer,
  NatsServerMissingError,
  NatsServerStartError,
  findNatsServer,
} from "./nats/nats_server.js";
export type { NatsServerOptions } from "./nats/nats_server.js";
export { EventDb, EventDbError } from "./ingest/event_db.js";
export { EventIngest, INGEST_DURABLE_DEFAULT, IngestError } from "./ingest/ingest.js";
export type { IngestLogRecord, IngestOptions, IngestStatus, NodeIngestStatus } from "./ingest/ingest.js";
export { startCoordinatorProcess } from "./control/coordinator_process.js";
export type { CoordinatorOptions, CoordinatorProcess } from "./control/coordinator_process.js";
export {
  DELAY_MS_MAX,
  INJECT_NODES_MAX,
  TRIGGER_TIMEOUT_MS_DEFAULT,
  WATCHERS_MAX,
} from "./control/coordinator_service.js";
export { KNOWN_NODES_MAX, NodeRegistry } from "./control/node_registry.js";
export { coordinatorClient, nodeClient, unary } from "./control/rpc_client.js";
export { DEFAULT_RUN_DIR, MANIFEST_VERSION, readManifest } from "./cli/run_manifest.js";
export type { Manifest, ManifestNode } from "./cli/run_manifest.js";
