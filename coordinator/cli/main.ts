/**
 * The `daxsim` command line. Every subcommand lives in its own module, loaded only when it runs, so
 * `daxsim --help` and the image tools start without loading gRPC, NATS or SQLite.
 */
import { CONTROL_COMMANDS } from "./control_commands.js";
import { CommandFailure, UsageError } from "./errors.js";
import { HelpRequested, renderHelp } from "./help.js";
import type { CommandHelp } from "./help.js";

/** A command module: `run` parses its arguments with parse(args, HELP) (args.ts) before anything else. */
export interface CommandModule {
  run(args: string[]): Promise<number>;
  /** Every option with its meaning, default and allowed values, and the exit statuses (help.ts). */
  HELP?: CommandHelp;
}

export interface Command {
  name: string;
  summary: string;
  usage: string;
  load: () => Promise<CommandModule>;
}

export const COMMANDS: readonly Command[] = [
  {
    name: "experiment",
    summary: "crash-consistency experiment: record a workload, check every crash state the model allows",
    usage:
      "daxsim experiment WORKLOAD.json [--crash-points fence|store|op] [--strategy prefix|subsets:K|random:N|full:CAP] [--persistence adr|eadr] [--torn] [--strategy-seed S] [--workload-seed S] [--workers N] [--nats URL] [--db FILE] [--json] [--out DIR] | --reproduce ID --out IMG",
    load: () => import("./cmd_experiment.js"),
  },
  {
    name: "worker",
    summary: "check crash states for experiments on the NATS cluster (JetStream work queue)",
    usage: "daxsim worker --nats URL [--threads N] [--ack-wait-ms T]",
    load: () => import("./cmd_worker.js"),
  },
  {
    name: "demo",
    summary:
      "the end-to-end demo (npm start): nats-server, coordinator, 3 nodes, power losses, replay, survival reports",
    usage: "daxsim demo [--seed S] [--dir RUNDIR] [--one-dimm]",
    load: () => import("./cmd_demo.js"),
  },
  {
    name: "bench",
    summary:
      "run benchmarks (store, dd, crash, pipeline, replay, or all) and print JSON lines with ratios against a same-run baseline",
    usage: "daxsim bench <store|dd|crash|pipeline|replay|all> [--json] [--seconds N]",
    load: () => import("./cmd_bench.js"),
  },
  {
    name: "ingest",
    summary: "consume node events from NATS JetStream into a SQLite event log until SIGTERM/SIGINT",
    usage: "daxsim ingest --nats URL --db FILE [--durable NAME]",
    load: () => import("./cmd_ingest.js"),
  },
  ...CONTROL_COMMANDS,
  {
    name: "replay",
    summary:
      "rebuild a node's DIMM from the SQLite log at any seq, verifying every recorded media hash; optionally save it as an image",
    usage:
      "daxsim replay --db FILE --node ID [--at-seq S] [--out IMG] [--json] [--dimm-size 64M] [--persistence adr|eadr] [--skip-column-check]",
    load: () => import("./cmd_replay.js"),
  },
  {
    name: "survivors",
    summary:
      "what became of each store at a power loss (survived, partly-lost, partly-zeroed, partly-superseded, lost, superseded, zeroed), per line, beyond-EOF stores apart",
    usage:
      "daxsim survivors --db FILE --node ID [--power-loss SEQ | --latest] [--format table|json|csv] [--limit N] [--data-only] [--stores-max N]",
    load: () => import("./cmd_survivors.js"),
  },
  {
    name: "export",
    summary: "export a node's stores, flushes and fences as a PMDK pmreorder store log",
    usage:
      "daxsim export --db FILE --node ID --format pmreorder [--out FILE] [--media FILE] [--from-seq S] [--to-seq S] [--map-base HEX]",
    load: () => import("./cmd_export.js"),
  },
  {
    name: "mkfs",
    summary: "format a new DIMM image with daxfs (refuses to overwrite a file without --force)",
    usage: "daxsim mkfs IMG --size 64M [--persistence adr|eadr] [--inodes N] [--seed S] [--force]",
    load: () => import("./cmd_mkfs.js"),
  },
  {
    name: "fsck",
    summary:
      "check an image's filesystem after in-memory journal recovery (as mount does), never writing it; exit 0 clean, 4 problems, 8 unusable image",
    usage: "daxsim fsck [--no-recovery] IMG",
    load: () => import("./cmd_fsck.js"),
  },
  {
    name: "ls",
    summary: "list a directory of an image like ls -l (mode, links, size, name); never writes the image",
    usage: "daxsim ls IMG [PATH]",
    load: () => import("./cmd_ls.js"),
  },
  {
    name: "cat",
    summary: "write a file of an image to standard output; never writes the image",
    usage: "daxsim cat IMG PATH",
    load: () => import("./cmd_cat.js"),
  },
  {
    name: "hash",
    summary: "print an image's media hash (the one Mount and PowerLoss events record)",
    usage: "daxsim hash IMG",
    load: () => import("./cmd_hash.js"),
  },
  {
    name: "run",
    summary:
      "run a JSON workload (docs/workload.md) on a fresh machine or an image; exit 1 at the first failed expectation",
    usage: "daxsim run FILE.json [--dimm IMG] [--json] [--seed S]",
    load: () => import("./cmd_run.js"),
  },
  {
    name: "io",
    summary: "xfs_io on a DIMM image (docs/io.md): -c commands, xfs_io's output; mounts, runs, unmounts and saves",
    usage: "daxsim io --dimm IMG [-afrst] [-m mode] [-o mount-options] [--seed S] [-c cmd]... [PATH...]",
    load: () => import("./cmd_io.js"),
  },
];

