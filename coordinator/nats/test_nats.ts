/**
 * For tests: a real nats-server with JetStream on a free loopback port, its store in a fresh temp
 * folder, and a teardown that stops it and removes the folder. Tests use this instead of doubles.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NatsServer } from "./nats_server.js";

export interface TestNats {
  server: NatsServer;
  /** The temp folder: the server's store is under it; tests may put their files here too. */
  dir: string;
  url: string;
  /** Stops the server and removes the folder. */
  teardown(): Promise<void>;
}

export async function startTestNats(prefix = "daxsim-test-"): Promise<TestNats> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const server = await NatsServer.start({ runDir: dir });
  return {
    server,
    dir,
    url: server.url,
    async teardown() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
