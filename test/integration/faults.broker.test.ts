// Fault injection on one broker (docs/fault-report.md): each fault under a steady load, each ending with
// an audit of every acknowledged event_id against Kafka. `npm run faults` runs this and the other
// faults.*.test.ts files and writes the report.
import { Admin } from "@platformatic/kafka";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXAMPLE_EVENTS, topicFor } from "../../src/core/index.ts";
import { audit, faultTable, type Row, sleep, steadyLoad, writeFaultReport } from "../support/faults.ts";
import { readTopic, readWholeTopic } from "../support/kafka.ts";
import { privateKafka } from "../support/private-kafka.ts";
import { uniqueName } from "../support/random.ts";
import { startTestRelay } from "../support/relay.ts";

const KEY = `svc_${uniqueName("fault")}`;
const USERS = ["u_a", "u_b", "u_c", "u_d"];
const rows: Row[] = [];

interface Sent {
  eventId: string;
  user: string;
  seq: number;
}

/** Sends `rounds` batches of one event per user and returns what the relay acknowledged. */
const sendBatches = async (
  httpUrl: string,
  tenant: string,
  from: number,
  rounds: number,
): Promise<Sent[]> => {
  const acknowledged: Sent[] = [];
  for (let round = 0; round < rounds; round++) {
    const seq = from + round;
    const events = USERS.map((user) => ({
      ...EXAMPLE_EVENTS.video_data,
      tenant_id: tenant,
      user_id: user,
      position: seq,
    }));
    const response = await fetch(`${httpUrl}/api/v1/behaviors/track/batch`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` },
      body: JSON.stringify({ events }),
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { results: { success: boolean; event_id: string }[] };
    body.results.forEach((r, i) => {
      expect(r.success).toBe(true);
      acknowledged.push({ eventId: r.event_id, user: USERS[i] as string, seq });
    });
  }
  return acknowledged;
};

const health = async (httpUrl: string) =>
  (await (await fetch(`${httpUrl}/api/v1/behaviors/health`)).json()) as {
    status: string;
    kafka_available: boolean;
  };

const spoolDepth = async (httpUrl: string) => {
  const text = await (await fetch(`${httpUrl}/metrics`)).text();
  return Number(/^relay_spool_events (\d+)/m.exec(text)?.[1] ?? Number.NaN);
};

const waitFor = async (what: string, check: () => Promise<boolean>, timeoutMs = 90_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
};

/** Every acknowledged event is in the topic; returns the duplicates; checks order per user. */
const auditInOrder = async (brokers: string[], tenant: string, acknowledged: Sent[]) => {
  const records = await readTopic(brokers, topicFor(tenant), acknowledged.length, 30_000);
  const more = await readWholeTopic(brokers, topicFor(tenant));
  const ids = more.map((r) => r.headers.get("event_id"));
  const seen = new Set(ids);
  const lost = acknowledged.filter((a) => !seen.has(a.eventId));
  const duplicates = ids.length - seen.size;
  for (const user of USERS) {
    const order = more.filter((r) => r.key === user).map((r) => JSON.parse(r.value).position as number);
    const firstSeen = order.filter((seq, i) => order.indexOf(seq) === i);
    expect(firstSeen, `order of ${user}`).toEqual([...firstSeen].sort((a, b) => a - b));
  }
  expect(records.length).toBeGreaterThanOrEqual(acknowledged.length);
  return { acknowledged: acknowledged.length, delivered: seen.size, duplicates, lost: lost.length };
};

describe("broker faults: every acknowledged event reaches Kafka", () => {
  const kafka = privateKafka(19292);
  let broker: Awaited<typeof kafka>;
  const auth = { authorization: `Bearer ${KEY}` };

  beforeAll(async () => {
    broker = await kafka;
    await broker.start();
  }, 180_000);

  afterAll(async () => {
    await broker?.remove();
    writeFaultReport("Broker faults", faultTable(rows));
  });

  it("keeps accepting from the spool while the broker is down, then delivers all in order, once", async () => {
    const tenant = uniqueName("fault");
    const relay = await startTestRelay(broker.brokers, [`${KEY}=*`], {
      env: { KAFKA_ACK_TIMEOUT_MS: "2000" },
    });
    try {
      const before = await sendBatches(relay.httpUrl, tenant, 0, 5);
      await broker.stop();
      const during = await sendBatches(relay.httpUrl, tenant, 5, 10);
      expect(await health(relay.httpUrl)).toMatchObject({ status: "degraded", kafka_available: false });
      expect(await spoolDepth(relay.httpUrl)).toBeGreaterThan(0);
      await broker.start();
      await waitFor("the spool to drain", async () => (await spoolDepth(relay.httpUrl)) === 0);
      const after = await sendBatches(relay.httpUrl, tenant, 15, 5);
      expect(await health(relay.httpUrl)).toMatchObject({ status: "healthy" });
      const report = await auditInOrder(broker.brokers, tenant, [...before, ...during, ...after]);
      console.log("broker stopped and restarted:", JSON.stringify(report));
      expect(report).toMatchObject({ lost: 0, duplicates: 0 });
    } finally {
      await relay.close();
    }
  }, 240_000);

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
          rows,
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
          rows,
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
        await audit("broker SIGKILL, restarted after 10 s", broker.brokers, tenant, load, restored, rows),
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
      expect(
        await audit("broker SIGSTOP for 30 s", broker.brokers, tenant, load, restored, rows),
      ).toMatchObject({
        lost: 0,
      });
    } finally {
      process.kill(pid, "SIGCONT");
      await relay.close();
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
        await audit(
          "spool full (16 KiB) while the broker is down",
          broker.brokers,
          tenant,
          load,
          restored,
          rows,
        ),
      ).toMatchObject({ lost: 0 });
    } finally {
      await relay.close();
    }
  }, 300_000);
});
