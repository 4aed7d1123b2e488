/**
 * A gRPC server as every daxsim process runs one: message-size limits, the standard
 * grpc.health.v1 Health service and server reflection (so grpcurl and other stock clients find and
 * call everything without our stubs), and handlers wrapped so that any error becomes a status through
 * rpcStatusOf() — a bad request answers its caller and never stops the server.
 *
 * Invariants: the server listens where it was told (127.0.0.1 unless the address says otherwise);
 * reflection describes exactly the .proto files in proto/daxsim/v1 plus health and reflection.
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Server, ServerCredentials } from "@grpc/grpc-js";
import type { ServerUnaryCall, ServiceDefinition, UntypedServiceImplementation, sendUnaryData } from "@grpc/grpc-js";
import { ReflectionService } from "@grpc/reflection";
import { loadSync } from "@grpc/proto-loader";
import { HealthImplementation, protoPath as healthProtoPath } from "grpc-health-check";
import { toServiceError } from "./rpc_errors.js";

/** Largest request a server accepts (a workload batch as JSON). */
export const GRPC_RECEIVE_BYTES_MAX = 16 * 1024 * 1024;
/** Largest reply a server sends (records with bytes read, as hex). */
export const GRPC_SEND_BYTES_MAX = 64 * 1024 * 1024;
/** Channel options both ends use. */
export const GRPC_CHANNEL_OPTIONS = Object.freeze({
  "grpc.max_receive_message_length": GRPC_SEND_BYTES_MAX,
  "grpc.max_send_message_length": GRPC_RECEIVE_BYTES_MAX,
});
const SERVER_OPTIONS = Object.freeze({
  "grpc.max_receive_message_length": GRPC_RECEIVE_BYTES_MAX,
  "grpc.max_send_message_length": GRPC_SEND_BYTES_MAX,
  "grpc.keepalive_permit_without_calls": 1,
});
/** The .proto files reflection describes, relative to the proto root. */
const SERVICE_PROTOS = ["daxsim/v1/events.proto", "daxsim/v1/node.proto", "daxsim/v1/coordinator.proto"];
const STOP_GRACE_MS = 5_000;

/** An address that is not host:port, or a port that could not be bound. */
export class GrpcListenError extends Error {
  override readonly name = "GrpcListenError";
}

/** The folder holding daxsim/v1/*.proto: found upward from this module (source or dist/). */
export function protoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 8; depth++) {
    if (existsSync(join(dir, "proto", "daxsim", "v1", "node.proto"))) return join(dir, "proto");
    dir = dirname(dir);
  }
  throw new Error("proto/daxsim/v1/node.proto not found above the daxsim modules");
}

export interface GrpcService {
  /** Fully qualified name, e.g. "daxsim.v1.NodeControl" (health reports it). */
  name: string;
  definition: ServiceDefinition;
  implementation: UntypedServiceImplementation;
}

export interface RunningGrpcServer {
  server: Server;
  /** host:port actually bound. */
  address: string;
  health: HealthImplementation;
  /** Graceful stop (in-flight calls finish), forced after a bound. */
  stop(): Promise<void>;
}

/** Splits "host:port"; the host may be "[::1]". */
export function parseListenAddress(address: string): { host: string; port: number } {
  const match = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(address);
  if (match === null) throw new GrpcListenError(`gRPC address "${address}" is not host:port (e.g. 127.0.0.1:0)`);
  const port = Number(match[2]);
  if (port > 65535) throw new GrpcListenError(`gRPC address "${address}": port ${port} is above 65535`);
  return { host: match[1]!, port };
}

export async function startGrpcServer(address: string, services: readonly GrpcService[]): Promise<RunningGrpcServer> {
  const { host } = parseListenAddress(address);
  const server = new Server(SERVER_OPTIONS);
  for (const service of services)
    server.addService(service.definition, guarded(service.definition, service.implementation));
  const statusMap: Record<string, "SERVING"> = { "": "SERVING" };
  for (const service of services) statusMap[service.name] = "SERVING";
  const health = new HealthImplementation(statusMap);
  health.addToServer(server);
  reflectionService().addToServer(server);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(address, ServerCredentials.createInsecure(), (error, bound) => {
      if (error) reject(new GrpcListenError(`cannot listen on ${address}: ${error.message}`, { cause: error }));
      else resolve(bound);
    });
  });
  return {
    server,
    address: `${host}:${port}`,
    health,
    stop: () => stopServer(server),
  };
}

function stopServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, STOP_GRACE_MS);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

let reflection: ReflectionService | undefined;

/** Reflection over our .proto files plus grpc.health.v1 (so `grpcurl list` shows health too). */
function reflectionService(): ReflectionService {
  if (reflection !== undefined) return reflection;
  const root = protoRoot();
  const healthDir = dirname(dirname(dirname(healthProtoPath)));
  const definition = loadSync([...SERVICE_PROTOS, "health/v1/health.proto"], {
    includeDirs: [root, healthDir],
    keepCase: false,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  reflection = new ReflectionService(definition);
  return reflection;
}

/**
 * Wraps every unary handler so that a throw or a rejected promise answers the call through
 * rpcStatusOf(). Streaming handlers guard themselves (they own their stream's end).
 */
function guarded(
  definition: ServiceDefinition,
  implementation: UntypedServiceImplementation,
): UntypedServiceImplementation {
  const out: UntypedServiceImplementation = {};
  for (const [name, handler] of Object.entries(implementation)) {
    const method = definition[name];
    if (method === undefined || method.requestStream || method.responseStream) {
      out[name] = handler;
      continue;
    }
    out[name] = ((call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
      let answered = false;
      const answer: sendUnaryData<unknown> = (error, value) => {
        if (answered) return;
        answered = true;
        callback(error, value);
      };
      try {
        const result = (handler as (c: unknown, cb: sendUnaryData<unknown>) => unknown)(call, answer);
        if (result instanceof Promise) result.catch((error: unknown) => answer(toServiceError(error)));
      } catch (error) {
        answer(toServiceError(error));
      }
    }) as never;
  }
  return out;
}
