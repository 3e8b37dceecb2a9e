// Data quality you can watch: a scripted mix of good, warned and refused events through the relay and
// the edge (real workerd), plus direct writes into the tenant's topic that skip validation, read back
// through the quality API (the auditor, as its own process runs it, re-checking the topic) with exact
// figures.
import { ProduceAcks, Producer, stringSerializers } from "@platformatic/kafka";
import { pino } from "pino";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Auditor } from "../../src/auditor/auditor.ts";
import { startStandaloneAuditor } from "../../src/auditor/standalone.ts";
import { EXAMPLE_EVENTS, type QualityReport, topicFor } from "../../src/core/index.ts";
import { loadSettings } from "../../src/relay/config.ts";
import { startRelayAndEdge } from "../support/edge.ts";
import { freePort } from "../support/ports.ts";
import { uniqueName } from "../support/random.ts";

const brokers = inject("kafkaBrokers");
const tenant = uniqueName("quality");
const SERVICE = `svc_${uniqueName("quality")}`;

const {
  event_id: _i,
  timestamp: _t,
  ...good
} = {
  ...EXAMPLE_EVENTS.video_data,
  tenant_id: tenant,
  event_id: "",
  timestamp: 0,
};
/** Accepted with a warning: the lenient video config expects a number. */
const warned = (id: string) => ({
  ...good,
  event_id: id,
  scenario_data: { video_data: { duration: "abc" } },
});

