/**
 * A worker thread of the experiment pool: receives (experiment spec, chunk of crash points),
 * checks them with a PointChecker it keeps per experiment, and posts the results back.
 */
import { parentPort } from "node:worker_threads";
import { PointChecker } from "./engine.js";
import type { ExperimentSpec } from "./engine.js";

export interface WorkerRequest {
  id: number;
  spec: ExperimentSpec;
  chunk: number[];
}

let cached: { key: string; checker: PointChecker } | undefined;

parentPort?.on("message", (request: WorkerRequest) => {
  try {
    const key = JSON.stringify(request.spec);
    if (cached?.key !== key) cached = { key, checker: new PointChecker(request.spec) };
    parentPort!.postMessage({ id: request.id, results: cached.checker.checkPoints(request.chunk) });
  } catch (error) {
    parentPort!.postMessage({
      id: request.id,
      error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
    });
  }
});
