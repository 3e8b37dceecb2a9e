// The write path against a real broker, through the relay: the bursts and refusals that used to stall
// every tenant (one oversized produce request refused with MESSAGE_TOO_LARGE, replayed for ever).
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Admin, ConfigResourceTypes, IncrementalAlterConfigOperationTypes } from "@platformatic/kafka";
import pino from "pino";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { EXAMPLE_EVENTS, quarantineTopicFor, topicFor } from "../../src/core/index.ts";
import { kafkaWriterMetrics } from "../../src/kafka/metrics.ts";
import { openKafkaWriter } from "../../src/kafka/writer.ts";
import { readTopic } from "../support/kafka.ts";
import { uniqueName } from "../support/random.ts";
import { startTestRelay } from "../support/relay.ts";
import { TEST_WRITE_PATH } from "../support/write-path.ts";

const brokers = inject("kafkaBrokers");

const waitFor = async (check: () => Promise<boolean>, ms = 20_000) => {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 50)); // the poll's pace
  }
};
const KEY = `svc_${uniqueName("write")}`;

const event = (tenant: string, user: string, extra?: Record<string, unknown>) => ({
  ...EXAMPLE_EVENTS.video_data,
  event_id: undefined,
  tenant_id: tenant,
  user_id: user,
  ...(extra ? { extra_data: extra } : {}),
});

