import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Admin } from "@platformatic/kafka";
import fc from "fast-check";
import { pino } from "pino";
import { afterAll, describe, expect, inject, it, vi } from "vitest";
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
import { DEEP_5000, deepJsonText, HOSTILE_PLACES, hostileValue, withHostile } from "../support/hostile.ts";
import { readTopic, readWholeTopic } from "../support/kafka.ts";
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
    expect(metrics).toMatch(/^kafka_tracker_events_rejected_total{reason="invalid_event"} 2$/m);
  });

  it("takes hostile free-form values without throwing: refused by field, the rest written, and only what it answered written lands (property)", async () => {
    const tenant = uniqueName("tracker");
    const tracker = await open({ tenantId: tenant, lingerMs: 20 });
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    // What only a JavaScript caller can hand in, beside what any body can hold.
    const value = fc.oneof(hostileValue, fc.constantFrom<unknown>(cycle, 10n, Number.NaN, undefined));
    const written = new Set<string>();
    const refused = new Set<string>();
    let next = 0;
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.tuple(fc.constantFrom(...HOSTILE_PLACES), value), { minLength: 1, maxLength: 4 }),
          async (hostile) => {
            const events = [
              { ...video, event_id: `ok_${next++}` },
              // A 5,000-level value as a parsed body would hold it (the marker stands for it in JSON text).
              ...hostile.map(([place, v]) => ({
                ...withHostile(video, place, v === DEEP_5000 ? JSON.parse(deepJsonText(5000)) : v),
                event_id: `h_${next++}`,
              })),
            ];
            const outcomes = await tracker.trackMany([...(events as TrackedEvent[]), null as never]);
            expect(outcomes.at(-1)).toMatchObject({ ok: false, errors: [{ path: "" }] });
            expect(outcomes[0]?.ok).toBe(true);
            for (const [i, outcome] of outcomes.slice(0, -1).entries()) {
              const id = events[i]?.event_id as string;
              if (outcome.ok) written.add(id);
              else {
                refused.add(id);
                for (const error of outcome.errors) expect(error.message.length).toBeGreaterThan(0);
              }
            }
          },
        ),
        { numRuns: 40 },
      );
    } finally {
      await tracker.close();
    }
    expect(refused.size).toBeGreaterThan(0);
    await readTopic(brokers, topicFor(tenant), written.size);
    const landed = new Set(
      (await readWholeTopic(brokers, topicFor(tenant))).map((r) => r.headers.get("event_id")),
    );
    expect([...written].filter((id) => !landed.has(id))).toEqual([]);
    expect([...refused].filter((id) => landed.has(id))).toEqual([]);
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

      // Retried on 503 as a client would: under the suite's load the store may answer late.
      await call(`/api/v1/tracking-configs/${tenant}/vlog_feed`, { strict: true, version: 1 }, "PUT");
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

  it("refuses retryably only the events of a topic that cannot store them; the others of the call are written once", async () => {
    const [present, missing] = [uniqueName("present"), uniqueName("missing")];
    const admin = new Admin({ clientId: "tracker-test", bootstrapBrokers: brokers });
    await admin.createTopics({ topics: [topicFor(present)], partitions: 1, replicas: 1 });
    await admin.close();
    // No auto-creation and a small share of the spool per topic: the missing tenant's topic fills its
    // share within a few calls, and then its events can be stored nowhere.
    const tracker = await open({
      tenantId: present,
      autoCreateTopics: false,
      spoolTopicMaxBytes: 8192,
      lingerMs: 5,
    });
    const written: string[] = [];
    let unavailable = 0;
    let mixed: Awaited<ReturnType<KafkaTracker["trackMany"]>> | undefined;
    try {
      // The present tenant's topic flows first (a new topic may take a moment to show in the metadata).
      await vi.waitFor(async () => {
        const [outcome] = await tracker.trackMany(eventsOf(present, 1));
        if (outcome?.ok) written.push(outcome.event_id);
        expect(tracker.kafkaAvailable).toBe(true);
        expect(await tracker.registry.metrics()).toMatch(/^kafka_tracker_spool_events 0$/m);
      }, 30_000);
      for (let call = 0; call < 50 && mixed === undefined; call++) {
        const outcomes = await tracker.trackMany([...eventsOf(present, 2), ...eventsOf(missing, 2)]);
        for (const outcome of outcomes.slice(0, 2)) if (outcome.ok) written.push(outcome.event_id);
        unavailable += outcomes.filter((o) => !o.ok && o.code === "sink_unavailable").length;
        if (outcomes.slice(2).some((o) => !o.ok)) mixed = outcomes;
      }
      // Refusals of the missing tenant: their copies for its (missing) -rejected topic fill that topic's
      // share too, and are then counted, not dropped silently.
      const invalid = { ...eventsOf(missing, 1)[0], user_id: "" } as TrackedEvent;
      await vi.waitFor(async () => {
        const [refused] = await tracker.trackMany([invalid]);
        expect(refused?.ok).toBe(false);
        expect(await tracker.registry.metrics()).toMatch(/^kafka_tracker_quarantine_failures_total [1-9]/m);
      }, 60_000);
    } finally {
      await tracker.close();
    }
    expect(mixed?.slice(0, 2).map((o) => o.ok)).toEqual([true, true]);
    expect(mixed?.slice(2)).toEqual([
      expect.objectContaining({ ok: false, code: "sink_unavailable", retryable: true }),
      expect.objectContaining({ ok: false, code: "sink_unavailable", retryable: true }),
    ]);
    // Counted as refusals, as the relay counts them, by reason.
    expect(await tracker.registry.metrics()).toMatch(
      new RegExp(`^kafka_tracker_events_rejected_total{reason="sink_unavailable"} ${unavailable}$`, "m"),
    );
    const records = await readTopic(brokers, topicFor(present), written.length);
    expect(records.map((r) => r.headers.get("event_id")).sort()).toEqual(written.sort());
  }, 120_000);

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
