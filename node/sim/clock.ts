/**
 * Simulated time. Nothing in node/ reads the wall clock: a Clock is passed in. Time is a logical
 * count of nanoseconds that only moves forward.
 */
export interface Clock {
  /** Current logical time in nanoseconds; never decreases. */
  now(): number;
}

/** A clock that advances by a fixed step each time it is read: every event gets a distinct time. */
export class StepClock implements Clock {
  private timeNs: number;
  constructor(
    private readonly stepNs = 1,
    startNs = 0,
  ) {
    if (!Number.isSafeInteger(stepNs) || stepNs < 0)
      throw new RangeError(`stepNs ${stepNs} must be a non-negative integer`);
    this.timeNs = startNs;
  }
  now(): number {
    this.timeNs += this.stepNs;
    return this.timeNs;
  }
}

/** A clock moved only by the test or driver that owns it. */
export class ManualClock implements Clock {
  constructor(private timeNs = 0) {}
  now(): number {
    return this.timeNs;
  }
  advance(ns: number): void {
    if (!Number.isSafeInteger(ns) || ns < 0) throw new RangeError(`advance(${ns}): must be a non-negative integer`);
    this.timeNs += ns;
  }
}
