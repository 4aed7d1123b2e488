/**
 * Why a node's event log cannot be replayed, one class per failure (Temporal-style: replay fails
 * loudly and names the first event that is wrong). Callers check `instanceof`, never message text;
 * every class extends ReplayError so "the log is unusable" is one check. Each message names the
 * node, the seq and the values involved so a person can go and look at the row.
 */

/** Base class of every replay failure. */
export class ReplayError extends Error {
  override readonly name: string = "ReplayError";
}

/** The SQLite file cannot be opened or read, is not a daxsim event log, or is damaged. */
export class EventLogFileError extends ReplayError {
  override readonly name = "EventLogFileError";
  constructor(
    readonly file: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The log has no events for the node asked about. */
export class NodeNotFoundError extends ReplayError {
  override readonly name = "NodeNotFoundError";
  constructor(
    readonly node: string,
    readonly knownNodes: readonly string[],
  ) {
    super(
      `the log has no events of node "${node}"${knownNodes.length > 0 ? `; it has ${knownNodes.map((n) => `"${n}"`).join(", ")}` : "; it has no events at all"}`,
    );
  }
}

/** One or more seqs are missing: [missingFrom, missingTo] is not in the log, seq `foundSeq` is. */
export class LogGapError extends ReplayError {
  override readonly name = "LogGapError";
  constructor(
    readonly node: string,
    readonly missingFrom: number,
    readonly missingTo: number,
    readonly foundSeq: number,
  ) {
    const what = missingFrom === missingTo ? `seq ${missingFrom} is` : `seqs ${missingFrom}..${missingTo} are`;
    super(
      `node ${node}: ${what} missing from the log (the next event present is seq ${foundSeq}); a log with a hole is never replayed`,
    );
  }
}

/** The same event appears twice: `seq` is logged again where seq `atSeq` should be. */
export class LogDuplicateError extends ReplayError {
  override readonly name = "LogDuplicateError";
  constructor(
    readonly node: string,
    readonly seq: number,
    readonly atSeq: number,
  ) {
    super(`node ${node}: event seq ${seq} appears a second time, where seq ${atSeq} should be`);
  }
}

/** A row's plain columns say something else than its encoded event (or a side table row does). */
export class LogRowMismatchError extends ReplayError {
  override readonly name = "LogRowMismatchError";
  constructor(
    readonly node: string,
    readonly seq: number,
    readonly column: string,
    readonly rowValue: unknown,
    readonly eventValue: unknown,
  ) {
    super(
      `node ${node} seq ${seq}: column ${column} holds ${JSON.stringify(rowValue)} but the encoded event says ${JSON.stringify(eventValue)}; the row was edited or written by a different daxsim`,
    );
  }
}

/** A row's `encoded` bytes are not a valid daxsim.v1.Event of this node (edited or cut bytes). */
export class LogCorruptEventError extends ReplayError {
  override readonly name = "LogCorruptEventError";
  constructor(
    readonly node: string,
    readonly seq: number,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(`node ${node} seq ${seq}: the encoded event cannot be decoded: ${reason}`, options);
  }
}

/** The log ends before an event that should be there (ingest saw more, or a seq was asked for). */
export class LogTruncatedError extends ReplayError {
  override readonly name = "LogTruncatedError";
  constructor(
    readonly node: string,
    readonly lastSeq: number,
    readonly expectedSeq: number,
    reason: string,
  ) {
    super(`node ${node}: the log ends at seq ${lastSeq} but ${reason} (seq ${expectedSeq})`);
  }
}

/**
 * Replay does not reproduce what the node recorded: after the event (seq, kind) the rebuilt media
 * hash is not the one the node logged, or the event cannot be applied to the rebuilt state (a
 * power-loss decision about lines that are not pending). The first such event is named.
 */
export class ReplayDivergenceError extends ReplayError {
  override readonly name = "ReplayDivergenceError";
  constructor(
    readonly node: string,
    readonly seq: number,
    readonly kind: string,
    readonly recordedSha256: string,
    readonly replayedSha256: string,
    readonly hint: string,
    options?: { cause?: unknown },
  ) {
    super(
      `node ${node}: replay diverges at seq ${seq} (${kind}): the node recorded media sha256 ${recordedSha256 || "(none)"}, replay computed ${replayedSha256}${hint ? `; ${hint}` : ""}`,
      options,
    );
  }
}

/** The DIMM's size or persistence domain is not in the log and cannot be inferred from it. */
export class DimmGeometryError extends ReplayError {
  override readonly name = "DimmGeometryError";
}

/** `--power-loss ID` names no PowerLoss event of the node. */
export class PowerLossNotFoundError extends ReplayError {
  override readonly name = "PowerLossNotFoundError";
  constructor(
    readonly node: string,
    readonly seq: number | undefined,
    readonly powerLossSeqs: readonly number[],
  ) {
    const known =
      powerLossSeqs.length === 0
        ? "the node never lost power"
        : `its power losses are at seq ${powerLossSeqs.join(", ")}`;
    super(
      seq === undefined
        ? `node ${node}: no power loss to report on: ${known}`
        : `node ${node}: seq ${seq} is not a power loss; ${known}`,
    );
  }
}

/** A bounded resource of a report (stores in one window, beyond-EOF stores) would be exceeded. */
export class ReplayLimitError extends ReplayError {
  override readonly name = "ReplayLimitError";
}
