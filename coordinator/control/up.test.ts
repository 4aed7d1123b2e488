/**
 * The whole system as users run it: `daxsim up --nodes 3` (a real nats-server, a coordinator and
 * three node processes, a real SQLite file, gRPC on 127.0.0.1), driven over gRPC. Checks against
 * the SQLite log folded with the same pure apply function replay uses; waits poll, never time.
 */
import { execFileSync, spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import * as grpc from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import protobuf from "protobufjs";
import descriptor from "protobufjs/ext/descriptor/index.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeEvent } from "../../proto/codec.js";
import type { Event, PowerLossEvent } from "../../proto/events.js";
import type { CoordinatorClient, InjectPowerLossRequest } from "../../proto/gen/daxsim/v1/coordinator.js";
import { PowerLossPolicy } from "../../proto/gen/daxsim/v1/events.js";
import { NodeControlClient } from "../../proto/gen/daxsim/v1/node.js";
import { applyEvent, pendingLineVersions } from "../../node/dimm/apply.js";
import { decidePowerLoss } from "../../node/dimm/power_loss.js";
import { DimmState } from "../../node/dimm/state.js";
import { GRPC_RECEIVE_BYTES_MAX } from "../../node/control/grpc_server.js";
import { pollUntil, query } from "../ingest/testing.js";
import type { Manifest } from "../cli/run_manifest.js";
import { coordinatorClient, nodeClient, unary } from "./rpc_client.js";

const root = join(import.meta.dirname, "..", "..");
const bin = join(root, "bin", "daxsim.js");
const DIMM_BYTES = 64 << 20;

let dir = "";
let up: ChildProcess | undefined;
let upExit: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | undefined;
let manifest: Manifest;
let client: CoordinatorClient;

beforeAll(async () => {
  execFileSync(process.execPath, [join(root, "scripts", "setup.mjs")], { cwd: root });
  dir = mkdtempSync(join(tmpdir(), "daxsim-up-"));
  up = spawn(process.execPath, [bin, "up", "--nodes", "3", "--dir", dir], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
  });
  upExit = new Promise((resolve) => up!.once("exit", (code, signal) => resolve({ code, signal })));
  let stderr = "";
  up.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const firstLine = await new Promise<string>((resolve, reject) => {
    createInterface({ input: up!.stdout! }).once("line", resolve);
    void upExit!.then((exit) => reject(new Error(`daxsim up exited (${exit.code ?? exit.signal}):\n${stderr}`)));
  });
  manifest = JSON.parse(firstLine) as Manifest;
  client = coordinatorClient(manifest.coordinator.grpc);
  await pollUntil(
    async () => (await unary(client, client.listNodes, {})).nodes.filter((n) => n.reachable).length === 3,
  );
});

afterAll(async () => {
  client?.close();
  if (up !== undefined && up.exitCode === null) {
    up.kill("SIGTERM");
    expect(await upExit).toEqual({ code: 0, signal: null });
    const stopped = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as Manifest;
    expect(stopped.state).toBe("stopped");
  }
  if (dir !== "") rmSync(dir, { recursive: true, force: true });
});

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");

/** The node's events from SQLite once ingest holds every seq up to `through`. */
async function loggedEvents(node: string, through: number): Promise<Event[]> {
  await pollUntil(async () => {
    const [row] = await query<{ s: number | null }>(
      manifest.db,
      "SELECT last_contiguous_seq AS s FROM ingest_progress WHERE node = ?",
      [node],
    );
    return (row?.s ?? 0) >= through;
  });
  const rows = await query<{ encoded: Buffer }>(manifest.db, "SELECT encoded FROM events WHERE node = ? ORDER BY seq", [
    node,
  ]);
  return rows.map((r) => decodeEvent(r.encoded).event);
}

/** Media hash after folding `events` with applyEvent from an empty DIMM. */
function fold(events: readonly Event[]): DimmState {
  const state = new DimmState(DIMM_BYTES, "adr");
  for (const ev of events) applyEvent(state, ev);
  return state;
}

function nodeAddress(node: string, nodes: Array<{ node: string; grpcAddress: string }>): string {
  return nodes.find((n) => n.node === node)!.grpcAddress;
}

