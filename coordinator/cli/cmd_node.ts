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

export const NODE_DIMM_SIZE_DEFAULT = "64M";

export async function run(args: string[]): Promise<number> {
  const { values } = parse(
    args,
    {
      id: { type: "string" },
      nats: { type: "string" },
      grpc: { type: "string" },
      "dimm-size": { type: "string" },
      persistence: { type: "string" },
      mount: { type: "string" },
      seed: { type: "string" },
    },
    false,
  );
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
