// The fault-injection suite (docs/fault-report.md): each fault under a steady load, each ending with an
// audit of every acknowledged event_id against Kafka. `npm run faults` runs it alone and writes the report.
import { writeFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Admin } from "@platformatic/kafka";
import type { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { EXAMPLE_EVENTS, topicFor } from "../../src/core/index.ts";
import { adminClient, edgeTenant, newEdgeSecret, startWorkerdEdge } from "../support/edge.ts";
import { readTopic } from "../support/kafka.ts";
import { privateFerretDb } from "../support/private-ferretdb.ts";
import { privateKafka } from "../support/private-kafka.ts";
import { uniqueName } from "../support/random.ts";
import { relayProcess as relayChild, startTestRelay } from "../support/relay.ts";

const KEY = `svc_${uniqueName("fault")}`;
const ADMIN = `admin_${uniqueName("fault")}`;
const EDGE_SECRET = newEdgeSecret();
const USERS = ["u_a", "u_b", "u_c", "u_d"];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Row {
  scenario: string;
  acknowledged: number;
  delivered: number;
  duplicates: number;
  lost: number;
  not_acknowledged: number;
  recovery_seconds: number;
}
const rows: Row[] = [];

/** 40 events/s: a batch of one event per user every 100 ms, each call bounded by 5 s. */
const steadyLoad = (url: string, tenant: string, headers: Record<string, string>) => {
  const acknowledged: string[] = [];
  const statuses = new Map<string, number>();
  /** Milliseconds from sending a call to its answer. */
  const latencies: number[] = [];
  let notAcknowledged = 0;
  let seq = 0;
  const inflight = new Set<Promise<void>>();
  const tick = async () => {
    const events = USERS.map((user) => ({
      ...EXAMPLE_EVENTS.video_data,
      event_id: undefined,
      tenant_id: tenant,
      user_id: user,
      position: seq++,
    }));
    let status = "network error";
    const started = performance.now();
    try {
      const response = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify({ events }),
        signal: AbortSignal.timeout(5000),
      });
      status = String(response.status);
      if (response.status === 200 || response.status === 202) {
        const body = (await response.json()) as { results: { success: boolean; event_id: string }[] };
        for (const result of body.results) {
          if (result.success) acknowledged.push(result.event_id);
          else notAcknowledged++;
        }
      } else {
        await response.arrayBuffer();
        notAcknowledged += events.length;
      }
    } catch {
      notAcknowledged += events.length;
    }
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
    latencies.push(performance.now() - started);
  };
  const timer = setInterval(() => {
    const call = tick();
    inflight.add(call);
    void call.finally(() => inflight.delete(call));
  }, 100);
  return {
    acknowledged,
    statuses,
    latencies,
    notAcknowledged: () => notAcknowledged,
    stop: async () => {
      clearInterval(timer);
      await Promise.all(inflight);
    },
  };
};

/** Waits until every acknowledged id is in the topic (the recovery), then counts duplicates and losses. */
const audit = async (
  scenario: string,
  brokers: string[],
  tenant: string,
  load: ReturnType<typeof steadyLoad>,
  restoredAt: number,
) => {
  const wanted = new Set(load.acknowledged);
  const deadline = Date.now() + 180_000;
  let seen = new Set<string | undefined>();
  let recovered = Number.NaN;
  while (Date.now() < deadline) {
    // Counts each acknowledged id once, so duplicates do not end the read early.
    seen = new Set<string | undefined>();
    await readTopic(brokers, topicFor(tenant), wanted.size, 10_000, (r) => {
      const id = r.headers.get("event_id");
      if (!wanted.has(id as string) || seen.has(id)) return false;
      seen.add(id);
      return true;
    });
    if (seen.size === wanted.size) {
      recovered = Date.now();
      break;
    }
  }
  const all = await readTopic(brokers, topicFor(tenant), wanted.size + 100_000, 5000);
  const ids = all.map((r) => r.headers.get("event_id") as string);
  const delivered = new Set(ids);
  const row: Row = {
    scenario,
    acknowledged: wanted.size,
    delivered: [...wanted].filter((id) => delivered.has(id)).length,
    duplicates: ids.length - delivered.size,
    lost: [...wanted].filter((id) => !delivered.has(id)).length,
    not_acknowledged: load.notAcknowledged(),
    recovery_seconds: +((recovered - restoredAt) / 1000).toFixed(1),
  };
  rows.push(row);
  console.log(`fault ${scenario}: ${JSON.stringify(row)} statuses ${JSON.stringify([...load.statuses])}`);
  return row;
};

