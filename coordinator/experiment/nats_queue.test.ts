/**
 * Experiment checking spread over `daxsim worker` processes through a real nats-server's JetStream
 * work queue: the result equals the in-process one, and a worker killed mid-chunk loses nothing.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestNats } from "../nats/test_nats.js";
import type { TestNats } from "../nats/test_nats.js";
import { runExperiment } from "./engine.js";
import type { ExperimentOptions, ExperimentResult } from "./engine.js";
import { NatsCheckerPool } from "./nats_queue.js";
import { parseStrategy } from "./strategies.js";

const root = join(import.meta.dirname, "..", "..");
const OPTIONS: ExperimentOptions = { crashPoints: "fence", strategy: parseStrategy("prefix"), torn: false, seed: 1n };

function comparable(r: ExperimentResult): ExperimentResult {
  return { ...r, elapsedMs: 0, statesPerSecond: 0, checkers: 0 };
}

function startWorker(url: string): ChildProcess {
  return spawn(
    process.execPath,
    [join(root, "bin", "daxsim.js"), "worker", "--nats", url, "--threads", "1", "--ack-wait-ms", "2000"],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
}

async function stopWorker(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  await exited;
}

describe("experiment over a JetStream work queue", () => {
  let nats: TestNats;
  beforeAll(async () => {
    execFileSync(process.execPath, [join(root, "scripts", "setup.mjs")], { cwd: root });
    nats = await startTestNats();
  });
  afterAll(async () => {
    await nats?.teardown();
  });

  it("experiment --nats: two worker processes give exactly the in-process result", async () => {
    const doc = JSON.parse(readFileSync(join(root, "examples/crash/journal_ops.json"), "utf8")) as Record<
      string,
      unknown
    >;
    const buggy = {
      ...doc,
      mount: "bug=no-dirent-flush",
      ops: (doc.ops as Array<Record<string, unknown>>).map(({ expect: _e, ...op }) => op),
    };
    const expected = await runExperiment(buggy, OPTIONS);
    const workers = [startWorker(nats.url), startWorker(nats.url)];
    const pool = await NatsCheckerPool.connect(nats.url, undefined, { ackWaitMs: 2000 });
    try {
      const got = await runExperiment(buggy, OPTIONS, pool);
      expect(comparable(got)).toEqual(comparable(expected));
      expect(got.violations.length).toBeGreaterThan(0);
    } finally {
      await pool.close();
      await Promise.all(workers.map(stopWorker));
    }
  });

  it("experiment --nats: a worker killed mid-chunk has its chunk redelivered, and nothing is lost or counted twice", async () => {
    const doc = JSON.parse(readFileSync(join(root, "examples/punch_vs_mapping.json"), "utf8")) as unknown;
    const expected = await runExperiment(doc, OPTIONS);
    const doomed = startWorker(nats.url);
    const pool = await NatsCheckerPool.connect(nats.url, undefined, { ackWaitMs: 2000 });
    const running = runExperiment(doc, OPTIONS, pool);
    // Kill the only worker while it is checking (its first chunk takes seconds), then start another.
    await new Promise<void>((resolve) => doomed.stderr!.once("data", () => resolve()));
    await new Promise((resolve) => setTimeout(resolve, 1500));
    doomed.kill("SIGKILL");
    const rescuer = startWorker(nats.url);
    try {
      const got = await running;
      expect(comparable(got)).toEqual(comparable(expected));
    } finally {
      await pool.close();
      await stopWorker(rescuer);
    }
  });
});
