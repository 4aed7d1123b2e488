/**
 * Declarative help for the `daxsim` subcommands: each command module exports a `HELP` spec next to
 * its parser — every option with its meaning, default and allowed values, the positional arguments
 * and the exit statuses — parses its arguments with `parse(args, HELP)` (args.ts), and this module
 * renders the spec as `daxsim CMD --help`, in the layout of xfs_io(8) and pmreorder's man pages.
 *
 * Invariant: the options a command accepts are exactly the ones its HELP lists (parse builds the
 * parser from the spec), so an option cannot exist without help text; cli_help.test.ts checks that
 * every listed command exports a complete spec and parses through it.
 */

/** A flag: present or not. */
export interface FlagSpec {
  type: "boolean";
  /** One letter, for `-x` (xfs_io-style commands). */
  short?: string;
  /** What it does, as a sentence. */
  help: string;
}

/** An option that takes a value. */
export interface ValueSpec {
  type: "string";
  short?: string;
  /** The value's name in the synopsis: `--seed S`, `--nats URL`. */
  value: string;
  help: string;
  /**
   * What happens when the option is not given: a value ("1", "fence") or a sentence ("required",
   * "the manifest in runs/current", "none: a fresh machine").
   */
  default: string;
  /** The allowed values when they are a short list; otherwise say the range in `help`. */
  values?: readonly string[];
  /** The option may be repeated; every value counts. */
  multiple?: boolean;
}

export type OptionSpec = FlagSpec | ValueSpec;

/** A positional argument. */
export interface ArgumentSpec {
  name: string;
  help: string;
}

/** One exit status of a command and when it happens. */
export interface ExitCodeSpec {
  code: number;
  meaning: string;
}

export interface CommandHelp {
  /** Paragraphs shown under the summary: what the command does, beyond the one-line summary. */
  description?: readonly string[];
  arguments?: readonly ArgumentSpec[];
  /** Keyed by long option name, without the leading dashes. */
  options: Readonly<Record<string, OptionSpec>>;
  exitCodes: readonly ExitCodeSpec[];
}

/** What `daxsim --help` knows about a command without loading it. */
export interface CommandSummary {
  name: string;
  summary: string;
  usage: string;
}

/**
 * Thrown by parse() when the arguments ask for help: main.ts prints the spec and exits 0. Control
 * flow, not a failure: nothing of the command has run.
 */
export class HelpRequested extends Error {
  override readonly name = "HelpRequested";
  constructor(readonly help: CommandHelp) {
    super("help requested");
  }
}

/** The exit statuses most commands share (docs/cli.md has the table). */
export const EXIT_OK: ExitCodeSpec = { code: 0, meaning: "success" };
export const EXIT_USAGE: ExitCodeSpec = {
  code: 2,
  meaning:
    "usage error: an unknown option, a missing or malformed argument, an unreadable or invalid input file; nothing ran",
};
export const EXIT_FAILED: ExitCodeSpec = {
  code: 1,
  meaning: "the command ran and failed: the coordinator or a node could not be reached or refused the call",
};

/** The option every command has; parse() handles it, so specs do not list it. */
export const HELP_OPTION: FlagSpec = { type: "boolean", short: "h", help: "print this help and exit 0" };

const WIDTH = 100;
const LEFT_MAX = 30;

/** Words of `text` wrapped into lines of at most `width` columns (a longer word gets a line of its own). */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter((w) => w !== "")) {
    if (line === "") line = word;
    else if (line.length + 1 + word.length <= width) line += ` ${word}`;
    else {
      lines.push(line);
      line = word;
    }
  }
  if (line !== "") lines.push(line);
  return lines.length === 0 ? [""] : lines;
}

/** `-c, --command CMD` */
export function optionLabel(name: string, spec: OptionSpec): string {
  const short = spec.short !== undefined ? `-${spec.short}, ` : "";
  return spec.type === "string" ? `${short}--${name} ${spec.value}` : `${short}--${name}`;
}

/** The help text of an option: its meaning, then the allowed values and the default. */
export function optionText(spec: OptionSpec): string {
  if (spec.type === "boolean") return `${spec.help} (default: off)`;
  const parts = [spec.help];
  if (spec.values !== undefined) parts.push(`One of: ${spec.values.join(", ")}.`);
  if (spec.multiple === true) parts.push("May be repeated.");
  parts.push(`Default: ${spec.default}.`);
  return parts.join(" ");
}

function twoColumns(rows: ReadonlyArray<readonly [string, string]>): string[] {
  const left = Math.min(LEFT_MAX, Math.max(...rows.map(([l]) => l.length)));
  const out: string[] = [];
  for (const [label, text] of rows) {
    const body = wrap(text, WIDTH - left - 4);
    if (label.length > left) {
      out.push(`  ${label}`);
      for (const b of body) out.push(`  ${" ".repeat(left)}  ${b}`);
      continue;
    }
    out.push(`  ${label.padEnd(left)}  ${body[0]}`);
    for (const b of body.slice(1)) out.push(`  ${" ".repeat(left)}  ${b}`);
  }
  return out;
}

/** The whole `daxsim CMD --help` page. */
export function renderHelp(command: CommandSummary, help: CommandHelp): string {
  const out: string[] = [`usage: ${command.usage}`, "", ...wrap(command.summary, WIDTH)];
  for (const paragraph of help.description ?? []) out.push("", ...wrap(paragraph, WIDTH));
  if (help.arguments !== undefined && help.arguments.length > 0) {
    out.push("", "arguments:");
    out.push(...twoColumns(help.arguments.map((a) => [a.name, a.help] as const)));
  }
  out.push("", "options:");
  const rows = Object.entries(help.options).map(([name, spec]) => [optionLabel(name, spec), optionText(spec)] as const);
  rows.push([optionLabel("help", HELP_OPTION), HELP_OPTION.help]);
  out.push(...twoColumns(rows));
  out.push("", "exit status:");
  out.push(...twoColumns(help.exitCodes.map((e) => [String(e.code), e.meaning] as const)));
  return `${out.join("\n")}\n`;
}

/** What is missing from a spec (empty when complete): the check behind cli_help.test.ts. */
export function helpProblems(help: CommandHelp): string[] {
  const problems: string[] = [];
  for (const [name, spec] of Object.entries(help.options)) {
    if (name === "help") problems.push("--help is built in; do not list it");
    if (typeof spec.help !== "string" || spec.help.trim().length < 8)
      problems.push(`--${name} has no help text (say what it does)`);
    if (spec.type === "string") {
      if (typeof spec.value !== "string" || spec.value.trim() === "")
        problems.push(`--${name} takes a value but names none (value: "N", "URL" …)`);
      if (typeof spec.default !== "string" || spec.default.trim() === "")
        problems.push(`--${name} does not say its default (a value, "required", or what happens without it)`);
      if (spec.values !== undefined && spec.values.length === 0) problems.push(`--${name} lists no allowed values`);
    }
  }
  for (const a of help.arguments ?? [])
    if (a.help.trim().length < 8) problems.push(`argument ${a.name} has no help text`);
  const codes = help.exitCodes.map((e) => e.code);
  if (!codes.includes(0)) problems.push("the exit statuses do not include 0");
  if (new Set(codes).size !== codes.length) problems.push("an exit status is listed twice");
  for (const e of help.exitCodes)
    if (e.meaning.trim().length < 4) problems.push(`exit status ${e.code} has no meaning`);
  return problems;
}
