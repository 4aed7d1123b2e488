/**
 * The one place where domain events (proto/events.ts, JS numbers) meet the generated wire types
 * (proto/gen, bigint), with the enum tables of wire_enums.ts. Decoding checks every 64-bit value
 * fits in a JS number exactly and throws WireFormatError naming the field otherwise, so no value is
 * ever rounded.
 */
import {
  Event as WireEvent,
  EventBatch as WireEventBatch,
  Persistence as WirePersistence,
  PowerLossPolicy as WirePolicy,
} from "./gen/daxsim/v1/events.js";
import { WireFormatError } from "./errors.js";
import { decodeBatchFast, encodeBatchFast } from "./fast_codec.js";
import type { Event, Persistence, PowerLossPolicy } from "./events.js";
import {
  FLUSH_KIND_TABLE,
  OUTCOME_TABLE,
  PERSISTENCE_TABLE,
  POLICY_TABLE,
  SOURCE_TABLE,
  fromWireEnum,
  toWireEnum,
} from "./wire_enums.js";

const U64_MAX = (1n << 64n) - 1n;

function big(value: number, field: string): bigint {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new WireFormatError(`${field}: ${value} is not an integer in [0, 2^53)`, field);
  }
  return BigInt(value);
}

function num(value: bigint, field: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new WireFormatError(`${field}: ${value} does not fit in a JS number exactly (> 2^53 - 1)`, field);
  }
  return Number(value);
}

function seedToWire(seed: bigint): bigint {
  if (seed < 0n || seed > U64_MAX) throw new WireFormatError(`seed: ${seed} is not a uint64`, "seed");
  return seed;
}

/** Domain event → generated wire message. */
export function eventToWire(node: string, ev: Event): WireEvent {
  const header = { node, seq: big(ev.seq, "seq"), boot: ev.boot, time: big(ev.time, "time") };
  switch (ev.kind) {
    case "store":
      return {
        ...header,
        kind: {
          $case: "store",
          value: {
            addr: big(ev.addr, "store.addr"),
            data: ev.data,
            nonTemporal: ev.nonTemporal,
            source: toWireEnum(SOURCE_TABLE, ev.source, "store.source"),
            pid: ev.pid,
            vaddr: big(ev.vaddr, "store.vaddr"),
            inode: big(ev.inode, "store.inode"),
            fileOffset: big(ev.fileOffset, "store.file_offset"),
            beyondEof: ev.beyondEof,
            opId: big(ev.opId, "store.op_id"),
          },
        },
      };
    case "flush":
      return {
        ...header,
        kind: {
          $case: "flush",
          value: {
            addr: big(ev.addr, "flush.addr"),
            lines: ev.lines,
            kind: toWireEnum(FLUSH_KIND_TABLE, ev.flushKind, "flush.kind"),
            source: toWireEnum(SOURCE_TABLE, ev.source, "flush.source"),
            pid: ev.pid,
            vaddr: big(ev.vaddr, "flush.vaddr"),
            opId: big(ev.opId, "flush.op_id"),
          },
        },
      };
    case "fence":
      return {
        ...header,
        kind: {
          $case: "fence",
          value: {
            source: toWireEnum(SOURCE_TABLE, ev.source, "fence.source"),
            pid: ev.pid,
            vaddr: big(ev.vaddr, "fence.vaddr"),
            opId: big(ev.opId, "fence.op_id"),
          },
        },
      };
    case "powerLoss":
      return {
        ...header,
        kind: {
          $case: "powerLoss",
          value: {
            policy: toWireEnum(POLICY_TABLE, ev.policy, "power_loss.policy"),
            seed: seedToWire(ev.seed),
            lines: ev.lines.map((d) => ({
              line: big(d.line, "power_loss.lines.line"),
              versions: d.versions,
              kept: d.kept,
              wordKept: d.wordKept,
            })),
            mediaSha256: ev.mediaSha256,
            persistence: toWireEnum(PERSISTENCE_TABLE, ev.persistence, "power_loss.persistence"),
            reason: ev.reason,
          },
        },
      };
    case "fault":
      return {
        ...header,
        kind: {
          $case: "fault",
          value: {
            pid: ev.pid,
            vaddr: big(ev.vaddr, "fault.vaddr"),
            inode: big(ev.inode, "fault.inode"),
            page: big(ev.page, "fault.page"),
            write: ev.write,
            outcome: toWireEnum(OUTCOME_TABLE, ev.outcome, "fault.outcome"),
            pfn: big(ev.pfn, "fault.pfn"),
            sync: ev.sync,
            unmapped: ev.unmapped.map((u) => ({
              pid: u.pid,
              vaddr: big(u.vaddr, "fault.unmapped.vaddr"),
              zeroPage: u.zeroPage,
            })),
            opId: big(ev.opId, "fault.op_id"),
          },
        },
      };
    case "op":
      return {
        ...header,
        kind: {
          $case: "op",
          value: {
            startSeq: big(ev.startSeq, "op.start_seq"),
            pid: ev.pid,
            name: ev.name,
            argsJson: ev.argsJson,
            result: BigInt(ev.result),
            errno: ev.errno,
            signal: ev.signal,
            inode: big(ev.inode, "op.inode"),
            sizeAfter: big(ev.sizeAfter, "op.size_after"),
          },
        },
      };
    case "mount":
      return {
        ...header,
        kind: {
          $case: "mount",
          value: {
            options: ev.options,
            recoveredTxns: ev.recoveredTxns,
            fsckClean: ev.fsckClean,
            fsckProblems: ev.fsckProblems,
            mediaSha256: ev.mediaSha256,
            formatted: ev.formatted,
          },
        },
      };
  }
}

