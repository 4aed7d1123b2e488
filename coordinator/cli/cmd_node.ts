/**
 * `daxsim node --id n1 --nats URL [--grpc 127.0.0.1:0] [--dimm-size 64M] [--persistence adr|eadr]
 * [--mount OPTS] [--seed S]`: one simulated machine serving NodeControl over gRPC. It rebuilds its
 * media from its own durable log in JetStream when it has one, announces itself on NATS, and prints
 * one JSON line on stdout once it serves ({"node", "grpc", "startedSeq", ...}); logs go to stderr
 * as JSON lines. SIGTERM/SIGINT or the Shutdown RPC stop it cleanly; `kill` power loss SIGKILLs it.
 */
import { checkDimmSize, parseSize } from "../../node/dimm/geometry.js";
import { DimmConfigError } from "../../node/dimm/errors.js";
import { MountOptionError, parseMountOptions } from "../../node/fs/fs.js";
import { isValidNodeId } from "../../proto/subjects.js";
import { startNodeProcess } from "../../node/control/node_process.js";
import { parse, persistenceOption, required, seedOption, str } from "./args.js";
import { UsageError } from "./errors.js";
import { EXIT_OK, EXIT_USAGE } from "./help.js";
import type { CommandHelp } from "./help.js";

export const NODE_DIMM_SIZE_DEFAULT = "64M";

export const HELP: CommandHelp = {
  description: [
    "Serves NodeControl over gRPC, publishes every event to JetStream (subject daxsim.events.ID) and announces itself on NATS, so a coordinator on any host of the cluster finds it. A node whose id already has events in JetStream continues that log: it folds its durable DIMM events, loses power under strict (reason kill, or restart after a clean shutdown) and carries on at the next seq. Prints one JSON line once it serves; logs JSON lines on stderr.",
  ],
  options: {
    id: { type: "string", value: "ID", help: "the node id: 1–64 characters of A-Z a-z 0-9 _ -.", default: "required" },
    nats: { type: "string", value: "URL", help: "the NATS server or cluster (JetStream on).", default: "required" },
    grpc: {
      type: "string",
      value: "HOST:PORT",
      help: "the address to serve NodeControl on (port 0: any free port, printed).",
      default: "127.0.0.1:0",
    },
    "dimm-size": {
      type: "string",
      value: "SIZE",
      help: "the DIMM size (K, M or G suffix).",
      default: NODE_DIMM_SIZE_DEFAULT,
    },
    persistence: {
      type: "string",
      value: "DOMAIN",
      help: "the persistence domain.",
      values: ["adr", "eadr"],
      default: "adr",
    },
    mount: {
      type: "string",
      value: "OPTS",
      help: "mount options: dax or nodax, zero-on-extend=none|block|eof, bug=NAME (docs/bugs.md).",
      default: "dax,zero-on-extend=block",
    },
    seed: {
      type: "string",
      value: "S",
      help: "the node's seed: mkfs, and the power losses injected without a seed of their own.",
      default: "1",
    },
  },
  exitCodes: [
    { ...EXIT_OK, meaning: "stopped by SIGTERM or SIGINT, or by a Shutdown call" },
    { code: 1, meaning: "the node could not start (NATS unreachable, a log it cannot continue)" },
    EXIT_USAGE,
  ],
};

export async function run(args: string[]): Promise<number> {
  const { values } = parse(args, HELP);
  const node = required(values, "id", "NODE");
  if (!isValidNodeId(node)) throw new UsageError(`--id ${node}: a node id is 1–64 characters of A-Z a-z 0-9 _ -`);
  const nats = required(values, "nats", "URL");
  const persistence = persistenceOption(values) ?? "adr";
  let dimmSizeBytes: number;
  let mount;
  try {
    dimmSizeBytes = parseSize(str(values, "dimm-size") ?? NODE_DIMM_SIZE_DEFAULT);
    checkDimmSize(dimmSizeBytes);
    mount = parseMountOptions(str(values, "mount") ?? "");
  } catch (error) {
    if (error instanceof DimmConfigError) throw new UsageError(`--dimm-size: ${error.message}`);
    if (error instanceof MountOptionError) throw new UsageError(`--mount: ${error.message}`);
    throw error;
  }
  const seed = seedOption(values) ?? 1n;
  const log = (record: Record<string, unknown>): void => {
    process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), ...record })}\n`);
  };
  const proc = await startNodeProcess({
    node,
    nats,
    grpc: str(values, "grpc") ?? "127.0.0.1:0",
    dimmSizeBytes,
    persistence,
    mount,
    seed,
    log,
  });
  const ready = {
    node,
    grpc: proc.grpc.address,
    pid: process.pid,
    startedSeq: proc.runtime.startedSeq,
    boot: proc.runtime.log.boot,
    dimmSizeBytes,
    persistence,
  };
  process.stdout.write(`${JSON.stringify(ready)}\n`);
  const stop = (): void =>
    void proc.stop().catch((error: unknown) => log({ level: "error", msg: "stop failed", error: String(error) }));
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  // Under `daxsim up` the supervisor holds our stdin: when it goes away, so do we (cleanly).
  if (process.env.DAXSIM_SUPERVISED === "1") process.stdin.once("end", stop).resume();
  await proc.stopped;
  log({ level: "info", msg: "stopped", node, lastSeq: proc.runtime.log.lastSeq });
  process.stdin.pause();
  return 0;
}
