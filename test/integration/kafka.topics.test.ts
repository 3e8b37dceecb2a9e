// Topics as production needs them: with auto-creation off, a missing topic holds back only its own
// events (they wait in its spool) until an operator provisions it with `npm run topics -- ensure`.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { Admin } from "@platformatic/kafka";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { EXAMPLE_EVENTS, quarantineTopicFor, topicFor } from "../../src/core/index.ts";
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
    // Created before the answer; a broker's metadata may show a new topic a moment later.
    const admin = new Admin({ clientId: "topics-test", bootstrapBrokers: brokers });
    const wanted = [topicFor(tenant), quarantineTopicFor(tenant)];
    let topics: string[] = [];
    for (let attempt = 0; attempt < 20 && !wanted.every((t) => topics.includes(t)); attempt++) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 250));
      topics = await admin.listTopics();
    }
    await admin.close();
    expect(topics).toEqual(expect.arrayContaining(wanted));
  });
});
