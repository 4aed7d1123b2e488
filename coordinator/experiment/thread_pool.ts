/**
 * Checks crash points on a pool of worker threads on this machine. A chunk goes to whichever thread
 * is free, so a fast thread takes more; each thread re-records the workload once per experiment.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { CheckerPool, ExperimentSpec, PointResult } from "./engine.js";

export class CheckerThreadError extends Error {
  override readonly name = "CheckerThreadError";
}

export const THREADS_MAX = 64;

/** The compiled worker script (tests run from TypeScript sources, so fall back to dist/). */
function workerScript(): string {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith(".js")) return fileURLToPath(new URL("./check_worker.js", import.meta.url));
  const built = fileURLToPath(new URL("../../dist/coordinator/experiment/check_worker.js", import.meta.url));
  if (!existsSync(built)) throw new CheckerThreadError(`${built} is missing: run \`npm run build\` first`);
  return built;
}

interface Pending {
  resolve: (results: PointResult[]) => void;
  reject: (error: Error) => void;
}

export class ThreadCheckerPool implements CheckerPool {
  private readonly idle: Worker[] = [];
  private readonly all: Worker[] = [];
  private readonly waiting: Array<(worker: Worker) => void> = [];
  private readonly pending = new Map<Worker, Pending>();
  private nextId = 0;
  private failure: Error | undefined;

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1 || size > THREADS_MAX)
      throw new CheckerThreadError(`--workers ${size}: must be an integer in [1, ${THREADS_MAX}]`);
    const script = workerScript();
    for (let i = 0; i < size; i++) {
      const worker = new Worker(script);
      worker.on("message", (message: { results?: PointResult[]; error?: string }) => this.settle(worker, message));
      worker.on("error", (error) =>
        this.fail(worker, new CheckerThreadError(`a checker thread died: ${error.message}`)),
      );
      this.all.push(worker);
      this.idle.push(worker);
    }
  }

  private settle(worker: Worker, message: { results?: PointResult[]; error?: string }): void {
    const p = this.pending.get(worker);
    this.pending.delete(worker);
    this.release(worker);
    if (p === undefined) return;
    if (message.error !== undefined) p.reject(new CheckerThreadError(message.error));
    else p.resolve(message.results!);
  }

  private fail(worker: Worker, error: Error): void {
    this.failure = error;
    this.pending.get(worker)?.reject(error);
    this.pending.delete(worker);
  }

  private release(worker: Worker): void {
    const next = this.waiting.shift();
    if (next !== undefined) next(worker);
    else this.idle.push(worker);
  }

  private acquire(): Promise<Worker> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const worker = this.idle.pop();
    if (worker !== undefined) return Promise.resolve(worker);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** Checks one chunk of crash points on the next free thread. */
  async check(spec: ExperimentSpec, chunk: number[]): Promise<PointResult[]> {
    const worker = await this.acquire();
    return new Promise<PointResult[]>((resolve, reject) => {
      this.pending.set(worker, { resolve, reject });
      worker.postMessage({ id: this.nextId++, spec, chunk });
    });
  }

  async run(spec: ExperimentSpec, chunks: number[][], onChunk: (results: PointResult[]) => void): Promise<void> {
    await Promise.all(chunks.map(async (chunk) => onChunk(await this.check(spec, chunk))));
  }

  async close(): Promise<void> {
    await Promise.all(this.all.map((w) => w.terminate()));
  }
}
