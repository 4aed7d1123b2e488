import { connect } from "@nats-io/transport-node";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { NatsServer, NatsServerMissingError, findNatsServer } from "./nats_server.js";
import { startTestNats } from "./test_nats.js";

describe("nats-server", () => {
  it("nats-server: starts on a free loopback port with JetStream in the run folder, restarts on the same port, stops", async () => {
    const t = await startTestNats();
    try {
      expect(t.server.port).toBeGreaterThan(0);
      expect(t.url).toBe(`nats://127.0.0.1:${t.server.port}`);
      expect(t.server.storeDir.startsWith(t.dir)).toBe(true);
      const nc = await connect({ servers: t.url });
      expect(nc.info?.jetstream).toBe(true);
      await nc.close();
      const port = t.server.port;
      await t.server.restart();
      expect(t.server.port).toBe(port);
      const again = await connect({ servers: t.url });
      await again.close();
      await t.server.stop();
      expect(t.server.running).toBe(false);
      await expect(connect({ servers: t.url, reconnect: false })).rejects.toThrow();
    } finally {
      await t.teardown();
    }
  });

  it("nats-server: a missing binary is a typed error naming the install command", () => {
    let error: unknown;
    try {
      findNatsServer({ PATH: "/nonexistent" }, ["/also-nonexistent"]);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(NatsServerMissingError);
    expect((error as Error).message).toContain("apt-get install -y nats-server");
  });

  it("nats-server: is found on PATH or in /usr/sbin", () => {
    const binary = findNatsServer();
    expect(existsSync(binary)).toBe(true);
  });

  it("nats-server: a binary that is not nats-server fails to start with its log", async () => {
    const dir = mkdtempSync(join(tmpdir(), "daxsim-test-"));
    try {
      await expect(NatsServer.start({ runDir: dir, binary: "/bin/false" })).rejects.toThrow(/exited while starting/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