function helpText(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  const lines = COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return [
    "daxsim — simulated NV-DIMM machines with a DAX filesystem, for crash-consistency experiments",
    "",
    "usage: daxsim <command> [options]     daxsim <command> --help   (every option, its default, the exit statuses)",
    "",
    "commands:",
    ...lines,
    "",
    "exit status (each command's --help has its own list; docs/cli.md has the table):",
    "  0  success            1  the command found a problem or failed     2  usage error, nothing ran",
    "  3  replay diverged    fsck: 0 clean, 4 problems, 8 unusable image, 16 usage (as e2fsck)",
    "",
  ].join("\n");
}

export async function runCli(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(helpText());
    return name === undefined ? 2 : 0;
  }
  if (name === "--version") {
    process.stdout.write("daxsim 0.1.0\n");
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (command === undefined) {
    process.stderr.write(`daxsim: unknown command "${name}"; run daxsim --help for the list\n`);
    return 2;
  }
  let module: CommandModule | undefined;
  try {
    module = await command.load();
    // Help never runs the command, even one whose run() would do something before parsing.
    if ((rest.includes("--help") || rest.includes("-h")) && module.HELP !== undefined)
      throw new HelpRequested(module.HELP);
    return await module.run(rest);
  } catch (error) {
    return reportError(command, error);
  }
}

/** The exit status for an error that ended a command (docs/cli.md lists them). */
export function exitStatusOf(error: unknown): number {
  if (error instanceof HelpRequested) return 0;
  if (error instanceof UsageError) return 2;
  if (error instanceof CommandFailure) return error.exitCode;
  return 1;
}

function reportError(command: Command, error: unknown): number {
  const status = exitStatusOf(error);
  if (error instanceof HelpRequested) {
    process.stdout.write(renderHelp(command, error.help));
  } else if (error instanceof UsageError) {
    process.stderr.write(
      `daxsim ${command.name}: ${error.message}\nusage: ${command.usage}\n(daxsim ${command.name} --help lists every option)\n`,
    );
  } else if (error instanceof CommandFailure) {
    process.stderr.write(`daxsim ${command.name}: ${error.message}\n`);
  } else if (error instanceof Error) {
    process.stderr.write(`daxsim ${command.name}: ${error.name}: ${error.message}\n`);
    if (process.env.DAXSIM_DEBUG) process.stderr.write(`${error.stack ?? ""}\n`);
  } else {
    process.stderr.write(`daxsim ${command.name}: ${String(error)}\n`);
  }
  return status;
}
