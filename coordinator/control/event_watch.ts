/**
 * WatchEvents: a node's (or every node's) events from the SQLite log, filtered by kind and starting
 * at a seq, then — when following — the events ingest commits afterwards, polled from SQLite.
 *
 * Invariants: per node, events are sent in seq order, each once, and only up to the node's
 * last_contiguous_seq (never across a gap, so nothing is skipped and later filled in out of
 * order); the stream waits for the client to read (drain) before it queries more; every query is
 * bounded (PAGE_ROWS) and the poll interval is the only timer.
 */
import type { ServerWritableStream } from "@grpc/grpc-js";
import type { WatchEventsRequest } from "../../proto/gen/daxsim/v1/coordinator.js";
import { Event as WireEvent } from "../../proto/gen/daxsim/v1/events.js";
import { EVENT_KINDS } from "../../proto/events.js";
import type { EventKind } from "../../proto/events.js";
import { InvalidArgumentError } from "../../node/control/rpc_errors.js";
import { checkCount } from "../../node/control/node_service.js";
import type { EventDb, SqlParam } from "../ingest/event_db.js";
import { checkNodeField } from "./node_registry.js";

const PAGE_ROWS = 512;
const POLL_MS = 100;
/** Kinds one request may list. */
const KINDS_MAX = EVENT_KINDS.length;

export interface WatchSpec {
  node: string;
  kinds: EventKind[];
  fromSeq: number;
  follow: boolean;
  maxEvents: number;
}

/** Checks a WatchEvents request; unknown node is the caller's check (it knows the registry). */
export function checkWatchRequest(r: WatchEventsRequest): WatchSpec {
  if (r.node !== "") checkNodeField(r.node, "node");
  if (r.kinds.length > KINDS_MAX)
    throw new InvalidArgumentError("kinds", `${r.kinds.length} kinds listed; there are only ${KINDS_MAX}`);
  const kinds: EventKind[] = [];
  for (const [i, kind] of r.kinds.entries()) {
    const normal = kind === "power_loss" || kind === "powerloss" ? "powerLoss" : kind;
    if (!(EVENT_KINDS as readonly string[]).includes(normal))
      throw new InvalidArgumentError(
        `kinds[${i}]`,
        `unknown event kind "${kind.slice(0, 40)}" (kinds: ${EVENT_KINDS.join(", ")})`,
      );
    kinds.push(normal as EventKind);
  }
  return {
    node: r.node,
    kinds,
    fromSeq: r.fromSeq === 0n ? 1 : checkCount(r.fromSeq, "from_seq", 1),
    follow: r.follow,
    maxEvents: r.maxEvents === 0n ? Number.MAX_SAFE_INTEGER : checkCount(r.maxEvents, "max_events", 1),
  };
}

/** Streams events until done (not following), max_events, or the client cancels. */
export async function streamEvents(
  db: EventDb,
  spec: WatchSpec,
  call: ServerWritableStream<WatchEventsRequest, WireEvent>,
): Promise<void> {
  const cursors = new Map<string, number>();
  let sent = 0;
  const kindSql = spec.kinds.length === 0 ? "" : ` AND kind IN (${spec.kinds.map(() => "?").join(", ")})`;
  while (!call.cancelled) {
    const progress = await db.all<{ node: string; lcs: number }>(
      spec.node === ""
        ? "SELECT node, last_contiguous_seq AS lcs FROM ingest_progress ORDER BY node"
        : "SELECT node, last_contiguous_seq AS lcs FROM ingest_progress WHERE node = ?",
      spec.node === "" ? [] : [spec.node],
    );
    let moved = false;
    for (const { node, lcs } of progress) {
      const after = cursors.get(node) ?? spec.fromSeq - 1;
      if (after >= lcs) continue;
      const params: SqlParam[] = [node, after, lcs, ...spec.kinds, PAGE_ROWS];
      const rows = await db.all<{ seq: number; encoded: Buffer }>(
        `SELECT seq, encoded FROM events WHERE node = ? AND seq > ? AND seq <= ?${kindSql} ORDER BY seq LIMIT ?`,
        params,
      );
      for (const row of rows) {
        if (call.cancelled || sent >= spec.maxEvents) return;
        if (!call.write(WireEvent.decode(row.encoded)))
          await new Promise<void>((resolve) => call.once("drain", () => resolve()));
        sent++;
      }
      // A short page means every matching event up to lcs was sent.
      cursors.set(node, rows.length === PAGE_ROWS ? rows[rows.length - 1]!.seq : lcs);
      moved = true;
    }
    if (sent >= spec.maxEvents) return;
    if (!moved) {
      if (!spec.follow) return;
      await new Promise<void>((resolve) => setTimeout(resolve, POLL_MS));
    }
  }
}
