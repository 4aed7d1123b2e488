import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Event } from "../proto/index.js";
import { fixturesDir, recordWorkload } from "../scripts/make_replay_fixtures.js";
import {
  MemoryEventLog,
  PMREORDER_MAP_BASE_DEFAULT,
  PmreorderParseError,
  exportPmreorder,
  parsePmreorderLog,
  replayLog,
  writeRawMedia,
} from "./index.js";
import type { PmreorderEntry } from "./index.js";

const tmp = mkdtempSync(join(tmpdir(), "daxsim-pmreorder-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function exported(events: Event[], options: { fromSeq?: number; media?: string } = {}): Promise<string> {
  let text = "";
  await exportPmreorder(new MemoryEventLog("n1", events), (t) => (text += t), {
    mediaPath: options.media ?? "/tmp/media",
    ...(options.fromSeq !== undefined ? { fromSeq: options.fromSeq } : {}),
    ...(options.media !== undefined ? { atStart: (state) => writeRawMedia(state, options.media!) } : {}),
  });
  return text;
}

/** Walks the parsed entries along the log's events; every entry must be accounted for. */
function checkAgainstLog(
  entries: PmreorderEntry[],
  events: Event[],
  base: bigint,
): { stores: number; flushes: number; fences: number } {
  let i = 0;
  const next = (): PmreorderEntry => {
    const e = entries[i++];
    if (e === undefined) throw new Error("the export ended early");
    return e;
  };
  const counts = { stores: 0, flushes: 0, fences: 0 };
  for (const ev of events) {
    if (ev.kind === "store") {
      let done = 0;
      while (done < ev.data.length) {
        const e = next();
        if (e.op !== "STORE") throw new Error(`seq ${ev.seq}: expected STORE, got ${e.op}`);
        expect(e.address).toBe(base + BigInt(ev.addr + done));
        expect(e.size).toBeLessThanOrEqual(8);
        expect(Number(e.address) % e.size).toBe(0);
        expect([...e.value]).toEqual([...ev.data.subarray(done, done + e.size)]);
        done += e.size;
      }
      expect(done).toBe(ev.data.length);
      counts.stores++;
      if (ev.nonTemporal) {
        const f = next();
        const first = Math.floor(ev.addr / 64) * 64;
        expect(f).toEqual({
          op: "FLUSH",
          address: base + BigInt(first),
          size: BigInt(Math.ceil((ev.addr + ev.data.length) / 64) * 64 - first),
        });
      }
    } else if (ev.kind === "flush") {
      expect(next()).toEqual({ op: "FLUSH", address: base + BigInt(ev.addr), size: BigInt(ev.lines * 64) });
      counts.flushes++;
      if (ev.flushKind === "clflush" || ev.flushKind === "evict") expect(next()).toEqual({ op: "FENCE" });
    } else if (ev.kind === "fence") {
      expect(next()).toEqual({ op: "FENCE" });
      counts.fences++;
    }
  }
  expect(i).toBe(entries.length);
  return counts;
}

describe("replay: pmreorder export", () => {
  for (const name of ["policies", "beyond_eof"]) {
    it(`pmreorder: the ${name} log exports and parses back to the same stores, flushes and fences`, async () => {
      const events = recordWorkload(join(fixturesDir(), `${name}.workload.json`));
      const text = await exported(events);
      expect(text.startsWith("START|REGISTER_FILE;/tmp/media;0x7f0000000000;0x1000000;0x0|")).toBe(true);
      expect(text.endsWith("|STOP\n")).toBe(true);
      const entries = parsePmreorderLog(text);
      expect(entries[0]).toEqual({
        op: "REGISTER_FILE",
        name: "/tmp/media",
        address: BigInt(PMREORDER_MAP_BASE_DEFAULT),
        size: 16n << 20n,
        offset: 0n,
      });
      const counts = checkAgainstLog(entries.slice(1), events, BigInt(PMREORDER_MAP_BASE_DEFAULT));
      expect(counts.stores).toBe(events.filter((e) => e.kind === "store").length);
      expect(counts.fences).toBe(events.filter((e) => e.kind === "fence").length);
      expect(counts.flushes).toBe(events.filter((e) => e.kind === "flush").length);
    });
  }

  it("pmreorder: --from-seq exports the rest of the log over the media as it was just before", async () => {
    const events = recordWorkload(join(fixturesDir(), "policies.workload.json"));
    const media = join(tmp, "from40.media");
    const text = await exported(events, { fromSeq: 40, media });
    checkAgainstLog(parsePmreorderLog(text).slice(1), events.slice(39), BigInt(PMREORDER_MAP_BASE_DEFAULT));
    expect(statSync(media).size).toBe(16 << 20);
    const at39 = await replayLog(new MemoryEventLog("n1", events), { atSeq: 39 });
    const durable = Buffer.alloc(1 << 20);
    at39.state.readMedia(0, durable);
    expect(
      readFileSync(media)
        .subarray(0, 1 << 20)
        .equals(durable),
    ).toBe(true);
  });

  it("pmreorder: the parser follows pmreorder's rules: START/STOP bounds, little-endian values, markers, bad entries", () => {
    const entries = parsePmreorderLog("junk|START|STORE;0x10;0x0102;0x2|FLUSH;0x0;0x40|APP.BEGIN|FENCE|APP.END|STOP\n");
    expect(entries).toEqual([
      { op: "STORE", address: 16n, size: 2, value: Uint8Array.of(2, 1) },
      { op: "FLUSH", address: 0n, size: 64n },
      { op: "MARKER", name: "APP.BEGIN" },
      { op: "FENCE" },
      { op: "MARKER", name: "APP.END" },
    ]);
    expect(() => parsePmreorderLog("START|STORE;0x0;0x10000;0x2|STOP")).toThrow(PmreorderParseError);
    expect(() => parsePmreorderLog("START|WHATEVER|STOP")).toThrow(PmreorderParseError);
  });
});
