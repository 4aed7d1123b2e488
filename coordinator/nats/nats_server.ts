/**
 * A private nats-server as a child process: found on PATH or in /usr/sbin, listening on a loopback
 * port, JetStream on, its store and config inside the caller's run folder.
 *
 * Invariants: start() resolves only once the server logged that it is ready and its client port is
 * known; stop() resolves only once the process has exited (SIGTERM, then SIGKILL after a bound);
 * a server object owns at most one process at a time, and restart() reuses the same port and store
 * so clients reconnect to the same address and the same JetStream state.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { accessSync, constants, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const NATS_INSTALL_COMMAND = "apt-get install -y nats-server";
/** Largest message the private server accepts; must be ≥ EVENT_STREAM_LIMITS.maxMsgBytes. */
export const NATS_MAX_PAYLOAD_BYTES = 8 * 1024 * 1024;
const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 10_000;
/** Keep at most this much of the server's log in memory for error messages. */
const LOG_TAIL_BYTES_MAX = 16 * 1024;

/** nats-server is neither on PATH nor in /usr/sbin. */
export class NatsServerMissingError extends Error {
  override readonly name = "NatsServerMissingError";
  constructor(searched: string[]) {
    super(`nats-server not found (looked in ${searched.join(", ")}); install it with: ${NATS_INSTALL_COMMAND}`);
  }
}

/** nats-server started but did not become ready, or exited while starting. */
export class NatsServerStartError extends Error {
  override readonly name = "NatsServerStartError";
  constructor(
    message: string,
    readonly logTail: string,
  ) {
    super(`${message}\n--- nats-server log (tail) ---\n${logTail}`);
  }
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Where nats-server is looked for after $PATH (Debian installs it in /usr/sbin). */
export const NATS_SERVER_DIRS: readonly string[] = ["/usr/sbin", "/usr/local/sbin"];

/** The nats-server binary: $PATH first, then NATS_SERVER_DIRS. */
export function findNatsServer(
  env: NodeJS.ProcessEnv = process.env,
  fallbackDirs: readonly string[] = NATS_SERVER_DIRS,
): string {
  const dirs = [...(env.PATH ?? "").split(":").filter((d) => d !== ""), ...fallbackDirs];
  for (const dir of dirs) {
    const candidate = join(dir, "nats-server");
    if (isExecutable(candidate)) return candidate;
  }
  throw new NatsServerMissingError(dirs);
}

export interface NatsServerOptions {
  /** Folder for the config, the JetStream store (`<runDir>/nats/jetstream`) and nothing else. */
  runDir: string;
  /** Client port; 0 (default) lets nats-server pick a free one. */
  port?: number;
  /** Binary to run; default findNatsServer(). */
  binary?: string;
}

export class NatsServer {
  readonly storeDir: string;
  private readonly configFile: string;
  private readonly binary: string;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private portNumber: number;
  private logTail = "";

  private constructor(options: NatsServerOptions) {
    this.binary = options.binary ?? findNatsServer();
    const dir = join(options.runDir, "nats");
    this.storeDir = join(dir, "jetstream");
    this.configFile = join(dir, "nats-server.conf");
    this.portNumber = options.port ?? 0;
    mkdirSync(this.storeDir, { recursive: true });
    // The store path is JSON-quoted: the config syntax accepts JSON strings.
    writeFileSync(
      this.configFile,
      [
        `max_payload: ${NATS_MAX_PAYLOAD_BYTES}`,
        `jetstream {`,
        `  store_dir: ${JSON.stringify(this.storeDir)}`,
        `}`,
        "",
      ].join("\n"),
    );
  }

  /** Starts a private server and waits until it is ready. */
  static async start(options: NatsServerOptions): Promise<NatsServer> {
    const server = new NatsServer(options);
    await server.spawnAndWait();
    return server;
  }

  get port(): number {
    return this.portNumber;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.portNumber}`;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  private spawnAndWait(): Promise<void> {
    if (this.child !== undefined) throw new Error("nats-server is already running");
    // -p -1 asks the server for a random free port; it logs the one it took.
    const port = this.portNumber === 0 ? "-1" : String(this.portNumber);
    const child = spawn(this.binary, ["-c", this.configFile, "-a", "127.0.0.1", "-p", port], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    this.child = child;
    this.logTail = "";
    this.exited = new Promise((resolve) => child.once("exit", () => resolve()));
    child.once("exit", () => {
      if (this.child === child) this.child = undefined;
    });
    return new Promise((resolve, reject) => {
      let listening = false;
      const fail = (message: string): void => {
        clearTimeout(timer);
        child.kill("SIGKILL");
        reject(new NatsServerStartError(message, this.logTail));
      };
      const timer = setTimeout(
        () => fail(`nats-server did not become ready within ${START_TIMEOUT_MS} ms`),
        START_TIMEOUT_MS,
      );
      const onError = (error: Error): void => fail(`cannot run ${this.binary}: ${error.message}`);
      const onExit = (code: number | null, signal: NodeJS.Signals | null): void =>
        fail(`nats-server exited while starting (${code ?? signal})`);
      child.once("error", onError);
      child.once("exit", onExit);
      child.stderr!.setEncoding("utf8");
      let ready = false;
      child.stderr!.on("data", (chunk: string) => {
        if (ready) return;
        this.logTail = (this.logTail + chunk).slice(-LOG_TAIL_BYTES_MAX);
        const found = /Listening for client connections on [^\s]*:(\d+)/.exec(this.logTail);
        if (found !== null) {
          this.portNumber = Number(found[1]);
          listening = true;
        }
        if (listening && this.logTail.includes("Server is ready")) {
          ready = true;
          clearTimeout(timer);
          child.off("exit", onExit);
          child.off("error", onError);
          resolve();
        }
      });
    });
  }

  /** Stops the server cleanly (SIGTERM; SIGKILL if it has not exited after a bound). */
  async stop(): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    const exited = this.exited;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
    this.child = undefined;
  }

  /** Kills the server at once (SIGKILL), as a crash would. */
  async kill(): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    const exited = this.exited;
    child.kill("SIGKILL");
    await exited;
    this.child = undefined;
  }

  /** Stops and starts again on the same port with the same JetStream store. */
  async restart(): Promise<void> {
    await this.stop();
    await this.spawnAndWait();
  }

  /** Starts again after stop()/kill() on the same port with the same store. */
  async startAgain(): Promise<void> {
    await this.spawnAndWait();
  }
}
