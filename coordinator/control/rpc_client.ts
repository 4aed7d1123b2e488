/**
 * Promise wrappers over the generated grpc-js clients (ts-proto's callback style), with the channel
 * limits every daxsim client uses. A failed call rejects with the ServiceError grpc-js gave, whose
 * details are prefixed with `who` so a status passed on by the coordinator says which node said it.
 */
import { Metadata, credentials } from "@grpc/grpc-js";
import type { CallOptions, Client, ClientUnaryCall, ServiceError } from "@grpc/grpc-js";
import { CoordinatorClient } from "../../proto/gen/daxsim/v1/coordinator.js";
import { NodeControlClient } from "../../proto/gen/daxsim/v1/node.js";
import { GRPC_CHANNEL_OPTIONS } from "../../node/control/grpc_server.js";

type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (error: ServiceError | null, response: Res) => void,
) => ClientUnaryCall;

export function unary<Req, Res>(
  client: Client,
  method: UnaryMethod<Req, Res>,
  request: Req,
  options: Partial<CallOptions> = {},
  who = "",
): Promise<Res> {
  return new Promise((resolve, reject) => {
    method.call(client, request, new Metadata(), options, (error, response) => {
      if (error === null) {
        resolve(response);
        return;
      }
      if (who !== "") {
        error.details = `${who}: ${error.details}`;
        error.message = `${error.code} ${error.details}`;
      }
      reject(error);
    });
  });
}

export function nodeClient(address: string): NodeControlClient {
  return new NodeControlClient(address, credentials.createInsecure(), GRPC_CHANNEL_OPTIONS);
}

export function coordinatorClient(address: string): CoordinatorClient {
  return new CoordinatorClient(address, credentials.createInsecure(), GRPC_CHANNEL_OPTIONS);
}

/** A deadline `ms` from now. */
export function deadlineIn(ms: number): Date {
  return new Date(Date.now() + ms);
}
