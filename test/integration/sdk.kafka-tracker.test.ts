import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, describe, expect, inject, it } from "vitest";
import {
  configFromTemplate,
  EXAMPLE_EVENTS,
  quarantineTopicFor,
  type Template,
  templateFor,
  topicFor,
} from "../../src/core/index.ts";
import { KafkaTracker, type KafkaTrackerOptions, type TrackedEvent } from "../../src/sdk/kafka-tracker.ts";
import { adminClient } from "../support/edge.ts";
import { readTopic } from "../support/kafka.ts";
import { privateKafka } from "../support/private-kafka.ts";
import { uniqueName } from "../support/random.ts";
import { startTestRelay } from "../support/relay.ts";

const brokers = inject("kafkaBrokers");
const { event_id: _id, timestamp: _ts, tenant_id: _t, ...video } = EXAMPLE_EVENTS.video_data;

const open = async (options: Partial<KafkaTrackerOptions> & { tenantId: string }) =>
  KafkaTracker.open({
    brokers,
    spoolDir: await mkdtemp(join(tmpdir(), "tracker-spool-")),
    partitions: 3,
    log: pino({ level: "silent" }),
    ...options,
  });

const eventsOf = (tenant: string, count: number): TrackedEvent[] =>
  Array.from({ length: count }, (_, i) => ({
    ...video,
    user_id: `u_${i % 3}`,
    position: i,
    tenant_id: tenant,
  }));

