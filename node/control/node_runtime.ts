/**
 * One node process's simulated machine and everything that drives it: the Machine, its event log
 * going to JetStream through the outbox, workload sessions, the op queue, injected power-loss
 * triggers (now, at a seq, after k ops, or a kill), the hold barrier, and start-up from the
 * node's own durable log.
 *
 * It owns the order of ops: batches run one at a time in arrival order, op by op; between two ops
 * (and only there, since ops are synchronous) a power loss, a hold or a status request may run.
 *
 * Invariants:
 *   - write-ahead: every result that reports durability (a batch reply, a sync-type op's streamed
 *     record, a power loss, a shutdown) is handed back only after outbox.flush() resolved;
 *   - back-pressure: outbox.ready() is awaited after every op;
 *   - at most one power-loss trigger is armed; an at-seq trigger interrupts the op that appends the
 *     first event with seq ≥ S that is not a PowerLoss or Mount event, so the PowerLoss event
 *     follows it directly;
 *   - start-up: a node whose log exists folds its durable DIMM events with applyEvent from an empty
 *     DIMM, then loses power under `strict` (reason "kill", or "restart" after a clean shutdown),
 *     so its media is exactly what strict replay of the log predicts, and continues the seqs.
 */
import type { DimmEvent, Persistence, PowerLossEvent, PowerLossPolicy } from "../../proto/events.js";
import { linesLost, linesPartlyLost } from "../../proto/events.js";
import { applyEvent } from "../dimm/apply.js";
import { DimmRangeError } from "../dimm/errors.js";
import type { Dimm } from "../dimm/dimm.js";
import { EventLog } from "../events/event_log.js";
import type { NatsOutbox } from "../events/nats_outbox.js";
import type { MountOptions } from "../fs/fs.js";
import { formatMountOptions } from "../fs/fs.js";
import { Machine, PowerLossInterrupt } from "../machine.js";
import { Prng } from "../sim/prng.js";
import { StepClock } from "../sim/clock.js";
import { WorkloadSession, parseOp } from "../workload/index.js";
import type { OpRecord } from "../workload/index.js";
import type { DurableLog } from "./durable_log.js";
import { DurableLogMismatchError } from "./durable_log.js";
import { CancelledError, FailedPreconditionError, ResourceExhaustedError, UnavailableError } from "./rpc_errors.js";

export interface NodeSettings {
  node: string;
  dimmSizeBytes: number;
  persistence: Persistence;
  mount: MountOptions;
  /** Seeds mkfs and the seeds of power losses that do not name one. */
  seed: bigint;
}

/** A record and the seqs of its events. */
export interface RunRecord {
  record: OpRecord;
  firstSeq: number;
  lastSeq: number;
  boot: number;
}

export interface InjectedPowerLoss {
  seq: number;
  boot: number;
  policy: PowerLossPolicy;
  seed: bigint;
  mediaSha256: Uint8Array;
  linesDecided: number;
  /** Decided lines that kept none of their pending stores (proto/events.ts lineFate). */
  linesLost: number;
  /** Decided lines that kept some but not all of them. */
  linesPartlyLost: number;
  killed: boolean;
  ackedThroughSeq: number;
  recoveredTxns: number;
  fsckClean: boolean;
  mountMediaSha256: Uint8Array;
  trigger: string;
}

export interface BatchResult {
  records: RunRecord[];
  /** The injected power loss that stopped the batch, if one did. */
  powerLoss?: InjectedPowerLoss;
}

export type TriggerSpec = { kind: "now" } | { kind: "at-seq"; seq: number } | { kind: "after-ops"; ops: number };

export interface PowerLossSpec {
  trigger: TriggerSpec;
  policy: PowerLossPolicy;
  seed?: bigint;
  kill: boolean;
  reason: string;
}

interface ArmedTrigger {
  spec: PowerLossSpec;
  opsLeft: number;
  description: string;
  resolve: (result: InjectedPowerLoss) => void;
  reject: (error: Error) => void;
}

