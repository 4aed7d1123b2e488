// The node's NATS outbox against a real server (here, not in node/, because the server helper is
// coordinator code and node/ must not import coordinator/).
import { connect } from "@nats-io/transport-node";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { OutboxOverflowError, OutboxSequenceError } from "../../node/events/nats_outbox.js";
import { DIRECT } from "../../proto/events.js";
import { startTestNats } from "../nats/test_nats.js";
import type { TestNats } from "../nats/test_nats.js";
import { EventDb } from "./event_db.js";
import { EventIngest } from "./ingest.js";
import { produceStores, query, startTestNode } from "./testing.js";
import type { TestNode } from "./testing.js";

let nats: TestNats | undefined;
const nodes: TestNode[] = [];

afterEach(async () => {
  for (const n of nodes.splice(0)) await n.outbox.abandon();
  await nats?.teardown();
  nats = undefined;
});

/** "pending" when `promise` has not settled by the time already-queued I/O callbacks have run. */
async function settledNow(promise: Promise<unknown>): Promise<"settled" | "pending"> {
  return Promise.race([
    promise.then(() => "settled" as const),
    new Promise<"pending">((resolve) => setImmediate(() => resolve("pending"))),
  ]);
}

describe("nats outbox", () => {
  it("outbox: with NATS away the node is held back and flush waits; when it returns every event is acked exactly once", async () => {
    nats = await startTestNats();
    const n1 = await startTestNode(nats.url, "n1", {
      outbox: { unackedBytesMax: 64 * 1024, publishTimeoutMs: 500, retryDelayMsMax: 200 },
    });
    nodes.push(n1);
    await produceStores(n1, 1000);
    await n1.outbox.flush();
    await nats.server.kill();

    // Write past the back-pressure bound while the server is down.
    for (let i = 0; i < 2000; i++) n1.dimm.store((i * 8) % 65536, new Uint8Array(8).fill(i & 0xff));
    const ready = n1.outbox.ready();
    const flushed = n1.outbox.flush();
    expect(await settledNow(ready)).toBe("pending");
    expect(await settledNow(flushed)).toBe("pending");
    expect(n1.outbox.stats.ackedThroughSeq).toBeLessThan(n1.log.lastSeq);

    await nats.server.startAgain();
    await ready;
    await flushed;
    expect(n1.outbox.stats.ackedThroughSeq).toBe(n1.log.lastSeq);

    const file = join(nats.dir, "events.sqlite");
    const db = await EventDb.open(file);
    const nc = await connect({ servers: nats.url });
    const ingest = await EventIngest.start({ nc, db });
    try {
      await ingest.waitForSeq("n1", n1.log.lastSeq);
      expect(await query(file, "SELECT count(*) AS n, max(seq) AS hi FROM events WHERE node = 'n1'")).toEqual([
        { n: n1.log.lastSeq, hi: n1.log.lastSeq },
      ]);
      expect(ingest.status().nodes.n1!.gaps).toEqual([]);
    } finally {
      await ingest.stop();
      await nc.close();
      await db.close();
    }
  });

  it("outbox: a node that never awaits ready() hits the hard bound instead of growing without limit", async () => {
    nats = await startTestNats();
    const n1 = await startTestNode(nats.url, "n1", {
      outbox: { unackedBytesMax: 16 * 1024, bufferedBytesHardMax: 64 * 1024 },
    });
    nodes.push(n1);
    await nats.server.kill();
    const data = new Uint8Array(4096);
    expect(() => {
      for (let i = 0; i < 64; i++) n1.dimm.ntStore(i * 4096, data);
    }).toThrow(OutboxOverflowError);
  });

  it("outbox: events must come with consecutive seqs", async () => {
    nats = await startTestNats();
    const n1 = await startTestNode(nats.url, "n1");
    nodes.push(n1);
    n1.outbox.write({ kind: "fence", seq: 5, boot: 0, time: 1, ...DIRECT });
    expect(() => n1.outbox.write({ kind: "fence", seq: 7, boot: 0, time: 2, ...DIRECT })).toThrow(OutboxSequenceError);
  });
});
