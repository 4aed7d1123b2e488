/**
 * The public surface of coordinator/: the daxsim command line (and, in later issues, the Coordinator
 * gRPC service, ingest and power-loss injection).
 */
export { COMMANDS, runCli } from "./cli/main.js";
export type { Command } from "./cli/main.js";
export { CommandFailure, UsageError } from "./cli/errors.js";
export { NATS_INSTALL_COMMAND, NatsServer, NatsServerMissingError, NatsServerStartError, findNatsServer } from "./nats/nats_server.js";
export type { NatsServerOptions } from "./nats/nats_server.js";
export { EventDb, EventDbError } from "./ingest/event_db.js";
export { EventIngest, INGEST_DURABLE_DEFAULT, IngestError } from "./ingest/ingest.js";
export type { IngestLogRecord, IngestOptions, IngestStatus, NodeIngestStatus } from "./ingest/ingest.js";
