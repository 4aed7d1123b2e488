import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Dimm, EventLog, MemorySink, StepClock } from "../node/index.js";
import { readImage } from "../node/image/index.js";
import { WorkloadSession, machineForWorkload, parseWorkload } from "../node/workload/index.js";
import type { Event } from "../proto/index.js";
import {
  DimmGeometryError,
  LogDuplicateError,
  LogGapError,
  LogTruncatedError,
  MemoryEventLog,
  ReplayDivergenceError,
  replayLog,
  writeMediaImage,
} from "./index.js";

const dir = mkdtempSync(join(tmpdir(), "daxsim-replay-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs workload ops on a fresh 16 MiB machine; returns its events and the machine. */
function record(
  ops: unknown[],
  options: { persistence?: "adr" | "eadr" } = {},
): { events: Event[]; machine: ReturnType<typeof machineForWorkload> } {
  const workload = parseWorkload({
    dimm: { size: "16M", persistence: options.persistence ?? "adr" },
    mount: "dax,zero-on-extend=block",
    seed: 5,
    ops,
  });
  const sink = new MemorySink();
  const machine = machineForWorkload(workload.settings, new EventLog(sink, new StepClock(25)));
  const records = new WorkloadSession(machine, { seed: 5n }).exec(workload.rawOps);
  for (const r of records) if (r.error !== undefined) throw new Error(`op ${r.i}: ${r.error}`);
  return { events: sink.events, machine };
}

const WORK = [
  { op: "open", path: "/f", flags: ["O_RDWR", "O_CREAT"], as: "fd" },
  { op: "pwrite", fd: "$fd", offset: 0, pattern: "0x61", length: "6k" },
  { op: "fsync", fd: "$fd" },
  { op: "pwrite", fd: "$fd", offset: "6k", text: "late, never synced" },
  { op: "mmap", fd: "$fd", length: "8k", prot: "rw", flags: "shared", as: "m" },
  { op: "store", addr: "$m+10", text: "hello" },
  { op: "powerloss", policy: "random", seed: 3 },
  { op: "open", path: "/f", flags: ["O_RDWR"], as: "fd" },
  { op: "pwrite", fd: "$fd", offset: 100, text: "again" },
  { op: "fsync", fd: "$fd" },
  { op: "powerloss", policy: "torn", seed: 8 },
];

describe("replay: rebuild and verify", () => {
  it("replay: a machine's log replays to the machine's own media hash, checking every PowerLoss and Mount", async () => {
    const { events, machine } = record(WORK);
    const result = await replayLog(new MemoryEventLog("n1", events));
    expect(result.lastSeq).toBe(events.length);
    expect(result.mediaSha256).toBe(machine.dimm.mediaSha256().toString("hex"));
    const checkpoints = events.filter((e) => e.kind === "powerLoss" || e.kind === "mount").length;
    expect(result.hashesChecked).toBe(checkpoints);
    expect(result.dimm).toMatchObject({
      sizeBytes: 16 << 20,
      persistence: "adr",
      sizeFrom: "inferred",
      persistenceFrom: "inferred",
    });
    expect(result.boot).toBe(2);
  });

  it("replay: --at-seq stops after that event, with the cache as it was (pending lines)", async () => {
    const { events } = record(WORK);
    const store = events.find((e) => e.kind === "store" && e.source === "mmap")!;
    const result = await replayLog(new MemoryEventLog("n1", events), { atSeq: store.seq });
    expect(result.lastSeq).toBe(store.seq);
    expect(result.pendingLines).toBeGreaterThan(0);
    // The live DIMM at that seq: the same events through a fresh Dimm.
    const dimm = new Dimm({ sizeBytes: 16 << 20 }, new EventLog(new MemorySink(), new StepClock()));
    for (const ev of events.slice(0, store.seq)) {
      if (ev.kind === "store") (ev.nonTemporal ? dimm.ntStore : dimm.store).call(dimm, ev.addr, ev.data, ev);
      else if (ev.kind === "flush") dimm.flush(ev.addr, ev.lines * 64, ev.flushKind, ev);
      else if (ev.kind === "fence") dimm.fence(ev);
    }
    expect(result.mediaSha256).toBe(dimm.mediaSha256().toString("hex"));
    await expect(replayLog(new MemoryEventLog("n1", events), { atSeq: events.length + 5 })).rejects.toBeInstanceOf(
      LogTruncatedError,
    );
  });

  it("replay: a changed hash in a PowerLoss event stops replay there, naming seq, kind and both hashes", async () => {
    const { events } = record(WORK);
    const loss = events.find((e) => e.kind === "powerLoss")!;
    if (loss.kind !== "powerLoss") throw new Error("unreachable");
    const tampered = events.map((e) => (e === loss ? { ...loss, mediaSha256: new Uint8Array(32).fill(0xab) } : e));
    const error = await replayLog(new MemoryEventLog("n1", tampered)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReplayDivergenceError);
    const d = error as ReplayDivergenceError;
    expect(d).toMatchObject({ seq: loss.seq, kind: "powerLoss", recordedSha256: "ab".repeat(32) });
    expect(d.replayedSha256).toBe(Buffer.from(loss.mediaSha256).toString("hex"));
  });

  it("replay: an edited store payload is caught at the next recorded hash", async () => {
    const { events } = record(WORK);
    const victim = events.find((e) => e.kind === "store" && e.source === "syscall")!;
    if (victim.kind !== "store") throw new Error("unreachable");
    const edited = Uint8Array.from(victim.data);
    edited[0] = edited[0]! ^ 0xff;
    const tampered = events.map((e) => (e === victim ? { ...victim, data: edited } : e));
    const error = (await replayLog(new MemoryEventLog("n1", tampered)).catch(
      (e: unknown) => e,
    )) as ReplayDivergenceError;
    expect(error).toBeInstanceOf(ReplayDivergenceError);
    const next = events.find((e) => e.seq > victim.seq && (e.kind === "powerLoss" || e.kind === "mount"))!;
    expect(error.seq).toBe(next.seq);
  });

  it("replay: a power-loss decision about lines that are not pending is a divergence, not a crash", async () => {
    const { events } = record(WORK);
    const loss = events.find((e) => e.kind === "powerLoss" && e.lines.length > 0)!;
    if (loss.kind !== "powerLoss") throw new Error("unreachable");
    const tampered = events.map((e) => (e === loss ? { ...loss, lines: loss.lines.slice(1) } : e));
    await expect(replayLog(new MemoryEventLog("n1", tampered))).rejects.toMatchObject({
      name: "ReplayDivergenceError",
      seq: loss.seq,
      kind: "powerLoss",
    });
  });

  it("replay: a missing seq and a duplicated one are reported as such", async () => {
    const { events } = record(WORK);
    const gap = events.filter((e) => e.seq !== 30);
    await expect(replayLog(new MemoryEventLog("n1", gap))).rejects.toMatchObject({
      name: "LogGapError",
      missingFrom: 30,
      missingTo: 30,
      foundSeq: 31,
    });
    const duplicate = [...events.slice(0, 40), events[38]!, ...events.slice(40)];
    const error = await replayLog(new MemoryEventLog("n1", duplicate)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LogDuplicateError);
    expect(error).toMatchObject({ seq: 39, atSeq: 41 });
    const head = events.slice(3);
    await expect(replayLog(new MemoryEventLog("n1", head))).rejects.toBeInstanceOf(LogGapError);
  });

  it("replay: the DIMM size comes from mkfs's superblock, or must be given when the log has no mkfs", async () => {
    const sink = new MemorySink();
    const dimm = new Dimm({ sizeBytes: 2 << 20 }, new EventLog(sink, new StepClock()));
    dimm.store(128, Uint8Array.of(1, 2, 3));
    dimm.powerLoss("eadr-like", 1n);
    await expect(replayLog(new MemoryEventLog("n1", sink.events))).rejects.toBeInstanceOf(DimmGeometryError);
    const result = await replayLog(new MemoryEventLog("n1", sink.events), { dimm: { sizeBytes: 2 << 20 } });
    expect(result.mediaSha256).toBe(dimm.mediaSha256().toString("hex"));
    await expect(
      replayLog(new MemoryEventLog("n1", sink.events), { dimm: { sizeBytes: 4 << 20 } }),
    ).rejects.toMatchObject({ name: "ReplayDivergenceError", seq: 2 });
  });

  it("replay: an eADR node's log replays with the domain its power losses record", async () => {
    const { events, machine } = record(WORK, { persistence: "eadr" });
    const result = await replayLog(new MemoryEventLog("n1", events));
    expect(result.dimm.persistence).toBe("eadr");
    expect(result.mediaSha256).toBe(machine.dimm.mediaSha256().toString("hex"));
  });

  it("replay: the saved image holds the replayed media, with the same hash", async () => {
    const { events } = record(WORK);
    const result = await replayLog(new MemoryEventLog("n1", events), { atSeq: 60 });
    const path = join(dir, "at60.img");
    writeMediaImage(result.state, path);
    const image = readImage(path);
    expect(image.header.mediaSha256.toString("hex")).toBe(result.mediaSha256);
    expect(image.header).toMatchObject({ dimmSizeBytes: 16 << 20, persistence: "adr" });
  });
});
