/**
 * The end-to-end demo (`npm start` = `daxsim demo`): `daxsim up` starts a private nats-server, a
 * coordinator and 3 node processes in a run folder; each node runs a seeded workload — files written
 * with write() and with stores through a mapping, some flushed and fenced, some not, some past EOF
 * in the last page, a file later extended — then each loses power under its own policy; the
 * coordinator's SQLite log is replayed (checking every media hash the nodes recorded) and the
 * survival report of each power loss is printed, beyond-EOF stores in their own section.
 *
 * Everything is reproducible from --seed; all artefacts stay in the run folder.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { CoordinatorClient } from "../../proto/gen/daxsim/v1/coordinator.js";
import { policyToWire } from "../../proto/index.js";
import type { PowerLossPolicy } from "../../proto/index.js";
import { Prng } from "../../node/sim/prng.js";
import { SqliteEventLog, formatSurvival, replayLog, survivalReport } from "../../replay/index.js";
import { manifestPath, readManifest } from "../cli/run_manifest.js";
import type { Manifest } from "../cli/run_manifest.js";
import { coordinatorClient, unary } from "../control/rpc_client.js";
import { daxsimCommandLine } from "../cli/reproducer.js";

export class DemoError extends Error {
  override readonly name = "DemoError";
}

const POLICIES: readonly PowerLossPolicy[] = ["strict", "random", "torn"];
const STARTUP_MS_MAX = 60_000;
const INGEST_WAIT_MS_MAX = 30_000;

/** The seeded workload of one node (docs/workload.md). */
export function demoWorkload(seed: bigint, node: string): unknown[] {
  const prng = new Prng(seed).split(`demo-${node}`);
  const size = 8000 + prng.below(3000); // not page aligned: the EOF page has room past EOF
  const at = (lo: number, hi: number): number => prng.between(lo, hi);
  return [
    {
      op: "open",
      path: "/data",
      flags: "O_CREAT|O_RDWR",
      as: "fd",
      comment: "write() data: non-temporal stores, durable at the fsync",
    },
    { op: "pwrite", fd: "$fd", offset: 0, pattern: "0x61", length: size },
    { op: "fsync", fd: "$fd" },
    { op: "mmap", fd: "$fd", offset: 0, length: 16384, prot: "rw", flags: "shared", as: "m" },
    { op: "store", addr: `$m+${at(0, 900)}`, text: "flushed and fenced", comment: "CLWB + SFENCE: durable" },
    { op: "clwb", addr: "$m", length: 1024 },
    { op: "sfence" },
    {
      op: "store",
      addr: `$m+${at(1100, 2900)}`,
      text: "flushed, no fence",
      comment: "flush-pending at the power loss",
    },
    { op: "clwb", addr: "$m+1024", length: 2048 },
    { op: "store", addr: `$m+${at(4200, 6000)}`, text: "never flushed", comment: "dirty in the cache" },
    {
      op: "store",
      addr: `$m+${size + 40}`,
      text: "past EOF, flushed",
      comment: "beyond EOF in the last page: reaches media like any store",
    },
    { op: "clwb", addr: `$m+${size + 40}`, length: 17 },
    { op: "sfence" },
    { op: "store", addr: `$m+${size + 300}`, text: "past EOF, not flushed" },
    {
      op: "open",
      path: "/grow",
      flags: "O_CREAT|O_RDWR",
      as: "g",
      comment: "a file extended after a store past its EOF",
    },
    { op: "pwrite", fd: "$g", offset: 0, pattern: "0x67", length: 1500 },
    { op: "fsync", fd: "$g" },
    { op: "mmap", fd: "$g", offset: 0, length: 4096, prot: "rw", flags: "shared", as: "gm" },
    { op: "store", addr: "$gm+2000", text: "zeroed by the extension" },
    { op: "clwb", addr: "$gm+2000", length: 23 },
    { op: "sfence" },
    { op: "ftruncate", fd: "$g", size: 6000, comment: "zero-on-extend=block zeroes [1500, 4096)" },
    { op: "fsync", fd: "$g" },
    { op: "pwrite", fd: "$fd", offset: at(12000, 14000), text: "appended, not synced" },
  ];
}

function bin(): string {
  return fileURLToPath(new URL("../../../bin/daxsim.js", import.meta.url));
}

