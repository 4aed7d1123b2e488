/**
 * The node and coordinator services in this process, over a real nats-server, real SQLite and gRPC
 * on 127.0.0.1:0: exec through the coordinator, the write-ahead rule, each power-loss trigger at its
 * exact point, and a node restarting from its durable log after a crash.
 */
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { CoordinatorClient } from "../../proto/gen/daxsim/v1/coordinator.js";
import { PowerLossPolicy } from "../../proto/gen/daxsim/v1/events.js";
import type { NodeControlClient } from "../../proto/gen/daxsim/v1/node.js";
import { startNodeProcess } from "../../node/control/node_process.js";
import type { NodeProcess } from "../../node/control/node_process.js";
import { DEFAULT_MOUNT_OPTIONS } from "../../node/fs/fs.js";
import { pollUntil } from "../ingest/testing.js";
import { startTestNats } from "../nats/test_nats.js";
import type { TestNats } from "../nats/test_nats.js";
import { startCoordinatorProcess } from "./coordinator_process.js";
import type { CoordinatorProcess } from "./coordinator_process.js";
import { coordinatorClient, nodeClient, unary } from "./rpc_client.js";

let nats: TestNats | undefined;
const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  await nats?.teardown();
  nats = undefined;
});

async function startNode(
  url: string,
  node: string,
): Promise<{ proc: NodeProcess; client: NodeControlClient; killed: () => boolean }> {
  let killed = false;
  const proc = await startNodeProcess({
    node,
    nats: url,
    dimmSizeBytes: 16 << 20,
    persistence: "adr",
    mount: DEFAULT_MOUNT_OPTIONS,
    seed: 1n,
    onKill: () => {
      killed = true;
    },
  });
  const client = nodeClient(proc.grpc.address);
  cleanups.push(async () => {
    client.close();
    await proc.abandon();
  });
  return { proc, client, killed: () => killed };
}

async function setUp(nodes: string[]): Promise<{
  coordinator: CoordinatorProcess;
  client: CoordinatorClient;
  nodes: Awaited<ReturnType<typeof startNode>>[];
}> {
  nats = await startTestNats();
  const coordinator = await startCoordinatorProcess({ nats: nats.url, db: join(nats.dir, "events.sqlite") });
  const client = coordinatorClient(coordinator.grpc.address);
  cleanups.push(async () => {
    client.close();
    await coordinator.stop();
  });
  const started = [];
  for (const node of nodes) started.push(await startNode(nats.url, node));
  await pollUntil(async () => nodes.every((n) => coordinator.registry.has(n)));
  return { coordinator, client, nodes: started };
}

const WRITE = [
  { op: "open", path: "/f", flags: "O_RDWR|O_CREAT", as: "fd" },
  { op: "pwrite", fd: "$fd", offset: 0, pattern: "0x41", length: 8192 },
  { op: "fsync", fd: "$fd" },
];
const MORE = (n: number): unknown[] =>
  Array.from({ length: n }, (_, i) => ({ op: "pwrite", fd: "$fd", offset: i * 64, pattern: "0x42", length: 64 }));

