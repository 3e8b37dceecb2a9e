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
      env: { TOPIC_AUTO_CREATE: "false", ADMIN_TOKEN: ADMIN },
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
    return { status: response.status, id: ((await response.json()) as { event_id: string }).event_id };
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
