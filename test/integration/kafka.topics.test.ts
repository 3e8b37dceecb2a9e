// Topics as production needs them: with auto-creation off, a missing topic holds back only its own
// events (they wait in its spool) until an operator provisions it with `npm run topics -- ensure`.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { Admin } from "@platformatic/kafka";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { EXAMPLE_EVENTS, quarantineTopicFor, topicFor } from "../../src/core/index.ts";
import { TopicProvisioner } from "../../src/kafka/topics.ts";
import { readTopic } from "../support/kafka.ts";
import { uniqueName } from "../support/random.ts";
import { startTestRelay } from "../support/relay.ts";

const brokers = inject("kafkaBrokers");
const KEY = `svc_${uniqueName("topics")}`;
const ADMIN = `admin_${uniqueName("topics")}`;
const topicsCommand = (...args: string[]) =>
  promisify(execFile)(
    process.execPath,
    [join(import.meta.dirname, "..", "..", "scripts", "topics.ts"), ...args],
    {
      env: { ...process.env, KAFKA_BROKERS: brokers.join(","), TOPIC_PARTITIONS: "2" },
    },
  );

describe("topics provisioned by an operator (TOPIC_AUTO_CREATE=false)", () => {
  let relay: Awaited<ReturnType<typeof startTestRelay>>;

  beforeAll(async () => {
    relay = await startTestRelay(brokers, [`${KEY}=*`], {
      // A small share of the spool per topic, so one missing topic fills its own in a few calls.
      env: { TOPIC_AUTO_CREATE: "false", ADMIN_TOKEN: ADMIN, SPOOL_TOPIC_MAX_BYTES: "20000" },
    });
  }, 60_000);

  afterAll(async () => {
    await relay?.close();
  });

  const track = async (tenant: string) => {
    const response = await fetch(`${relay.httpUrl}/api/v1/behaviors/track`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` },
      body: JSON.stringify({ ...EXAMPLE_EVENTS.video_data, event_id: undefined, tenant_id: tenant }),
    });
    const answer = (await response.json()) as { event_id: string; code?: string; retryable?: boolean };
    return { status: response.status, id: answer.event_id, code: answer.code, retryable: answer.retryable };
  };
  const get = async (path: string) => {
    const response = await fetch(`${relay.httpUrl}${path}`);
    return { status: response.status, text: await response.text() };
  };

  it("holds a missing topic's events in its spool while provisioned tenants flow, and delivers them once it exists", async () => {
    const [ready, missing] = [uniqueName("provisioned"), uniqueName("unprovisioned")];
    const { stdout } = await topicsCommand("ensure", ready);
    expect(stdout).toContain(`${topicFor(ready)}: created (2 partitions, 1 replicas, min.insync.replicas 1)`);
    expect(stdout).toContain(`${quarantineTopicFor(ready)}: created`);

    const waiting = await track(missing);
    expect(waiting.status).toBe(200);
    const flowing = await track(ready);
    expect(
      (await readTopic(brokers, topicFor(ready), 1, 20_000)).map((r) => r.headers.get("event_id")),
    ).toEqual([flowing.id]);
    // The relay did not create the missing topic.
    const admin = new Admin({ clientId: "topics-test", bootstrapBrokers: brokers });
    const topics = await admin.listTopics();
    await admin.close();
    expect(topics).not.toContain(topicFor(missing));

    const again = await topicsCommand("ensure", missing, ready);
    expect(again.stdout).toContain(`${topicFor(ready)}: already exists`);
    const landed = await readTopic(brokers, topicFor(missing), 1, 30_000);
    expect(landed.map((r) => r.headers.get("event_id"))).toEqual([waiting.id]);
  }, 90_000);

  it("holds a missing topic to its share of the spool: then its tenant gets retryable 503s, while the others flow and the relay stays ready", async () => {
    const [ready, missing] = [uniqueName("neighbour"), uniqueName("missing")];
    await topicsCommand("ensure", ready);
    const acknowledged: string[] = [];
    let refused: Awaited<ReturnType<typeof track>> | undefined;
    for (let call = 0; call < 200 && refused === undefined; call++) {
      const answer = await track(missing);
      if (answer.status === 200) acknowledged.push(answer.id);
      else refused = answer;
    }
    // About 20 KB of events, then the share is full.
    expect(acknowledged.length).toBeGreaterThan(5);
    expect(refused).toMatchObject({ status: 503, code: "sink_unavailable", retryable: true });

    const neighbour = await track(ready);
    expect(neighbour.status).toBe(200);
    expect(await readTopic(brokers, topicFor(ready), 1, 20_000)).toHaveLength(1);
    expect(await get("/readyz")).toMatchObject({ status: 200 });
    const health = JSON.parse((await get("/api/v1/behaviors/health")).text);
    expect(health).toMatchObject({ kafka_available: true, failing_topics: 1 });
    expect((await get("/metrics")).text).toMatch(
      new RegExp(`^relay_spool_topic_bytes\\{topic="${topicFor(missing)}"\\} [1-9]`, "m"),
    );

    // Once the topic exists, every acknowledged event lands, and the topic leaves the gauge.
    await topicsCommand("ensure", missing);
    const landed = await readTopic(brokers, topicFor(missing), acknowledged.length, 30_000);
    expect(landed.map((r) => r.headers.get("event_id")).sort()).toEqual([...acknowledged].sort());
  }, 90_000);

  it("refuses a name that is not a tenant id, before touching Kafka", async () => {
    const failure = await topicsCommand("ensure", "Bad-Tenant").catch(
      (error: { code: number; stderr: string }) => error,
    );
    expect(failure).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("not a tenant id: Bad-Tenant"),
    });
  });

  it("provisions a tenant's topics when the admin creates its first config", async () => {
    const tenant = uniqueName("configured");
    const response = await fetch(`${relay.httpUrl}/api/v1/tracking-configs/from-template`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}` },
      body: JSON.stringify({
        tenant_id: tenant,
        scenario_id: "vlog_feed",
        template_id: "video",
        name: "Vlog",
      }),
    });
    expect(response.status).toBe(201);
    // Created, with a leader for every partition, before the answer.
    const admin = new Admin({ clientId: "topics-test", bootstrapBrokers: brokers });
    try {
      const wanted = [topicFor(tenant), quarantineTopicFor(tenant)];
      const metadata = await admin.metadata({ topics: wanted, forceUpdate: true });
      for (const topic of wanted)
        expect(metadata.topics.get(topic)?.partitions.every((p) => p.leader >= 0)).toBe(true);
    } finally {
      await admin.close();
    }
  });
});

