/**
 * A node's event log: stamps each event with its envelope (seq, boot, logical time) and hands it to
 * an EventSink. seq starts at 1 and is never reset; boot is advanced by power losses.
 *
 * The sink is synchronous on purpose: the simulated kernel is synchronous. Sinks that talk to the
 * network (the NATS outbox) buffer, and the node awaits them between operations and at sync points.
 */
import type { Event } from "../../proto/index.js";
import type { Clock } from "../sim/clock.js";

export interface EventSink {
  write(ev: Event): void;
}

/** Keeps every event, for tests and in-process use. */
export class MemorySink implements EventSink {
  readonly events: Event[] = [];
  write(ev: Event): void {
    this.events.push(ev);
  }
}

/** Counts events and payload bytes without keeping them (benchmarks). */
export class CountingSink implements EventSink {
  events = 0;
  storeBytes = 0;
  write(ev: Event): void {
    this.events++;
    if (ev.kind === "store") this.storeBytes += ev.data.length;
  }
}

/** Drops everything (the xfs_io-style tool when no log is wanted). */
export class NullSink implements EventSink {
  write(_ev: Event): void {}
}

/** Called after an event is stamped and written; may throw to interrupt the running operation. */
export type AppendListener = (ev: Event) => void;

export interface EventLogOptions {
  /** seq of the next event; > 1 when a node resumes its log. */
  nextSeq?: number;
  boot?: number;
}

export class EventLog {
  private seqNext: number;
  private bootCurrent: number;
  private readonly listeners: AppendListener[] = [];

  constructor(
    private readonly sink: EventSink,
    private readonly clock: Clock,
    options: EventLogOptions = {},
  ) {
    this.seqNext = options.nextSeq ?? 1;
    this.bootCurrent = options.boot ?? 0;
    if (!Number.isSafeInteger(this.seqNext) || this.seqNext < 1)
      throw new RangeError(`nextSeq ${this.seqNext} must be an integer ≥ 1`);
  }

  /** seq the next appended event will get. */
  get nextSeq(): number {
    return this.seqNext;
  }

  /** seq of the last appended event (0 when none). */
  get lastSeq(): number {
    return this.seqNext - 1;
  }

  get boot(): number {
    return this.bootCurrent;
  }

  /** Called by the power-loss path once its event is appended: later events belong to the next boot. */
  advanceBoot(): void {
    this.bootCurrent++;
  }

  now(): number {
    return this.clock.now();
  }

  /** Stamps `ev` (its seq/boot/time fields are overwritten) and writes it to the sink. */
  append<E extends Event>(ev: E): E {
    ev.seq = this.seqNext++;
    ev.boot = this.bootCurrent;
    ev.time = this.clock.now();
    this.sink.write(ev);
    for (const listener of this.listeners) listener(ev);
    return ev;
  }

  addListener(listener: AppendListener): () => void {
    this.listeners.push(listener);
    return () => {
      const at = this.listeners.indexOf(listener);
      if (at >= 0) this.listeners.splice(at, 1);
    };
  }
}
