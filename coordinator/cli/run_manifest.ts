/**
 * The run folder of `daxsim up` and its manifest.json: every address of a running set-up (NATS,
 * coordinator, nodes), the SQLite file and the log files. Client commands (status, exec, powerloss,
 * events) find the coordinator through it, or through --coordinator ADDR.
 *
 * Invariant: the manifest is replaced atomically (write to a temporary file, rename), so a reader
 * never sees half of one.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { str } from "./args.js";
import { UsageError } from "./errors.js";
import type { OptionSpec } from "./help.js";

export const MANIFEST_VERSION = 1;
export const DEFAULT_RUN_DIR = "runs/current";

export interface ManifestProcess {
  pid: number;
  grpc: string;
  log: string;
}

export interface ManifestNode extends ManifestProcess {
  id: string;
  dimmSizeBytes: number;
  persistence: string;
  restarts: number;
}

export interface Manifest {
  version: number;
  state: "starting" | "running" | "stopped";
  dir: string;
  nats: string;
  db: string;
  supervisorPid: number;
  coordinator: ManifestProcess;
  nodes: ManifestNode[];
}

export function manifestPath(dir: string): string {
  return join(resolve(dir), "manifest.json");
}

export function writeManifest(manifest: Manifest): void {
  const path = manifestPath(manifest.dir);
  const temporary = `${path}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(manifest, null, 2)}\n`);
  renameSync(temporary, path);
}

export function readManifest(dir: string): Manifest {
  const path = manifestPath(dir);
  if (!existsSync(path))
    throw new UsageError(
      `${path} does not exist: start a set-up with \`daxsim up --dir ${dir}\`, or give --coordinator ADDR`,
    );
  let manifest: Manifest;
  try {
    manifest = JSON.parse(readFileSync(path, "utf8")) as Manifest;
  } catch (error) {
    throw new UsageError(`${path} is not a daxsim manifest: ${(error as Error).message}`);
  }
  if (manifest.version !== MANIFEST_VERSION || typeof manifest.coordinator?.grpc !== "string")
    throw new UsageError(`${path} is not a version ${MANIFEST_VERSION} daxsim manifest`);
  return manifest;
}

/** The coordinator's address: --coordinator, else $DAXSIM_COORDINATOR, else the manifest in --dir. */
export function coordinatorAddress(values: Record<string, unknown>): string {
  const given = str(values, "coordinator") ?? process.env.DAXSIM_COORDINATOR;
  if (given !== undefined && given !== "") return given;
  const manifest = readManifest(str(values, "dir") ?? DEFAULT_RUN_DIR);
  if (manifest.state === "stopped")
    throw new UsageError(
      `the set-up in ${manifest.dir} was stopped; start it again with \`daxsim up --dir ${manifest.dir}\``,
    );
  return manifest.coordinator.grpc;
}

/** Options every client command takes (status, exec, powerloss, events). */
export const COORDINATOR_OPTIONS = {
  coordinator: {
    type: "string",
    value: "HOST:PORT",
    help: "the coordinator's gRPC address.",
    default: `$DAXSIM_COORDINATOR, else the address in the manifest of --dir`,
  },
  dir: {
    type: "string",
    value: "RUNDIR",
    help: "the run folder of a `daxsim up` whose manifest.json names the coordinator (used when --coordinator and $DAXSIM_COORDINATOR are not given).",
    default: DEFAULT_RUN_DIR,
  },
} as const satisfies Record<string, OptionSpec>;