describe("topics of many new tenants at once", () => {
  it("creates 600 topics asked for together with two requests, each with a leader once created", async () => {
    const admin = new Admin({ clientId: "topics-test", bootstrapBrokers: brokers });
    let requests = 0;
    const createTopics = admin.createTopics.bind(admin) as (options: unknown) => Promise<unknown>;
    // Counts the provisioner's requests to the real broker.
    Object.assign(admin, {
      createTopics: (options: unknown) => {
        requests++;
        return createTopics(options);
      },
    });
    const provisioner = new TopicProvisioner(admin, {
      partitions: 1,
      retentionMs: 3_600_000,
      autoCreate: true,
    });
    const prefix = uniqueName("many");
    const topics = Array.from({ length: 600 }, (_, i) => `${prefix}_${i}`);
    try {
      // One that exists already: Kafka refuses it by name, the others are made all the same.
      await provisioner.create(topics[0] as string);
      requests = 0;
      const again = new TopicProvisioner(admin, provisioner.settings);
      const outcomes = await Promise.all(topics.map((topic) => again.create(topic)));
      expect(requests).toBe(2);
      expect(outcomes.filter((o) => o === "existing")).toHaveLength(1);
      expect(outcomes.filter((o) => o === "created")).toHaveLength(599);
      const metadata = await admin.metadata({ topics, forceUpdate: true });
      expect(topics.filter((t) => metadata.topics.get(t)?.partitions[0]?.leader === undefined)).toEqual([]);
    } finally {
      await admin.deleteTopics({ topics }).catch(() => undefined);
      await admin.close();
    }
  }, 120_000);
});
