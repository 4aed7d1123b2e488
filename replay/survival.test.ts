import { describe, expect, it } from "vitest";
import { Dimm, EventLog, MemorySink, StepClock } from "../node/index.js";
import type { StoreMeta } from "../node/index.js";
import type { PowerLossPolicy } from "../proto/index.js";
import {
  MemoryEventLog,
  PowerLossNotFoundError,
  SURVIVAL_CATEGORIES,
  formatSurvival,
  parsePmreorderLog,
  survivalCategory,
  survivalReport,
} from "./index.js";
import type { StoreOutcome, SurvivalReport } from "./index.js";

const MiB = 1 << 20;

/** A bare DIMM whose events go to memory, and helpers that act as a filesystem op would. */
function bench(): {
  dimm: Dimm;
  log: EventLog;
  events: MemorySink["events"];
  user: (addr: number, text: string, extra?: Partial<StoreMeta>) => void;
  persist: (addr: number, length: number) => void;
  op: (name: string, sizeAfter: number, body: (meta: StoreMeta) => void) => void;
  report: (policy: PowerLossPolicy, seed?: bigint) => Promise<SurvivalReport>;
} {
  const sink = new MemorySink();
  const log = new EventLog(sink, new StepClock(10));
  const dimm = new Dimm({ sizeBytes: MiB }, log);
  const meta = (extra: Partial<StoreMeta> = {}): StoreMeta => ({
    source: "mmap",
    pid: 1,
    vaddr: 0,
    opId: 0,
    inode: 2,
    fileOffset: 0,
    beyondEof: false,
    ...extra,
  });
  return {
    dimm,
    log,
    events: sink.events,
    user: (addr, text, extra) => dimm.store(addr, Buffer.from(text), meta(extra)),
    persist: (addr, length) => {
      dimm.flush(addr, length, "clwb");
      dimm.fence();
    },
    op: (name, sizeAfter, body) => {
      const startSeq = log.nextSeq;
      body(meta({ source: "zeroing", opId: startSeq, pid: 1 }));
      log.append({
        kind: "op",
        seq: 0,
        boot: 0,
        time: 0,
        startSeq,
        pid: 1,
        name,
        argsJson: "{}",
        result: 0,
        errno: "",
        signal: "",
        inode: 2,
        sizeAfter,
      });
    },
    report: async (policy, seed = 1n) => {
      dimm.powerLoss(policy, seed);
      return survivalReport(new MemoryEventLog("n1", sink.events), { dimm: { sizeBytes: MiB } });
    },
  };
}

function storeAt(report: SurvivalReport, seq: number): StoreOutcome {
  const s = report.stores.find((x) => x.seq === seq);
  if (s === undefined) throw new Error(`no store ${seq} in the report`);
  return s;
}

