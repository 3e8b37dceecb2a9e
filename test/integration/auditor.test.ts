// The auditor survives any record a direct writer puts into a tenant's topic: a tombstone, JSON null,
// text, JSON 5,000 levels deep. Each is counted by tenant and reason, kept in the tenant's -rejected
// topic with why, and passed over; the valid events behind them are audited; the lag, measured against
// the log end, shows an auditor that cannot get on and returns to 0 once one can; one tenant's backlog
// shares each fetch with the other tenants' records. Real Kafka and a
// MongoDB-wire server (the auditor as `npm run auditor` runs it).
import { Admin, ProduceAcks, Producer, stringSerializers } from "@platformatic/kafka";
import { pino } from "pino";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, inject, it, vi } from "vitest";
import { type Auditor, startAuditor } from "../../src/auditor/auditor.ts";
import { startStandaloneAuditor } from "../../src/auditor/standalone.ts";
import { EXAMPLE_EVENTS, quarantineTopicFor, topicFor } from "../../src/core/index.ts";
import { loadSettings } from "../../src/relay/config.ts";
import { QualityRecorder } from "../../src/relay/quality.ts";
import { readTopic } from "../support/kafka.ts";
import { uniqueName } from "../support/random.ts";

const brokers = inject("kafkaBrokers");
const silent = pino({ level: "silent" });

const WAIT = { timeout: 60_000, interval: 100 };

/** A metric's values by label set, as `label=value,…` → value. */
const values = async (registry: Registry, name: string) =>
  new Map(
    ((await registry.getSingleMetric(name)?.get())?.values ?? []).map((v) => [
      Object.entries(v.labels)
        .map(([k, l]) => `${k}=${l}`)
        .join(","),
      v.value,
    ]),
  );

const event = (tenant: string, id: string) =>
  JSON.stringify({ ...EXAMPLE_EVENTS.video_data, tenant_id: tenant, event_id: id });

