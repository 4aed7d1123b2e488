/**
 * Typed errors of the DIMM. Callers check `instanceof`, never message text. Each message names the
 * bad value so a person can act on it.
 */

/** A size, persistence domain or capacity setting that the DIMM cannot have. */
export class DimmConfigError extends Error {
  override readonly name = "DimmConfigError";
}

/** An access outside the media: [addr, addr+length) not inside [0, sizeBytes). */
export class DimmRangeError extends RangeError {
  override readonly name = "DimmRangeError";
  constructor(
    readonly what: string,
    readonly addr: number,
    readonly length: number,
    readonly sizeBytes: number,
  ) {
    super(`${what}: [${addr}, ${addr}+${length}) is outside the DIMM's ${sizeBytes} bytes`);
  }
}

/** A malformed argument: not an integer, a zero length, an unknown kind or policy. */
export class DimmArgumentError extends TypeError {
  override readonly name = "DimmArgumentError";
}

/**
 * An event that cannot be applied to the state it is applied to: a power-loss decision naming lines
 * that were not pending, or a different number of versions. Raised by replay of a log that does not
 * match the code, or of a tampered log.
 */
export class DimmDivergenceError extends Error {
  override readonly name = "DimmDivergenceError";
  constructor(
    message: string,
    readonly seq: number,
  ) {
    super(message);
  }
}
