/**
 * `daxsim up --nodes N [--dir RUNDIR] [--dimm-size 64M] [--persistence adr|eadr] [--nats URL]`: a whole
 * set-up on this machine — a private nats-server (unless --nats), one coordinator and N nodes
 * (n1…nN) as child processes — and their supervisor. It writes RUNDIR/manifest.json with every
 * address and the SQLite path, prints the same on stdout, and stays in the foreground.
 *
 * The supervisor restarts a node (or the coordinator) that exits without being asked to, e.g. after
 * a `kill` power loss: on the same gRPC port when it can, and the node rebuilds its media from its
 * durable log. Ctrl-C or SIGTERM stops the nodes (clean shutdown), then the coordinator, then NATS,
 * and leaves the logs (RUNDIR/logs/) and the manifest (state "stopped").
 *
 * Invariants: children run in their own process group (a terminal's Ctrl-C reaches only the
 * supervisor, which stops them in order) with their stdin held by the supervisor, so they stop
 * cleanly even if the supervisor dies; restarts per child are bounded.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync } from "node:fs";
import type { WriteStream } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { NatsServer } from "../nats/nats_server.js";
import { intOption, parse, persistenceOption, str } from "./args.js";
import { CommandFailure } from "./errors.js";
import { EXIT_OK, EXIT_USAGE } from "./help.js";
import type { CommandHelp } from "./help.js";
import { DEFAULT_RUN_DIR, MANIFEST_VERSION, writeManifest } from "./run_manifest.js";
import type { Manifest, ManifestNode } from "./run_manifest.js";

export const UP_NODES_MAX = 64;
/** Restarts of one child before the supervisor gives up on it. */
export const RESTARTS_MAX = 100;
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;
const RESTART_DELAY_MS = 200;

/** A child did not print its ready line. */
export class ChildStartError extends Error {
  override readonly name = "ChildStartError";
}

interface Child {
  name: string;
  args: string[];
  logFile: string;
  process: ChildProcess | undefined;
  exited: Promise<void>;
  ready: Record<string, unknown> | undefined;
  restarts: number;
  log: WriteStream;
}

/** bin/daxsim.js of this installation (found upward from this module, source or dist/). */
function daxsimBin(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 6; depth++) {
    const candidate = join(dir, "bin", "daxsim.js");
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new Error("bin/daxsim.js not found above the daxsim modules");
}

/** Starts a child and resolves with its ready line (its first stdout line, JSON). */
function startChild(child: Child): Promise<Record<string, unknown>> {
  const proc = spawn(process.execPath, [daxsimBin(), ...child.args], {
    stdio: ["pipe", "pipe", "pipe"],
    detached: true,
    env: { ...process.env, DAXSIM_SUPERVISED: "1" },
  });
  child.process = proc;
  child.ready = undefined;
  child.exited = new Promise((resolveExit) => proc.once("exit", () => resolveExit()));
  proc.stderr!.pipe(child.log, { end: false });
  const lines = createInterface({ input: proc.stdout! });
  return new Promise((resolveReady, reject) => {
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      reject(
        new ChildStartError(`${child.name} printed no ready line within ${READY_TIMEOUT_MS} ms; see ${child.logFile}`),
      );
    }, READY_TIMEOUT_MS);
    proc.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new ChildStartError(`${child.name} exited while starting (${code ?? signal}); see ${child.logFile}`));
    });
    lines.on("line", (line) => {
      child.log.write(`${line}\n`);
      if (child.ready !== undefined) return;
      try {
        child.ready = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      clearTimeout(timer);
      resolveReady(child.ready);
    });
  });
}

async function stopChild(child: Child): Promise<void> {
  const proc = child.process;
  if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
  proc.kill("SIGTERM");
  const timer = setTimeout(() => proc.kill("SIGKILL"), STOP_TIMEOUT_MS);
  await child.exited;
  clearTimeout(timer);
}

export const HELP: CommandHelp = {
  description: [
    "Starts a private nats-server (JetStream, store in RUNDIR) unless --nats, one `daxsim coordinator` and N `daxsim node` processes (n1 … nN), all on 127.0.0.1 without authentication; writes RUNDIR/manifest.json with every address and the SQLite path, prints the same JSON, and stays in the foreground as their supervisor: a node that dies (a kill power loss) is started again and rebuilds its media from its durable log. Ctrl-C or SIGTERM stops the nodes cleanly, then the coordinator and NATS.",
  ],
  options: {
    nodes: { type: "string", value: "N", help: `how many nodes, 1..${UP_NODES_MAX}.`, default: "1" },
    dir: {
      type: "string",
      value: "RUNDIR",
      help: "the run folder: manifest.json, events.sqlite, logs/, the NATS store.",
      default: DEFAULT_RUN_DIR,
    },
    "dimm-size": {
      type: "string",
      value: "SIZE",
      help: "each node's DIMM size (K, M or G suffix).",
      default: "64M",
    },
    persistence: {
      type: "string",
      value: "DOMAIN",
      help: "each node's persistence domain.",
      values: ["adr", "eadr"],
      default: "adr",
    },
    nats: {
      type: "string",
      value: "URL",
      help: "use this NATS server or cluster instead of starting one.",
      default: "a private nats-server on a free loopback port",
    },
  },
  exitCodes: [
    { ...EXIT_OK, meaning: "stopped by Ctrl-C or SIGTERM (every process stopped cleanly)" },
    { code: 1, meaning: "a process could not be started, or a child kept dying" },
    EXIT_USAGE,
  ],
};