describe("the auditor", () => {
  const admin = new Admin({ clientId: "test-auditor-admin", bootstrapBrokers: brokers });
  const producer = new Producer({
    clientId: "legacy-etl-client",
    bootstrapBrokers: brokers,
    serializers: stringSerializers,
    idempotent: true,
    acks: ProduceAcks.ALL,
  });
  const auditors: Auditor[] = [];

  /** A tenant's topic (3 partitions) with `values` written in order to one partition (one user's key). */
  const topicWith = async (tenant: string, records: (string | undefined)[]) => {
    await admin.createTopics({ topics: [topicFor(tenant)], partitions: 3, replicas: 1 });
    await append(tenant, records);
  };
  /** Writes `records` after those already in the tenant's topic (to the same partition). */
  const append = async (tenant: string, records: (string | undefined)[]) => {
    await producer.send({
      messages: records.map((value) => ({
        topic: topicFor(tenant),
        key: "u1",
        value,
        headers: { producer: "legacy-etl" },
      })),
    });
  };

  beforeAll(async () => {
    await admin.metadata({ topics: [] });
  });
  afterAll(async () => {
    await Promise.all(auditors.map((a) => a.close()));
    await producer.close();
    await admin.close();
  });

  it("counts, quarantines and skips a tombstone, JSON null, text and 5,000-deep JSON, and audits the events behind them", async () => {
    const tenant = uniqueName("audit_unreadable");
    const deep = `{"tenant_id":"${tenant}","extra_data":${"[".repeat(5000)}${"]".repeat(5000)}}`;
    const valid = Array.from({ length: 5 }, (_, i) => event(tenant, `evt_${i}`));
    await topicWith(tenant, [undefined, "null", "not json at all", deep, ...valid]);

    const registry = new Registry();
    const auditor = await startStandaloneAuditor(
      loadSettings({
        KAFKA_BROKERS: brokers.join(","),
        MONGODB_URI: inject("mongodbUri"),
        MONGODB_DB: uniqueName("auditor"),
        AUDITOR_DISCOVER_MS: "300",
      }),
      { registry, log: silent, topics: new RegExp(`^${topicFor(tenant)}$`) },
    );
    auditors.push(auditor);

    // Every record read and the lag measured as 0.
    await vi.waitFor(() => expect([auditor.audited, auditor.lag]).toEqual([9, 0]), WAIT);
    expect(auditor.lagByTenant.has(tenant)).toBe(false);
    expect(await values(registry, "auditor_records_total")).toEqual(
      new Map([
        ["verdict=unreadable", 4],
        ["verdict=passed", 5],
      ]),
    );
    expect(await values(registry, "auditor_unreadable_records_total")).toEqual(
      new Map(
        ["no_value", "not_an_object", "not_json", "too_deep"].map((reason) => [
          `tenant=${tenant},reason=${reason}`,
          1,
        ]),
      ),
    );

    // Each kept in the tenant's quarantine topic with why and where, in the order they were read.
    const kept = (await readTopic(brokers, quarantineTopicFor(tenant), 4)).map((r) => JSON.parse(r.value));
    expect(kept.map((k) => [k.reason, k.errors[0].code])).toEqual([
      ["unreadable", "no_value"],
      ["unreadable", "not_an_object"],
      ["unreadable", "not_json"],
      ["unreadable", "too_deep"],
    ]);
    expect(kept[0].errors[0].message).toMatch(/offset 0\)$/);
    expect(kept.map((k) => k.event)).toEqual([null, "null", "not json at all", deep]);
  });

  it("shows the records an auditor cannot get past as lag, until one that can has read them", async () => {
    const tenant = uniqueName("audit_stuck");
    await topicWith(tenant, [event(tenant, "evt_a"), event(tenant, "evt_b"), event(tenant, "evt_c")]);
    const groupId = uniqueName("auditor_group");
    const start = (configs: Parameters<typeof startAuditor>[0]["configs"], registry = new Registry()) => {
      const auditor = startAuditor({
        brokers,
        groupId,
        configs,
        quality: new QualityRecorder({ registry: new Registry(), log: silent }),
        quarantine: async () => undefined,
        registry,
        log: silent,
        discoverMs: 300,
        topics: new RegExp(`^${topicFor(tenant)}$`),
      });
      auditors.push(auditor);
      return auditor;
    };

    // Its config store fails on every event: the stream fails on the first, starts again and fails again.
    const registry = new Registry();
    const failing = async () => {
      throw new Error("the store is down");
    };
    const stuck = start({ current: failing, version: failing }, registry);
    await vi.waitFor(() => expect(stuck.lagByTenant.get(tenant)).toBe(3), WAIT);
    expect(stuck.lag).toBe(3);
    expect(await values(registry, "auditor_tenant_lag_records")).toEqual(new Map([[`tenant=${tenant}`, 3]]));
    await stuck.close();

    const none = async () => undefined;
    const healthy = start({ current: none, version: none });
    // The healthy auditor catches up.
    await vi.waitFor(() => expect([healthy.audited, healthy.lag]).toEqual([3, 0]), WAIT);
  });

  it("shares its time among tenants: a tenant's backlog of 20,000 records does not hold back another's 20", async () => {
    const busy = uniqueName("audit_backlog");
    const quiet = uniqueName("audit_quiet");
    const backlog = Array.from({ length: 20_000 }, (_, i) => event(busy, `evt_${i}`));
    await topicWith(busy, backlog.slice(0, 1_000));
    for (let i = 1_000; i < backlog.length; i += 1_000) await append(busy, backlog.slice(i, i + 1_000));
    await topicWith(
      quiet,
      Array.from({ length: 20 }, (_, i) => event(quiet, `evt_${i}`)),
    );
    const none = async () => undefined;
    const auditor = startAuditor({
      brokers,
      groupId: uniqueName("auditor_group"),
      configs: { current: none, version: none },
      quality: new QualityRecorder({ registry: new Registry(), log: silent }),
      quarantine: async () => undefined,
      registry: new Registry(),
      log: silent,
      discoverMs: 200,
      // About 8 of the backlog's records per fetch: the quiet tenant's come in the same fetches.
      fetchBytesPerPartition: 4096,
      topics: new RegExp(`^(${topicFor(busy)}|${topicFor(quiet)})$`),
    });
    auditors.push(auditor);

    // The quiet tenant is audited to its log end while most of the backlog is still to come.
    await vi.waitFor(() => {
      expect(auditor.lagByTenant.has(busy)).toBe(true);
      expect(auditor.lagByTenant.has(quiet)).toBe(false);
    }, WAIT);
    expect(auditor.lagByTenant.get(busy)).toBeGreaterThan(10_000);
    // …and the backlog after it.
    await vi.waitFor(() => expect(auditor.lag).toBe(0), { timeout: 120_000, interval: 200 });
    expect(auditor.audited).toBe(20_020);
  }, 180_000);
});
