import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { EXAMPLE_EVENTS, topicFor } from "../../src/core/index.ts";
import { readTopic } from "../support/kafka.ts";
import { privateKafka } from "../support/private-kafka.ts";
import { uniqueName } from "../support/random.ts";
import { startTestRelay } from "../support/relay.ts";

const KEY = `svc_${uniqueName("fault")}`;
const USERS = ["u_a", "u_b", "u_c", "u_d"];

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
const audit = async (brokers: string[], tenant: string, acknowledged: Sent[]) => {
  const records = await readTopic(brokers, topicFor(tenant), acknowledged.length, 30_000);
  const more = await readTopic(brokers, topicFor(tenant), acknowledged.length + 1000, 3000);
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

describe("relay faults: acknowledged events are never lost", () => {
  const kafka = privateKafka(19092);
  let broker: Awaited<typeof kafka>;

  beforeAll(async () => {
    broker = await kafka;
    await broker.start();
  }, 180_000);
  afterAll(async () => {
    await broker?.remove();
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
      const report = await audit(broker.brokers, tenant, [...before, ...during, ...after]);
      console.log("broker stopped and restarted:", JSON.stringify(report));
      expect(report).toMatchObject({ lost: 0, duplicates: 0 });
    } finally {
      await relay.close();
    }
  }, 240_000);

  it("delivers what a SIGKILLed relay had spooled after it restarts", async () => {
    const tenant = uniqueName("killed");
    const spoolDir = await mkdtemp(join(tmpdir(), "relay-spool-"));
    const env = {
      ...process.env,
      RELAY_HTTP_PORT: "18080",
      RELAY_GRPC_PORT: "15051",
      KAFKA_BROKERS: broker.brokers.join(","),
      KAFKA_ACK_TIMEOUT_MS: "2000",
      TOPIC_PARTITIONS: "3",
      SPOOL_DIR: spoolDir,
      RELAY_API_KEYS: `${KEY}=*`,
      MONGODB_URI: inject("mongodbUri"),
      MONGODB_DB: uniqueName("killed"),
      LOG_LEVEL: "warn",
    };
    const url = "http://127.0.0.1:18080";
    const start = (): ChildProcess => {
      const child = spawn(
        process.execPath,
        [join(import.meta.dirname, "..", "..", "src", "relay", "main.ts")],
        { env, stdio: "inherit" },
      );
      return child;
    };
    let relay = start();
    try {
      await waitFor("the relay", async () => (await fetch(`${url}/livez`)).ok);
      await broker.stop();
      const spooled = await sendBatches(url, tenant, 0, 10);
      expect(await spoolDepth(url)).toBe(spooled.length);
      relay.kill("SIGKILL");
      await new Promise((resolve) => relay.once("exit", resolve));
      await broker.start();
      relay = start();
      await waitFor("the restarted relay to drain its spool", async () => (await spoolDepth(url)) === 0);
      const report = await audit(broker.brokers, tenant, spooled);
      console.log("relay SIGKILLed with a full spool:", JSON.stringify(report));
      expect(report.lost).toBe(0);
    } finally {
      relay.kill("SIGTERM");
      await new Promise((resolve) => relay.once("exit", resolve));
    }
  }, 240_000);
});
