import { execFileSync, spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import type { OpEvent } from "../../proto/events.js";
import { ingestedThrough, pollUntil, produceStores, query, startTestNode } from "../ingest/testing.js";
import type { TestNode } from "../ingest/testing.js";
import { startTestNats } from "../nats/test_nats.js";
import type { TestNats } from "../nats/test_nats.js";

const root = join(import.meta.dirname, "..", "..");
const bin = join(root, "bin", "daxsim.js");

interface IngestProcess {
  child: ChildProcess;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr: () => string;
}

function spawnIngest(url: string, file: string): IngestProcess {
  const child = spawn(process.execPath, [bin, "ingest", "--nats", url, "--db", file], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  child.stdout!.resume();
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  return { child, exit, stderr: () => stderr };
}

async function kill(p: IngestProcess): Promise<void> {
  p.child.kill("SIGKILL");
  expect((await p.exit).signal).toBe("SIGKILL");
}

/** Waits until the ingest process has every seq ≤ seq of `node` in `file` (fails if it exits). */
async function waitIngested(p: IngestProcess, file: string, node: string, seq: number): Promise<void> {
  let exited = false;
  void p.exit.then(() => (exited = true));
  await pollUntil(
    async () => (await ingestedThrough(file, node)) >= seq,
    () => (exited ? new Error(`ingest exited early:\n${p.stderr()}`) : undefined),
  );
}

let nats: TestNats | undefined;
const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await nats?.teardown();
  nats = undefined;
});

async function setUp(): Promise<{ nats: TestNats; file: string; n1: TestNode }> {
  nats = await startTestNats();
  const n1 = await startTestNode(nats.url, "n1");
  cleanups.push(() => n1.outbox.abandon());
  return { nats, file: join(nats.dir, "events.sqlite"), n1 };
}

function track(p: IngestProcess): IngestProcess {
  cleanups.push(async () => {
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGKILL");
    await p.exit;
  });
  return p;
}

describe("daxsim ingest (process)", () => {
  beforeAll(() => {
    execFileSync(process.execPath, [join(root, "scripts", "setup.mjs")], { cwd: root });
  });

  it("ingest process: SIGKILL mid-stream and restart: nothing lost, nothing duplicated", async () => {
    const { nats, file, n1 } = await setUp();
    const first = track(spawnIngest(nats.url, file));
    await produceStores(n1, 20_000);
    await n1.outbox.flush();
    // Kill it once it has committed something, while the node goes on producing.
    await waitIngested(first, file, "n1", 1);
    const killed = kill(first);
    await produceStores(n1, 20_000, 1);
    await killed;
    await produceStores(n1, 20_000, 2);
    const second = track(spawnIngest(nats.url, file));
    await produceStores(n1, 20_000, 3);
    await n1.outbox.flush();
    const last = n1.log.lastSeq;
    await waitIngested(second, file, "n1", last);

    const [summary] = await query<{ n: number; distinct_seqs: number; lo: number; hi: number }>(
      file,
      "SELECT count(*) AS n, count(DISTINCT seq) AS distinct_seqs, min(seq) AS lo, max(seq) AS hi FROM events WHERE node = 'n1'",
    );
    expect(summary).toEqual({ n: last, distinct_seqs: last, lo: 1, hi: last });
    expect(await query(file, "SELECT node, from_seq, to_seq FROM ingest_gaps WHERE closed_at IS NULL")).toEqual([]);
    expect(await query(file, "SELECT count(*) AS n FROM ingest_rejected")).toEqual([{ n: 0 }]);

    second.child.kill("SIGTERM");
    expect(await second.exit).toEqual({ code: 0, signal: null });
    expect(second.stderr()).toContain('"msg":"ingesting"');
  });

  it("ingest process: an fsync acknowledged to its caller is in SQLite after an ingest crash and restart", async () => {
    const { nats, file, n1 } = await setUp();
    const first = track(spawnIngest(nats.url, file));
    await produceStores(n1, 5_000);
    const start = n1.log.nextSeq;
    n1.dimm.flush(0, 65536, "clwb");
    n1.dimm.fence();
    const fsync: OpEvent = n1.log.append({
      kind: "op",
      seq: 0,
      boot: 0,
      time: 0,
      startSeq: start,
      pid: 1,
      name: "fsync",
      argsJson: '{"fd":3}',
      result: 0,
      errno: "",
      signal: "",
      inode: 2,
      sizeAfter: 0,
    });
    // The write-ahead rule: fsync returns to its caller only after this resolves.
    await n1.outbox.flush();
    // The coordinator crashes at once, and the NATS server restarts too while it is down.
    await kill(first);
    await nats.server.restart();
    const second = track(spawnIngest(nats.url, file));
    await waitIngested(second, file, "n1", fsync.seq);

    expect(await query(file, "SELECT seq, op_name, op_id FROM events WHERE node = 'n1' AND op_name = 'fsync'")).toEqual(
      [{ seq: fsync.seq, op_name: "fsync", op_id: start }],
    );
    expect(await query(file, "SELECT count(*) AS n FROM events WHERE node = 'n1' AND seq <= ?", [fsync.seq])).toEqual([
      { n: fsync.seq },
    ]);
  });

  it("ingest process: a missing --db is a usage error", () => {
    const r = execFileSyncStatus(["ingest", "--nats", "nats://127.0.0.1:1"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("--db FILE is required");
  });
});

function execFileSyncStatus(args: string[]): { status: number | null; stderr: string } {
  try {
    execFileSync(process.execPath, [bin, ...args], { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    return { status: 0, stderr: "" };
  } catch (error) {
    const e = error as { status: number | null; stderr: string };
    return { status: e.status, stderr: e.stderr };
  }
}