describe("survival: one category at a time", () => {
  it("survival: survived — a store flushed and fenced before the power loss is on media, its line durable", async () => {
    const b = bench();
    b.user(0, "AAAAAAAA");
    b.persist(0, 8);
    const r = await b.report("strict");
    const s = storeAt(r, 1);
    expect(s).toMatchObject({ category: "survived", survivedBytes: 8, lostBytes: 0 });
    expect(s.lines).toEqual([{ line: 0, addr: 0, bytes: 8, survivedBytes: 8, words: "S.......", state: "durable" }]);
    expect(r.totals.survived).toEqual({ stores: 1, bytes: 8, bytesOnMedia: 8 });
  });

  it("survival: lost — an unflushed store under strict is not on media; its line was pending, version 1 of 1, kept 0", async () => {
    const b = bench();
    b.user(64, "lost-bytes");
    const r = await b.report("strict");
    const s = storeAt(r, 1);
    expect(s).toMatchObject({ category: "lost", survivedBytes: 0, lostBytes: 10 });
    expect(s.lines[0]).toMatchObject({ state: "pending", version: 1, versions: 1, kept: 0, words: "LL......" });
    expect(r.powerLoss).toMatchObject({ policy: "strict", linesDecided: 1, linesLost: 1 });
  });

  it("survival: superseded — a later store to the same bytes that reached media won", async () => {
    const b = bench();
    b.user(128, "11111111");
    b.user(128, "22222222");
    b.persist(128, 8);
    const r = await b.report("strict");
    expect(storeAt(r, 1)).toMatchObject({ category: "superseded", supersededBytes: 8, supersededBy: [2] });
    expect(storeAt(r, 2)).toMatchObject({ category: "survived" });
  });

  it("survival: zeroed — a later zeroing store reached media; the report names its op and why it zeroed", async () => {
    const b = bench();
    b.user(192, "data-to-zero");
    b.persist(192, 12);
    b.op("ftruncate", 4096, (meta) => {
      b.dimm.store(192, new Uint8Array(12), { ...meta, fileOffset: 100 });
      b.persist(192, 12);
    });
    const r = await b.report("strict");
    const s = storeAt(r, 1);
    expect(s).toMatchObject({ category: "zeroed", zeroedBytes: 12 });
    expect(s.zeroedBy).toEqual({
      seq: 4,
      opSeq: 4,
      op: "ftruncate",
      reason: "extension",
      bytes: 12,
      bytesOnMedia: 12,
      survived: true,
    });
    expect(s.lines[0]!.words).toBe("ZZ......");
  });

  it("survival: partial — under torn each 8-byte word keeps its own prefix of the line's pending stores", async () => {
    const b = bench();
    b.user(256, "0123456789abcdef0123456789abcdef");
    b.user(264, "XXXXXXXXXXXXXXXX");
    const r = await b.report("torn", 12n);
    const first = storeAt(r, 1);
    const decision = first.lines[0]!;
    expect(decision).toMatchObject({ state: "pending", version: 1, versions: 2 });
    expect(decision.wordKept).toHaveLength(8);
    // Each word of the first store is on media iff its word kept at least version 1, unless version 2 won there.
    const kept = decision.wordKept!;
    for (let w = 0; w < 4; w++) {
      const expected = kept[w]! === 0 ? "L" : w >= 1 && w <= 2 && kept[w]! === 2 ? "X" : "S";
      expect(decision.words[w]).toBe(expected);
    }
    expect(first.category === "partly-lost").toBe(first.survivedBytes > 0 && first.lostBytes > 0);
  });
});

describe("survival: stores past EOF", () => {
  it("survival: beyond-EOF survived — flushed and fenced, it reached media and nothing zeroed it", async () => {
    const b = bench();
    b.user(4096 + 100, "beyond", { beyondEof: true, fileOffset: 100 });
    b.persist(4096 + 100, 6);
    const r = await b.report("strict");
    expect(r.beyondEof).toEqual([
      {
        seq: 1,
        inode: 2,
        fileOffset: 100,
        addr: 4196,
        length: 6,
        category: "survived",
        reachedMedia: true,
        survivedBytes: 6,
        durableBeforeLoss: true,
        zeroedBy: null,
      },
    ]);
  });

  it("survival: beyond-EOF zeroed — a later extension zeroed it on media", async () => {
    const b = bench();
    b.user(8192 + 20, "stale!", { beyondEof: true, fileOffset: 20 });
    b.persist(8192 + 20, 6);
    b.op("pwrite", 5000, (meta) => {
      b.dimm.store(8192 + 10, new Uint8Array(4086), { ...meta, fileOffset: 10 });
      b.persist(8192, 4096);
    });
    const r = await b.report("strict");
    expect(r.beyondEof).toHaveLength(1);
    expect(r.beyondEof[0]).toMatchObject({
      category: "zeroed",
      reachedMedia: false,
      zeroedBy: { op: "pwrite", reason: "extension", survived: true },
    });
  });

  it("survival: beyond-EOF brought back — the extension's zeroing never became durable, the stale bytes are on media", async () => {
    const b = bench();
    b.user(12288 + 20, "stale!", { beyondEof: true, fileOffset: 20 });
    b.persist(12288 + 20, 6);
    b.op("ftruncate", 3000, (meta) => b.dimm.store(12288 + 10, new Uint8Array(30), { ...meta, fileOffset: 10 }));
    const r = await b.report("strict");
    expect(r.beyondEof[0]).toMatchObject({
      category: "survived",
      reachedMedia: true,
      zeroedBy: { op: "ftruncate", reason: "extension", survived: false },
    });
    expect(formatSurvival(r, "table")).toMatch(/extension by ftruncate@\d+ \(store \d+, lost\)/);
  });
});

