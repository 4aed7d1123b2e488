/** A wire message that cannot be turned into a domain event: not protobuf, a value out of range, a
 * missing kind. The message is complete (it names the field where one is at fault); `field` names
 * the offending field for programs. */
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
