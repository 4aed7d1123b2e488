/** A wire message that cannot be turned into a domain event: not protobuf, a value out of range, a
 * missing kind. `field` names the offending field so a person can find it. */
export class WireFormatError extends Error {
  override readonly name = "WireFormatError";
  constructor(
    message: string,
    readonly field: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
