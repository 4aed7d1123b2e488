/**
 * What the log commands (replay, survivors, export) share: their common options (--db, --node,
 * --dimm-size, --persistence), opening the SQLite log read-only, and turning replay's typed errors
 * into exit statuses: 3 when replay diverges from what the node recorded, 1 when the log itself is
 * unusable (gap, duplicate, edited or cut rows, unknown node, unreadable file).
 */
import { writeSync } from "node:fs";
import { parseSize } from "../../node/dimm/geometry.js";
import { ReplayDivergenceError, ReplayError, SqliteEventLog } from "../../replay/index.js";
import type { DimmGeometry } from "../../replay/index.js";
import { persistenceOption, str } from "./args.js";
import { CommandFailure, UsageError } from "./errors.js";
import { EXIT_OK, EXIT_USAGE } from "./help.js";
import type { ExitCodeSpec, OptionSpec } from "./help.js";

export const LOG_OPTIONS = {
  db: {
    type: "string",
    value: "FILE",
    help: "the coordinator's SQLite event log (RUNDIR/events.sqlite of `daxsim up`); opened read-only.",
    default: "required",
  },
  node: { type: "string", value: "ID", help: "the node whose log to read (n1, n2 …).", default: "required" },
  "dimm-size": {
    type: "string",
    value: "SIZE",
    help: "the node's DIMM size (64M, 1G …), for a log that does not record it.",
    default: "as recorded with the log, else inferred from it",
  },
  persistence: {
    type: "string",
    value: "DOMAIN",
    help: "the node's persistence domain, for a log that does not record it.",
    values: ["adr", "eadr"],
    default: "as recorded with the log, else adr",
  },
  "skip-column-check": {
    type: "boolean",
    help: "do not compare each row's plain columns with its encoded event (about half of replay's time on big logs); every other check stays.",
  },
} as const satisfies Record<string, OptionSpec>;

export const EXIT_LOG_UNUSABLE = 1;
export const EXIT_DIVERGENCE = 3;

/** The exit statuses of the log commands (replay, survivors, export). */
export const LOG_EXIT_CODES: readonly ExitCodeSpec[] = [
  EXIT_OK,
  {
    code: EXIT_LOG_UNUSABLE,
    meaning:
      "the log cannot be used: a gap, a duplicate, edited or cut rows, an unknown node or power loss, an unreadable file",
  },
  EXIT_USAGE,
  {
    code: EXIT_DIVERGENCE,
    meaning: "replay diverged: the media differs from a hash the node recorded (the message names the first bad event)",
  },
];

export function logFileAndNode(values: Record<string, unknown>): { db: string; node: string } {
  const db = str(values, "db");
  const node = str(values, "node");
  if (db === undefined) throw new UsageError("--db FILE is required (the coordinator's events.sqlite)");
  if (node === undefined) throw new UsageError("--node ID is required");
  return { db, node };
}

/** --dimm-size / --persistence, for logs that do not record them. */
export function dimmOverrides(values: Record<string, unknown>): Partial<DimmGeometry> {
  const out: Partial<DimmGeometry> = {};
  const size = str(values, "dimm-size");
  if (size !== undefined) {
    try {
      out.sizeBytes = parseSize(size);
    } catch (error) {
      throw new UsageError(`--dimm-size ${size}: ${(error as Error).message}`);
    }
  }
  const persistence = persistenceOption(values);
  if (persistence !== undefined) out.persistence = persistence;
  return out;
}

export function seqOption(values: Record<string, unknown>, name: string): number | undefined {
  const text = str(values, name);
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0)
    throw new UsageError(`--${name} ${text}: expected a seq (an integer ≥ 0)`);
  return value;
}

/**
 * Opens the log, runs `body`, closes the log; replay errors become CommandFailures.
 * --skip-column-check turns off the comparison of plain columns with encoded events (about half of
 * replay's time on big logs); every other check stays.
 */
export async function withLog<T>(
  db: string,
  node: string,
  values: Record<string, unknown>,
  body: (log: SqliteEventLog) => Promise<T>,
): Promise<T> {
  let log: SqliteEventLog | undefined;
  try {
    log = await SqliteEventLog.open(db, node, { columnCheck: values["skip-column-check"] !== true });
    return await body(log);
  } catch (error) {
    if (error instanceof ReplayDivergenceError)
      throw new CommandFailure(`${error.name}: ${error.message}`, EXIT_DIVERGENCE);
    if (error instanceof ReplayError) throw new CommandFailure(`${error.name}: ${error.message}`, EXIT_LOG_UNUSABLE);
    throw error;
  } finally {
    await log?.close().catch(() => undefined);
  }
}

/** Writes text to a file descriptor completely (stdout may be a non-blocking pipe). */
export function writeAll(fd: number, text: string): void {
  const bytes = Buffer.from(text, "utf8");
  let done = 0;
  for (let spins = 0; done < bytes.length;) {
    try {
      done += writeSync(fd, bytes, done, bytes.length - done);
      spins = 0;
    } catch (error) {
      // A full pipe: wait for the reader (bounded: a reader that never reads is an error).
      if ((error as NodeJS.ErrnoException).code !== "EAGAIN" || ++spins > 1_000_000) throw error;
    }
  }
}