/** Generated wire message → domain event. Throws WireFormatError naming the bad field. */
export function eventFromWire(msg: WireEvent): Event {
  const header = { seq: num(msg.seq, "seq"), boot: msg.boot, time: num(msg.time, "time") };
  const kind = msg.kind;
  if (kind === undefined) throw new WireFormatError("event has no kind", "kind");
  switch (kind.$case) {
    case "store": {
      const s = kind.value;
      return {
        kind: "store",
        ...header,
        addr: num(s.addr, "store.addr"),
        data: s.data,
        nonTemporal: s.nonTemporal,
        source: fromWireEnum(SOURCE_TABLE, s.source, "store.source"),
        pid: s.pid,
        vaddr: num(s.vaddr, "store.vaddr"),
        inode: num(s.inode, "store.inode"),
        fileOffset: num(s.fileOffset, "store.file_offset"),
        beyondEof: s.beyondEof,
        opId: num(s.opId, "store.op_id"),
      };
    }
    case "flush": {
      const f = kind.value;
      return {
        kind: "flush",
        ...header,
        addr: num(f.addr, "flush.addr"),
        lines: f.lines,
        flushKind: fromWireEnum(FLUSH_KIND_TABLE, f.kind, "flush.kind"),
        source: fromWireEnum(SOURCE_TABLE, f.source, "flush.source"),
        pid: f.pid,
        vaddr: num(f.vaddr, "flush.vaddr"),
        opId: num(f.opId, "flush.op_id"),
      };
    }
    case "fence": {
      const f = kind.value;
      return {
        kind: "fence",
        ...header,
        source: fromWireEnum(SOURCE_TABLE, f.source, "fence.source"),
        pid: f.pid,
        vaddr: num(f.vaddr, "fence.vaddr"),
        opId: num(f.opId, "fence.op_id"),
      };
    }
    case "powerLoss": {
      const p = kind.value;
      return {
        kind: "powerLoss",
        ...header,
        policy: fromWireEnum(POLICY_TABLE, p.policy, "power_loss.policy"),
        seed: p.seed,
        lines: p.lines.map((d) => ({
          line: num(d.line, "power_loss.lines.line"),
          versions: d.versions,
          kept: d.kept,
          wordKept: d.wordKept,
        })),
        mediaSha256: p.mediaSha256,
        persistence: fromWireEnum(PERSISTENCE_TABLE, p.persistence, "power_loss.persistence"),
        reason: p.reason,
      };
    }
    case "fault": {
      const f = kind.value;
      return {
        kind: "fault",
        ...header,
        pid: f.pid,
        vaddr: num(f.vaddr, "fault.vaddr"),
        inode: num(f.inode, "fault.inode"),
        page: num(f.page, "fault.page"),
        write: f.write,
        outcome: fromWireEnum(OUTCOME_TABLE, f.outcome, "fault.outcome"),
        pfn: num(f.pfn, "fault.pfn"),
        sync: f.sync,
        unmapped: f.unmapped.map((u) => ({
          pid: u.pid,
          vaddr: num(u.vaddr, "fault.unmapped.vaddr"),
          zeroPage: u.zeroPage,
        })),
        opId: num(f.opId, "fault.op_id"),
      };
    }
    case "op": {
      const o = kind.value;
      if (o.result > BigInt(Number.MAX_SAFE_INTEGER) || o.result < BigInt(Number.MIN_SAFE_INTEGER)) {
        throw new WireFormatError(`op.result: ${o.result} does not fit in a JS number exactly`, "op.result");
      }
      return {
        kind: "op",
        ...header,
        startSeq: num(o.startSeq, "op.start_seq"),
        pid: o.pid,
        name: o.name,
        argsJson: o.argsJson,
        result: Number(o.result),
        errno: o.errno,
        signal: o.signal,
        inode: num(o.inode, "op.inode"),
        sizeAfter: num(o.sizeAfter, "op.size_after"),
      };
    }
    case "mount": {
      const m = kind.value;
      return {
        kind: "mount",
        ...header,
        options: m.options,
        recoveredTxns: m.recoveredTxns,
        fsckClean: m.fsckClean,
        fsckProblems: m.fsckProblems,
        mediaSha256: m.mediaSha256,
        formatted: m.formatted,
      };
    }
  }
}