describe("the quality API after a scripted mix through relay, edge and direct writers", () => {
  let stack: Awaited<ReturnType<typeof startRelayAndEdge>>;
  let auditor: Auditor;
  const producer = new Producer({
    clientId: "legacy-etl-client",
    bootstrapBrokers: brokers,
    serializers: stringSerializers,
    idempotent: true,
    acks: ProduceAcks.ALL,
  });

  beforeAll(async () => {
    stack = await startRelayAndEdge({
      brokers,
      tenant,
      edgePort: await freePort(),
      relayKeys: [`${SERVICE}=*`],
      relayEnv: { QUALITY_FLUSH_MS: "200" },
    });
    // The auditor as `npm run auditor` runs it, on the relay's database, narrowed to this tenant's topic:
    // the other test files' topics are not this test's to read.
    auditor = await startStandaloneAuditor(
      loadSettings({
        KAFKA_BROKERS: brokers.join(","),
        MONGODB_URI: inject("mongodbUri"),
        MONGODB_DB: stack.relay.database,
        QUALITY_FLUSH_MS: "200",
        AUDITOR_DISCOVER_MS: "500",
      }),
      {
        registry: new Registry(),
        log: pino({ level: "silent" }),
        topics: new RegExp(`^${topicFor(tenant)}$`),
      },
    );
  }, 180_000);
  afterAll(async () => {
    await auditor?.close();
    await producer.close();
    await stack?.close();
  });

  const report = async (token: string, window = "1h") => {
    const response = await fetch(`${stack.relay.httpUrl}/api/v1/tenants/${tenant}/quality?window=${window}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    return { status: response.status, body: (await response.json()) as QualityReport };
  };

  it("counts every verdict by source, field and producer, exactly", async () => {
    // Relay (service key, one batch): 3 good, 2 warned, 1 refused (an action no template knows).
    const relayBatch = [
      good,
      good,
      good,
      warned("evt_relay_warned_1"),
      warned("evt_relay_warned_2"),
      { ...good, event_id: "evt_relay_refused", action_type: "swipe" },
    ];
    const relayAnswer = await fetch(`${stack.relay.httpUrl}/api/v1/behaviors/track/batch`, {
      method: "POST",
      headers: { authorization: `Bearer ${SERVICE}`, "content-type": "application/json" },
      body: JSON.stringify({ events: relayBatch }),
    });
    expect(await relayAnswer.json()).toMatchObject({ succeeded: 5, failed: 1 });

    // Edge (publishable key, one batch): 2 good, 1 warned, 1 refused (an empty user_id).
    const edgeBatch = [
      good,
      good,
      warned("evt_edge_warned"),
      { ...good, event_id: "evt_edge_refused", user_id: "" },
    ];
    const edgeAnswer = await stack.edge.dispatchFetch("http://edge.test/api/v1/behaviors/collect", {
      method: "POST",
      headers: { authorization: `Bearer ${stack.publishable}`, "content-type": "application/json" },
      body: JSON.stringify({ events: edgeBatch }),
    });
    expect(await edgeAnswer.json()).toMatchObject({ succeeded: 3, failed: 1 });

    // A direct writer that skips validation: one good event, one without item_id.
    const { item_id: _item, ...noItem } = good;
    await producer.send({
      messages: [
        {
          topic: topicFor(tenant),
          key: "u1",
          value: JSON.stringify({ ...good, event_id: "evt_direct_ok" }),
          headers: { producer: "legacy-etl" },
        },
        {
          topic: topicFor(tenant),
          key: "u1",
          value: JSON.stringify({ ...noItem, event_id: "evt_direct_bad" }),
          headers: { producer: "legacy-etl" },
        },
      ],
    });

    // The auditor reads the 8 accepted events and the 2 direct ones; counts reach MongoDB within a flush.
    let body: QualityReport | undefined;
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const answer = await report(stack.adminToken);
      expect(answer.status).toBe(200);
      body = answer.body;
      const read = body.direct_writers.reduce((sum, w) => sum + w.received, 0);
      // Counts and field tallies are written one after the other: wait for both.
      const problems = body.top_fields.reduce((sum, f) => sum + f.count, 0);
      if (body.events.received === 10 && read === 10 && problems === 5) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    if (body === undefined) throw new Error("no report");

    expect(body.events).toEqual({ received: 10, accepted: 8, warned: 3, refused: 2, failed: 0 });
    expect(body.by_source).toEqual({
      relay: { received: 6, accepted: 5, warned: 2, refused: 1, failed: 0 },
      edge: { received: 4, accepted: 3, warned: 1, refused: 1, failed: 0 },
    });
    expect([body.pass_rate, body.warning_rate, body.refusal_rate]).toEqual([0.8, 0.3, 0.2]);
    expect(body.refusals_by_reason).toEqual({ invalid_event: 2 });
    expect(body.by_scenario).toEqual([
      { scenario_id: "vlog_feed", received: 10, accepted: 8, warned: 3, refused: 2, failed: 0 },
    ]);
    expect(body.targets.reported_successfully).toEqual({ value: 1, target: 0.999, met: true });
    expect(body.targets.kafka_writes_successful).toEqual({ value: 1, target: 0.999, met: true });
    expect(body.targets.validation_pass_rate).toEqual({ value: 0.8, target: 0.95, met: false });
    expect(body.targets.answer_p99_ms.value).toBeGreaterThan(0);

    // The failing fields, most frequent first, each with an example event and its id.
    expect(
      body.top_fields.map(({ path, code, severity, count }) => ({ path, code, severity, count })),
    ).toEqual([
      { path: "scenario_data.video_data.duration", code: "invalid_type", severity: "warning", count: 3 },
      { path: "action_type", code: "invalid_value", severity: "error", count: 1 },
      { path: "user_id", code: "too_small", severity: "error", count: 1 },
    ]);
    const duration = body.top_fields[0];
    expect(["evt_relay_warned_1", "evt_relay_warned_2", "evt_edge_warned"]).toContain(
      duration?.example.event_id,
    );
    expect(duration?.example.event).toMatchObject({
      tenant_id: tenant,
      scenario_data: { video_data: { duration: "abc" } },
    });
    expect(body.top_fields[1]?.example).toMatchObject({
      event_id: "evt_relay_refused",
      event: { action_type: "swipe" },
    });
    expect(body.top_fields[2]?.example.event_id).toBe("evt_edge_refused");

    // What the topic holds, by producer: ours re-checked (the warnings stay warnings), and the direct
    // writer's that never passed validation, one of which fails it.
    expect(body.direct_writers).toEqual([
      { producer: "behavior-relay", validated: true, received: 8, passed: 8, warned: 3, failed: 0 },
      { producer: "legacy-etl", validated: false, received: 2, passed: 1, warned: 0, failed: 1 },
    ]);
    const hours = body.trend.reduce((sum, h) => sum + h.received, 0);
    expect(hours).toBe(10);
  });

  it("keeps an example event whose keys MongoDB would refuse as field names, and the counts with it", async () => {
    const other = uniqueName("quality_keys");
    const hostile = { ...good, tenant_id: other, extra_data: { $where: "1", "a.b": 2, "": 3 } };
    const answer = await fetch(`${stack.relay.httpUrl}/api/v1/behaviors/track`, {
      method: "POST",
      headers: { authorization: `Bearer ${SERVICE}`, "content-type": "application/json" },
      body: JSON.stringify(hostile),
    });
    expect(answer.status).toBe(200);
    let body: QualityReport | undefined;
    // Counts and field tallies are written one after the other: wait for both.
    for (let i = 0; i < 100 && (body?.events.received !== 1 || body.top_fields.length === 0); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const response = await fetch(`${stack.relay.httpUrl}/api/v1/tenants/${other}/quality?window=1h`, {
        headers: { authorization: `Bearer ${stack.adminToken}` },
      });
      body = (await response.json()) as QualityReport;
    }
    // No tracking config for this tenant: every event is accepted with a no_config warning.
    expect(body?.events).toEqual({ received: 1, accepted: 1, warned: 1, refused: 0, failed: 0 });
    expect(body?.top_fields[0]).toMatchObject({
      path: "scenario_id",
      code: "no_config",
      example: { event: { extra_data: { $where: "1", "a.b": 2, "": 3 } } },
    });
  });

  it("answers the tenant's secret key, and refuses another tenant's key and no key", async () => {
    const secret = (
      await stack.admin("/api/v1/api-keys", { kind: "secret", tenant_id: tenant, name: "quality reader" })
    ).key;
    expect((await report(secret, "7d")).status).toBe(200);
    const other = (
      await stack.admin("/api/v1/api-keys", { kind: "secret", tenant_id: uniqueName("other"), name: "x" })
    ).key;
    expect((await report(other)).status).toBe(403);
    const anonymous = await fetch(`${stack.relay.httpUrl}/api/v1/tenants/${tenant}/quality`);
    expect(anonymous.status).toBe(401);
    const badWindow = await report(stack.adminToken, "2h");
    expect(badWindow.status).toBe(400);
  });
});
