/**
 * The public surface of node/control: the node process (NodeControl gRPC server, durable-log
 * restart, announcements), the runtime that orders ops and power losses, the gRPC server set-up
 * shared with the coordinator, and the one mapping from errors to gRPC status codes.
 */
export { HEARTBEAT_MS, startNodeProcess } from "./node_process.js";
export type { NodeProcess, NodeProcessOptions } from "./node_process.js";
export { HOLD_LEASE_MS_DEFAULT, HOLD_LEASE_MS_MAX, NodeRuntime, SESSIONS_MAX, SYNC_OPS } from "./node_runtime.js";
export type {
  BatchResult,
  InjectedPowerLoss,
  NodeSettings,
  PowerLossSpec,
  RunRecord,
  TriggerSpec,
} from "./node_runtime.js";
export { DurableLogGapError, DurableLogMismatchError, RESTORE_BYTES_MAX, readDurableLog } from "./durable_log.js";
export type { DurableLog } from "./durable_log.js";
export {
  AFTER_OPS_MAX,
  EXEC_OPS_MAX,
  REASON_CHARS_MAX,
  checkCount,
  checkPolicy,
  checkReason,
  checkSession,
  checkWorkloadJson,
} from "./node_service.js";
export {
  GRPC_CHANNEL_OPTIONS,
  GRPC_RECEIVE_BYTES_MAX,
  GRPC_SEND_BYTES_MAX,
  GrpcListenError,
  parseListenAddress,
  protoRoot,
  startGrpcServer,
} from "./grpc_server.js";
export type { GrpcService, RunningGrpcServer } from "./grpc_server.js";
export {
  CancelledError,
  DeadlineExceededError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  ResourceExhaustedError,
  RpcError,
  UnavailableError,
  rpcStatusOf,
  toServiceError,
} from "./rpc_errors.js";
export type { RpcStatus } from "./rpc_errors.js";