describe("the Kafka write path under legal but hostile traffic (real broker)", () => {
  let relay: Awaited<ReturnType<typeof startTestRelay>>;

  beforeAll(async () => {
    relay = await startTestRelay(brokers, [`${KEY}=*`]);
  }, 60_000);

  afterAll(async () => {
    await relay?.close();
  });

  const batch = async (events: unknown[]) => {
    const response = await fetch(`${relay.httpUrl}/api/v1/behaviors/track/batch`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` },
      body: JSON.stringify({ events }),
    });
    const body = (await response.json()) as { results: { success: boolean; event_id: string }[] };
    return { status: response.status, ids: body.results.filter((r) => r.success).map((r) => r.event_id) };
  };

  it("takes a burst of 600 near-limit incompressible events in concurrent batches, and other tenants keep flowing", async () => {
    const [big, other] = [uniqueName("burst"), uniqueName("bystander")];
    // ~22 KB of random text per event: 30 per request stay under 1 MiB, 600 together are ~13 MB.
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        batch(
          Array.from({ length: 30 }, (_, j) =>
            event(big, `u_${(i * 30 + j) % 7}`, { blob: randomBytes(16_000).toString("base64") }),
          ),
        ),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
    const acknowledged = answers.flatMap((a) => a.ids);
    expect(acknowledged).toHaveLength(600);

    const started = performance.now();
    const bystander = await batch([event(other, "u_1"), event(other, "u_2")]);
    expect(bystander.ids).toHaveLength(2);
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(await readTopic(brokers, topicFor(other), 2, 20_000)).toHaveLength(2);

    const landed = await readTopic(brokers, topicFor(big), 600, 60_000);
    expect(new Set(landed.map((r) => r.headers.get("event_id")))).toEqual(new Set(acknowledged));
    const health = (await (await fetch(`${relay.httpUrl}/api/v1/behaviors/health`)).json()) as {
      status: string;
    };
    expect(health.status).toBe("healthy");
  }, 120_000);

  it("quarantines an event its topic refuses as too large (kafka_refused), delivers its neighbours, and does not stall", async () => {
    const tenant = uniqueName("small_topic");
    // A topic whose records may be at most 8 KB: a 20 KB event is legal for the API, not for this topic.
    const admin = new Admin({ clientId: "write-path-test", bootstrapBrokers: brokers });
    await admin.createTopics({
      topics: [topicFor(tenant)],
      partitions: 1,
      replicas: 1,
      configs: [{ name: "max.message.bytes", value: "8192" }],
    });
    await admin.close();

    const large = event(tenant, "u_big", { blob: randomBytes(15_000).toString("base64") });
    const answer = await batch([event(tenant, "u_1"), large, event(tenant, "u_2")]);
    expect([answer.status, answer.ids.length]).toEqual([200, 3]);
    const [first, refused, last] = answer.ids;

    const landed = await readTopic(brokers, topicFor(tenant), 2, 20_000);
    expect(landed.map((r) => r.headers.get("event_id"))).toEqual([first, last]);
    const kept = await readTopic(brokers, quarantineTopicFor(tenant), 1, 20_000);
    expect(JSON.parse(kept[0]?.value ?? "{}")).toMatchObject({
      reason: "kafka_refused",
      errors: [{ message: expect.stringMatching(/MESSAGE_TOO_LARGE|RECORD_LIST_TOO_LARGE/) }],
      event: { event_id: refused },
    });
    const after = await batch([event(tenant, "u_3")]);
    expect(await readTopic(brokers, topicFor(tenant), 3, 20_000)).toHaveLength(3);
    expect(after.ids).toHaveLength(1);
    const metrics = await (await fetch(`${relay.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(
      /relay_kafka_refused_records_total\{reason="(MESSAGE_TOO_LARGE|RECORD_LIST_TOO_LARGE)"\} 1/,
    );
  }, 60_000);

  it("quarantines an event with a 900 KB user id truncated, with its size and SHA-256, and writes no dead letter", async () => {
    const tenant = uniqueName("big_user");
    // Refused (a user id is at most a few hundred characters): its quarantine record, keyed by the user
    // id and holding it, was 1.8 MB once, which the quarantine topic refused.
    const hostile = event(tenant, "u".repeat(900_000));
    const answer = await batch([event(tenant, "u_1"), hostile]);
    expect([answer.status, answer.ids.length]).toEqual([200, 1]);
    const [kept] = await readTopic(brokers, quarantineTopicFor(tenant), 1, 20_000);
    expect(Buffer.byteLength(kept?.value ?? "")).toBeLessThan(200_000);
    expect(kept?.key).toBe("");
    expect(JSON.parse(kept?.value ?? "{}")).toMatchObject({
      reason: "invalid_event",
      event: {
        tenant_id: tenant,
        truncated: true,
        json_bytes: expect.any(Number),
        json_sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      },
    });
    expect(JSON.parse(kept?.value ?? "{}").event.json_bytes).toBeGreaterThan(900_000);
    expect(await readdir(relay.spoolDir)).not.toContain("dead-letter.ndjson");
  }, 60_000);

  it("behavior-ingest dead-letters redrive sends what even the quarantine topic refused where it belongs, once the cause is fixed", async () => {
    const tenant = uniqueName("redrive");
    const rejected = quarantineTopicFor(tenant);
    // A quarantine topic that takes records of at most 200 bytes: every quarantine record is refused.
    const admin = new Admin({ clientId: "write-path-test", bootstrapBrokers: brokers });
    await admin.createTopics({
      topics: [rejected],
      partitions: 1,
      replicas: 1,
      configs: [{ name: "max.message.bytes", value: "200" }],
    });
    const answer = await batch([{ ...event(tenant, "u_refused"), action_type: "swipe" }]);
    expect([answer.status, answer.ids]).toEqual([200, []]);
    const file = join(relay.spoolDir, "dead-letter.ndjson");
    const lines = async () =>
      (await readFile(file, "utf8").catch(() => ""))
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l));
    // The relay quarantines its refusals after answering.
    await waitFor(async () => (await lines()).length > 0);
    expect((await lines()).map((l) => l.t)).toEqual([rejected]);
    const metrics = async () => (await fetch(`${relay.httpUrl}/metrics`)).text();
    expect(await metrics()).toMatch(new RegExp(`relay_dead_letter_bytes\\{tenant="${tenant}"\\} [1-9]`));

    const cli = (...args: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile(
          process.execPath,
          [join(import.meta.dirname, "..", "..", "src", "cli", "main.ts"), ...args],
          { env: { ...process.env, KAFKA_BROKERS: brokers.join(","), TOPIC_PARTITIONS: "1" } },
          (error, stdout, stderr) => resolve({ code: error ? Number(error.code) : 0, stdout, stderr }),
        );
      });
    // The cause is not fixed yet: refused again, it stays in the file.
    const early = await cli("dead-letters", "redrive", "--spool-dir", relay.spoolDir);
    expect([early.code, early.stdout]).toEqual([
      1,
      `${file}: sent 0 of 1, 1 refused again (kept in the file)\n`,
    ]);
    expect((await lines()).map((l) => l.t)).toEqual([rejected]);

    await admin.incrementalAlterConfigs({
      resources: [
        {
          resourceType: ConfigResourceTypes.TOPIC,
          resourceName: rejected,
          configs: [
            { name: "max.message.bytes", configOperation: IncrementalAlterConfigOperationTypes.DELETE },
          ],
        },
      ],
    });
    await admin.close();
    const fixed = await cli("dead-letters", "redrive", "--spool-dir", relay.spoolDir);
    expect([fixed.code, fixed.stdout]).toEqual([0, `${file}: sent 1 of 1\n`]);
    const [kept] = await readTopic(brokers, rejected, 1, 20_000);
    expect(JSON.parse(kept?.value ?? "{}")).toMatchObject({
      reason: "invalid_event",
      event: { user_id: "u_refused", action_type: "swipe" },
    });
    expect(await lines()).toEqual([]);
    // The relay sees the file emptied by another process.
    expect(await metrics()).not.toContain(`relay_dead_letter_bytes{tenant="${tenant}"}`);
    expect((await cli("dead-letters", "redrive", "--spool-dir", relay.spoolDir)).stdout).toBe(
      `no dead letters under ${relay.spoolDir}\n`,
    );
  }, 120_000);

  it("spreads one flooding user's excess over the partitions, marked hot_key, and keeps other users keyed", async () => {
    const tenant = uniqueName("hot");
    const hotRelay = await startTestRelay(brokers, [`${KEY}=*`], {
      env: { HOT_KEY_EVENTS_PER_SECOND: "50" },
    });
    try {
      const send = (user: string, n: number) =>
        fetch(`${hotRelay.httpUrl}/api/v1/behaviors/track/batch`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` },
          body: JSON.stringify({ events: Array.from({ length: n }, () => event(tenant, user)) }),
        });
      expect((await send("bot", 100)).status).toBe(200);
      expect((await send("bot", 100)).status).toBe(200);
      expect((await send("person", 10)).status).toBe(200);
      const records = await readTopic(brokers, topicFor(tenant), 210, 30_000);
      const bot = records.filter((r) => JSON.parse(r.value).user_id === "bot");
      const keyed = bot.filter((r) => r.headers.get("hot_key") === undefined);
      const spread = bot.filter((r) => r.headers.get("hot_key") === "true");
      expect(keyed.length).toBeGreaterThanOrEqual(50);
      expect(keyed.length + spread.length).toBe(200);
      expect(new Set(keyed.map((r) => r.partition)).size).toBe(1);
      expect(new Set(spread.map((r) => r.partition)).size).toBeGreaterThan(1);
      const person = records.filter((r) => JSON.parse(r.value).user_id === "person");
      expect(person.every((r) => r.headers.get("hot_key") === undefined && r.key === "person")).toBe(true);
      const metrics = await (await fetch(`${hotRelay.httpUrl}/metrics`)).text();
      expect(metrics).toContain(`relay_hot_key_events_total ${spread.length}`);
    } finally {
      await hotRelay.close();
    }
  }, 60_000);
});

describe("the write path with several produce requests in flight (real broker)", () => {
  it("keeps each topic's records in the order they were written while four producers carry other topics' sends", async () => {
    const spoolDir = await mkdtemp(join(tmpdir(), "write-order-"));
    const writer = await openKafkaWriter(
      {
        ...TEST_WRITE_PATH,
        // Ten events a send: the ordered topic needs 50 sends, each waiting for the one before it.
        flushAtEvents: 10,
        maxBatchEvents: 10,
        ackTimeoutMs: 10_000,
        clientId: "write-order-test",
        brokers,
        compression: "none",
        compressionSmall: "none",
        requestTimeoutMs: 30_000,
        connections: 4,
        spoolDir,
        spoolMaxBytes: 64 * 1024 * 1024,
        spoolTopicMaxBytes: 16 * 1024 * 1024,
        deadLetters: { maxBytes: 1024 * 1024, tenantMaxBytes: 1024 * 1024 },
        topics: { partitions: 1, retentionMs: 3_600_000, autoCreate: true },
      },
      kafkaWriterMetrics(new Registry(), "order_test"),
      pino({ level: "silent" }),
    );
    try {
      const ordered = topicFor(uniqueName("ordered"));
      const others = Array.from({ length: 20 }, (_, i) => topicFor(uniqueName(`other${i}`)));
      const record = (topic: string, position: number) => ({
        topic,
        key: "u_1",
        value: JSON.stringify({ position }),
        eventId: `${topic}-${position}`,
      });
      // Every topic proven first, so that their sends are combined and spread over the producers.
      await writer.sink.write([ordered, ...others].map((topic) => record(topic, -1)));
      const writes: Promise<void>[] = [];
      for (let position = 0; position < 500; position++) {
        writes.push(writer.sink.write([record(ordered, position)]));
        for (const other of others) writes.push(writer.sink.write([record(other, position)]));
      }
      await Promise.all(writes);
      const landed = await readTopic(brokers, ordered, 501, 30_000);
      expect(landed.map((r) => JSON.parse(r.value).position)).toEqual(
        Array.from({ length: 501 }, (_, i) => i - 1),
      );
    } finally {
      await writer.close();
      await rm(spoolDir, { recursive: true, force: true });
    }
  }, 90_000);
});