export async function run(args: string[]): Promise<number> {
  const { values } = parse(args, HELP);
  const count = intOption(values, "nodes", 1, 1, UP_NODES_MAX);
  const dir = resolve(str(values, "dir") ?? DEFAULT_RUN_DIR);
  const persistence = persistenceOption(values) ?? "adr";
  const dimmSize = str(values, "dimm-size") ?? "64M";
  mkdirSync(join(dir, "logs"), { recursive: true });

  let nats: NatsServer | undefined;
  const natsUrl = str(values, "nats") ?? (nats = await NatsServer.start({ runDir: dir })).url;
  const db = join(dir, "events.sqlite");
  const children: Child[] = [];
  const makeChild = (name: string, childArgs: string[]): Child => {
    const logFile = join(dir, "logs", `${name}.log`);
    const child: Child = {
      name,
      args: childArgs,
      logFile,
      process: undefined,
      exited: Promise.resolve(),
      ready: undefined,
      restarts: 0,
      log: createWriteStream(logFile, { flags: "a" }),
    };
    children.push(child);
    return child;
  };
  const coordinator = makeChild("coordinator", ["coordinator", "--nats", natsUrl, "--db", db, "--grpc", "127.0.0.1:0"]);
  const nodes: Child[] = [];
  for (let i = 1; i <= count; i++) {
    nodes.push(
      makeChild(`n${i}`, [
        "node",
        "--id",
        `n${i}`,
        "--nats",
        natsUrl,
        "--grpc",
        "127.0.0.1:0",
        "--dimm-size",
        dimmSize,
        "--persistence",
        persistence,
      ]),
    );
  }

  let stopping = false;
  const manifest = (): Manifest => ({
    version: MANIFEST_VERSION,
    state: stopping ? "stopped" : "running",
    dir,
    nats: natsUrl,
    db,
    supervisorPid: process.pid,
    coordinator: {
      pid: coordinator.process?.pid ?? 0,
      grpc: String(coordinator.ready?.grpc ?? ""),
      log: coordinator.logFile,
    },
    nodes: nodes.map((n): ManifestNode => ({
      id: n.name,
      pid: n.process?.pid ?? 0,
      grpc: String(n.ready?.grpc ?? ""),
      log: n.logFile,
      dimmSizeBytes: Number(n.ready?.dimmSizeBytes ?? 0),
      persistence,
      restarts: n.restarts,
    })),
  });

  const stopAll = async (): Promise<void> => {
    await Promise.all(nodes.map(stopChild));
    await stopChild(coordinator);
    await nats?.stop();
    writeManifest(manifest());
    for (const child of children) child.log.end();
  };

  try {
    await startChild(coordinator);
    await Promise.all(nodes.map((n) => startChild(n)));
  } catch (error) {
    stopping = true;
    await stopAll();
    throw new CommandFailure((error as Error).message);
  }
  writeManifest(manifest());
  process.stdout.write(`${JSON.stringify(manifest())}\n`);

  let finished!: () => void;
  const done = new Promise<void>((resolveDone) => (finished = resolveDone));
  const supervise = (child: Child): void => {
    void child.exited.then(async () => {
      if (stopping) return;
      const crashed = child.process;
      child.log.write(
        `${JSON.stringify({ time: new Date().toISOString(), level: "warn", msg: "supervisor: child exited", child: child.name, code: crashed?.exitCode, signal: crashed?.signalCode })}\n`,
      );
      await restart(child);
    });
  };
  const restart = async (child: Child): Promise<void> => {
    while (!stopping && child.restarts < RESTARTS_MAX) {
      child.restarts++;
      await new Promise((r) => setTimeout(r, RESTART_DELAY_MS));
      if (stopping) return;
      // The same port when it can be had again, so clients holding the address keep working.
      const port = typeof child.ready?.grpc === "string" ? child.ready.grpc : "127.0.0.1:0";
      const at = child.args.indexOf("--grpc");
      if (at >= 0) child.args[at + 1] = child.restarts % 2 === 1 ? port : "127.0.0.1:0";
      try {
        await startChild(child);
        writeManifest(manifest());
        supervise(child);
        return;
      } catch (error) {
        child.log.write(
          `${JSON.stringify({ time: new Date().toISOString(), level: "error", msg: "supervisor: restart failed", child: child.name, error: (error as Error).message })}\n`,
        );
      }
    }
  };
  for (const child of children) supervise(child);

  const onSignal = (): void => {
    if (stopping) return;
    stopping = true;
    void stopAll().then(finished, finished);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  await done;
  process.stderr.write(`daxsim up: stopped; logs in ${join(dir, "logs")}, manifest ${join(dir, "manifest.json")}\n`);
  return 0;
}
