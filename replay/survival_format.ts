/**
 * The survival report as text: a table for people (default), JSON (the report object, one document)
 * and CSV (one row per store, then one per beyond-EOF store, with a `section` column). Formatting
 * only: every number comes from survival.ts.
 */
import type { BeyondEofOutcome, LineOutcome, StoreOutcome, SurvivalReport, ZeroingRef } from "./survival.js";
import { SURVIVAL_CATEGORIES } from "./survival.js";

export type SurvivalFormat = "table" | "json" | "csv";
export const SURVIVAL_FORMATS: readonly SurvivalFormat[] = ["table", "json", "csv"];

export interface FormatOptions {
  /** Table only: store rows shown at most (0 = all); the summary always counts every store. */
  limit?: number;
  /** Table and CSV: list only stores of file data (inode ≠ 0), not metadata, journal or mkfs. */
  dataOnly?: boolean;
}

export function formatSurvival(report: SurvivalReport, format: SurvivalFormat, options: FormatOptions = {}): string {
  switch (format) {
    case "table":
      return survivalTable(report, options.limit ?? 0, options.dataOnly ?? false);
    case "json":
      return `${JSON.stringify(report, null, 2)}\n`;
    case "csv":
      return survivalCsv(report, options.dataOnly ?? false);
    default:
      return assertNever(format);
  }
}

