/** A command line that cannot be run as given: unknown option, missing argument, bad value. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** A command that ran and found something wrong (fsck problems, a failed expectation): exit 1. */
export class CommandFailure extends Error {
  override readonly name = "CommandFailure";
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}
