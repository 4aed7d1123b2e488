/**
 * Crash tests: for every metadata operation, a power loss just before and just after every fence
 * of the operation and the sync that commits it, under strict and 20 seeds each of random and torn.
 * After each: mount recovers, fsck is clean, the namespace (names, sizes, contents) is exactly the
 * state before the operation or after it, and everything synced before it is intact.
 * A failure names the operation, the crash seq, the policy and the seed.
 */
import { describe, expect, it } from "vitest";
import type { PowerLossPolicy } from "../../proto/index.js";
import { Machine, PowerLossInterrupt } from "../machine.js";
import { CREATE, RDWR, fill, newMachine, ok, tree } from "../testing/machine_fixture.js";
import type { Fixture } from "../testing/machine_fixture.js";

interface Scenario {
  name: string;
  op: (m: Machine) => void;
}

/** Files and a directory, all synced, that every scenario starts from. */
function setup(m: Machine): void {
  const a = ok(m.open(1, "/a", CREATE)).value;
  ok(m.write(1, a, fill(6000, 0x61), 0));
  const b = ok(m.open(1, "/b", CREATE)).value;
  ok(m.write(1, b, fill(9000, 0x62), 0));
  ok(m.mkdir(1, "/d"));
  const c = ok(m.open(1, "/d/c", CREATE)).value;
  ok(m.write(1, c, fill(100, 0x63), 0));
  ok(m.mkdir(1, "/empty"));
  for (const fd of [a, b, c]) ok(m.close(1, fd));
  ok(m.sync(1));
}

function withFd(m: Machine, path: string, body: (fd: number) => void): void {
  const fd = ok(m.open(1, path, RDWR)).value;
  body(fd);
  ok(m.close(1, fd));
}

const scenarios: Scenario[] = [
  { name: "create", op: (m) => void ok(m.open(1, "/new", CREATE)) },
  { name: "create in a subdirectory", op: (m) => void ok(m.open(1, "/d/new", CREATE)) },
  { name: "mkdir", op: (m) => void ok(m.mkdir(1, "/d/sub")) },
  { name: "unlink", op: (m) => void ok(m.unlink(1, "/b")) },
  { name: "rmdir", op: (m) => void ok(m.rmdir(1, "/empty")) },
  { name: "rename within a directory", op: (m) => void ok(m.rename(1, "/a", "/a2")) },
  { name: "rename across directories", op: (m) => void ok(m.rename(1, "/a", "/d/a")) },
  { name: "rename replacing a file", op: (m) => void ok(m.rename(1, "/a", "/b")) },
  { name: "rename a directory", op: (m) => void ok(m.rename(1, "/d", "/empty/d")) },
  { name: "truncate down", op: (m) => withFd(m, "/b", (fd) => void ok(m.ftruncate(1, fd, 1000))) },
  { name: "truncate up", op: (m) => withFd(m, "/a", (fd) => void ok(m.ftruncate(1, fd, 20000))) },
  {
    name: "append (allocating write)",
    op: (m) => withFd(m, "/a", (fd) => void ok(m.write(1, fd, fill(5000, 0x7a), 6000))),
  },
  {
    name: "write into a hole past EOF",
    op: (m) => withFd(m, "/a", (fd) => void ok(m.write(1, fd, fill(10, 0x7b), 40000))),
  },
  { name: "fallocate", op: (m) => withFd(m, "/a", (fd) => void ok(m.fallocate(1, fd, 0, 32768, {}))) },
  {
    name: "punch hole",
    op: (m) => withFd(m, "/b", (fd) => void ok(m.fallocate(1, fd, 1000, 6000, { punchHole: true, keepSize: true }))),
  },
  {
    name: "zero range",
    op: (m) => withFd(m, "/b", (fd) => void ok(m.fallocate(1, fd, 100, 8000, { zeroRange: true, keepSize: true }))),
  },
];

const POLICIES: Array<[PowerLossPolicy, bigint]> = [
  ["strict", 0n],
  ...Array.from({ length: 20 }, (_, i): [PowerLossPolicy, bigint] => ["random", BigInt(i + 1)]),
  ...Array.from({ length: 20 }, (_, i): [PowerLossPolicy, bigint] => ["torn", BigInt(i + 101)]),
];

function fresh(): Fixture {
  const fixture = newMachine({ sizeBytes: 1 << 20 });
  setup(fixture.m);
  return fixture;
}

/** The seqs after which to crash: the event just before each fence, and each fence. */
function crashPoints(scenario: Scenario): {
  points: number[];
  before: Record<string, string>;
  after: Record<string, string>;
} {
  const { m, sink } = fresh();
  const before = tree(m);
  const first = m.log.nextSeq;
  scenario.op(m);
  ok(m.sync(1));
  const after = tree(m);
  const fences = sink.events.filter((e) => e.seq >= first && e.kind === "fence").map((e) => e.seq);
  const points = [...new Set(fences.flatMap((s) => [s - 1, s]))].sort((a, b) => a - b);
  return { points, before, after };
}

describe("daxfs crash consistency", () => {
  for (const scenario of scenarios) {
    it(`crash: ${scenario.name} is all or nothing at every fence, under strict, random and torn`, () => {
      const { points, before, after } = crashPoints(scenario);
      expect(points.length).toBeGreaterThanOrEqual(4);
      let sawBefore = false;
      let sawAfter = false;
      for (const point of points) {
        for (const [policy, seed] of POLICIES) {
          const where = `${scenario.name}: crash after seq ${point}, policy ${policy}, seed ${seed}`;
          const { m } = fresh();
          const stop = m.log.addListener((ev) => {
            if (ev.seq === point) throw new PowerLossInterrupt(where);
          });
          let interrupted = false;
          try {
            scenario.op(m);
            ok(m.sync(1));
          } catch (error) {
            if (!(error instanceof PowerLossInterrupt)) throw error;
            interrupted = true;
          }
          stop();
          expect(interrupted, where).toBe(true);
          try {
            m.powerLoss(policy, seed);
          } catch (e) {
            throw new Error(`${where}: ${(e as Error).message}`);
          }
          expect(m.lastMount!.fsck.problems, where).toEqual([]);
          const state = tree(m);
          const isBefore = JSON.stringify(state) === JSON.stringify(before);
          const isAfter = JSON.stringify(state) === JSON.stringify(after);
          if (!isBefore && !isAfter) expect({ where, state }).toEqual({ where, state: after });
          sawBefore ||= isBefore;
          sawAfter ||= isAfter;
        }
      }
      // The crash points straddle the commit: some crashes must show each outcome.
      expect(sawBefore).toBe(true);
      expect(sawAfter).toBe(true);
    });
  }
});
