/**
 * The seeded delay of InjectPowerLoss (`--after-ms`): a caller that cancels during it ends the call
 * as CANCELLED — the status docs/api.md and docs/cli.md promise — not INTERNAL.
 */
import { status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { CancelledError, rpcStatusOf } from "../../node/control/rpc_errors.js";
import { cancellableSleep } from "./coordinator_service.js";

async function outcome(p: Promise<void>): Promise<unknown> {
  return p.then(
    () => "resolved",
    (error: unknown) => error,
  );
}

describe("coordinator: the cancellable delay of InjectPowerLoss", () => {
  it("coordinator: a delay cancelled while it runs rejects with CancelledError, which maps to CANCELLED", async () => {
    const abort = new AbortController();
    const sleeping = outcome(cancellableSleep(3_600_000, abort.signal));
    abort.abort();
    const error = await sleeping;
    expect(error).toBeInstanceOf(CancelledError);
    expect(rpcStatusOf(error).code).toBe(status.CANCELLED);
    expect(rpcStatusOf(error).details).toContain("no power loss was injected");
  });

  it("coordinator: a delay whose call was cancelled before it started rejects at once", async () => {
    const abort = new AbortController();
    abort.abort();
    expect(await outcome(cancellableSleep(3_600_000, abort.signal))).toBeInstanceOf(CancelledError);
  });

  it("coordinator: a delay nobody cancels resolves", async () => {
    expect(await outcome(cancellableSleep(1, new AbortController().signal))).toBe("resolved");
  });
});
