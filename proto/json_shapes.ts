/**
 * The JSON that daxsim's CLI prints for protobuf messages (exec records, power-loss results,
 * events, status). One shape everywhere, documented in docs/cli.md:
 *   - integers are JSON numbers (they fit in 2^53: seqs, sizes, offsets, counts, addresses, ms);
 *     a value beyond 2^53 — only possible for a field whose range is all 64 bits — is a decimal
 *     string, and seeds, which range over all 64 bits, are always decimal strings, so a field
 *     never changes type with its value;
 *   - bytes are lower-case hex (media hashes, stored data);
 *   - enums are their daxsim names ("torn", "adr"), not protobuf's ("POWER_LOSS_POLICY_TORN");
 *   - every field is present, zero values included (proto3's JSON mapping drops them: an op with
 *     index 0 lost its "i").
 * The gRPC API itself keeps protobuf's JSON mapping (grpcurl prints it; docs/api.md).
 */
import { eventFromWire, policyFromWire } from "./codec.js";
import type { Event as WireEvent } from "./gen/daxsim/v1/events.js";
import { Persistence as WirePersistence } from "./gen/daxsim/v1/events.js";
import type { CoordinatorStatus, NodeInfo } from "./gen/daxsim/v1/coordinator.js";
import type { OpRecord, PowerLossResult } from "./gen/daxsim/v1/node.js";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** An integer as JSON: a number when it is exact in a double (|v| ≤ 2^53 - 1), else a decimal string. */
export function jsonInteger(value: bigint | number): number | string {
  if (typeof value === "number") {
    if (!Number.isInteger(value)) throw new RangeError(`jsonInteger: ${value} is not an integer`);
    return Number.isSafeInteger(value) ? value : BigInt(value).toString();
  }
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(value)
    : value.toString();
}

const hex = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");

/** Keys whose values range over all 64 bits: always decimal strings. */
const SEED_KEY = /^seed$|Seed$/;

/**
 * A plain value (domain objects of proto/events.ts, generated messages without enums) as JSON
 * under the rules above. Bounded by the object's own depth; cycles are programmer errors.
 */
export function toPlainJson(value: unknown, key = "", depth = 0): Json {
  if (depth > 32) throw new RangeError("toPlainJson: nested deeper than 32 levels");
  if (value === null || value === undefined) return null;
  if (typeof value === "bigint") return SEED_KEY.test(key) ? value.toString() : jsonInteger(value);
  if (typeof value === "number") return SEED_KEY.test(key) && Number.isInteger(value) ? String(value) : value;
  if (typeof value === "boolean" || typeof value === "string") return value;
  if (value instanceof Uint8Array) return hex(value);
  if (Array.isArray(value)) return value.map((v) => toPlainJson(v, key, depth + 1));
  if (typeof value === "object") {
    const out: { [key: string]: Json } = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (v === undefined) continue;
      out[k] = toPlainJson(v, k, depth + 1);
    }
    return out;
  }
  throw new TypeError(`toPlainJson: cannot represent a ${typeof value}`);
}

/**
 * One record of `daxsim exec`: the shape of `daxsim run --json` (node/workload/session.ts
 * OpRecord: absent fields are absent, `i` always there) plus the op's events.
 */
export function opRecordJson(r: OpRecord): { [key: string]: Json } {
  const out: { [key: string]: Json } = {
    i: jsonInteger(r.i),
    op: r.op,
    pid: r.pid,
    ok: r.ok,
    value: jsonInteger(r.value),
  };
  if (r.errno !== "") out.errno = r.errno;
  if (r.signal !== "") out.signal = r.signal;
  if (r.message !== "") out.message = r.message;
  if (r.hex !== "") out.hex = r.hex;
  out.faults = [...r.faults];
  if (r.infoJson !== "") out.info = JSON.parse(r.infoJson) as Json;
  if (r.error !== "") out.error = r.error;
  if (r.mismatch !== "") out.mismatch = r.mismatch;
  // The op's events, [firstSeq, lastSeq] (firstSeq > lastSeq: it made none), and its boot.
  out.firstSeq = jsonInteger(r.firstSeq);
  out.lastSeq = jsonInteger(r.lastSeq);
  out.boot = r.boot;
  return out;
}

/** A power loss's result (`daxsim powerloss`, the powerLoss line of `daxsim exec`). */
export function powerLossResultJson(p: PowerLossResult): { [key: string]: Json } {
  return {
    node: p.node,
    seq: jsonInteger(p.seq),
    boot: p.boot,
    policy: policyFromWire(p.policy),
    seed: p.seed.toString(),
    mediaSha256: hex(p.mediaSha256),
    linesDecided: p.linesDecided,
    linesLost: p.linesLost,
    linesPartlyLost: p.linesPartlyLost,
    killed: p.killed,
    ackedThroughSeq: jsonInteger(p.ackedThroughSeq),
    recoveredTxns: p.recoveredTxns,
    fsckClean: p.fsckClean,
    mountMediaSha256: hex(p.mountMediaSha256),
    trigger: p.trigger,
  };
}

/** One event of `daxsim events`: the node, then the domain event (proto/events.ts) under the rules above. */
export function eventJson(ev: WireEvent): { [key: string]: Json } {
  return { node: ev.node, ...(toPlainJson(eventFromWire(ev)) as { [key: string]: Json }) };
}

function persistenceName(p: WirePersistence): string {
  switch (p) {
    case WirePersistence.PERSISTENCE_ADR:
      return "adr";
    case WirePersistence.PERSISTENCE_EADR:
      return "eadr";
    default:
      return "unknown";
  }
}

/** `daxsim status --json`: the coordinator's ingest status and the nodes it knows. */
export function statusJson(status: CoordinatorStatus, nodes: readonly NodeInfo[]): { [key: string]: Json } {
  return {
    status: toPlainJson(status),
    nodes: nodes.map((n) => ({
      ...(toPlainJson(n) as { [key: string]: Json }),
      persistence: persistenceName(n.persistence),
    })),
  };
}
