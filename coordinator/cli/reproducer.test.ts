/**
 * A new user's path through a crash experiment: the printed reproducer works pasted in another
 * directory, the summary names the strategy seed and the workload's seed apart, and fsck on the
 * reproduced image of a `mount` violation says it does not mount (it checks after recovery, as a
 * mount would) instead of "clean".
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PointChecker, reproduce, specOf } from "../experiment/engine.js";
import type { ExperimentOptions } from "../experiment/engine.js";
import { parseStrategy } from "../experiment/strategies.js";
import { readImage, writeImage } from "../../node/image/index.js";
import { writeCrashImage } from "./cmd_experiment.js";
import { FSCK_EXIT, fsckImage } from "./cmd_fsck.js";
import { daxsimBin, daxsimCommand, shellQuote } from "./reproducer.js";

const root = join(import.meta.dirname, "..", "..");
const bin = join(root, "bin", "daxsim.js");
const JOURNAL_OPS = join(root, "examples/crash/journal_ops.json");

function daxsim(cwd: string, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd, encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function jsonLines(text: string): Array<Record<string, unknown>> {
  return text
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

let dir: string;
beforeAll(() => {
  execFileSync(process.execPath, [join(root, "scripts", "setup.mjs")], { cwd: root });
  dir = mkdtempSync(join(tmpdir(), "daxsim-reproducer-"));
  const doc = JSON.parse(readFileSync(JOURNAL_OPS, "utf8")) as Record<string, unknown>;
  writeFileSync(join(dir, "buggy.json"), JSON.stringify({ ...doc, mount: "bug=no-journal-fence" }));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("reproducer commands work pasted anywhere", () => {
  it("reproducer: the CLI is named by its absolute bin/daxsim.js unless $PATH's daxsim is this installation", () => {
    expect(daxsimBin()).toBe(bin);
    expect(daxsimCommand("/nonexistent")).toBe(bin);
    const path = join(dir, "path-bin");
    mkdirSync(path, { recursive: true });
    execFileSync("ln", ["-sf", bin, join(path, "daxsim")]);
    expect(daxsimCommand(`${path}:/usr/bin`)).toBe("daxsim");
    // Another daxsim first on PATH is not ours: keep the absolute path.
    const other = join(dir, "other-bin");
    mkdirSync(other, { recursive: true });
    writeFileSync(join(other, "daxsim"), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
    expect(daxsimCommand(`${other}:${path}`)).toBe(bin);
    expect(shellQuote("it's here")).toBe(`'it'\\''s here'`);
  });

  it("reproducer: a mount violation's reproducer, run from another directory, rebuilds the image; fsck says it does not mount", () => {
    // The experiment runs with a relative workload path, from the workload's folder.
    const r = daxsim(dir, "experiment", "buggy.json", "--json", "--workers", "0");
    expect(r.status).toBe(1);
    const lines = jsonLines(r.stdout);
    const violation = lines.find((l) => l.type === "violation" && l.oracle === "mount");
    expect(violation, "no-journal-fence gives mount violations").toBeDefined();
    const command = String(violation!.reproduce);
    expect(command.startsWith(`${daxsimCommand()} experiment ${join(dir, "buggy.json")} `)).toBe(true);
    expect(command).not.toContain("npx");

    const elsewhere = join(dir, "elsewhere");
    mkdirSync(elsewhere);
    const pasted = spawnSync("/bin/sh", ["-c", command], {
      cwd: elsewhere,
      encoding: "utf8",
      env: { ...process.env, PATH: `${join(process.execPath, "..")}:/usr/bin:/bin` },
    });
    expect(pasted.stderr).toBe("");
    expect(pasted.status).toBe(0);
    const image = join(elsewhere, "crash.img");
    expect(existsSync(image)).toBe(true);
    expect(pasted.stdout).toContain(`inspect it with: ${daxsimCommand()} fsck ${image}`);

    const fsck = daxsim(elsewhere, "fsck", image);
    expect(fsck.status).toBe(FSCK_EXIT.problems);
    expect(fsck.stdout).toMatch(/mount-fails: recovery \(as mount does\) cannot mount the image: EIO: /);
    expect(fsck.stdout).toMatch(/1 problem\(s\) found\n$/);
    // The raw media, checked without recovery, looks clean: what fsck used to report.
    const raw = daxsim(elsewhere, "fsck", "--no-recovery", image);
    expect(raw.status).toBe(FSCK_EXIT.clean);
    // ls cannot mount it either, and says so in words (not an internal error class).
    const ls = daxsim(elsewhere, "ls", image);
    expect(ls.status).toBe(1);
    expect(ls.stderr).toContain(`${image} does not mount: EIO: `);
  });
});

describe("the strategy seed and the workload's seed are named apart", () => {
  it("seeds: the summary shows the strategy seed and the workload file's seed under their own names", () => {
    const r = daxsim(root, "experiment", JOURNAL_OPS, "--json", "--workers", "0", "--strategy-seed", "5");
    expect(r.status).toBe(0);
    const summary = jsonLines(r.stdout).at(-1)!;
    expect(summary.type).toBe("summary");
    expect(summary.strategySeed).toBe("5");
    expect(summary.workloadSeed).toBe("3"); // the file says "seed": 3
    expect(summary.seed).toBeUndefined();
  });

  it("seeds: --workload-seed overrides the file's seed, and the reproducer carries it", () => {
    const r = daxsim(dir, "experiment", "buggy.json", "--json", "--workers", "0", "--workload-seed", "7");
    expect(r.status).toBe(1);
    const lines = jsonLines(r.stdout);
    expect(lines.at(-1)!.workloadSeed).toBe("7");
    const violation = lines.find((l) => l.type === "violation")!;
    expect(String(violation.reproduce)).toContain("--strategy-seed 1 --workload-seed 7");
  });
});

describe("fsck checks what a mount would see", () => {
  it("fsck: a crash image whose journal holds a committed transaction is replayed in memory, then checked clean; the file is untouched", () => {
    const doc = JSON.parse(readFileSync(JOURNAL_OPS, "utf8")) as unknown;
    const options: ExperimentOptions = {
      crashPoints: "fence",
      strategy: parseStrategy("prefix"),
      torn: false,
      seed: 1n,
    };
    const points = new PointChecker(specOf(doc, options)).points;
    let found: string | undefined;
    for (const point of points) {
      // State 0 of the prefix strategy: every pending line lost (strict).
      const path = join(dir, `point-${point}.img`);
      writeCrashImage(path, reproduce(doc, options, `${point}:0`), writeImage);
      const result = fsckImage(path, readImage(path), { recovery: true });
      expect(result.exitCode, result.lines.join("\n")).toBe(FSCK_EXIT.clean);
      if (result.recoveredTxns > 0) {
        found = path;
        break;
      }
    }
    expect(found, "some fence of journal_ops leaves a committed, unapplied transaction").toBeDefined();
    const before = readFileSync(found!);
    const r = daxsim(dir, "fsck", found!);
    expect(r.status).toBe(FSCK_EXIT.clean);
    expect(r.stdout).toContain(
      `${found}: recovery (in memory, as mount does; ${found} is not written): replayed 1 committed journal transaction(s)`,
    );
    expect(r.stdout).toContain(`${found}: before recovery: note: the journal holds a transaction`);
    expect(r.stdout).toMatch(/: clean: \d+ inodes, \d+ data blocks in use\n$/);
    expect(readFileSync(found!).equals(before)).toBe(true);
  });
});
