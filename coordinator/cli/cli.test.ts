import { execFileSync, spawnSync } from "node:child_process";
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
    expect(badSeed.status).toBe(1);
    expect(badSeed.stderr).toMatch(/seed "minus-one"/);
  });

  it("cli: the demo is reproducible from its seed and shows every policy", () => {
    const a = daxsim("demo", "--seed", "9");
    const b = daxsim("demo", "--seed", "9");
    expect(a.status).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    for (const policy of ["strict", "eadr-like", "random", "torn"]) expect(a.stdout).toContain(`policy ${policy}`);
    expect(a.stdout).toMatch(/lost/);
  });
});