function assertNever(value: never): never {
  throw new TypeError(`unknown format ${String(value)}`);
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, "0")}`;
}

function opLabel(s: { op: string | null; opSeq: number | null }): string {
  if (s.op === null) return "-";
  return s.opSeq !== null ? `${s.op}@${s.opSeq}` : s.op;
}

function zeroLabel(z: ZeroingRef | null): string {
  if (z === null) return "-";
  const fate = z.survived ? "on media" : z.bytesOnMedia > 0 ? `${z.bytesOnMedia}/${z.bytes} B on media` : "lost";
  return `${z.reason} by ${z.op ?? "?"}${z.opSeq !== null ? `@${z.opSeq}` : ""} (store ${z.seq}, ${fate})`;
}

/** "3 lines: 2 durable, 1 pending v2/3 kept 1" — the per-line story in one cell. */
function linesLabel(lines: readonly LineOutcome[]): string {
  if (lines.length === 1) return lineLabel(lines[0]!);
  const durable = lines.filter((l) => l.state === "durable").length;
  const pending = lines.filter((l) => l.state === "pending");
  const kept = lines.filter((l) => l.survivedBytes > 0).length;
  return `${lines.length} lines (${durable} durable, ${pending.length} pending), ${kept} with bytes on media`;
}

function lineLabel(l: LineOutcome): string {
  const head = `line ${hex(l.addr)} [${l.words}]`;
  if (l.state === "durable") return `${head} durable`;
  const decision = l.wordKept !== undefined ? `words kept ${l.wordKept.join("")}` : `kept ${l.kept ?? "?"}`;
  return `${head} pending v${l.version ?? "?"}/${l.versions ?? "?"}, ${decision}`;
}

function pad(cells: readonly string[], widths: readonly number[], right: ReadonlySet<number>): string {
  return cells
    .map((c, i) => (right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
    .join("  ")
    .trimEnd();
}

function table(header: readonly string[], rows: readonly string[][], right: ReadonlySet<number>): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [pad(header, widths, right), ...rows.map((r) => pad(r, widths, right))];
}

function survivalTable(report: SurvivalReport, limit: number, dataOnly = false): string {
  const p = report.powerLoss;
  const out: string[] = [];
  out.push(
    `node ${report.node}: power loss at seq ${p.seq} (boot ${p.boot} ended), policy ${p.policy}, seed ${p.seed}, ${p.persistence}, reason "${p.reason}"`,
  );
  const kept = p.linesDecided - p.linesLost - p.linesPartlyLost;
  out.push(
    `  ${p.linesDecided} cache lines were not durable: ${p.linesLost} lost (kept none of their pending stores), ${p.linesPartlyLost} partly lost (kept some), ${kept} kept all`,
  );
  out.push(`  media sha256 ${p.mediaSha256} — reproduced by replay (${report.hashesChecked} recorded hashes checked)`);
  out.push(`  stores classified: seq ${report.window.fromSeq}..${report.window.toSeq}`);
  out.push("");
  const summary = SURVIVAL_CATEGORIES.map((c) => {
    const t = report.totals[c];
    return [c, String(t.stores), String(t.bytes), String(t.bytesOnMedia)];
  });
  out.push(...table(["outcome", "stores", "bytes", "on media"], summary, new Set([1, 2, 3])));
  out.push("");
  const listed = dataOnly ? report.stores.filter((s) => s.inode !== 0) : report.stores;
  const shown = limit > 0 ? listed.slice(0, limit) : listed;
  const rows = shown.map((s) => storeRow(s));
  if (dataOnly)
    out.push(
      `file data stores (${listed.length} of ${report.stores.length}; metadata, journal and mkfs stores left out)`,
    );
  out.push(
    ...table(
      ["seq", "op", "source", "pid", "inode", "file-off", "addr", "len", "outcome", "on media", "detail"],
      rows,
      new Set([0, 3, 4, 5, 7]),
    ),
  );
  if (shown.length < listed.length)
    out.push(
      `… ${listed.length - shown.length} more stores (--limit 0 shows all; --format json or csv has every line)`,
    );
  out.push("");
  out.push(`beyond-EOF stores (${report.beyondEof.length})`);
  if (report.beyondEof.length === 0) out.push("  none");
  else
    out.push(
      ...table(
        ["seq", "inode", "file-off", "len", "reached media", "zeroed by a later extension/truncate", "outcome"],
        report.beyondEof.map(beyondRow),
        new Set([0, 1, 2, 3]),
      ),
    );
  return `${out.join("\n")}\n`;
}

function storeRow(s: StoreOutcome): string[] {
  let detail = linesLabel(s.lines);
  if (s.supersededBytes > 0)
    detail = `${s.supersededBytes} B superseded by store ${s.supersededBy.join(", ")}; ${detail}`;
  if (s.zeroedBytes > 0) detail = `${s.zeroedBytes} B zeroed: ${zeroLabel(s.zeroedBy)}; ${detail}`;
  return [
    String(s.seq),
    opLabel(s),
    `${s.source}${s.nonTemporal ? " nt" : ""}`,
    String(s.pid),
    String(s.inode),
    s.inode === 0 ? "-" : String(s.fileOffset),
    hex(s.addr),
    String(s.length),
    s.category,
    `${s.survivedBytes}/${s.length}`,
    detail,
  ];
}

function beyondRow(b: BeyondEofOutcome): string[] {
  const reached = b.reachedMedia
    ? `yes, ${b.survivedBytes}/${b.length} B${b.durableBeforeLoss ? " (durable)" : ""}`
    : "no";
  return [
    String(b.seq),
    String(b.inode),
    String(b.fileOffset),
    String(b.length),
    reached,
    zeroLabel(b.zeroedBy),
    b.category,
  ];
}

// ---------------------------------------------------------------------------------------------
// CSV

const CSV_HEADER = [
  "section",
  "seq",
  "boot",
  "op_seq",
  "op",
  "source",
  "non_temporal",
  "pid",
  "inode",
  "file_offset",
  "addr",
  "length",
  "beyond_eof",
  "category",
  "survived_bytes",
  "lost_bytes",
  "superseded_bytes",
  "zeroed_bytes",
  "superseded_by",
  "zeroed_by_seq",
  "zeroed_by_op",
  "zeroed_reason",
  "zeroing_survived",
  "reached_media",
  "durable_before_loss",
  "lines",
] as const;

function csvCell(value: string | number | boolean | null): string {
  if (value === null) return "";
  const text = String(value);
  return /[",\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** Per line "addr:state[:vK/N:keptM|words…]:wordmap", joined by spaces. */
function linesCell(lines: readonly LineOutcome[]): string {
  return lines
    .map((l) => {
      const decision =
        l.state === "pending"
          ? `:v${l.version}/${l.versions}:${l.wordKept !== undefined ? `w${l.wordKept.join("")}` : `k${l.kept}`}`
          : "";
      return `${hex(l.addr)}:${l.state}${decision}:${l.words}`;
    })
    .join(" ");
}

function survivalCsv(report: SurvivalReport, dataOnly = false): string {
  const lines = [CSV_HEADER.join(",")];
  for (const s of report.stores) {
    if (dataOnly && s.inode === 0) continue;
    const z = s.zeroedBy;
    lines.push(
      [
        "store",
        s.seq,
        s.boot,
        s.opSeq,
        s.op,
        s.source,
        s.nonTemporal,
        s.pid,
        s.inode,
        s.fileOffset,
        s.addr,
        s.length,
        s.beyondEof,
        s.category,
        s.survivedBytes,
        s.lostBytes,
        s.supersededBytes,
        s.zeroedBytes,
        s.supersededBy.join(" "),
        z?.seq ?? null,
        z?.op ?? null,
        z?.reason ?? null,
        z?.survived ?? null,
        s.survivedBytes > 0,
        s.lines.every((l) => l.state === "durable"),
        linesCell(s.lines),
      ]
        .map(csvCell)
        .join(","),
    );
  }
  for (const b of report.beyondEof) {
    const z = b.zeroedBy;
    const row: (string | number | boolean | null)[] = CSV_HEADER.map(() => null);
    const set = (column: (typeof CSV_HEADER)[number], value: string | number | boolean | null): void => {
      row[CSV_HEADER.indexOf(column)] = value;
    };
    set("section", "beyond_eof");
    set("seq", b.seq);
    set("inode", b.inode);
    set("file_offset", b.fileOffset);
    set("addr", b.addr);
    set("length", b.length);
    set("beyond_eof", true);
    set("category", b.category);
    set("survived_bytes", b.survivedBytes);
    set("zeroed_by_seq", z?.seq ?? null);
    set("zeroed_by_op", z?.op ?? null);
    set("zeroed_reason", z?.reason ?? null);
    set("zeroing_survived", z?.survived ?? null);
    set("reached_media", b.reachedMedia);
    set("durable_before_loss", b.durableBeforeLoss);
    lines.push(row.map(csvCell).join(","));
  }
  return `${lines.join("\n")}\n`;
}
