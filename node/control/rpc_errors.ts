/**
 * The gRPC face of daxsim's errors: the error classes request handlers throw, and rpcStatusOf(),
 * THE one place where any error — ours or a domain error from the DIMM, filesystem, workload or
 * outbox — becomes a gRPC status code and message. Both servers (NodeControl here, Coordinator in
 * coordinator/) answer through it, so one failure always gets one code.
 *
 * Invariant: a message names the request field at fault (`field: detail`); an error nobody mapped
 * is INTERNAL with its name and message, never a crash of the server.
 */
import { status } from "@grpc/grpc-js";
import type { ServiceError } from "@grpc/grpc-js";
import { WireFormatError } from "../../proto/errors.js";
import { NodeIdError } from "../../proto/subjects.js";
import { DimmArgumentError, DimmConfigError, DimmRangeError } from "../dimm/errors.js";
import { OutboxClosedError, OutboxOverflowError } from "../events/nats_outbox.js";
import { MachineStateError } from "../machine.js";
import { WorkloadFileError, WorkloadOpError } from "../workload/index.js";

/** Base of the errors a handler throws on purpose: each carries its status code and the field. */
export abstract class RpcError extends Error {
  abstract readonly code: status;
  constructor(
    readonly field: string,
    detail: string,
  ) {
    super(field === "" ? detail : `${field}: ${detail}`);
  }
}

/** A request field is malformed: bad JSON, unknown op or policy, out of range. */
export class InvalidArgumentError extends RpcError {
  override readonly name = "InvalidArgumentError";
  readonly code = status.INVALID_ARGUMENT;
}

/** A request names something that does not exist (a node). */
export class NotFoundError extends RpcError {
  override readonly name = "NotFoundError";
  readonly code = status.NOT_FOUND;
}

/** The request is well-formed but the target's state does not allow it now. */
export class FailedPreconditionError extends RpcError {
  override readonly name = "FailedPreconditionError";
  readonly code = status.FAILED_PRECONDITION;
}

/** The target cannot answer now (node unreachable, shutting down, being killed). */
export class UnavailableError extends RpcError {
  override readonly name = "UnavailableError";
  readonly code = status.UNAVAILABLE;
}

/** A bounded resource is full (sessions, watchers, armed triggers). */
export class ResourceExhaustedError extends RpcError {
  override readonly name = "ResourceExhaustedError";
  readonly code = status.RESOURCE_EXHAUSTED;
}

/** A request field names a position past what exists (a seq past the end of a log). */
export class OutOfRangeError extends RpcError {
  override readonly name = "OutOfRangeError";
  readonly code = status.OUT_OF_RANGE;
}

/** Stored data is damaged: a log with a gap, edited bytes, or a replay that diverges. */
export class DataLossError extends RpcError {
  override readonly name = "DataLossError";
  readonly code = status.DATA_LOSS;
}

/** A trigger that waited longer than it was allowed to. */
export class DeadlineExceededError extends RpcError {
  override readonly name = "DeadlineExceededError";
  readonly code = status.DEADLINE_EXCEEDED;
}

/** The caller went away, or an armed trigger was disarmed. */
export class CancelledError extends RpcError {
  override readonly name = "CancelledError";
  readonly code = status.CANCELLED;
}

export interface RpcStatus {
  code: status;
  details: string;
}

/** A ServiceError from a downstream call (the coordinator calling a node). */
function isServiceError(error: unknown): error is ServiceError {
  return error instanceof Error && typeof (error as Partial<ServiceError>).code === "number" && "metadata" in error;
}

/** THE mapping from an error to the status a client sees. */
export function rpcStatusOf(error: unknown): RpcStatus {
  if (error instanceof RpcError) return { code: error.code, details: error.message };
  if (isServiceError(error)) {
    // A node's answer passed through the coordinator keeps its code; its message says where it came from.
    return { code: error.code, details: error.details };
  }
  if (error instanceof WorkloadOpError || error instanceof WorkloadFileError)
    return { code: status.INVALID_ARGUMENT, details: `workload_json: ${error.message}` };
  if (error instanceof NodeIdError) return { code: status.INVALID_ARGUMENT, details: `node: ${error.message}` };
  if (error instanceof WireFormatError) return { code: status.INVALID_ARGUMENT, details: error.message };
  if (error instanceof DimmArgumentError || error instanceof DimmRangeError || error instanceof DimmConfigError) {
    return { code: status.INVALID_ARGUMENT, details: error.message };
  }
  if (error instanceof MachineStateError) return { code: status.FAILED_PRECONDITION, details: error.message };
  if (error instanceof OutboxClosedError)
    return { code: status.UNAVAILABLE, details: `the node's event outbox is closed: ${error.message}` };
  if (error instanceof OutboxOverflowError) return { code: status.RESOURCE_EXHAUSTED, details: error.message };
  if (error instanceof Error) return { code: status.INTERNAL, details: `${error.name}: ${error.message}` };
  return { code: status.INTERNAL, details: String(error) };
}

/** The error object grpc-js sends for `error`. */
export function toServiceError(error: unknown): Partial<ServiceError> {
  const { code, details } = rpcStatusOf(error);
  return { code, details, message: details };
}
