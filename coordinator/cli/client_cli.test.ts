/**
 * The client commands against a real set-up (`daxsim up --nodes 1`: nats-server, coordinator, a
 * node): their JSON has one shape — the one `daxsim run --json` prints, numbers as numbers, seeds
 * as strings, bytes as hex, zero values kept (docs/cli.md) — and `status` tells the log's events
 * apart from this coordinator session's.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..", "..");
const bin = join(root, "bin", "daxsim.js");

let dir = "";
let up: ChildProcess | undefined;
let upExit: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | undefined;

function daxsim(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function jsonLines(text: string): Array<Record<string, unknown>> {
  return text
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

beforeAll(async () => {
  execFileSync(process.execPath, [join(root, "scripts", "setup.mjs")], { cwd: root });
  dir = mkdtempSync(join(tmpdir(), "daxsim-client-cli-"));
  up = spawn(process.execPath, [bin, "up", "--nodes", "1", "--dir", dir, "--dimm-size", "16M"], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
  });
  upExit = new Promise((resolve) => up!.once("exit", (code, signal) => resolve({ code, signal })));
  let stderr = "";
  up.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  await new Promise<string>((resolve, reject) => {
    createInterface({ input: up!.stdout! }).once("line", resolve);
    void upExit!.then((exit) => reject(new Error(`daxsim up exited (${exit.code ?? exit.signal}):\n${stderr}`)));
  });
});

afterAll(async () => {
  if (up !== undefined && up.exitCode === null) {
    up.kill("SIGTERM");
    expect(await upExit).toEqual({ code: 0, signal: null });
  }
  if (dir !== "") rmSync(dir, { recursive: true, force: true });
});

const OPS = [
  { op: "open", path: "/f", flags: "O_CREAT|O_RDWR", as: "fd" },
  { op: "pwrite", fd: "$fd", offset: 0, text: "hello" },
  { op: "fsync", fd: "$fd" },
  { op: "pread", fd: "$fd", offset: 0, length: 5, expect: { hex: "68656c6c6f" } },
  { op: "close", fd: "$fd" },
];

describe("client commands print one JSON shape", () => {
  it("json: exec records are run --json's records (op 0 included, numbers as numbers) plus the op's seqs", () => {
    const file = join(dir, "w.json");
    writeFileSync(file, JSON.stringify(OPS));
    const exec = daxsim("exec", "--dir", dir, "--node", "n1", file);
    expect(exec.stderr).toBe("");
    expect(exec.status).toBe(0);
    const records = jsonLines(exec.stdout);
    const run = jsonLines(daxsim("run", file, "--json").stdout);
    expect(records).toHaveLength(OPS.length);
    expect(records[0]!.i).toBe(0);
    records.forEach((r, k) => {
      const { firstSeq, lastSeq, boot, ...rest } = r;
      expect(typeof firstSeq).toBe("number");
      expect(typeof lastSeq).toBe("number");
      expect(boot).toBe(0);
      expect(rest).toEqual(run[k]);
    });
    expect(records[1]).toMatchObject({ op: "pwrite", value: 5 });
    expect(records[1]!.lastSeq as number).toBeGreaterThanOrEqual(records[1]!.firstSeq as number);
  });

  it("json: powerloss and events print numbers as numbers, the seed as a string, hashes as hex, policy names", () => {
    const loss = daxsim("powerloss", "--dir", dir, "--node", "n1", "--policy", "torn", "--seed", "5");
    expect(loss.stderr).toBe("");
    expect(loss.status).toBe(0);
    const [result] = jsonLines(loss.stdout);
    expect(result).toMatchObject({ node: "n1", policy: "torn", seed: "5", boot: 0, killed: false });
    expect(typeof result!.seq).toBe("number");
    expect(result!.mediaSha256).toMatch(/^[0-9a-f]{64}$/);
    for (const key of ["linesDecided", "linesLost", "linesPartlyLost", "recoveredTxns", "ackedThroughSeq"])
      expect(typeof result![key], key).toBe("number");

    const events = daxsim("events", "--dir", dir, "--node", "n1", "--kind", "powerLoss", "--max", "1");
    expect(events.status).toBe(0);
    const [ev] = jsonLines(events.stdout);
    expect(ev).toMatchObject({ node: "n1", kind: "powerLoss", seq: result!.seq, policy: "torn", seed: "5" });
    expect(ev!.mediaSha256).toBe(result!.mediaSha256);
    expect(typeof ev!.time).toBe("number");
  });

  it("status: the log's events in total and this coordinator session's, apart; --json with numbers", () => {
    const text = daxsim("status", "--dir", dir);
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(/\nlog: \d+ events in total \(n1 \d+\)\n/);
    expect(text.stdout).toMatch(/\ningest: this coordinator session committed \d+ events in \d+ batches; /);
    const json = JSON.parse(daxsim("status", "--dir", dir, "--json").stdout) as {
      status: { eventsInLog: number; eventsCommitted: number; nodes: Array<{ node: string; eventsInLog: number }> };
      nodes: Array<{ node: string; persistence: string; lastSeq: number; reachable: boolean }>;
    };
    expect(typeof json.status.eventsInLog).toBe("number");
    expect(json.status.eventsInLog).toBe(json.status.nodes.find((n) => n.node === "n1")!.eventsInLog);
    // One session wrote this log so far: the two counts agree.
    expect(json.status.eventsCommitted).toBe(json.status.eventsInLog);
    expect(json.nodes[0]).toMatchObject({ node: "n1", persistence: "adr", reachable: true });
    expect(typeof json.nodes[0]!.lastSeq).toBe("number");
  });
});
