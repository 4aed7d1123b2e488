/**
 * The public surface of coordinator/: the daxsim command line (and, in later issues, the Coordinator
 * gRPC service, ingest and power-loss injection).
 */
export { COMMANDS, runCli } from "./cli/main.js";
export type { Command } from "./cli/main.js";
export { CommandFailure, UsageError } from "./cli/errors.js";