/** Ops whose records report durability: streamed only after the outbox flushed. */
export const SYNC_OPS: ReadonlySet<string> = new Set(["fsync", "fdatasync", "msync", "sync", "powerloss", "remount"]);
/** Named workload sessions one node keeps at most. */
export const SESSIONS_MAX = 64;
/** A hold releases itself after this long at most. */
export const HOLD_LEASE_MS_MAX = 60_000;
export const HOLD_LEASE_MS_DEFAULT = 10_000;
const DEFAULT_SESSION = "default";
const SESSION_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

interface SessionEntry {
  session: WorkloadSession;
  nextIndex: number;
}

export interface NodeRuntimeHooks {
  /** Called once a kill has been answered: end the process now (SIGKILL). */
  onKill: () => void;
}

export class NodeRuntime {
  readonly machine: Machine;
  readonly startedSeq: number;
  private readonly sessions = new Map<string, SessionEntry>();
  private queue: Promise<void> = Promise.resolve();
  private held: { promise: Promise<void>; release: () => void; timer: NodeJS.Timeout | undefined } | undefined;
  private armed: ArmedTrigger | undefined;
  private firing: ArmedTrigger | undefined;
  private state: "serving" | "stopping" | "stopped" | "dying" = "serving";
  private opsRun = 0;
  private injectedLosses = 0;
  private lastInjected: InjectedPowerLoss | undefined;
  private readonly seeds: Prng;

  private constructor(
    readonly settings: NodeSettings,
    readonly log: EventLog,
    readonly outbox: NatsOutbox,
    machine: Machine,
    private readonly hooks: NodeRuntimeHooks,
    startedSeq: number,
  ) {
    this.machine = machine;
    this.startedSeq = startedSeq;
    this.seeds = new Prng(settings.seed).split(`injected-power-loss@${this.startedSeq}`);
    log.addListener((ev) => {
      const armed = this.armed;
      if (armed === undefined || armed.spec.trigger.kind !== "at-seq" || this.firing !== undefined) return;
      if (ev.seq < armed.spec.trigger.seq || ev.kind === "powerLoss" || ev.kind === "mount") return;
      this.firing = armed;
      throw new PowerLossInterrupt(`power loss armed at seq ${armed.spec.trigger.seq}`);
    });
  }

  /**
   * The node's machine: freshly formatted when its durable log is empty, else rebuilt from it.
   * Everything logged at start-up (mkfs, or the restore power loss, and the Mount) is acknowledged
   * by JetStream before this resolves.
   */
  static async start(
    settings: NodeSettings,
    durable: DurableLog,
    outbox: NatsOutbox,
    hooks: NodeRuntimeHooks,
  ): Promise<NodeRuntime> {
    if (durable.persistence !== undefined && durable.persistence !== settings.persistence) {
      throw new DurableLogMismatchError(
        `the durable log of ${settings.node} was made with persistence ${durable.persistence}; start the node with --persistence ${durable.persistence}`,
      );
    }
    const last = durable.last;
    const boot = last === undefined ? 0 : last.boot + (last.kind === "powerLoss" ? 1 : 0);
    const log = new EventLog(outbox, new StepClock(1, last?.time ?? 0), { nextSeq: durable.lastSeq + 1, boot });
    const options = {
      dimm: { sizeBytes: settings.dimmSizeBytes, persistence: settings.persistence },
      mount: settings.mount,
      seed: settings.seed,
    };
    let machine: Machine;
    if (last === undefined) {
      machine = Machine.format(log, options);
    } else {
      const cleanShutdown = last.kind === "op" && last.name === "shutdown";
      machine = Machine.replayed(log, options, (dimm) => {
        foldDurableEvents(dimm, durable.dimmEvents, settings.node);
        dimm.powerLoss("strict", 0n, cleanShutdown ? "restart" : "kill");
      });
    }
    await outbox.flush();
    return new NodeRuntime(settings, log, outbox, machine, hooks, durable.lastSeq + 1);
  }

  get isServing(): boolean {
    return this.state === "serving";
  }

  // ---- ops --------------------------------------------------------------------------------------