const WORKLOAD = (salt: number): string =>
  JSON.stringify([
    { op: "open", path: `/data${salt}`, flags: "O_RDWR|O_CREAT", as: "fd" },
    { op: "pwrite", fd: "$fd", offset: 0, pattern: 0x40 + salt, length: 10000 },
    { op: "fsync", fd: "$fd" },
    { op: "mmap", fd: "$fd", length: "8k", as: "m" },
    { op: "store", addr: "$m+64", text: `unsynced-${salt}` },
    { op: "pwrite", fd: "$fd", offset: 12000, pattern: 0x60 + salt, length: 3000 },
  ]);

describe("daxsim up: three node processes, a coordinator and nats-server", () => {
  it("up: workloads on every node, power loss on two at one instant: each media hash is the one its PowerLoss event records", async () => {
    for (const [i, node] of ["n1", "n2", "n3"].entries()) {
      const reply = await unary(client, client.exec, { node, workloadJson: WORKLOAD(i + 1), session: "" });
      expect(reply.records.every((r) => r.ok && r.error === "")).toBe(true);
    }
    const request: InjectPowerLossRequest = {
      nodes: ["n1", "n2"],
      trigger: { $case: "now", value: {} },
      policy: PowerLossPolicy.POWER_LOSS_POLICY_RANDOM,
      seed: 1234n,
      kill: false,
      timeoutMs: 0,
    };
    const reply = await unary(client, client.injectPowerLoss, request);
    expect(reply.seed).toBe(1234n);
    expect(reply.results.map((r) => r.node)).toEqual(["n1", "n2"]);
    const nodes = (await unary(client, client.listNodes, {})).nodes;
    for (const result of reply.results) {
      const status = await withNode(nodeAddress(result.node, nodes), (c) => unary(c, c.status, {}));
      const events = await loggedEvents(result.node, Number(status.lastSeq));
      const logged = events.find((e) => e.seq === Number(result.seq));
      expect(logged?.kind).toBe("powerLoss");
      const powerLoss = logged as PowerLossEvent;
      expect(powerLoss.policy).toBe("random");
      expect(powerLoss.seed).toBe(1234n);
      expect(hex(powerLoss.mediaSha256)).toBe(hex(result.mediaSha256));
      // Replay of the log up to and including the PowerLoss event reproduces its hash...
      expect(hex(fold(events.filter((e) => e.seq <= powerLoss.seq)).mediaSha256())).toBe(hex(powerLoss.mediaSha256));
      // ...and of the whole log (through the remount's recovery) the node's media now.
      expect(hex(fold(events).mediaSha256())).toBe(hex(status.mediaSha256));
      expect(status.boot).toBe(1);
    }
    const n3 = await withNode(nodeAddress("n3", nodes), (c) => unary(c, c.status, {}));
    expect(n3.boot).toBe(0);
  });

  it("up: kill and restart: the node's media is what strict replay of its log predicts; nothing lost or duplicated in SQLite", async () => {
    const before = (await unary(client, client.listNodes, {})).nodes.find((n) => n.node === "n3")!;
    // Work that was never synced: the kill may lose it, strict replay must agree on what survives.
    await unary(client, client.exec, { node: "n3", workloadJson: WORKLOAD(7), session: "again" });
    const kill = await unary(client, client.injectPowerLoss, {
      nodes: ["n3"],
      trigger: { $case: "now", value: {} },
      policy: 0,
      kill: true,
      timeoutMs: 0,
    });
    expect(kill.results[0]!.killed).toBe(true);
    let restarted = before;
    await pollUntil(async () => {
      restarted = (await unary(client, client.listNodes, {})).nodes.find((n) => n.node === "n3")!;
      return restarted.reachable && restarted.startedSeq !== before.startedSeq;
    });
    expect(restarted.pid).not.toBe(before.pid);
    const status = await withNode(restarted.grpcAddress, (c) => unary(c, c.status, {}));
    const events = await loggedEvents("n3", Number(status.lastSeq));
    const killSeq = Number(restarted.startedSeq);
    expect(killSeq).toBeGreaterThan(Number(kill.results[0]!.ackedThroughSeq));
    const restore = events.find((e) => e.seq === killSeq) as PowerLossEvent;
    expect(restore.kind).toBe("powerLoss");
    expect(restore.reason).toBe("kill");
    expect(restore.policy).toBe("strict");
    // Strict prediction, computed here: fold everything before the kill, drop every pending line.
    const state = fold(events.filter((e) => e.seq < killSeq));
    const lines = decidePowerLoss(pendingLineVersions(state), "strict", 0n);
    applyEvent(state, { ...restore, lines, mediaSha256: new Uint8Array(0) });
    expect(hex(state.mediaSha256())).toBe(hex(restore.mediaSha256));
    expect(hex(fold(events).mediaSha256())).toBe(hex(status.mediaSha256));
    // The log in SQLite: every seq exactly once, none missing, no open gap.
    const [summary] = await query<{ n: number; distinct_seqs: number; lo: number; hi: number }>(
      manifest.db,
      "SELECT count(*) AS n, count(DISTINCT seq) AS distinct_seqs, min(seq) AS lo, max(seq) AS hi FROM events WHERE node = 'n3'",
    );
    expect(summary).toEqual({ n: events.length, distinct_seqs: events.length, lo: 1, hi: events.length });
    expect(await query(manifest.db, "SELECT node FROM ingest_gaps WHERE closed_at IS NULL")).toEqual([]);
    // And it serves again.
    const after = await unary(client, client.exec, {
      node: "n3",
      workloadJson: JSON.stringify([{ op: "stat", path: "/data3" }]),
      session: "",
    });
    // fsync of /data7 committed the whole running transaction, /data3's size with it (as jbd2 does).
    expect(after.records[0]!.ok).toBe(true);
    expect(Number(after.records[0]!.value)).toBeGreaterThanOrEqual(10000);
  });

  it("up: bad requests over the real API answer their status naming the field; the servers keep serving", async () => {
    const nodes = (await unary(client, client.listNodes, {})).nodes;
    const n1 = nodeAddress("n1", nodes);
    const exec = (node: string, workloadJson: string, session = ""): Promise<unknown> =>
      unary(client, client.exec, { node, workloadJson, session });
    const inject = (patch: Partial<InjectPowerLossRequest>): Promise<unknown> =>
      unary(client, client.injectPowerLoss, {
        nodes: ["n1"],
        trigger: { $case: "now", value: {} },
        policy: 0,
        kill: false,
        timeoutMs: 0,
        ...patch,
      });
    const watch = (node: string, kinds: string[]): Promise<unknown> =>
      new Promise((resolve, reject) => {
        const call = client.watchEvents({ node, kinds, fromSeq: 0n, follow: false, maxEvents: 1n });
        call.on("data", () => undefined);
        call.on("end", resolve);
        call.on("error", reject);
      });
    const big = JSON.stringify([{ op: "sync", comment: "x".repeat(GRPC_RECEIVE_BYTES_MAX) }]);
    const roomy = new NodeControlClient(n1, grpc.credentials.createInsecure(), {
      "grpc.max_send_message_length": 2 * GRPC_RECEIVE_BYTES_MAX,
    });
    const { INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION, RESOURCE_EXHAUSTED } = grpc.status;
    const cases: Array<[string, () => Promise<unknown>, grpc.status, string]> = [
      ["exec on an unknown node", () => exec("nx", "[]"), NOT_FOUND, 'node: no node "nx"'],
      ["exec without a node", () => exec("", "[]"), INVALID_ARGUMENT, "node: missing"],
      ["exec with a node id that is no id", () => exec("n 1", "[]"), INVALID_ARGUMENT, "node:"],
      ["workload that is not JSON", () => exec("n1", "{not json"), INVALID_ARGUMENT, "workload_json: not JSON"],
      ["workload that is a number", () => exec("n1", "42"), INVALID_ARGUMENT, "workload_json: expected a JSON array"],
      [
        "unknown op",
        () => exec("n1", '[{"op":"frobnicate"}]'),
        INVALID_ARGUMENT,
        'field "op": unknown op "frobnicate"',
      ],
      [
        "huge length",
        () => exec("n1", '[{"op":"pread","fd":3,"offset":0,"length":"99999999999999999999"}]'),
        INVALID_ARGUMENT,
        'field "length"',
      ],
      [
        "DIMM settings for a running node",
        () => exec("n1", '{"dimm":{"size":"1G"},"ops":[]}'),
        INVALID_ARGUMENT,
        "workload_json.dimm",
      ],
      ["bad session name", () => exec("n1", "[]", "no spaces please"), INVALID_ARGUMENT, "session:"],
      ["no nodes", () => inject({ nodes: [] }), INVALID_ARGUMENT, "nodes: empty"],
      ["a node named twice", () => inject({ nodes: ["n1", "n1"] }), INVALID_ARGUMENT, "nodes[1]"],
      ["power loss on an unknown node", () => inject({ nodes: ["n1", "nx"] }), NOT_FOUND, "nodes[1]"],
      [
        "unknown policy",
        () => inject({ policy: 99 as PowerLossPolicy }),
        INVALID_ARGUMENT,
        "policy: unknown power-loss policy 99",
      ],
      ["at_seq 0", () => inject({ trigger: { $case: "atSeq", value: 0n } }), INVALID_ARGUMENT, "at_seq: 0 is outside"],
      [
        "at_seq beyond 2^53",
        () => inject({ trigger: { $case: "atSeq", value: 1n << 60n } }),
        INVALID_ARGUMENT,
        "at_seq:",
      ],
      [
        "at_seq already past",
        () => inject({ trigger: { $case: "atSeq", value: 1n } }),
        FAILED_PRECONDITION,
        "trigger.at_seq: seq 1 is already past",
      ],
      [
        "delay over an hour",
        () => inject({ trigger: { $case: "delayMaxMs", value: 10n ** 10n } }),
        INVALID_ARGUMENT,
        "delay_max_ms",
      ],
      [
        "watch an unknown kind",
        () => watch("n1", ["store", "bogus"]),
        INVALID_ARGUMENT,
        'kinds[1]: unknown event kind "bogus"',
      ],
      ["watch an unknown node", () => watch("nx", []), NOT_FOUND, 'node: no node "nx"'],
      [
        "hold with a lease over a minute",
        () => withNode(n1, (c) => unary(c, c.hold, { leaseMs: 3_600_000 })),
        INVALID_ARGUMENT,
        "lease_ms",
      ],
      [
        "a request over the size limit",
        () => unary(roomy, roomy.exec, { workloadJson: big, session: "" }),
        RESOURCE_EXHAUSTED,
        "",
      ],
    ];
    const outcomes = [];
    for (const [name, call, , text] of cases) {
      const error = await call().then(
        () => undefined,
        (e: grpc.ServiceError) => e,
      );
      outcomes.push({ name, code: error?.code, named: error?.details.includes(text) ?? false });
      expect.soft(error?.details ?? "no error", name).toContain(text);
    }
    expect(outcomes).toEqual(cases.map(([name, , code]) => ({ name, code, named: true })));
    roomy.close();
    // Both servers still answer everyone.
    const ok = await unary(client, client.exec, {
      node: "n1",
      workloadJson: JSON.stringify([{ op: "sync" }]),
      session: "",
    });
    expect(ok.records[0]!.ok).toBe(true);
    expect((await unary(client, client.status, {})).ingestFailure).toBe("");
  });

  it("up: a reflection client without our stubs lists the services and calls health and the coordinator", async () => {
    const reflected = await reflect(manifest.coordinator.grpc, ["grpc.health.v1.Health", "daxsim.v1.Coordinator"]);
    expect(reflected.services).toEqual(expect.arrayContaining(["daxsim.v1.Coordinator", "grpc.health.v1.Health"]));
    const health = await dynamicUnary(manifest.coordinator.grpc, reflected.root, "grpc.health.v1.Health", "Check", {
      service: "",
    });
    expect(health).toEqual({ status: "SERVING" });
    const coordinatorHealth = await dynamicUnary(
      manifest.coordinator.grpc,
      reflected.root,
      "grpc.health.v1.Health",
      "Check",
      { service: "daxsim.v1.Coordinator" },
    );
    expect(coordinatorHealth).toEqual({ status: "SERVING" });
    const listed = (await dynamicUnary(
      manifest.coordinator.grpc,
      reflected.root,
      "daxsim.v1.Coordinator",
      "ListNodes",
      {},
    )) as { nodes: Array<{ node: string }> };
    expect(listed.nodes.map((n) => n.node)).toEqual(["n1", "n2", "n3"]);
    // A node serves reflection and health too.
    const nodes = (await unary(client, client.listNodes, {})).nodes;
    const nodeReflected = await reflect(nodeAddress("n2", nodes), ["grpc.health.v1.Health"]);
    expect(nodeReflected.services).toEqual(expect.arrayContaining(["daxsim.v1.NodeControl", "grpc.health.v1.Health"]));
    expect(
      await dynamicUnary(nodeAddress("n2", nodes), nodeReflected.root, "grpc.health.v1.Health", "Check", {
        service: "daxsim.v1.NodeControl",
      }),
    ).toEqual({ status: "SERVING" });
  });
});

