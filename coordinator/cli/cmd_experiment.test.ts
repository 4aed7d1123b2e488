import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sqlite3 from "sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..", "..");
const bin = join(root, "bin", "daxsim.js");

function daxsim(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function query(file: string, sql: string): Promise<Array<Record<string, unknown>>> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(file, sqlite3.OPEN_READONLY, (error) => {
      if (error) reject(error);
    });
    db.all(sql, (error, rows) => {
      db.close();
      if (error) reject(error);
      else resolve(rows as Array<Record<string, unknown>>);
    });
  });
}

describe("daxsim experiment (CLI)", () => {
  let dir: string;
  let buggy: string;
  beforeAll(() => {
    execFileSync(process.execPath, [join(root, "scripts", "setup.mjs")], { cwd: root });
    dir = mkdtempSync(join(tmpdir(), "daxsim-experiment-cli-"));
    const doc = JSON.parse(readFileSync(join(root, "examples/crash/size_update.json"), "utf8")) as {
      ops: Array<Record<string, unknown>>;
    };
    buggy = join(dir, "buggy.json");
    writeFileSync(buggy, JSON.stringify({ ...doc, mount: "bug=no-size-flush" }));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("experiment CLI: a clean workload exits 0 with a JSON summary; a buggy one exits 1 with violations and reproducers", () => {
    const clean = daxsim("experiment", join(root, "examples/crash/size_update.json"), "--json", "--workers", "0");
    expect(clean.status).toBe(0);
    const summary = JSON.parse(clean.stdout.trim().split("\n").at(-1)!) as {
      type: string;
      states: number;
      violationsByOracle: object;
    };
    expect(summary.type).toBe("summary");
    expect(summary.states).toBeGreaterThan(0);
    expect(summary.violationsByOracle).toEqual({});

    const bad = daxsim("experiment", buggy, "--json", "--db", join(dir, "results.sqlite"), "--out", join(dir, "out"));
    expect(bad.status).toBe(1);
    const lines = bad.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const violation = lines.find((l) => l.type === "violation" && l.oracle === "durability")!;
    expect(violation.reproduce).toMatch(/--reproduce \d+:\d+ --out crash\.img/);
    expect(readFileSync(join(dir, "out", "violations.jsonl"), "utf8").split("\n").length).toBeGreaterThan(1);

    const image = join(dir, "crash.img");
    const again = daxsim("experiment", buggy, "--reproduce", String(violation.id), "--out", image);
    expect(again.status).toBe(0);
    expect(again.stdout).toContain(`crash state ${String(violation.id)}`);
    const fsck = daxsim("fsck", image);
    expect([0, 4]).toContain(fsck.status); // fsck checks it after in-memory recovery: clean or problems
  });

  it("experiment CLI: results land in SQLite (experiments, crash_states, violations)", async () => {
    const db = join(dir, "results.sqlite");
    const experiments = await query(db, "SELECT id, states, violations FROM experiments");
    expect(experiments).toHaveLength(1);
    expect(Number(experiments[0]!.violations)).toBeGreaterThan(0);
    const points = await query(db, "SELECT COUNT(*) AS n, SUM(states) AS states FROM crash_states");
    expect(Number(points[0]!.states)).toBe(Number(experiments[0]!.states));
    const violations = await query(db, "SELECT oracle, COUNT(*) AS n FROM violations GROUP BY oracle");
    expect(violations.map((r) => r.oracle)).toContain("durability");
  });

  it("experiment CLI: bad options and workloads are usage errors naming the problem", () => {
    const r1 = daxsim("experiment", buggy, "--strategy", "everything");
    expect(r1.status).toBe(2);
    expect(r1.stderr).toMatch(/strategy "everything"/);
    const r2 = daxsim("experiment", buggy, "--crash-points", "sometimes");
    expect(r2.status).toBe(2);
    const broken = join(dir, "broken.json");
    writeFileSync(broken, JSON.stringify({ ops: [{ op: "teleport" }] }));
    const r3 = daxsim("experiment", broken);
    expect(r3.status).toBe(2);
    expect(r3.stderr).toMatch(/teleport/);
    const r4 = daxsim("experiment", buggy, "--reproduce", "9:0", "--out", join(dir, "x.img"));
    expect(r4.status).toBe(2);
    expect(r4.stderr).toMatch(/not a crash point/);
  });
});