describe("control: node and coordinator services in-process", () => {
  it("control: exec through the coordinator: records with seqs, fsync acknowledged by JetStream before the reply", async () => {
    const { client, nodes } = await setUp(["n1"]);
    const reply = await unary(client, client.exec, { node: "n1", workloadJson: JSON.stringify(WRITE), session: "" });
    expect(reply.records.map((r) => [r.op, r.ok])).toEqual([
      ["open", true],
      ["pwrite", true],
      ["fsync", true],
    ]);
    const fsync = reply.records[2]!;
    expect(fsync.lastSeq).toBeGreaterThanOrEqual(fsync.firstSeq);
    expect(nodes[0]!.proc.runtime.outbox.ackedThroughSeq).toBeGreaterThanOrEqual(Number(fsync.lastSeq));
    // Variables live on in the session.
    const again = await unary(client, client.exec, {
      node: "n1",
      workloadJson: JSON.stringify([{ op: "pread", fd: "$fd", offset: 0, length: 4 }]),
      session: "",
    });
    expect(again.records[0]!.hex).toBe("41414141");
  });

  it("control: at_seq fires right after the event with that seq; the rest of the batch is not run", async () => {
    const { client, nodes } = await setUp(["n1"]);
    await unary(client, client.exec, { node: "n1", workloadJson: JSON.stringify(WRITE), session: "" });
    const node = nodes[0]!;
    const at = node.proc.runtime.log.lastSeq + 7;
    const armed = unary(node.client, node.client.powerLoss, {
      trigger: { when: { $case: "atSeq", value: BigInt(at) } },
      policy: PowerLossPolicy.POWER_LOSS_POLICY_RANDOM,
      seed: 9n,
      kill: false,
      reason: "",
    });
    await pollUntil(async () => node.proc.runtime.status().armed !== "");
    const reply = await unary(client, client.exec, { node: "n1", workloadJson: JSON.stringify(MORE(20)), session: "" });
    const result = await armed;
    expect(result.seq).toBe(BigInt(at + 1));
    expect(result.seed).toBe(9n);
    expect(reply.powerLoss?.seq).toBe(BigInt(at + 1));
    const interrupted = reply.records.findIndex((r) => r.error.startsWith("interrupted"));
    expect(interrupted).toBeGreaterThanOrEqual(0);
    expect(reply.records.slice(interrupted + 1).every((r) => r.error.startsWith("not run"))).toBe(true);
    expect(reply.records.slice(0, interrupted).every((r) => r.ok)).toBe(true);
    // The node keeps serving after its remount.
    const after = await unary(client, client.exec, {
      node: "n1",
      workloadJson: JSON.stringify([{ op: "stat", path: "/f" }]),
      session: "fresh",
    });
    expect(after.records[0]!.ok).toBe(true);
  });

  it("control: after_ops fires after the k-th op, and a second trigger is refused while one is armed", async () => {
    const { client, nodes } = await setUp(["n1"]);
    await unary(client, client.exec, { node: "n1", workloadJson: JSON.stringify(WRITE), session: "" });
    const node = nodes[0]!;
    const armed = unary(node.client, node.client.powerLoss, {
      trigger: { when: { $case: "afterOps", value: 3n } },
      policy: 0,
      kill: false,
      reason: "",
    });
    await pollUntil(async () => node.proc.runtime.status().armed !== "");
    await expect(
      unary(node.client, node.client.powerLoss, { trigger: undefined, policy: 0, kill: false, reason: "" }),
    ).rejects.toMatchObject({ code: 9 });
    const reply = await unary(client, client.exec, { node: "n1", workloadJson: JSON.stringify(MORE(5)), session: "" });
    const result = await armed;
    expect(reply.records.slice(0, 3).every((r) => r.ok)).toBe(true);
    expect(reply.records.slice(3).every((r) => r.error.startsWith("not run"))).toBe(true);
    expect(result.seq).toBe(reply.records[2]!.lastSeq + 1n);
    expect(result.policy).toBe(PowerLossPolicy.POWER_LOSS_POLICY_STRICT);
  });

  it("control: a node that crashed restarts from its durable log and continues its seqs", async () => {
    const { client, coordinator, nodes } = await setUp(["n1"]);
    await unary(client, client.exec, { node: "n1", workloadJson: JSON.stringify(WRITE), session: "" });
    const first = nodes[0]!;
    const acked = first.proc.runtime.outbox.ackedThroughSeq;
    const lastSeq = first.proc.runtime.log.lastSeq;
    expect(acked).toBe(lastSeq);
    await first.proc.abandon();
    const second = await startNode(nats!.url, "n1");
    expect(second.proc.runtime.startedSeq).toBe(lastSeq + 1);
    await pollUntil(async () => Number(coordinator.registry.get("n1").announcement.startedSeq) === lastSeq + 1);
    const status = await unary(second.client, second.client.status, {});
    expect(status.boot).toBe(1);
    const read = await unary(client, client.exec, {
      node: "n1",
      workloadJson: JSON.stringify([
        { op: "open", path: "/f", as: "fd" },
        { op: "pread", fd: "$fd", offset: 8188, length: 4 },
      ]),
      session: "",
    });
    expect(read.records[1]!.hex).toBe("41414141");
  });
});

describe("control: streams and rack-wide triggers", () => {
  it("control: ExecStream returns each record as its op completes, batch after batch, in one session", async () => {
    const { nodes } = await setUp(["n1"]);
    const node = nodes[0]!;
    const call = node.client.execStream();
    const records: Array<{ op: string; ok: boolean; hex: string }> = [];
    const ended = new Promise<void>((resolve, reject) => {
      call.on("data", (r: { op: string; ok: boolean; hex: string }) => records.push(r));
      call.on("end", resolve);
      call.on("error", reject);
    });
    call.write({ workloadJson: JSON.stringify(WRITE), session: "s" });
    call.write({ workloadJson: JSON.stringify([{ op: "pread", fd: "$fd", offset: 0, length: 2 }]), session: "s" });
    call.end();
    await ended;
    expect(records.map((r) => [r.op, r.ok])).toEqual([
      ["open", true],
      ["pwrite", true],
      ["fsync", true],
      ["pread", true],
    ]);
    expect(records[3]!.hex).toBe("4141");
  });

  it("control: a malformed ExecStream request ends that stream with INVALID_ARGUMENT; the node serves on", async () => {
    const { nodes } = await setUp(["n1"]);
    const node = nodes[0]!;
    const call = node.client.execStream();
    const failure = new Promise<{ code: number; details: string }>((resolve) => {
      call.on("data", () => undefined);
      call.on("error", (e: { code: number; details: string }) => resolve(e));
    });
    call.write({ workloadJson: '[{"op":"nope"}]', session: "" });
    const error = await failure;
    expect(error.code).toBe(3);
    expect(error.details).toContain('field "op"');
    const status = await unary(node.client, node.client.status, {});
    expect(status.mounted).toBe(true);
  });

  it("control: a seeded delay powers off two nodes together, each held first and reporting its own seq", async () => {
    const { client, nodes } = await setUp(["n1", "n2"]);
    for (const node of ["n1", "n2"])
      await unary(client, client.exec, { node, workloadJson: JSON.stringify(WRITE), session: "" });
    const reply = await unary(client, client.injectPowerLoss, {
      nodes: ["n1", "n2"],
      trigger: { $case: "delayMaxMs", value: 50n },
      policy: PowerLossPolicy.POWER_LOSS_POLICY_TORN,
      seed: 77n,
      kill: false,
      timeoutMs: 0,
    });
    expect(Number(reply.delayMs)).toBeLessThanOrEqual(50);
    expect(reply.results.map((r) => [r.node, r.seq, r.policy])).toEqual(
      nodes.map((n) => [
        n.proc.runtime.settings.node,
        BigInt(n.proc.runtime.log.lastSeq - 1),
        PowerLossPolicy.POWER_LOSS_POLICY_TORN,
      ]),
    );
    expect(nodes.every((n) => n.proc.runtime.status().held === false)).toBe(true);
  });
});