async function withNode<T>(address: string, use: (c: NodeControlClient) => Promise<T>): Promise<T> {
  const c = nodeClient(address);
  try {
    return await use(c);
  } finally {
    c.close();
  }
}

interface ReflectionResponse {
  listServicesResponse?: { service: Array<{ name: string }> };
  fileDescriptorResponse?: { fileDescriptorProto: Buffer[] };
  errorResponse?: { errorCode: number; errorMessage: string };
}

/**
 * The stock reflection protocol (grpc.reflection.v1), as grpcurl speaks it: list the services,
 * then fetch the file descriptors of some symbols and build a protobufjs Root from them.
 */
async function reflect(address: string, symbols: string[]): Promise<{ services: string[]; root: protobuf.Root }> {
  const require = createRequire(import.meta.url);
  const reflectionProto = join(
    dirname(require.resolve("@grpc/reflection")),
    "..",
    "proto",
    "grpc",
    "reflection",
    "v1",
    "reflection.proto",
  );
  const pkg = grpc.loadPackageDefinition(
    loadSync(reflectionProto, { keepCase: false, longs: String, enums: String, defaults: false, oneofs: true }),
  ) as unknown as {
    grpc: { reflection: { v1: { ServerReflection: grpc.ServiceClientConstructor } } };
  };
  const reflectionClient = new pkg.grpc.reflection.v1.ServerReflection(address, grpc.credentials.createInsecure());
  const stream = (
    reflectionClient as unknown as { serverReflectionInfo(): grpc.ClientDuplexStream<object, ReflectionResponse> }
  ).serverReflectionInfo();
  const responses: ReflectionResponse[] = [];
  const done = new Promise<void>((resolve, reject) => {
    stream.on("data", (r: ReflectionResponse) => responses.push(r));
    stream.on("end", resolve);
    stream.on("error", reject);
  });
  stream.write({ listServices: "" });
  for (const symbol of symbols) stream.write({ fileContainingSymbol: symbol });
  stream.end();
  await done;
  reflectionClient.close();
  const services = responses[0]?.listServicesResponse?.service.map((s) => s.name) ?? [];
  const files = new Map<string, unknown>();
  for (const r of responses.slice(1)) {
    if (r.errorResponse !== undefined) throw new Error(`reflection: ${r.errorResponse.errorMessage}`);
    for (const bytes of r.fileDescriptorResponse?.fileDescriptorProto ?? []) {
      const file = descriptor.FileDescriptorProto.decode(bytes) as unknown as { name: string };
      files.set(file.name, file);
    }
  }
  const root = (protobuf.Root as unknown as { fromDescriptor(set: object): protobuf.Root }).fromDescriptor({
    file: [...files.values()],
  });
  return { services, root };
}

