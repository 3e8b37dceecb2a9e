// A relay fleet on one host (RELAY_WORKERS=2): workers share the ports, a dead worker is replaced, a
// spool left by a worker of an earlier, larger fleet is delivered, and SIGTERM drains every worker.
import { readdirSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { EXAMPLE_EVENTS, topicFor } from "../../src/core/index.ts";
import { readTopic } from "../support/kafka.ts";
import { freePort } from "../support/ports.ts";
import { uniqueName } from "../support/random.ts";
import { relayProcess } from "../support/relay.ts";

const brokers = inject("kafkaBrokers");
const KEY = `svc_${uniqueName("fleet")}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The processes whose parent is `pid` (Linux /proc). */
const childrenOf = (pid: number) =>
  readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .filter((child) => {
      try {
        return Number(readFileSync(`/proc/${child}/stat`, "utf8").split(") ")[1]?.split(" ")[1]) === pid;
      } catch {
        return false;
      }
    });

describe("a relay fleet (RELAY_WORKERS=2)", () => {
  it("serves from two workers on shared ports, replaces a dead worker, delivers an orphaned spool, and drains on SIGTERM", async () => {
    const tenant = uniqueName("fleet");
    const spoolDir = await mkdtemp(join(tmpdir(), "fleet-spool-"));
    // A spool that worker 3 of an earlier fleet of three left behind, holding one acknowledged event.
    const orphan = join(spoolDir, "worker-3", topicFor(tenant));
    await mkdir(orphan, { recursive: true });
    const orphanEvent = { ...EXAMPLE_EVENTS.video_data, tenant_id: tenant, event_id: "evt_orphaned_0001" };
    await writeFile(
      join(orphan, "000000000001.ndjson"),
      `${JSON.stringify({ t: topicFor(tenant), k: "u_1", v: JSON.stringify(orphanEvent), id: orphanEvent.event_id })}\n`,
    );
    const relay = relayProcess({
      RELAY_HTTP_PORT: String(await freePort()),
      RELAY_GRPC_PORT: String(await freePort()),
      RELAY_WORKERS: "2",
      RELAY_API_KEYS: `${KEY}=*`,
      KAFKA_BROKERS: brokers.join(","),
      SPOOL_DIR: spoolDir,
      MONGODB_URI: inject("mongodbUri"),
      MONGODB_DB: uniqueName("fleet"),
    });
    const acknowledged: string[] = [];
    const send = async () => {
      const response = await fetch(`${relay.url}/api/v1/behaviors/track`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` },
        body: JSON.stringify({ ...EXAMPLE_EVENTS.video_data, event_id: undefined, tenant_id: tenant }),
      }).catch(() => undefined);
      if (response?.status === 200)
        acknowledged.push(((await response.json()) as { event_id: string }).event_id);
    };
    try {
      await relay.ready();
      const workers = childrenOf(relay.pid());
      expect(workers).toHaveLength(2);

      // The orphaned spool is delivered and removed.
      const delivered = await readTopic(brokers, topicFor(tenant), 1, 30_000, (r) =>
        r.value.includes("evt_orphaned_0001"),
      );
      expect(delivered).toHaveLength(1);
      const deadline = Date.now() + 10_000;
      while ((await readdir(spoolDir)).includes("worker-3") && Date.now() < deadline) await sleep(100);
      expect(await readdir(spoolDir)).not.toContain("worker-3");

      for (let i = 0; i < 20; i++) await send();
      process.kill(workers[0] as number, "SIGKILL");
      const replaced = Date.now() + 30_000;
      while (Date.now() < replaced) {
        const now = childrenOf(relay.pid());
        if (now.length === 2 && !now.includes(workers[0] as number)) break;
        await sleep(100);
      }
      expect(childrenOf(relay.pid())).toHaveLength(2);
      expect(childrenOf(relay.pid())).not.toContain(workers[0]);
      for (let i = 0; i < 20; i++) await send();
      expect(acknowledged.length).toBeGreaterThanOrEqual(38);
    } finally {
      await relay.close();
    }
    // SIGTERM drained every worker: everything acknowledged is in Kafka.
    const landed = await readTopic(brokers, topicFor(tenant), acknowledged.length + 1, 30_000);
    const ids = new Set(landed.map((r) => r.headers.get("event_id")));
    expect(acknowledged.filter((id) => !ids.has(id))).toEqual([]);
  }, 120_000);
});
