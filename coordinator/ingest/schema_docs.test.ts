// Runs every example query of docs/sqlite-schema.md against a real event log built by the real
// pipeline (outbox → nats-server → ingest → SQLite), through the sqlite3 shell (scripts/setup.mjs installs it)
// and through the sqlite3 package always, and checks what each returns.
import { connect } from "@nats-io/transport-node";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeEvent } from "../../proto/codec.js";
import type { PowerLossEvent } from "../../proto/events.js";
import { DIRECT } from "../../proto/events.js";
import { startTestNats } from "../nats/test_nats.js";
import type { TestNats } from "../nats/test_nats.js";
import { EventDb } from "./event_db.js";
import { EventIngest } from "./ingest.js";
import { query, startTestNode } from "./testing.js";

const root = join(import.meta.dirname, "..", "..");
const docQueries = [
  ...readFileSync(join(root, "docs", "sqlite-schema.md"), "utf8").matchAll(/```sql\n([\s\S]*?)```/g),
].map((m) => m[1]!.trim());
const shell = ["/usr/bin/sqlite3", "/usr/local/bin/sqlite3"].find((p) => existsSync(p));

let nats: TestNats;
let file: string;
let powerLoss: PowerLossEvent;
let mountHex: string;

beforeAll(async () => {
  nats = await startTestNats();
  file = join(nats.dir, "events.sqlite");
  const db = await EventDb.open(file);
  const nc = await connect({ servers: nats.url });
  const ingest = await EventIngest.start({ nc, db });
  const n1 = await startTestNode(nats.url, "n1");
  const n2 = await startTestNode(nats.url, "n2");
  const mount = n1.log.append({
    kind: "mount",
    seq: 0,
    boot: 0,
    time: 0,
    options: "dax",
    recoveredTxns: 0,
    fsckClean: true,
    fsckProblems: 0,
    mediaSha256: new Uint8Array(32),
    formatted: true,
  });
  mountHex = Buffer.from(encodeEvent("n1", mount)).toString("hex").toUpperCase();
  n1.log.append({
    kind: "fault",
    seq: 0,
    boot: 0,
    time: 0,
    pid: 7,
    vaddr: 0x1000,
    inode: 12,
    page: 0,
    write: false,
    outcome: "zero-page",
    pfn: 0,
    sync: false,
    unmapped: [],
    opId: 0,
  }); // 2
  n1.log.append({
    kind: "fault",
    seq: 0,
    boot: 0,
    time: 0,
    pid: 8,
    vaddr: 0x2000,
    inode: 12,
    page: 0,
    write: true,
    outcome: "allocated",
    pfn: 5,
    sync: false,
    unmapped: [{ pid: 7, vaddr: 0x1000, zeroPage: true }],
    opId: 0,
  }); // 3
  const mmap = { source: "mmap" as const, pid: 8, vaddr: 0x2000, opId: 0, inode: 12, fileOffset: 0, beyondEof: false };
  n1.dimm.store(20480, new Uint8Array(8).fill(1), mmap); // 4
  n1.dimm.store(20480 + 4000, new Uint8Array(8).fill(2), {
    ...mmap,
    vaddr: 0x2000 + 4000,
    fileOffset: 4000,
    beyondEof: true,
  }); // 5
  const fsyncProv = { source: "syscall" as const, pid: 8, vaddr: 0, opId: 6 };
  n1.dimm.flush(20480, 4096, "clwb", fsyncProv); // 6
  n1.dimm.fence(fsyncProv); // 7
  n1.log.append({
    kind: "op",
    seq: 0,
    boot: 0,
    time: 0,
    startSeq: 6,
    pid: 8,
    name: "fsync",
    argsJson: '{"fd":3}',
    result: 0,
    errno: "",
    signal: "",
    inode: 12,
    sizeAfter: 4000,
  }); // 8
  n1.dimm.store(0, new Uint8Array(8).fill(3)); // 9
  powerLoss = n1.dimm.powerLoss("strict", 3n); // 10
  n2.dimm.store(64, new Uint8Array(8), { ...DIRECT, beyondEof: true, inode: 3, fileOffset: 64 });
  await n1.outbox.close();
  await n2.outbox.close();
  await ingest.waitForSeq("n1", 10);
  await ingest.waitForSeq("n2", 1);
  await ingest.stop();
  await nc.close();
  await db.close();
});

afterAll(async () => {
  await nats?.teardown();
});

/** What each example of the doc returns on the log built above, in the doc's order. */
function expectations(): unknown[][] {
  return [
    [{ seq: 5, boot: 0, address: 24480, length: 8, inode: 12, file_offset: 4000, pid: 8, vaddr: 0x2000 + 4000 }],
    [{ seq: 3, pid: 8, vaddr: 0x2000, fault_outcome: "allocated", unmapped_pid: 7, unmapped_vaddr: 0x1000 }],
    [{ started_at_seq: 6, returned_at_seq: 8, errno: "", result: 0 }],
    [
      { seq: 6, kind: "flush", flush_kind: "clwb", op_name: null },
      { seq: 7, kind: "fence", flush_kind: null, op_name: null },
      { seq: 8, kind: "op", flush_kind: null, op_name: "fsync" },
    ],
    [
      {
        node: "n1",
        seq: 10,
        boot: 0,
        policy: "strict",
        seed: "3",
        lines_decided: 1,
        lines_lost: 1,
        media_sha256: Buffer.from(powerLoss.mediaSha256).toString("hex"),
      },
    ],
    [
      { node: "n1", kind: "fault", events: 2 },
      { node: "n1", kind: "fence", events: 1 },
      { node: "n1", kind: "flush", events: 1 },
      { node: "n1", kind: "mount", events: 1 },
      { node: "n1", kind: "op", events: 1 },
      { node: "n1", kind: "powerLoss", events: 1 },
      { node: "n1", kind: "store", events: 3 },
      { node: "n2", kind: "store", events: 1 },
    ],
    [
      { node: "n1", last_contiguous_seq: 10, highest_seq: 10, open_gaps: 0, rejected_messages: 0 },
      { node: "n2", last_contiguous_seq: 1, highest_seq: 1, open_gaps: 0, rejected_messages: 0 },
    ],
    [{ "hex(encoded)": mountHex }],
  ];
}

describe("docs/sqlite-schema.md", () => {
  it("schema docs: the doc has the example queries this test knows", () => {
    expect(docQueries).toHaveLength(expectations().length);
  });

  it("schema docs: every example query returns what it says, through the sqlite3 package", async () => {
    const expected = expectations();
    for (const [i, sql] of docQueries.entries()) {
      expect({ sql, rows: await query(file, sql) }).toEqual({ sql, rows: expected[i] });
    }
  });

  it("schema docs: every example query works in the sqlite3 shell", () => {
    if (shell === undefined)
      throw new Error(
        "the sqlite3 shell is not installed: run `node scripts/setup.mjs` or `apt-get install -y sqlite3`",
      );
    const expected = expectations();
    for (const [i, sql] of docQueries.entries()) {
      const out = execFileSync(shell!, ["-json", "-readonly", file, sql], { encoding: "utf8" });
      expect({ sql, rows: out.trim() === "" ? [] : JSON.parse(out) }).toEqual({ sql, rows: expected[i] });
    }
  });
});
