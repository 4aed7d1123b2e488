import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sqlite3 from "sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parsePmreorderLog } from "../../replay/index.js";

const root = join(import.meta.dirname, "..", "..");
const bin = join(root, "bin", "daxsim.js");
const fixture = join(root, "replay", "fixtures", "beyond_eof.sqlite");
const tmp = mkdtempSync(join(tmpdir(), "daxsim-replay-cli-"));

function daxsim(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  execFileSync(process.execPath, [join(root, "scripts", "setup.mjs")], { cwd: root });
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("cli: replay, survivors, export", () => {
  it("cli: replay --out writes an image that fsck, ls and cat read; --at-seq and --json work", () => {
    const image = join(tmp, "n1.img");
    const r = daxsim("replay", "--db", fixture, "--node", "n1", "--out", image);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/verified 5 recorded media hashes/);
    expect(daxsim("fsck", image).status).toBe(0);
    expect(daxsim("ls", image).stdout).toMatch(/ f\n/);
    expect(daxsim("cat", image, "/f").stdout.slice(0, 10)).toBe("0123456789");
    const json = JSON.parse(daxsim("replay", "--db", fixture, "--node", "n1", "--at-seq", "50", "--json").stdout);
    expect(json).toMatchObject({ node: "n1", lastSeq: 50, boot: 0, hashesChecked: 1 });
  });

  it("cli: survivors prints the table, CSV and JSON of a power loss; an unknown one exits 1", () => {
    const table = daxsim("survivors", "--db", fixture, "--node", "n1", "--power-loss", "59");
    expect(table.status, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/power loss at seq 59/);
    expect(table.stdout).toMatch(/beyond-EOF stores \(2\)/);
    const csv = daxsim("survivors", "--db", fixture, "--node", "n1", "--latest", "--format", "csv");
    expect(csv.stdout.split("\n")[0]).toMatch(/^section,seq,boot/);
    const json = JSON.parse(daxsim("survivors", "--db", fixture, "--node", "n1", "--format", "json").stdout);
    expect(json.powerLoss.seq).toBe(91);
    const missing = daxsim("survivors", "--db", fixture, "--node", "n1", "--power-loss", "58");
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/PowerLossNotFoundError/);
    expect(daxsim("survivors", "--db", fixture, "--node", "n1", "--format", "xml").status).toBe(2);
  });

  it("cli: export --format pmreorder writes a store log and the media it registers", () => {
    const out = join(tmp, "n1.log");
    const media = join(tmp, "n1.media");
    const r = daxsim(
      "export",
      "--db",
      fixture,
      "--node",
      "n1",
      "--format",
      "pmreorder",
      "--out",
      out,
      "--media",
      media,
    );
    expect(r.status, r.stderr).toBe(0);
    const entries = parsePmreorderLog(readFileSync(out, "utf8"));
    expect(entries[0]).toMatchObject({ op: "REGISTER_FILE", name: media });
    expect(entries.filter((e) => e.op === "FENCE").length).toBeGreaterThan(0);
  });

  it("cli: a tampered log exits 3 when replay diverges, 1 when a row is missing", async () => {
    const file = join(tmp, "tampered.sqlite");
    copyFileSync(fixture, file);
    await new Promise<void>((resolve, reject) => {
      const db = new sqlite3.Database(file, (e) => {
        if (e) return reject(e);
        db.run("UPDATE power_losses SET media_sha256 = ? WHERE seq = 59", ["22".repeat(32)], () =>
          db.run("DELETE FROM events WHERE seq = 70", (err) => db.close(() => (err ? reject(err) : resolve()))),
        );
      });
    });
    const r = daxsim("replay", "--db", file, "--node", "n1", "--at-seq", "58");
    expect(r.status, r.stderr).toBe(0);
    const diverged = daxsim("replay", "--db", fixture, "--node", "n1", "--dimm-size", "32M");
    expect(diverged.status).toBe(3);
    expect(diverged.stderr).toMatch(/ReplayDivergenceError: node n1: replay diverges at seq \d+ \(mount\)/);
    const mismatch = daxsim("replay", "--db", file, "--node", "n1");
    expect(mismatch.status).toBe(1);
    expect(mismatch.stderr).toMatch(/LogRowMismatchError: node n1 seq 59: column power_losses.media_sha256/);
  });
});
