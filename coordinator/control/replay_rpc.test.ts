/**
 * Coordinator.Replay and Coordinator.Survival over the real API: a node's log ingested into SQLite
 * replays to its recorded hashes, the survival report comes back in each format, and unknown
 * nodes, seqs past the end and a tampered log answer NOT_FOUND, OUT_OF_RANGE and DATA_LOSS.
 */
import { join } from "node:path";
import { status } from "@grpc/grpc-js";
import type { ServiceError } from "@grpc/grpc-js";
import sqlite3 from "sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CoordinatorClient } from "../../proto/gen/daxsim/v1/coordinator.js";
import { PowerLossPolicy } from "../../proto/gen/daxsim/v1/events.js";
import { startNodeProcess } from "../../node/control/node_process.js";
import type { NodeProcess } from "../../node/control/node_process.js";
import { DEFAULT_MOUNT_OPTIONS } from "../../node/fs/fs.js";
import { SURVIVAL_CATEGORIES } from "../../replay/index.js";
import { pollUntil } from "../ingest/testing.js";
import { startTestNats } from "../nats/test_nats.js";
import type { TestNats } from "../nats/test_nats.js";
import { startCoordinatorProcess } from "./coordinator_process.js";
import type { CoordinatorProcess } from "./coordinator_process.js";
import { coordinatorClient, unary } from "./rpc_client.js";

const WORKLOAD = [
  { op: "open", path: "/f", flags: "O_RDWR|O_CREAT", as: "fd" },
  { op: "pwrite", fd: "$fd", offset: 0, pattern: "0x41", length: 5000 },
  { op: "fsync", fd: "$fd" },
  { op: "mmap", fd: "$fd", offset: 0, length: 8192, prot: "rw", flags: "shared", as: "m" },
  { op: "store", addr: "$m+5100", text: "past EOF" },
  { op: "store", addr: "$m+10", text: "not flushed" },
];

async function failure(p: Promise<unknown>): Promise<ServiceError> {
  return p.then(
    () => {
      throw new Error("expected the call to fail");
    },
    (e: ServiceError) => e,
  );
}

describe("Coordinator.Replay and Coordinator.Survival", () => {
  let nats: TestNats;
  let coordinator: CoordinatorProcess;
  let node: NodeProcess;
  let client: CoordinatorClient;
  let powerLossSeq = 0n;
  const db = (): string => join(nats.dir, "events.sqlite");

  beforeAll(async () => {
    nats = await startTestNats();
    coordinator = await startCoordinatorProcess({ nats: nats.url, db: db() });
    node = await startNodeProcess({
      node: "n1",
      nats: nats.url,
      dimmSizeBytes: 16 << 20,
      persistence: "adr",
      mount: DEFAULT_MOUNT_OPTIONS,
      seed: 1n,
    });
    client = coordinatorClient(coordinator.grpc.address);
    await pollUntil(async () => coordinator.registry.has("n1"));
    await unary(client, client.exec, { node: "n1", workloadJson: JSON.stringify(WORKLOAD), session: "" });
    const loss = await unary(client, client.injectPowerLoss, {
      nodes: ["n1"],
      trigger: { $case: "now", value: {} },
      policy: PowerLossPolicy.POWER_LOSS_POLICY_RANDOM,
      seed: 3n,
      kill: false,
      timeoutMs: 60_000,
    });
    powerLossSeq = loss.results[0]!.seq;
    const last = node.runtime.log.lastSeq;
    await coordinator.ingest.waitForSeq("n1", last);
  });
  afterAll(async () => {
    client?.close();
    await node?.abandon();
    await coordinator?.stop();
    await nats?.teardown();
  });

  it("Replay: rebuilds the node's media from SQLite, reproducing every hash it recorded", async () => {
    const r = await unary(client, client.replay, { node: "n1", atSeq: 0n });
    expect(r.hashesChecked).toBeGreaterThanOrEqual(3); // the first mount, the power loss, the remount
    expect(r.lastSeq).toBe(BigInt(node.runtime.log.lastSeq));
    expect(Buffer.from(r.mediaSha256).equals(node.runtime.machine.dimm.mediaSha256())).toBe(true);
    const before = await unary(client, client.replay, { node: "n1", atSeq: powerLossSeq - 1n });
    expect(before.pendingLines).toBeGreaterThan(0);
  });

  it("Survival: the report of the power loss in JSON, table and CSV, with its beyond-EOF store", async () => {
    const r = await unary(client, client.survival, { node: "n1", powerLossSeq: 0n, format: "", dataOnly: false });
    expect(r.powerLossSeq).toBe(powerLossSeq);
    const report = JSON.parse(r.report) as { beyondEof: unknown[]; stores: unknown[] };
    expect(report.beyondEof).toHaveLength(1);
    expect(r.beyondEofStores).toBe(1);
    expect(Object.keys(r.storesByCategory).sort()).toEqual([...SURVIVAL_CATEGORIES].sort());
    const table = await unary(client, client.survival, { node: "n1", powerLossSeq, format: "table", dataOnly: true });
    expect(table.report).toMatch(/beyond-EOF stores \(1\)/);
    const csv = await unary(client, client.survival, { node: "n1", powerLossSeq, format: "csv", dataOnly: false });
    expect(csv.report.split("\n")[0]).toMatch(/seq/);
  });

  it("Replay/Survival: unknown node, seq past the end, bad format, unknown power loss, tampered log", async () => {
    expect((await failure(unary(client, client.replay, { node: "n9", atSeq: 0n }))).code).toBe(status.NOT_FOUND);
    expect((await failure(unary(client, client.replay, { node: "bad id!", atSeq: 0n }))).code).toBe(
      status.INVALID_ARGUMENT,
    );
    const past = await failure(unary(client, client.replay, { node: "n1", atSeq: 10_000_000n }));
    expect(past.code).toBe(status.OUT_OF_RANGE);
    expect(past.details).toMatch(/^at_seq: /);
    const format = await failure(
      unary(client, client.survival, { node: "n1", powerLossSeq: 0n, format: "xml", dataOnly: false }),
    );
    expect(format.code).toBe(status.INVALID_ARGUMENT);
    expect(format.details).toMatch(/^format: /);
    expect(
      (await failure(unary(client, client.survival, { node: "n1", powerLossSeq: 3n, format: "json", dataOnly: false })))
        .code,
    ).toBe(status.NOT_FOUND);
    // Edit one store's bytes in the log: replay must refuse it, naming the damage.
    await new Promise<void>((resolve, reject) => {
      const handle = new sqlite3.Database(db());
      handle.run(
        "UPDATE events SET encoded = substr(encoded, 1, length(encoded) - 1) || x'ff' WHERE node = 'n1' AND kind = 'store' AND seq = (SELECT MIN(seq) FROM events WHERE node = 'n1' AND kind = 'store' AND length > 64)",
        (error) => {
          handle.close();
          if (error) reject(error);
          else resolve();
        },
      );
    });
    const damaged = await failure(unary(client, client.replay, { node: "n1", atSeq: 0n }));
    expect(damaged.code).toBe(status.DATA_LOSS);
    expect(damaged.details).toMatch(/^node: /);
  });
});