/** Encodes one event alone (the `events.encoded` column of the SQLite log). */
export function encodeEvent(node: string, ev: Event): Uint8Array {
  return WireEvent.encode(eventToWire(node, ev)).finish();
}

export function decodeEvent(bytes: Uint8Array): { node: string; event: Event } {
  let msg: WireEvent;
  try {
    msg = WireEvent.decode(bytes);
  } catch (cause) {
    throw new WireFormatError(`not a daxsim.v1.Event: ${(cause as Error).message}`, "event", { cause });
  }
  return { node: msg.node, event: eventFromWire(msg) };
}

export interface DecodedBatch {
  node: string;
  firstSeq: number;
  events: Event[];
}

/** Encodes consecutive events of one node into an EventBatch (the fast path in fast_codec.ts). */
export function encodeBatch(node: string, events: readonly Event[]): Uint8Array {
  return encodeBatchFast(node, events);
}

/** Decodes and checks an EventBatch (the fast path in fast_codec.ts). */
export function decodeBatch(bytes: Uint8Array): DecodedBatch {
  return decodeBatchFast(bytes);
}

/** The generated code's encoding of an EventBatch: the reference fast_codec.ts is tested against. */
export function encodeBatchGenerated(node: string, events: readonly Event[]): Uint8Array {
  const first = events[0];
  if (first === undefined) throw new WireFormatError("an EventBatch needs at least one event", "events");
  const wire: WireEventBatch = {
    node,
    firstSeq: big(first.seq, "first_seq"),
    events: events.map((ev) => eventToWire(node, ev)),
  };
  return WireEventBatch.encode(wire).finish();
}

/** The generated code's decoding of an EventBatch: one node, consecutive seqs starting at first_seq. */
export function decodeBatchGenerated(bytes: Uint8Array): DecodedBatch {
  let msg: WireEventBatch;
  try {
    msg = WireEventBatch.decode(bytes);
  } catch (cause) {
    throw new WireFormatError(`not a daxsim.v1.EventBatch: ${(cause as Error).message}`, "batch", { cause });
  }
  if (msg.node === "") throw new WireFormatError("batch has no node id", "node");
  if (msg.events.length === 0) throw new WireFormatError("batch has no events", "events");
  const firstSeq = num(msg.firstSeq, "first_seq");
  if (firstSeq < 1) throw new WireFormatError("first_seq must be at least 1", "first_seq");
  const events: Event[] = [];
  for (let i = 0; i < msg.events.length; i++) {
    const wire = msg.events[i]!;
    if (wire.node !== "" && wire.node !== msg.node) {
      throw new WireFormatError(`event ${i} belongs to node ${wire.node}, batch to ${msg.node}`, "events.node");
    }
    const ev = eventFromWire(wire);
    if (ev.seq !== firstSeq + i) {
      throw new WireFormatError(`event ${i} has seq ${ev.seq}, expected ${firstSeq + i}`, "events.seq");
    }
    events.push(ev);
  }
  return { node: msg.node, firstSeq, events };
}

/** Power-loss policy → wire enum (NodeControl and Coordinator requests and results). */
export function policyToWire(policy: PowerLossPolicy): WirePolicy {
  return toWireEnum(POLICY_TABLE, policy, "policy");
}

/** Wire enum → power-loss policy; throws WireFormatError naming `field` for an unknown value. */
export function policyFromWire(value: WirePolicy, field = "policy"): PowerLossPolicy {
  return fromWireEnum(POLICY_TABLE, value, field);
}

export function persistenceToWire(persistence: Persistence): WirePersistence {
  return toWireEnum(PERSISTENCE_TABLE, persistence, "persistence");
}
