import { jetstream } from "@nats-io/jetstream";
import { connect, headers } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { encodeBatch, encodeEvent } from "../../proto/codec.js";
import type { Event, FaultEvent, MountEvent, OpEvent } from "../../proto/events.js";
import { DIRECT } from "../../proto/events.js";
import { batchMsgId, eventSubject } from "../../proto/subjects.js";
import { startTestNats } from "../nats/test_nats.js";
import type { TestNats } from "../nats/test_nats.js";
import { EventDb } from "./event_db.js";
import { EventIngest, eventsInLog } from "./ingest.js";
import type { IngestLogRecord } from "./ingest.js";
import { produceStores, query, startTestNode } from "./testing.js";
import type { TestNode } from "./testing.js";

interface Pipeline {
  nats: TestNats;
  file: string;
  db: EventDb;
  nc: NatsConnection;
  ingest: EventIngest;
  logs: IngestLogRecord[];
  nodes: TestNode[];
}

let running: Pipeline | undefined;

async function startPipeline(): Promise<Pipeline> {
  const nats = await startTestNats();
  const file = join(nats.dir, "events.sqlite");
  const db = await EventDb.open(file);
  const nc = await connect({ servers: nats.url, reconnect: true, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  const logs: IngestLogRecord[] = [];
  const ingest = await EventIngest.start({ nc, db, log: (r) => logs.push(r) });
  running = { nats, file, db, nc, ingest, logs, nodes: [] };
  return running;
}

afterEach(async () => {
  const p = running;
  running = undefined;
  if (p === undefined) return;
  for (const n of p.nodes) await n.outbox.abandon();
  await p.ingest.stop();
  await p.nc.close();
  await p.db.close();
  await p.nats.teardown();
});

async function node(p: Pipeline, id: string, options: Parameters<typeof startTestNode>[2] = {}): Promise<TestNode> {
  const n = await startTestNode(p.nats.url, id, options);
  p.nodes.push(n);
  return n;
}

function op(n: TestNode, name: string, startSeq: number, errno = ""): OpEvent {
  return n.log.append({
    kind: "op",
    seq: 0,
    boot: 0,
    time: 0,
    startSeq,
    pid: 7,
    name,
    argsJson: `{"fd":3}`,
    result: errno === "" ? 0 : -1,
    errno,
    signal: "",
    inode: 12,
    sizeAfter: 4096,
  });
}

function fault(n: TestNode, unmapped: FaultEvent["unmapped"]): FaultEvent {
  return n.log.append({
    kind: "fault",
    seq: 0,
    boot: 0,
    time: 0,
    pid: 7,
    vaddr: 0x7000_0000,
    inode: 12,
    page: 3,
    write: true,
    outcome: "allocated",
    pfn: 42,
    sync: false,
    unmapped,
    opId: 0,
  });
}

function mount(n: TestNode): MountEvent {
  return n.log.append({
    kind: "mount",
    seq: 0,
    boot: 0,
    time: 0,
    options: "dax,zero-on-extend=block",
    recoveredTxns: 2,
    fsckClean: true,
    fsckProblems: 0,
    mediaSha256: new Uint8Array(32).fill(0xab),
    formatted: false,
  });
}

/** Every event of `n` is in SQLite once, in seq order, byte-identical to encodeEvent. */
async function expectLogged(file: string, n: TestNode): Promise<void> {
  const rows = await query<{ seq: number; kind: string; encoded: Buffer }>(
    file,
    "SELECT seq, kind, encoded FROM events WHERE node = ? ORDER BY seq",
    [n.node],
  );
  const first = n.produced[0]!.seq;
  expect(rows.length).toBe(n.produced.length);
  rows.forEach((row, i) => {
    const ev: Event = n.produced[i]!;
    expect(row.seq).toBe(first + i);
    expect(row.kind).toBe(ev.kind);
    expect(Buffer.from(encodeEvent(n.node, ev)).equals(row.encoded)).toBe(true);
  });
}

describe("ingest", () => {
  it("ingest: events from two nodes arrive complete and in order, with their side tables", async () => {
    const p = await startPipeline();
    const n1 = await node(p, "n1");
    const n2 = await node(p, "n2");
    mount(n1);
    for (let round = 0; round < 4; round++) {
      await produceStores(n1, 700, round);
      await produceStores(n2, 500, round);
      const start = n1.log.nextSeq;
      n1.dimm.store(4096 + round * 8, new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]), {
        ...DIRECT,
        source: "mmap",
        pid: 7,
        vaddr: 0x7000_1000,
        inode: 12,
        fileOffset: 5000,
        beyondEof: true,
      });
      n1.dimm.flush(4096, 64, "clwb");
      n1.dimm.fence();
      op(n1, "fsync", start);
      fault(n2, [{ pid: 8, vaddr: 0x7100_3000, zeroPage: true }]);
    }
    n2.dimm.powerLoss("random", 7n);
    op(n2, "write", n2.log.nextSeq, "ENOSPC");
    await Promise.all([n1.outbox.flush(), n2.outbox.flush()]);
    await p.ingest.waitForSeq("n1", n1.log.lastSeq);
    await p.ingest.waitForSeq("n2", n2.log.lastSeq);

    await expectLogged(p.file, n1);
    await expectLogged(p.file, n2);
    const status = p.ingest.status();
    expect(status.nodes).toEqual({
      n1: { lastContiguousSeq: n1.log.lastSeq, highestSeq: n1.log.lastSeq, gaps: [], eventsInLog: n1.log.lastSeq },
      n2: { lastContiguousSeq: n2.log.lastSeq, highestSeq: n2.log.lastSeq, gaps: [], eventsInLog: n2.log.lastSeq },
    });
    expect(status.rejected).toBe(0);
    expect(await query(p.file, "SELECT * FROM ingest_gaps")).toEqual([]);
    expect(p.logs.filter((r) => r.level === "error")).toEqual([]);
    expect(await query(p.file, "SELECT node FROM nodes ORDER BY node")).toEqual([{ node: "n1" }, { node: "n2" }]);

    const [powerLoss] = await query<{ policy: string; seed: string; boot: number; lines_decided: number }>(
      p.file,
      "SELECT policy, seed, boot, lines_decided FROM power_losses WHERE node = 'n2'",
    );
    const produced = n2.produced.find((e) => e.kind === "powerLoss")!;
    expect(powerLoss).toEqual({
      policy: "random",
      seed: "7",
      boot: 0,
      lines_decided: produced.kind === "powerLoss" ? produced.lines.length : -1,
    });
    expect(await query(p.file, "SELECT count(*) AS n FROM fault_unmapped WHERE node = 'n2' AND zero_page = 1")).toEqual(
      [{ n: 4 }],
    );
    expect(await query(p.file, "SELECT recovered_txns, fsck_clean FROM mounts WHERE node = 'n1'")).toEqual([
      { recovered_txns: 2, fsck_clean: 1 },
    ]);
    const fsyncs = await query<{ seq: number; op_id: number }>(
      p.file,
      "SELECT seq, op_id FROM events WHERE node = 'n1' AND op_name = 'fsync' ORDER BY seq",
    );
    expect(fsyncs.map((r) => r.seq)).toEqual(n1.produced.filter((e) => e.kind === "op").map((e) => e.seq));
    expect(await query(p.file, "SELECT errno, result FROM events WHERE node = 'n2' AND kind = 'op'")).toEqual([
      { errno: "ENOSPC", result: -1 },
    ]);
    expect(
      await query(
        p.file,
        "SELECT count(*) AS n FROM events WHERE node = 'n1' AND beyond_eof = 1 AND source = 'mmap' AND file_offset = 5000",
      ),
    ).toEqual([{ n: 4 }]);
  });

  it("ingest: a node that restarts resumes its log at seq > 1 and the log stays contiguous", async () => {
    const p = await startPipeline();
    const first = await node(p, "n1");
    await produceStores(first, 300);
    await first.outbox.close();
    const resumedAt = first.log.nextSeq;
    const second = await node(p, "n1", { nextSeq: resumedAt });
    await produceStores(second, 300, 1);
    await second.outbox.flush();
    await p.ingest.waitForSeq("n1", second.log.lastSeq);
    expect(second.produced[0]!.seq).toBe(resumedAt);
    const rows = await query<{ n: number; lo: number; hi: number }>(
      p.file,
      "SELECT count(*) AS n, min(seq) AS lo, max(seq) AS hi FROM events WHERE node = 'n1'",
    );
    expect(rows).toEqual([{ n: second.log.lastSeq, lo: 1, hi: second.log.lastSeq }]);
    expect(p.ingest.status().nodes.n1!.gaps).toEqual([]);
  });

  it("ingest: status counts the log's events in total apart from those this session committed", async () => {
    const p = await startPipeline();
    const n1 = await node(p, "n1");
    await produceStores(n1, 200);
    await n1.outbox.flush();
    await p.ingest.waitForSeq("n1", n1.log.lastSeq);
    const total = n1.log.lastSeq;
    const rows = await query<{ count: number }>(p.file, "SELECT count(*) AS count FROM events");
    expect(rows).toEqual([{ count: total }]);
    expect(p.ingest.status()).toMatchObject({ eventsInLog: total, eventsCommitted: total });
    // A new session on the same log (a restarted coordinator): nothing committed yet, all logged.
    await p.ingest.stop();
    p.ingest = await EventIngest.start({ nc: p.nc, db: p.db, log: (r) => p.logs.push(r) });
    expect(p.ingest.status()).toMatchObject({ eventsInLog: total, eventsCommitted: 0 });
    expect(p.ingest.status().nodes.n1!.eventsInLog).toBe(total);
    await produceStores(n1, 50, 1);
    await n1.outbox.flush();
    await p.ingest.waitForSeq("n1", n1.log.lastSeq);
    const status = p.ingest.status();
    expect(status.eventsInLog).toBe(n1.log.lastSeq);
    expect(status.eventsCommitted).toBe(n1.log.lastSeq - total);
    // With a gap: seqs 1..3 and 7..10 are in the log.
    expect(eventsInLog({ lastContiguousSeq: 3, highestSeq: 10, gaps: [{ fromSeq: 4, toSeq: 6 }] })).toBe(7);
  });

  it("ingest: garbage, a batch on another node's subject and a wrong Msg-Id are rejected, counted, and ingest goes on", async () => {
    const p = await startPipeline();
    const js = jetstream(p.nc);
    await js.publish(eventSubject("n1"), new Uint8Array([0xff, 0xff, 0xff, 0x07, 0x01]), { msgID: "garbage-1" });
    const stray: Event = { kind: "fence", seq: 1, boot: 0, time: 1, ...DIRECT };
    await js.publish(eventSubject("n1"), encodeBatch("n2", [stray]), { msgID: batchMsgId("n2", 1) });
    const h = headers();
    h.set("Nats-Msg-Id", "n1:999");
    await js.publish(eventSubject("n1"), encodeBatch("n1", [{ ...stray, seq: 5 }]), { headers: h });

    const n1 = await node(p, "n1");
    await produceStores(n1, 400);
    await n1.outbox.flush();
    await p.ingest.waitForSeq("n1", n1.log.lastSeq);
    await p.ingest.waitForRejected(3);

    await expectLogged(p.file, n1);
    expect(p.ingest.status().rejected).toBe(3);
    const rejected = await query<{ stream_seq: number; reason: string }>(
      p.file,
      "SELECT stream_seq, reason FROM ingest_rejected ORDER BY stream_seq",
    );
    expect(rejected.map((r) => r.stream_seq)).toEqual([1, 2, 3]);
    expect(rejected[0]!.reason).toMatch(/not a daxsim.v1.EventBatch/);
    expect(rejected[1]!.reason).toMatch(/batch of node n2 on the subject of node n1/);
    expect(rejected[2]!.reason).toMatch(/Nats-Msg-Id "n1:999", expected "n1:5"/);
    expect(p.logs.filter((r) => r.msg === "rejected message")).toHaveLength(3);
  });

  it("ingest: restarting nats-server mid-stream loses nothing", async () => {
    const p = await startPipeline();
    const n1 = await node(p, "n1", { outbox: { publishTimeoutMs: 1000 } });
    await produceStores(n1, 3000);
    const port = p.nats.server.port;
    // The node keeps producing while the server goes down and comes back.
    const restarted = p.nats.server.restart();
    await produceStores(n1, 3000, 1);
    await restarted;
    expect(p.nats.server.port).toBe(port);
    await produceStores(n1, 3000, 2);
    await n1.outbox.flush();
    await p.ingest.waitForSeq("n1", n1.log.lastSeq);
    await expectLogged(p.file, n1);
    expect(p.ingest.status().nodes.n1!.gaps).toEqual([]);
  });
});