/** One unary call built only from reflected descriptors (JSON in, JSON out). */
function dynamicUnary(
  address: string,
  root: protobuf.Root,
  serviceName: string,
  methodName: string,
  body: object,
): Promise<unknown> {
  const service = root.lookupService(serviceName);
  const method = service.methods[methodName]!.resolve() as protobuf.Method;
  const requestType = method.resolvedRequestType!;
  const responseType = method.resolvedResponseType!;
  const Client = grpc.makeGenericClientConstructor(
    {
      [methodName]: {
        path: `/${serviceName}/${methodName}`,
        requestStream: false,
        responseStream: false,
        requestSerialize: (value: object) => Buffer.from(requestType.encode(requestType.fromObject(value)).finish()),
        requestDeserialize: (bytes: Buffer) => requestType.decode(bytes),
        responseSerialize: () => Buffer.alloc(0),
        responseDeserialize: (bytes: Buffer) =>
          responseType.toObject(responseType.decode(bytes), { enums: String, longs: String }),
      },
    },
    serviceName,
  );
  const c = new Client(address, grpc.credentials.createInsecure()) as unknown as Record<
    string,
    (req: object, cb: (e: grpc.ServiceError | null, r: unknown) => void) => void
  > &
    grpc.Client;
  return new Promise((resolve, reject) => {
    c[methodName]!(body, (error, response) => {
      c.close();
      if (error) reject(error);
      else resolve(response);
    });
  });
}
