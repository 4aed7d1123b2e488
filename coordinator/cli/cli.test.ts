import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { COMMANDS } from "./main.js";

const root = join(import.meta.dirname, "..", "..");
const bin = join(root, "bin", "daxsim.js");

function daxsim(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("cli", () => {
  it("cli: --help lists every subcommand", () => {
    execFileSync(process.execPath, [join(root, "scripts", "setup.mjs")], { cwd: root });
    const r = daxsim("--help");
    expect(r.status).toBe(0);
    for (const c of COMMANDS) expect(r.stdout).toContain(`  ${c.name}`);
  });

  it("cli: an unknown command or option is a usage error with exit status 2", () => {
    const unknown = daxsim("frobnicate");
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('unknown command "frobnicate"');
    const badOption = daxsim("demo", "--sed", "3");
    expect(badOption.status).toBe(2);
    expect(badOption.stderr).toMatch(/--sed/);
    const badSeed = daxsim("demo", "--seed", "minus-one");
    expect(badSeed.status).toBe(2);
    expect(badSeed.stderr).toMatch(/seed "minus-one"/);
  });

  it("cli: the one-DIMM demo is reproducible from its seed and shows every policy", () => {
    const a = daxsim("demo", "--one-dimm", "--seed", "9");
    const b = daxsim("demo", "--one-dimm", "--seed", "9");
    expect(a.status).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    for (const policy of ["strict", "eadr-like", "random", "torn"]) expect(a.stdout).toContain(`policy ${policy}`);
    expect(a.stdout).toMatch(/lost/);
  });

  it("cli: the end-to-end demo (npm start) runs three node processes, replays their logs and prints survival reports with beyond-EOF stores", () => {
    const dir = mkdtempSync(join(tmpdir(), "daxsim-demo-"));
    try {
      const r = daxsim("demo", "--seed", "5", "--dir", dir);
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      for (const node of ["n1", "n2", "n3"])
        expect(r.stdout).toMatch(
          new RegExp(`=== ${node}: replayed \\d+ events .*; [1-9]\\d* recorded media hashes reproduced ===`),
        );
      for (const policy of ["strict", "random", "torn"]) expect(r.stdout).toContain(`policy ${policy}`);
      expect(r.stdout.match(/beyond-EOF stores \(\d+\)/g)).toHaveLength(3);
      expect(r.stdout).toMatch(/zeroed +0\/23 +23 B zeroed: extension by ftruncate/);
      // One meaning of "lost" for the same power loss: the line the node reported and the header of
      // its survival report give the same counts (under torn, a line that kept some words is
      // partly lost, not lost).
      for (const node of ["n1", "n2", "n3"]) {
        const injected = new RegExp(
          `${node}: power loss, policy \\w+, seed \\d+: seq \\d+, (\\d+) pending lines decided, (\\d+) lost, (\\d+) partly lost;`,
        ).exec(r.stdout);
        expect(injected, node).not.toBeNull();
        const [, decided, lost, partly] = injected!;
        const report = r.stdout.split(`=== ${node}: replayed`)[1]!.split("\n=== ")[0]!;
        expect(report).toContain(`node ${node}: power loss at seq`);
        expect(report).toContain(
          `  ${decided} cache lines were not durable: ${lost} lost (kept none of their pending stores), ${partly} partly lost (kept some), ${Number(decided) - Number(lost) - Number(partly)} kept all`,
        );
      }
      expect(existsSync(join(dir, "events.sqlite"))).toBe(true);
      expect(existsSync(join(dir, "survival-n3.json"))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
