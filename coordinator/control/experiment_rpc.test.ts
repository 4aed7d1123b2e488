/**
 * Coordinator.RunExperiment over the real API (real nats-server, SQLite file, gRPC on 127.0.0.1:0):
 * progress, violations and a summary stream back, the result is in SQLite, bad requests are
 * INVALID_ARGUMENT naming the field.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { status } from "@grpc/grpc-js";
import type { ServiceError } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type {
  CoordinatorClient,
  ExperimentUpdate,
  RunExperimentRequest,
} from "../../proto/gen/daxsim/v1/coordinator.js";
import { Persistence } from "../../proto/gen/daxsim/v1/events.js";
import { EventDb } from "../ingest/event_db.js";
import { startTestNats } from "../nats/test_nats.js";
import type { TestNats } from "../nats/test_nats.js";
import { startCoordinatorProcess } from "./coordinator_process.js";
import type { CoordinatorProcess } from "./coordinator_process.js";
import { coordinatorClient } from "./rpc_client.js";

const root = join(import.meta.dirname, "..", "..");

function request(overrides: Partial<RunExperimentRequest>): RunExperimentRequest {
  return {
    workloadJson: "[]",
    crashPoints: "",
    strategy: "",
    torn: false,
    persistence: Persistence.PERSISTENCE_UNSPECIFIED,
    strategySeed: 0n,
    workers: 1,
    ...overrides,
  };
}

function collect(client: CoordinatorClient, req: RunExperimentRequest): Promise<ExperimentUpdate[]> {
  return new Promise((resolve, reject) => {
    const updates: ExperimentUpdate[] = [];
    const stream = client.runExperiment(req);
    stream.on("data", (u: ExperimentUpdate) => updates.push(u));
    stream.on("error", reject);
    stream.on("end", () => resolve(updates));
  });
}

describe("Coordinator.RunExperiment", () => {
  let nats: TestNats;
  let coordinator: CoordinatorProcess;
  let client: CoordinatorClient;
  beforeAll(async () => {
    nats = await startTestNats();
    coordinator = await startCoordinatorProcess({ nats: nats.url, db: join(nats.dir, "events.sqlite") });
    client = coordinatorClient(coordinator.grpc.address);
  });
  afterAll(async () => {
    client?.close();
    await coordinator?.stop();
    await nats?.teardown();
  });

  it("RunExperiment: streams progress, each violation and a summary, and stores the experiment in SQLite", async () => {
    const doc = JSON.parse(readFileSync(join(root, "examples/crash/size_update.json"), "utf8")) as Record<
      string,
      unknown
    >;
    const updates = await collect(
      client,
      request({ workloadJson: JSON.stringify({ ...doc, mount: "bug=no-size-flush" }), workers: 2 }),
    );
    const kinds = updates.map((u) => u.update?.$case);
    expect(kinds).toContain("progress");
    expect(kinds.at(-1)).toBe("summary");
    const violations = updates.flatMap((u) => (u.update?.$case === "violation" ? [u.update.value] : []));
    expect(violations.map((v) => v.oracle)).toContain("durability");
    expect(violations[0]!.id).toMatch(/^\d+:\d+$/);
    const summary = updates.at(-1)!.update!;
    if (summary.$case !== "summary") throw new Error("no summary");
    expect(summary.value.states).toBeGreaterThan(0n);
    expect(summary.value.violationsByOracle.durability).toBeGreaterThan(0n);
    const db = await EventDb.open(join(nats.dir, "events.sqlite"), { readOnly: true });
    try {
      const rows = await db.all<{ id: string; violations: number }>(
        "SELECT id, violations FROM experiments WHERE id = ?",
        [summary.value.experimentId],
      );
      expect(rows).toHaveLength(1);
      expect(rows[0]!.violations).toBe(violations.length);
      const stored = await db.all<{ n: number }>("SELECT COUNT(*) AS n FROM violations WHERE experiment_id = ?", [
        summary.value.experimentId,
      ]);
      expect(stored[0]!.n).toBe(violations.length);
    } finally {
      await db.close();
    }
  });

  it("RunExperiment: a clean example reports zero violations", async () => {
    const updates = await collect(
      client,
      request({ workloadJson: readFileSync(join(root, "examples/crash/journal_ops.json"), "utf8") }),
    );
    expect(updates.some((u) => u.update?.$case === "violation")).toBe(false);
  });

  it("RunExperiment: experiments started back to back, each as soon as the last stream ends, are never refused", async () => {
    const workloadJson = readFileSync(join(root, "examples/crash/size_update.json"), "utf8");
    const runsMax = 8;
    for (let run = 0; run < runsMax; run++) {
      const updates = await collect(client, request({ workloadJson, workers: 2 })).catch((error: ServiceError) => {
        throw new Error(`run ${run} of ${runsMax} was refused: ${status[error.code]} ${error.details}`);
      });
      expect(updates.at(-1)!.update?.$case).toBe("summary");
    }
  });

  it("RunExperiment: bad requests are INVALID_ARGUMENT naming the field, and the service keeps serving", async () => {
    const cases: Array<[Partial<RunExperimentRequest>, RegExp]> = [
      [{ workloadJson: "{nope" }, /^workload_json: not JSON/],
      [{ workloadJson: '[{"op":"teleport"}]' }, /^workload_json: [^]*teleport/],
      [{ workloadJson: "[]", strategy: "everything" }, /^strategy: /],
      [{ workloadJson: "[]", crashPoints: "sometimes" }, /^crash_points: /],
      [{ workloadJson: "[]", workers: 999 }, /^workers: /],
    ];
    for (const [overrides, message] of cases) {
      const error = await collect(client, request(overrides)).then(
        () => undefined,
        (e: ServiceError) => e,
      );
      expect(error?.code).toBe(status.INVALID_ARGUMENT);
      expect(error?.details).toMatch(message);
    }
    const again = await collect(
      client,
      request({ workloadJson: readFileSync(join(root, "examples/crash/size_update.json"), "utf8") }),
    );
    expect(again.at(-1)!.update?.$case).toBe("summary");
  });
});