/** The relay as its own process, with this suite's service key. */
const relayProcess = (env: Record<string, string>) => relayChild({ RELAY_API_KEYS: `${KEY}=*`, ...env });

describe("fault injection: every acknowledged event reaches Kafka", () => {
  const kafka = privateKafka(19292);
  let broker: Awaited<typeof kafka>;
  const auth = { authorization: `Bearer ${KEY}` };

  beforeAll(async () => {
    broker = await kafka;
    await broker.start();
  }, 180_000);

  afterAll(async () => {
    await broker?.remove();
    const table = [
      "| fault | acknowledged | delivered | duplicates | lost | not acknowledged (client retries) | recovery s |",
      "|---|---|---|---|---|---|---|",
      ...rows.map(
        (r) =>
          `| ${r.scenario} | ${r.acknowledged} | ${r.delivered} | ${r.duplicates} | ${r.lost} | ${r.not_acknowledged} | ${r.recovery_seconds} |`,
      ),
    ].join("\n");
    console.log(table);
    if (process.env.FAULT_REPORT) {
      writeFileSync(
        process.env.FAULT_REPORT,
        `# Fault-injection report\n\nLast run of \`npm run faults\` (test/integration/faults.suite.test.ts), ${new Date().toISOString()}, on the 2-core build machine. Load: 40 events/s in batches of 4, each call bounded by 5 s. *Recovery* is from the moment the failed part is back until every acknowledged event is found in Kafka (it includes the audit's own reads, about 1–3 s). Events *not acknowledged* got a retryable answer or none, so a client sends them again; they are not owed. *Duplicates* are records found twice: a request not acknowledged within \`KAFKA_ACK_TIMEOUT_MS\` is backed up to the spool but not abandoned, and when it lands after all the backup is skipped, so only a send that failed after it may have reached the broker is written again (counted by \`relay_duplicate_risk_events_total\`); the \`event_id\` header identifies them for consumers that deduplicate.\n\n${table}\n`,
      );
    }
  });

  it("one tenant's topic cannot be written: its events wait in its spool, other tenants keep flowing", async () => {
    const [poisoned, bystander] = [uniqueName("poisoned"), uniqueName("bystander")];
    // Two in-sync replicas required on a one-broker cluster: every write to this topic is refused
    // (NOT_ENOUGH_REPLICAS) until an operator fixes the topic.
    const admin = new Admin({ clientId: "fault-suite", bootstrapBrokers: broker.brokers });
    await admin.createTopics({
      topics: [topicFor(poisoned)],
      partitions: 3,
      replicas: 1,
      configs: [{ name: "min.insync.replicas", value: "2" }],
    });
    const relay = await startTestRelay(broker.brokers, [`${KEY}=*`], {
      env: { KAFKA_ACK_TIMEOUT_MS: "2000" },
    });
    try {
      const url = `${relay.httpUrl}/api/v1/behaviors/track/batch`;
      const bad = steadyLoad(url, poisoned, auth);
      const good = steadyLoad(url, bystander, auth);
      await sleep(10_000);
      await good.stop();
      const p99 = [...good.latencies].sort((a, b) => a - b)[Math.floor(good.latencies.length * 0.99)] ?? 0;
      console.log(`poisoned tenant: bystander p99 ${p99.toFixed(0)} ms over ${good.latencies.length} calls`);
      expect(p99).toBeLessThan(1000);
      expect(
        await audit(
          "one tenant's topic unwritable 10 s (bystander tenant)",
          broker.brokers,
          bystander,
          good,
          Date.now(),
        ),
      ).toMatchObject({ lost: 0, not_acknowledged: 0, duplicates: 0 });
      await admin.alterConfigs({
        resources: [
          {
            resourceType: 2,
            resourceName: topicFor(poisoned),
            configs: [{ name: "min.insync.replicas", value: "1" }],
          },
        ],
      });
      const restored = Date.now();
      await sleep(2000);
      await bad.stop();
      expect(
        await audit(
          "one tenant's topic unwritable 10 s (that tenant)",
          broker.brokers,
          poisoned,
          bad,
          restored,
        ),
      ).toMatchObject({ lost: 0, not_acknowledged: 0 });
    } finally {
      await admin.close();
      await relay.close();
    }
  }, 300_000);

  it("broker killed with SIGKILL and restarted", async () => {
    const tenant = uniqueName("kill9");
    const relay = await startTestRelay(broker.brokers, [`${KEY}=*`], {
      env: { KAFKA_ACK_TIMEOUT_MS: "2000" },
    });
    try {
      const load = steadyLoad(`${relay.httpUrl}/api/v1/behaviors/track/batch`, tenant, auth);
      await sleep(3000);
      process.kill(await broker.pid(), "SIGKILL");
      await sleep(10_000);
      await broker.start();
      const restored = Date.now();
      await sleep(3000);
      await load.stop();
      expect(
        await audit("broker SIGKILL, restarted after 10 s", broker.brokers, tenant, load, restored),
      ).toMatchObject({ lost: 0 });
    } finally {
      await relay.close();
    }
  }, 300_000);

  it("broker paused with SIGSTOP for 30 s", async () => {
    const tenant = uniqueName("paused");
    const relay = await startTestRelay(broker.brokers, [`${KEY}=*`], {
      env: { KAFKA_ACK_TIMEOUT_MS: "2000" },
    });
    const pid = await broker.pid();
    try {
      const load = steadyLoad(`${relay.httpUrl}/api/v1/behaviors/track/batch`, tenant, auth);
      await sleep(3000);
      process.kill(pid, "SIGSTOP");
      await sleep(30_000);
      process.kill(pid, "SIGCONT");
      const restored = Date.now();
      await sleep(3000);
      await load.stop();
      expect(await audit("broker SIGSTOP for 30 s", broker.brokers, tenant, load, restored)).toMatchObject({
        lost: 0,
      });
    } finally {
      process.kill(pid, "SIGCONT");
      await relay.close();
    }
  }, 300_000);

  it("relay killed with SIGKILL while its spool holds events, and restarted", async () => {
    const tenant = uniqueName("relaykill");
    const relay = relayProcess({
      RELAY_HTTP_PORT: "18086",
      RELAY_GRPC_PORT: "15056",
      KAFKA_BROKERS: broker.brokers.join(","),
      KAFKA_ACK_TIMEOUT_MS: "2000",
      SPOOL_DIR: await mkdtemp(join(tmpdir(), "fault-spool-")),
      MONGODB_URI: inject("mongodbUri"),
      MONGODB_DB: uniqueName("relaykill"),
    });
    try {
      await relay.ready();
      const load = steadyLoad(`${relay.url}/api/v1/behaviors/track/batch`, tenant, auth);
      await sleep(2000);
      await broker.stop();
      await sleep(5000); // acknowledged from the spool
      await relay.kill();
      await broker.start();
      await relay.restart();
      const restored = Date.now();
      await sleep(3000);
      await load.stop();
      expect(
        await audit("relay SIGKILL with a full spool, restarted", broker.brokers, tenant, load, restored),
      ).toMatchObject({ lost: 0 });
    } finally {
      await relay.close();
    }
  }, 300_000);

  it("relay down for 60 s behind the edge: the edge queues, and the queue drains", async () => {
    const tenant = uniqueName("edgeq");
    const relay = relayProcess({
      RELAY_HTTP_PORT: "18085",
      RELAY_GRPC_PORT: "15055",
      KAFKA_BROKERS: broker.brokers.join(","),
      SPOOL_DIR: await mkdtemp(join(tmpdir(), "fault-spool-")),
      MONGODB_URI: inject("mongodbUri"),
      MONGODB_DB: uniqueName("edgeq"),
      ADMIN_TOKEN: ADMIN,
      EDGE_SECRET,
    });
    let edge: Miniflare | undefined;
    try {
      await relay.ready();
      const keys = await edgeTenant(adminClient(relay.url, ADMIN), tenant, []);
      edge = await startWorkerdEdge({
        relayUrl: relay.url,
        edgeSecret: EDGE_SECRET,
        port: 18796,
      });
      const load = steadyLoad("http://127.0.0.1:18796/api/v1/behaviors/track/batch", tenant, {
        authorization: `Bearer ${keys.publishable}`,
      });
      await sleep(3000);
      await relay.close();
      await sleep(60_000);
      await relay.restart();
      const restored = Date.now();
      await sleep(3000);
      await load.stop();
      expect(load.statuses.get("202")).toBeGreaterThan(0); // acknowledged as queued while the relay was down
      expect(
        await audit("relay down 60 s behind the edge", broker.brokers, tenant, load, restored),
      ).toMatchObject({ lost: 0 });
    } finally {
      await edge?.dispose();
      await relay.close();
    }
  }, 400_000);

  it("MongoDB-wire server down: ingestion goes on with cached configs, the admin API answers 503", async () => {
    const tenant = uniqueName("mongodown");
    const mongo = await privateFerretDb(27118);
    await mongo.start();
    const relay = await startTestRelay(broker.brokers, [`${KEY}=*`], {
      env: { MONGODB_URI: mongo.uri, ADMIN_TOKEN: ADMIN },
    });
    try {
      await adminClient(relay.httpUrl, ADMIN)("/api/v1/tracking-configs/from-template", {
        tenant_id: tenant,
        scenario_id: "vlog_feed",
        template_id: "video",
        name: "Vlog",
      });
      const load = steadyLoad(`${relay.httpUrl}/api/v1/behaviors/track/batch`, tenant, auth);
      await sleep(2000);
      await mongo.stop();
      await sleep(5000);
      const admin = await fetch(`${relay.httpUrl}/api/v1/tracking-configs?tenant_id=${tenant}`, {
        headers: { authorization: `Bearer ${ADMIN}` },
      });
      expect(admin.status).toBe(503);
      await mongo.start();
      const restored = Date.now();
      await sleep(2000);
      await load.stop();
      const row = await audit("MongoDB-wire server down 5 s", broker.brokers, tenant, load, restored);
      expect(row).toMatchObject({ lost: 0, not_acknowledged: 0 });
    } finally {
      await relay.close();
      await mongo.remove();
    }
  }, 300_000);

  it("spool full: new events get a retryable 503 instead of being accepted and lost", async () => {
    const tenant = uniqueName("spoolfull");
    const relay = await startTestRelay(broker.brokers, [`${KEY}=*`], {
      env: { KAFKA_ACK_TIMEOUT_MS: "1000", SPOOL_MAX_BYTES: "16384" },
    });
    try {
      await broker.stop();
      const load = steadyLoad(`${relay.httpUrl}/api/v1/behaviors/track/batch`, tenant, auth);
      await sleep(5000);
      await broker.start();
      const restored = Date.now();
      await sleep(2000);
      await load.stop();
      expect(load.statuses.get("503")).toBeGreaterThan(0);
      expect(
        await audit("spool full (16 KiB) while the broker is down", broker.brokers, tenant, load, restored),
      ).toMatchObject({ lost: 0 });
    } finally {
      await relay.close();
    }
  }, 300_000);
});
