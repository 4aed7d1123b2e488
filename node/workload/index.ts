/**
 * The public surface of node/workload: the JSON workload language (docs/workload.md) — checking a
 * file or an op, and a session that executes batches of ops against a Machine.
 */
export { OP_NAMES, OP_SPECS, WorkloadOpError, parseOp } from "./ops.js";
export type { Expectation, OpName, ParsedOp } from "./ops.js";
export { BATCH_OPS_MAX, WorkloadSession } from "./session.js";
export type { ExecOptions, OpRecord, SessionOptions } from "./session.js";
export { OP_DATA_BYTES_MAX, ValueSyntaxError, parseLiteral, parseNum } from "./values.js";
export type { NumExpr } from "./values.js";
export { DEFAULT_DIMM_BYTES, WorkloadFileError, machineForWorkload, parseWorkload } from "./workload_file.js";
export type { Workload, WorkloadSettings } from "./workload_file.js";