async function waitFor<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined> | T | undefined,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new DemoError(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface DemoOptions {
  seed: bigint;
  dir: string;
  out: (text: string) => void;
}

export async function runSystemDemo(options: DemoOptions): Promise<void> {
  const { seed, out } = options;
  const dir = resolve(options.dir);
  mkdirSync(dir, { recursive: true });
  out(
    `daxsim demo, seed ${seed} — run folder ${dir}\n(reproduce: ${daxsimCommandLine(["demo", "--seed", String(seed)])})\n\n`,
  );
  const up = spawn(process.execPath, [bin(), "up", "--nodes", "3", "--dir", dir, "--dimm-size", "16M"], {
    stdio: ["pipe", "ignore", "pipe"],
  });
  let upError = "";
  up.stderr!.on("data", (d: Buffer) => (upError = (upError + d.toString()).slice(-4000)));
  let client: CoordinatorClient | undefined;
  try {
    const manifest = await waitFor("daxsim up to start", STARTUP_MS_MAX, () => {
      if (up.exitCode !== null) throw new DemoError(`daxsim up exited with ${up.exitCode}: ${upError}`);
      if (!existsSync(manifestPath(dir))) return undefined;
      const m = readManifest(dir);
      return m.state === "running" ? m : undefined;
    });
    out(
      `started: nats ${manifest.nats}, coordinator ${manifest.coordinator.grpc}, nodes ${manifest.nodes.map((n) => `${n.id} ${n.grpc}`).join(", ")}\n`,
    );
    client = coordinatorClient(manifest.coordinator.grpc);
    const c = client;
    await waitFor("the coordinator to see every node", STARTUP_MS_MAX, async () => {
      const list = await unary(c, c.listNodes, {});
      return list.nodes.filter((n) => n.reachable).length >= manifest.nodes.length ? true : undefined;
    });
    await runWorkloads(c, manifest, seed, dir, out);
    await powerLosses(c, manifest, seed, out);
    await waitForIngest(c, manifest);
    await reports(manifest, dir, out);
  } finally {
    client?.close();
    await stopUp(up);
  }
  out(`\nall artefacts (SQLite log, manifest, process logs, workloads, reports) are in ${dir}\n`);
}

async function runWorkloads(
  client: CoordinatorClient,
  manifest: Manifest,
  seed: bigint,
  dir: string,
  out: (t: string) => void,
): Promise<void> {
  for (const node of manifest.nodes) {
    const ops = demoWorkload(seed, node.id);
    writeFileSync(join(dir, `workload-${node.id}.json`), `${JSON.stringify(ops, null, 2)}\n`);
    const result = await unary(client, client.exec, {
      node: node.id,
      workloadJson: JSON.stringify(ops),
      session: "demo",
    });
    const failed = result.records.filter((r) => !r.ok);
    if (failed.length > 0)
      throw new DemoError(`${node.id}: ${failed.length} op(s) failed, first: ${JSON.stringify(failed[0])}`);
    out(
      `${node.id}: ran ${result.records.length} ops (write, fsync, mmap stores flushed or not, past EOF, an extension), last seq ${result.lastSeq}\n`,
    );
  }
}

async function powerLosses(
  client: CoordinatorClient,
  manifest: Manifest,
  seed: bigint,
  out: (t: string) => void,
): Promise<void> {
  const prng = new Prng(seed).split("demo-power-loss");
  for (let i = 0; i < manifest.nodes.length; i++) {
    const node = manifest.nodes[i]!;
    const policy = POLICIES[i % POLICIES.length]!;
    const lossSeed = prng.nextU64();
    const response = await unary(client, client.injectPowerLoss, {
      nodes: [node.id],
      trigger: { $case: "now", value: {} },
      policy: policyToWire(policy),
      seed: lossSeed,
      kill: false,
      timeoutMs: 60_000,
    });
    const r = response.results[0]!;
    out(
      `${node.id}: power loss, policy ${policy}, seed ${lossSeed}: seq ${r.seq}, ${r.linesDecided} pending lines decided, ${r.linesLost} lost, ${r.linesPartlyLost} partly lost; remounted (fsck ${r.fsckClean ? "clean" : "NOT clean"})\n`,
    );
    if (!r.fsckClean) throw new DemoError(`${node.id}: fsck is not clean after recovery`);
  }
}

async function waitForIngest(client: CoordinatorClient, manifest: Manifest): Promise<void> {
  await waitFor("ingest to store every event in SQLite", INGEST_WAIT_MS_MAX, async () => {
    const status = await unary(client, client.status, {});
    const done = manifest.nodes.every((n) => {
      const s = status.nodes.find((x) => x.node === n.id);
      return s !== undefined && s.nodeLastSeq > 0n && s.lastContiguousSeq >= s.nodeLastSeq && s.gaps.length === 0;
    });
    return done ? true : undefined;
  });
}

async function reports(manifest: Manifest, dir: string, out: (t: string) => void): Promise<void> {
  for (const node of manifest.nodes) {
    const log = await SqliteEventLog.open(manifest.db, node.id);
    try {
      const replay = await replayLog(log);
      out(
        `\n=== ${node.id}: replayed ${replay.eventsApplied} events from ${manifest.db}; ${replay.hashesChecked} recorded media hashes reproduced ===\n`,
      );
      const report = await survivalReport(log);
      // On the terminal: the stores the workload made (write() data and stores through mappings);
      // the files in the run folder have every store, filesystem metadata and journal included.
      const userStores = report.stores.filter((s) => s.source === "mmap" || s.source === "syscall");
      const table = formatSurvival({ ...report, stores: userStores }, "table");
      out(
        `(below: the ${userStores.length} stores the workload made; survival-${node.id}.txt has all ${report.stores.length}, filesystem metadata and journal included)\n`,
      );
      writeFileSync(join(dir, `survival-${node.id}.txt`), formatSurvival(report, "table"));
      writeFileSync(join(dir, `survival-${node.id}.json`), formatSurvival(report, "json"));
      out(table);
    } finally {
      await log.close();
    }
  }
}

async function stopUp(up: ChildProcess): Promise<void> {
  if (up.exitCode !== null || up.signalCode !== null) return;
  const exited = new Promise<void>((r) => up.once("exit", () => r()));
  up.kill("SIGTERM");
  const timer = setTimeout(() => up.kill("SIGKILL"), 20_000);
  await exited;
  clearTimeout(timer);
}