describe("the Kafka-direct tracker against a real broker", () => {
  it("fills event_id, timestamp and tenant_id, and close() delivers the buffer", async () => {
    const tenant = uniqueName("tracker");
    // Nothing would leave before a minute or 1000 events: only close() can deliver these. A broker slow
    // to create the topic (the suite starts several at once) must not turn this into the spool's test.
    const tracker = await open({
      tenantId: tenant,
      lingerMs: 60_000,
      flushAtEvents: 1000,
      ackTimeoutMs: 60_000,
    });
    const outcomes = Promise.all(
      Array.from({ length: 30 }, (_, i) => tracker.track({ ...video, user_id: `u_${i % 3}`, position: i })),
    );
    await tracker.close();
    const results = await outcomes;
    expect(results.every((r) => r.ok)).toBe(true);
    const records = await readTopic(brokers, topicFor(tenant), 30);
    expect(records).toHaveLength(30);
    const first = JSON.parse(records[0]?.value ?? "{}");
    expect(first.tenant_id).toBe(tenant);
    expect(first.event_id).toMatch(/^evt_[0-9a-f]{16}$/);
    expect(first.timestamp).toBeGreaterThan(Date.now() - 60_000);
    expect(records[0]?.headers.get("event_id")).toBe(first.event_id);
    for (const user of ["u_0", "u_1", "u_2"]) {
      const positions = records.filter((r) => r.key === user).map((r) => JSON.parse(r.value).position);
      expect(positions).toEqual([...positions].sort((a, b) => a - b));
    }
  });

  it("refuses what validation refuses, with the field, and keeps it in -rejected only", async () => {
    const tenant = uniqueName("tracker");
    const config = {
      ...configFromTemplate(
        templateFor("video") as Template,
        { tenant_id: tenant, scenario_id: "vlog_feed", name: "Vlog" },
        Date.now(),
      ),
      strict: true,
    };
    const tracker = await open({ tenantId: tenant, lingerMs: 20, configs: [config] });
    const [bad, strictViolation, good] = await tracker.trackMany([
      { ...video, context: { device_type: "fridge" as "pc" } },
      { ...video, scenario_data: { video_data: { duration: -5 } } },
      video,
    ]);
    await tracker.close();
    expect(bad).toMatchObject({ ok: false, errors: [{ path: "context.device_type" }] });
    expect(strictViolation).toMatchObject({
      ok: false,
      errors: [{ path: "scenario_data.video_data.duration" }],
    });
    expect(good?.ok).toBe(true);
    const records = await readTopic(brokers, topicFor(tenant), 2, 5000);
    expect(records.map((r) => r.headers.get("event_id"))).toEqual([good?.ok ? good.event_id : ""]);
    // Checked against the config it was given, and says which version.
    expect(JSON.parse(records[0]?.value ?? "{}").config_version).toBe(config.version);
    const quarantined = await readTopic(brokers, quarantineTopicFor(tenant), 2);
    expect(quarantined.map((r) => JSON.parse(r.value))).toEqual([
      expect.objectContaining({
        reason: "invalid_event",
        errors: [expect.objectContaining({ path: "context.device_type", code: "invalid_value" })],
        event: expect.objectContaining({ context: { device_type: "fridge" } }),
      }),
      expect.objectContaining({
        reason: "invalid_event",
        errors: [expect.objectContaining({ path: "scenario_data.video_data.duration" })],
      }),
    ]);
    const metrics = await tracker.registry.metrics();
    expect(metrics).toMatch(/^kafka_tracker_events_rejected_total 2$/m);
  });

  it("reads its tenant's configs from the relay with a secret key, and follows a change", async () => {
    const tenant = uniqueName("tracker");
    const admin = `admin_${uniqueName("t")}`;
    const relay = await startTestRelay(brokers, [], { env: { ADMIN_TOKEN: admin } });
    let tracker: KafkaTracker | undefined;
    try {
      const call = adminClient(relay.httpUrl, admin);
      await call("/api/v1/tracking-configs/from-template", {
        tenant_id: tenant,
        scenario_id: "vlog_feed",
        template_id: "video",
        name: "Vlog",
      });
      const { key } = await call("/api/v1/api-keys", { kind: "secret", tenant_id: tenant, name: "tracker" });
      tracker = await open({
        tenantId: tenant,
        lingerMs: 20,
        configsFrom: { relayUrl: relay.httpUrl, secretKey: key },
      });
      const negative = { ...video, scenario_data: { video_data: { duration: -5 } } };
      // Lenient: a warning, and the event names the version it was checked against.
      const [lenient] = await tracker.trackMany([negative]);
      expect(lenient).toMatchObject({ ok: true, warnings: [{ path: "scenario_data.video_data.duration" }] });

      const updated = await fetch(`${relay.httpUrl}/api/v1/tracking-configs/${tenant}/vlog_feed`, {
        method: "PUT",
        headers: { "content-type": "application/json", authorization: `Bearer ${admin}` },
        body: JSON.stringify({ strict: true, version: 1 }),
      });
      expect(updated.status).toBe(200);
      expect(await tracker.refreshConfigs()).toBe(true);
      const [strict] = await tracker.trackMany([negative]);
      expect(strict).toMatchObject({ ok: false, errors: [{ path: "scenario_data.video_data.duration" }] });

      // The relay gone: the configs read last stay in use.
      await relay.close();
      expect(await tracker.refreshConfigs()).toBe(false);
      const [still] = await tracker.trackMany([negative]);
      expect(still?.ok).toBe(false);
      await tracker.close();
      const records = await readTopic(brokers, topicFor(tenant), 1);
      expect(JSON.parse(records[0]?.value ?? "{}")).toMatchObject({ config_version: 1 });
    } finally {
      await tracker?.close();
      await relay.close();
    }
  });

  describe("with a broker that goes away", () => {
    const kafka = privateKafka(19192);
    afterAll(() => kafka.then((k) => k.remove()));

    it("spools while the broker is down and delivers every event once it is back", async () => {
      const broker = await kafka;
      await broker.start();
      const tenant = uniqueName("tracker");
      const spoolDir = await mkdtemp(join(tmpdir(), "tracker-spool-"));
      const options = { brokers: broker.brokers, spoolDir, tenantId: tenant, lingerMs: 20 };
      let tracker = await open(options);
      const before = await tracker.trackMany(eventsOf(tenant, 20));
      await broker.stop();
      const during = await tracker.trackMany(eventsOf(tenant, 20));
      expect(tracker.kafkaAvailable).toBe(false);
      expect(await tracker.registry.metrics()).toMatch(/^kafka_tracker_spool_events [1-9]/m);
      // A restart of the service while its spool holds events: the next tracker delivers them.
      await tracker.close();
      await broker.start();
      tracker = await open(options);
      const after = await tracker.trackMany(eventsOf(tenant, 20));
      await tracker.close();

      const acknowledged = [...before, ...during, ...after].map((r) => (r.ok ? r.event_id : "refused"));
      expect(acknowledged).not.toContain("refused");
      const records = await readTopic(broker.brokers, topicFor(tenant), 60, 60_000);
      const delivered = records.map((r) => r.headers.get("event_id"));
      expect(new Set(delivered)).toEqual(new Set(acknowledged));
      expect(delivered).toHaveLength(60); // no duplicates
      for (const user of ["u_0", "u_1", "u_2"]) {
        const ids = records.filter((r) => r.key === user).map((r) => r.headers.get("event_id"));
        const sent = acknowledged.filter((_, i) => (i % 20) % 3 === Number(user.slice(2)));
        expect(ids).toEqual(sent);
      }
    }, 240_000);
  });
});