  /** Checks a session name; creates the session on first use (bounded). */
  private sessionFor(name: string): SessionEntry {
    const key = name === "" ? DEFAULT_SESSION : name;
    const existing = this.sessions.get(key);
    if (existing !== undefined) return existing;
    if (this.sessions.size >= SESSIONS_MAX)
      throw new ResourceExhaustedError("session", `the node keeps at most ${SESSIONS_MAX} sessions; reuse one`);
    const entry = { session: new WorkloadSession(this.machine, { seed: this.seeds.nextU64() }), nextIndex: 0 };
    this.sessions.set(key, entry);
    return entry;
  }

  /** What is wrong with a session name that cannot be used; undefined when it can be. */
  static checkSessionName(name: string): string | undefined {
    if (name === "" || SESSION_NAME.test(name)) return undefined;
    return `"${name.slice(0, 80)}" must be 1–64 characters of A-Z a-z 0-9 _ . -`;
  }

  /**
   * Runs already-checked raw ops in one session, in the node's op order. `onRecord` sees each record
   * as it exists (a sync-type op's record only after the outbox flushed). An injected power loss
   * stops the batch: the ops after it get records with `error` "not run".
   */
  async runBatch(
    rawOps: readonly unknown[],
    sessionName: string,
    onRecord?: (r: RunRecord) => Promise<void>,
  ): Promise<BatchResult> {
    this.checkServing();
    const entry = this.sessionFor(sessionName);
    const release = await this.acquire();
    try {
      const records: RunRecord[] = [];
      const lossesAtStart = this.injectedLosses;
      for (const raw of rawOps) {
        await this.waitWhileHeld();
        const why =
          this.state !== "serving"
            ? "the node is shutting down"
            : this.injectedLosses !== lossesAtStart
              ? `power was lost at seq ${this.lastInjected?.seq ?? "?"}`
              : undefined;
        if (why !== undefined) {
          records.push(this.notRun(entry, raw, why));
          continue;
        }
        const run = await this.runOne(entry, raw);
        records.push(run);
        if (onRecord !== undefined) {
          if (SYNC_OPS.has(run.record.op)) await this.outbox.flush();
          await onRecord(run);
        }
        await this.outbox.ready();
      }
      await this.outbox.flush();
      const stoppedBy = this.injectedLosses !== lossesAtStart ? this.lastInjected : undefined;
      return stoppedBy === undefined ? { records } : { records, powerLoss: stoppedBy };
    } finally {
      release();
    }
  }

  private notRun(entry: SessionEntry, raw: unknown, why: string): RunRecord {
    const i = entry.nextIndex++;
    const name = typeof (raw as { op?: unknown } | null)?.op === "string" ? (raw as { op: string }).op : "?";
    const seq = this.log.lastSeq;
    return {
      record: { i, op: name, pid: 0, ok: false, value: -1, faults: [], error: `not run: ${why}` },
      firstSeq: seq + 1,
      lastSeq: seq,
      boot: this.log.boot,
    };
  }

  private async runOne(entry: SessionEntry, raw: unknown): Promise<RunRecord> {
    const index = entry.nextIndex++;
    const op = parseOp(raw, index);
    const firstSeq = this.log.nextSeq;
    const boot = this.log.boot;
    let record: OpRecord;
    try {
      record = entry.session.execParsed(op);
    } catch (error) {
      if (!(error instanceof PowerLossInterrupt) || this.firing === undefined) throw error;
      record = {
        i: index,
        op: op.name,
        pid: 0,
        ok: false,
        value: -1,
        faults: [],
        error: `interrupted by a power loss injected at seq ${this.log.lastSeq}`,
      };
    }
    const run = { record, firstSeq, lastSeq: this.log.lastSeq, boot };
    this.opsRun++;
    const firing = this.firing;
    if (firing !== undefined) {
      await this.fire(firing);
    } else if (this.armed?.spec.trigger.kind === "after-ops" && --this.armed.opsLeft === 0) {
      await this.fire(this.armed);
    }
    return run;
  }

  private async acquire(): Promise<() => void> {
    let release!: () => void;
    const previous = this.queue;
    this.queue = new Promise<void>((resolve) => (release = resolve));
    await previous;
    return release;
  }

  // ---- hold -------------------------------------------------------------------------------------