describe("survival: outcome names say what happened to every byte", () => {
  it("survival: each mix of bytes on media, lost, superseded and zeroed gets the outcome that names it", () => {
    const cases: Array<[survived: number, lost: number, superseded: number, zeroed: number, outcome: string]> = [
      [8, 0, 0, 0, "survived"],
      [5, 3, 0, 0, "partly-lost"],
      [5, 1, 1, 1, "partly-lost"],
      [5, 0, 0, 12, "partly-zeroed"],
      [5, 0, 3, 12, "partly-zeroed"],
      [4061, 0, 35, 0, "partly-superseded"],
      [0, 10, 0, 0, "lost"],
      [0, 4, 2, 2, "lost"],
      [0, 0, 8, 0, "superseded"],
      [0, 0, 4, 4, "superseded"],
      [0, 0, 0, 12, "zeroed"],
    ];
    for (const [survived, lost, superseded, zeroed, outcome] of cases)
      expect(
        survivalCategory({ survived, lost, superseded, zeroed }),
        `${survived}/${lost}/${superseded}/${zeroed}`,
      ).toBe(outcome);
    expect(new Set(cases.map((c) => c[4]))).toEqual(new Set(SURVIVAL_CATEGORIES));
  });

  it("survival: a beyond-EOF store 5/17 on media, 12 bytes zeroed by an extension, is partly-zeroed in both sections", async () => {
    const b = bench();
    b.user(8192 + 100, "seventeen bytes!!", { beyondEof: true, fileOffset: 100 });
    b.persist(8192 + 100, 17);
    b.op("pwrite", 5000, (meta) => {
      b.dimm.store(8192 + 105, new Uint8Array(12), { ...meta, fileOffset: 105 });
      b.persist(8192 + 105, 12);
    });
    const r = await b.report("strict");
    expect(storeAt(r, 1)).toMatchObject({ category: "partly-zeroed", survivedBytes: 5, zeroedBytes: 12, lostBytes: 0 });
    expect(r.beyondEof[0]).toMatchObject({
      seq: 1,
      category: "partly-zeroed",
      survivedBytes: 5,
      zeroedBy: { op: "pwrite", reason: "extension", bytes: 12, survived: true },
    });
    expect(r.totals["partly-zeroed"]).toEqual({ stores: 1, bytes: 17, bytesOnMedia: 5 });
    const table = formatSurvival(r, "table");
    expect(table).toMatch(/ 1 .* partly-zeroed +5\/17 +12 B zeroed: extension by pwrite@\d+ \(store \d+, on media\)/);
    expect(table).toMatch(/yes, 5\/17 B \(durable\) +extension by pwrite@\d+ \(store \d+, on media\) +partly-zeroed\n/);
    expect(table).not.toMatch(/ survived +5\/17/);
  });
});

describe("survival: report and formats", () => {
  it("survival: the window starts after the previous power loss; an unknown power loss is a typed error", async () => {
    const b = bench();
    b.user(0, "first");
    b.persist(0, 5);
    b.dimm.powerLoss("strict", 1n);
    b.user(64, "second");
    const r = await b.report("strict");
    expect(r.window.fromSeq).toBe(5);
    expect(r.stores.map((s) => s.seq)).toEqual([5]);
    await expect(
      survivalReport(new MemoryEventLog("n1", b.events), { powerLossSeq: 2, dimm: { sizeBytes: MiB } }),
    ).rejects.toBeInstanceOf(PowerLossNotFoundError);
  });

  it("survival: CSV has one row per store and one per beyond-EOF store; JSON is the report", async () => {
    const b = bench();
    b.user(0, "kept");
    b.persist(0, 4);
    b.user(4096 + 7, "eof", { beyondEof: true, fileOffset: 7 });
    const r = await b.report("strict");
    const csv = formatSurvival(r, "csv").trim().split("\n");
    expect(csv[0]!.split(",")[0]).toBe("section");
    expect(csv.slice(1).map((l) => l.split(",")[0])).toEqual(["store", "store", "beyond_eof"]);
    expect(JSON.parse(formatSurvival(r, "json"))).toEqual(JSON.parse(JSON.stringify(r)));
    expect(parsePmreorderLog).toBeTypeOf("function");
    const data = formatSurvival(r, "table", { dataOnly: true });
    expect(data).toMatch(/file data stores \(2 of 2;/);
  });
});
