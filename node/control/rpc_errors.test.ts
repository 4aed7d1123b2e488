import { status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { policyFromWire } from "../../proto/codec.js";
import type { PowerLossPolicy as WirePolicy } from "../../proto/gen/daxsim/v1/events.js";
import { rpcStatusOf } from "./rpc_errors.js";

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error("expected a throw");
}

describe("rpc errors", () => {
  it("rpc errors: a wire-format error is INVALID_ARGUMENT with its message, the field named once", () => {
    const error = thrown(() => policyFromWire(99 as WirePolicy, "trigger.policy"));
    expect(rpcStatusOf(error)).toEqual({
      code: status.INVALID_ARGUMENT,
      details: "trigger.policy: unknown enum value 99",
    });
  });
});