  /** No op starts until release() or the lease ends. Returns where the node stands. */
  hold(leaseMs: number): { lastSeq: number; boot: number } {
    this.checkServing();
    if (this.held === undefined) {
      let release!: () => void;
      const promise = new Promise<void>((resolve) => (release = resolve));
      this.held = { promise, release, timer: undefined };
    }
    const held = this.held;
    if (held.timer !== undefined) clearTimeout(held.timer);
    held.timer = setTimeout(() => this.release(), leaseMs);
    return { lastSeq: this.log.lastSeq, boot: this.log.boot };
  }

  release(): void {
    const held = this.held;
    if (held === undefined) return;
    if (held.timer !== undefined) clearTimeout(held.timer);
    this.held = undefined;
    held.release();
  }

  private async waitWhileHeld(): Promise<void> {
    while (this.held !== undefined) await this.held.promise;
  }

  // ---- power loss -------------------------------------------------------------------------------

  /**
   * Arms a trigger (or fires at once for "now") and resolves when the power loss happened. `signal`
   * disarms a trigger that has not fired (the caller cancelled).
   */
  powerLoss(spec: PowerLossSpec, signal?: AbortSignal): Promise<InjectedPowerLoss> {
    this.checkServing();
    if (this.armed !== undefined)
      throw new FailedPreconditionError(
        "trigger",
        `a power loss is already armed on ${this.settings.node} (${this.armed.description}); wait for it or cancel its call`,
      );
    const trigger = spec.trigger;
    if (trigger.kind === "at-seq" && trigger.seq <= this.log.lastSeq) {
      throw new FailedPreconditionError(
        "trigger.at_seq",
        `seq ${trigger.seq} is already past: ${this.settings.node} is at seq ${this.log.lastSeq}`,
      );
    }
    const description =
      trigger.kind === "now" ? "now" : trigger.kind === "at-seq" ? `at seq ${trigger.seq}` : `after ${trigger.ops} ops`;
    return new Promise<InjectedPowerLoss>((resolve, reject) => {
      const armed: ArmedTrigger = {
        spec,
        opsLeft: trigger.kind === "after-ops" ? trigger.ops : 0,
        description,
        resolve,
        reject,
      };
      if (trigger.kind === "now") {
        this.release();
        this.fire(armed).catch(reject);
        return;
      }
      this.armed = armed;
      signal?.addEventListener("abort", () => {
        if (this.armed !== armed) return;
        this.armed = undefined;
        reject(new CancelledError("trigger", `the power loss armed ${description} was cancelled before it fired`));
      });
    });
  }

  /** Runs between two ops (or in place of the rest of an interrupted one). */
  private async fire(armed: ArmedTrigger): Promise<void> {
    if (this.armed === armed) this.armed = undefined;
    this.firing = undefined;
    const { spec } = armed;
    if (spec.kill) {
      this.kill(armed);
      return;
    }
    const seed = spec.seed ?? this.seeds.nextU64();
    const event: PowerLossEvent = this.machine.powerLoss(
      spec.policy,
      seed,
      spec.reason === "" ? `injected ${armed.description}` : spec.reason,
    );
    this.injectedLosses++;
    const mountHash = this.machine.dimm.mediaSha256();
    const result: InjectedPowerLoss = {
      seq: event.seq,
      boot: event.boot,
      policy: spec.policy,
      seed,
      mediaSha256: event.mediaSha256,
      linesDecided: event.lines.length,
      linesLost: linesLost(event),
      linesPartlyLost: linesPartlyLost(event),
      killed: false,
      ackedThroughSeq: 0,
      recoveredTxns: this.machine.lastMount?.recoveredTxns ?? 0,
      fsckClean: this.machine.lastMount?.fsck.clean ?? false,
      mountMediaSha256: mountHash,
      trigger: armed.description,
    };
    this.lastInjected = result;
    await this.outbox.flush();
    result.ackedThroughSeq = this.outbox.ackedThroughSeq;
    armed.resolve(result);
  }

