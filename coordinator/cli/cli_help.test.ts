/**
 * Every subcommand documents itself: each module listed in main.ts exports a HELP spec (help.ts)
 * with help text, a default and the allowed values for every option, and its exit statuses; its
 * run() parses through that spec (so no option can exist without help); `--help` prints it all.
 *
 * A new command fails here until it does the same: export `HELP: CommandHelp` next to its parser
 * and call `parse(args, HELP)` (args.ts) first thing in run().
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "./args.js";
import { CommandFailure, UsageError } from "./errors.js";
import { HelpRequested, helpProblems, optionLabel, renderHelp } from "./help.js";
import type { CommandHelp } from "./help.js";
import { COMMANDS, exitStatusOf } from "./main.js";

const root = join(import.meta.dirname, "..", "..");
const bin = join(root, "bin", "daxsim.js");

async function helpOf(name: string): Promise<CommandHelp> {
  const command = COMMANDS.find((c) => c.name === name)!;
  const module = await command.load();
  expect(
    module.HELP,
    `daxsim ${name}: export HELP: CommandHelp from its module (coordinator/cli/help.ts)`,
  ).toBeDefined();
  return module.HELP!;
}

describe("cli help: every command documents every option", () => {
  for (const command of COMMANDS) {
    it(`cli help: ${command.name} has a complete HELP and parses through it`, async () => {
      const help = await helpOf(command.name);
      expect(helpProblems(help), `daxsim ${command.name}`).toEqual([]);
      const module = await command.load();
      // run() must reach parse(args, HELP) before doing anything: --help then throws HelpRequested
      // carrying exactly that spec, so the options it accepts are the documented ones.
      const thrown = await module.run(["--help"]).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(thrown, `daxsim ${command.name}: run() must call parse(args, HELP) first`).toBeInstanceOf(HelpRequested);
      expect((thrown as HelpRequested).help).toBe(help);
      const page = renderHelp(command, help);
      for (const [name, spec] of Object.entries(help.options)) expect(page).toContain(optionLabel(name, spec));
      for (const e of help.exitCodes) expect(page).toMatch(new RegExp(`\\n  ${e.code} +\\S`));
    });
  }

  it("cli help: the check finds an option without help text, a value option without a default, and a missing exit 0", () => {
    const bad: CommandHelp = {
      options: {
        quiet: { type: "boolean", help: "" },
        size: { type: "string", value: "N", help: "how big it is", default: "" },
      },
      exitCodes: [{ code: 1, meaning: "failed" }],
    };
    expect(helpProblems(bad)).toEqual([
      "--quiet has no help text (say what it does)",
      '--size does not say its default (a value, "required", or what happens without it)',
      "the exit statuses do not include 0",
    ]);
  });

  it("cli help: a command still passing raw parseArgs options answers --help with a spec the check rejects", () => {
    let thrown: unknown;
    try {
      parse(["--help"], { verbose: { type: "boolean" }, out: { type: "string" } }, false);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(HelpRequested);
    const problems = helpProblems((thrown as HelpRequested).help);
    expect(problems).toContain("--verbose has no help text (say what it does)");
    expect(problems).toContain("--out has no help text (say what it does)");
    expect(problems).toContain("the exit statuses do not include 0");
  });

  it("cli help: daxsim experiment --help lists each option with meaning, allowed values, default, and the exit statuses", () => {
    const r = spawnSync(process.execPath, [bin, "experiment", "--help"], { cwd: root, encoding: "utf8" });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/--crash-points MODE +where to crash: .* One of: fence,\s+store, op\. Default: fence\./s);
    expect(r.stdout).toMatch(/--strategy-seed S +seeds the strategy's choice of crash states/);
    expect(r.stdout).toMatch(/--workload-seed S +overrides the workload file's "seed"/);
    expect(r.stdout).toMatch(/exit status:\n  0 +success\n  1 +violations found/);
    // -h works too, anywhere on the line, and never runs the command.
    const short = spawnSync(process.execPath, [bin, "fsck", "no-such.img", "-h"], { cwd: root, encoding: "utf8" });
    expect(short.status).toBe(0);
    expect(short.stdout).toContain("--no-recovery");
  });
});

describe("cli exit statuses (docs/cli.md)", () => {
  it("exit status: help 0, usage 2, a command's own failure its code, anything else 1", () => {
    expect(exitStatusOf(new HelpRequested({ options: {}, exitCodes: [] }))).toBe(0);
    expect(exitStatusOf(new UsageError("bad"))).toBe(2);
    expect(exitStatusOf(new CommandFailure("violations"))).toBe(1);
    expect(exitStatusOf(new CommandFailure("diverged", 3))).toBe(3);
    expect(exitStatusOf(new CommandFailure("fsck usage", 16))).toBe(16);
    expect(exitStatusOf(new TypeError("a bug"))).toBe(1);
  });

  for (const command of COMMANDS) {
    it(`exit status: ${command.name} answers an unknown option with the usage status its help lists`, async () => {
      const help = await helpOf(command.name);
      const r = spawnSync(process.execPath, [bin, command.name, "--no-such-option"], { cwd: root, encoding: "utf8" });
      const usage = help.exitCodes.find((e) => /usage/i.test(e.meaning));
      expect(usage, `daxsim ${command.name}: its exit statuses name the usage error`).toBeDefined();
      expect(r.status, r.stderr).toBe(usage!.code);
      expect(r.stderr).toMatch(/no-such-option/);
    });
  }

  it("exit status: demo --seed bad is a usage error (2) like every other bad value", () => {
    const r = spawnSync(process.execPath, [bin, "demo", "--seed", "bad"], { cwd: root, encoding: "utf8" });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--seed: seed "bad" is not a decimal or 0x-hex integer/);
  });

  it("exit status: experiment --seed is refused (2) and names the two seeds apart", () => {
    const r = spawnSync(process.execPath, [bin, "experiment", "examples/crash/journal_ops.json", "--seed", "3"], {
      cwd: root,
      encoding: "utf8",
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("--strategy-seed S seeds the choice of crash states");
    expect(r.stderr).toContain('--workload-seed S overrides the workload\'s "seed"');
  });
});