  /** Stops everything, answers, and lets the process die: what JetStream has is what survives. */
  private kill(armed: ArmedTrigger): void {
    // Held for good: no op starts again in this process.
    if (this.held === undefined) this.hold(HOLD_LEASE_MS_MAX);
    if (this.held?.timer !== undefined) clearTimeout(this.held.timer);
    this.state = "dying";
    this.rejectArmed(new UnavailableError("", `${this.settings.node} is being killed`));
    const result: InjectedPowerLoss = {
      seq: this.log.lastSeq,
      boot: this.log.boot,
      policy: armed.spec.policy,
      seed: 0n,
      mediaSha256: new Uint8Array(0),
      linesDecided: 0,
      linesLost: 0,
      linesPartlyLost: 0,
      killed: true,
      ackedThroughSeq: this.outbox.ackedThroughSeq,
      recoveredTxns: 0,
      fsckClean: false,
      mountMediaSha256: new Uint8Array(0),
      trigger: armed.description,
    };
    this.lastInjected = result;
    this.injectedLosses++;
    armed.resolve(result);
    this.hooks.onKill();
  }

  private rejectArmed(error: Error): void {
    const armed = this.armed;
    this.armed = undefined;
    armed?.reject(error);
  }

  // ---- status and shutdown ----------------------------------------------------------------------

  status(): {
    lastSeq: number;
    ackedThroughSeq: number;
    boot: number;
    mounted: boolean;
    mountOptions: string;
    fsckClean: boolean;
    recoveredTxns: number;
    mediaSha256: Uint8Array;
    opsRun: number;
    armed: string;
    held: boolean;
    eventsWritten: number;
  } {
    const mounted = this.state !== "stopped" && this.machine.fs.isMounted;
    return {
      lastSeq: this.log.lastSeq,
      ackedThroughSeq: this.outbox.ackedThroughSeq,
      boot: this.log.boot,
      mounted,
      mountOptions: formatMountOptions(this.machine.mountOptions),
      fsckClean: this.machine.lastMount?.fsck.clean ?? false,
      recoveredTxns: this.machine.lastMount?.recoveredTxns ?? 0,
      mediaSha256: this.machine.dimm.mediaSha256(),
      opsRun: this.opsRun,
      armed: this.armed?.description ?? "",
      held: this.held !== undefined,
      eventsWritten: this.outbox.stats.eventsWritten,
    };
  }

  /**
   * Clean shutdown: the batch running stops at its next op, the filesystem is unmounted (logged as
   * an Op "shutdown", which tells the next start the log ended cleanly), and every event is
   * acknowledged before this resolves.
   */
  async shutdown(): Promise<{ lastSeq: number; mediaSha256: Uint8Array }> {
    if (this.state !== "serving")
      throw new FailedPreconditionError("", `${this.settings.node} is already ${this.state}`);
    this.state = "stopping";
    this.rejectArmed(new UnavailableError("", `${this.settings.node} is shutting down`));
    this.release();
    const release = await this.acquire();
    try {
      this.machine.run("shutdown", 0, {}, () => {
        this.machine.unmount();
        return {};
      });
      this.state = "stopped";
      await this.outbox.flush();
      return { lastSeq: this.log.lastSeq, mediaSha256: this.machine.dimm.mediaSha256() };
    } finally {
      release();
    }
  }

  private checkServing(): void {
    if (this.state === "serving") return;
    throw new UnavailableError("", `${this.settings.node} is ${this.state === "dying" ? "being killed" : this.state}`);
  }
}

/** Applies a node's durable DIMM events, in order, to a fresh DIMM: the same fold replay does. */
function foldDurableEvents(dimm: Dimm, events: readonly DimmEvent[], node: string): void {
  for (const ev of events) {
    try {
      applyEvent(dimm.state, ev);
    } catch (error) {
      if (error instanceof DimmRangeError) {
        throw new DurableLogMismatchError(
          `the durable log of ${node} does not fit a ${dimm.sizeBytes}-byte DIMM (event seq ${ev.seq}: ${error.message}); start the node with the --dimm-size it had`,
        );
      }
      throw error;
    }
    // Compaction changes nothing observable; it keeps the journal of a long log bounded.
    if (ev.kind === "fence") dimm.state.compactJournalIfGrown(dimm.journalRecordsMax);
  }
}
