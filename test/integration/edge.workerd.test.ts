import { gzipSync } from "node:zlib";
import type { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { EXAMPLE_EVENTS, quarantineTopicFor, topicFor } from "../../src/core/index.ts";
import { adminClient, edgeTenant, newEdgeSecret, startWorkerdEdge } from "../support/edge.ts";
import { readTopic } from "../support/kafka.ts";
import { freePort } from "../support/ports.ts";
import { uniqueName } from "../support/random.ts";
import { startTestRelay } from "../support/relay.ts";

const brokers = inject("kafkaBrokers");
const ADMIN = `admin_${uniqueName("t")}`;
const ORIGIN = "https://shop.example";
const tenant = uniqueName("edge");
const EDGE_PORT = await freePort();
const EDGE_SECRET = newEdgeSecret();
// Fixed ports and database, so the relay can be stopped and started again behind the edge, and can
// push config changes to it.
const relayEnv = {
  ADMIN_TOKEN: ADMIN,
  EDGE_SECRET,
  RELAY_HTTP_PORT: String(await freePort()),
  MONGODB_DB: uniqueName("edge_db"),
  EDGE_PUSH_URLS: `http://127.0.0.1:${EDGE_PORT}`,
};

/** The SPEC §6 example as a browser sends it: the vlog_feed video event without ids or timestamp. */
const {
  event_id: _i,
  timestamp: _t,
  ...specEvent
} = { ...EXAMPLE_EVENTS.video_data, tenant_id: tenant, event_id: "", timestamp: 0 };

describe("the edge in real workerd, forwarding to a real relay and Kafka", () => {
  let relay: Awaited<ReturnType<typeof startTestRelay>>;
  let mf: Miniflare;
  let publishable: string;
  let otherTenantKey: string;

  beforeAll(async () => {
    relay = await startTestRelay(brokers, [], { env: relayEnv });
    const admin = adminClient(relay.httpUrl, ADMIN);
    const keys = await edgeTenant(admin, tenant, [ORIGIN]);
    publishable = keys.publishable;
    otherTenantKey = (
      await admin("/api/v1/api-keys", {
        kind: "publishable",
        tenant_id: uniqueName("other"),
        allowed_origins: [],
      })
    ).key;

    mf = await startWorkerdEdge({
      relayUrl: relay.httpUrl,
      edgeSecret: EDGE_SECRET,
      port: EDGE_PORT,
    });
  }, 180_000);

  afterAll(async () => {
    await mf?.dispose();
    await relay?.close();
  });

  const post = (path: string, body: string | Uint8Array, headers: Record<string, string>) =>
    mf.dispatchFetch(`http://edge.test${path}`, { method: "POST", body, headers });

  it("lands the SPEC §6 example in user-behaviors-{tenant}", async () => {
    const response = await post("/api/v1/behaviors/track", JSON.stringify(specEvent), {
      "content-type": "application/json",
      authorization: `Bearer ${publishable}`,
      origin: ORIGIN,
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("access-control-allow-origin")).toBe(ORIGIN);
    const { event_id } = (await response.json()) as { event_id: string };
    const records = await readTopic(brokers, topicFor(tenant), 1);
    expect(JSON.parse(records[0]?.value ?? "{}")).toMatchObject({
      event_id,
      tenant_id: tenant,
      scenario_id: "vlog_feed",
    });
  });

  it("answers a batch of 100 with some bad events per event, and takes text/plain and gzip beacons", async () => {
    const events = Array.from({ length: 100 }, (_, i) =>
      i % 25 === 0 ? { ...specEvent, user_id: "" } : specEvent,
    );
    const batch = await post(`/api/v1/behaviors/collect?key=${publishable}`, JSON.stringify({ events }), {
      "content-type": "text/plain",
    });
    const body = (await batch.json()) as {
      succeeded: number;
      failed: number;
      results: { index: number; success: boolean }[];
    };
    expect([body.succeeded, body.failed]).toEqual([96, 4]);
    expect(body.results.filter((r) => !r.success).map((r) => r.index)).toEqual([0, 25, 50, 75]);
    const gz = await post(
      `/api/v1/behaviors/collect?key=${publishable}`,
      gzipSync(JSON.stringify(specEvent)),
      { "content-type": "text/plain" },
    );
    expect(gz.status).toBe(200);
  });

  it("refuses a disallowed origin, a missing or wrong key, and another tenant's key", async () => {
    const json = { "content-type": "application/json" };
    const body = JSON.stringify(specEvent);
    const evil = await post("/api/v1/behaviors/track", body, {
      ...json,
      authorization: `Bearer ${publishable}`,
      origin: "https://evil.example",
    });
    expect(evil.status).toBe(403);
    // Readable by the page (so its tracker stops), and a refusal all the same.
    expect(evil.headers.get("access-control-allow-origin")).toBe("https://evil.example");
    expect(await evil.json()).toMatchObject({ code: "forbidden" });
    expect((await post("/api/v1/behaviors/track", body, json)).status).toBe(401);
    expect(
      (await post("/api/v1/behaviors/track", body, { ...json, authorization: "Bearer pk_wrong" })).status,
    ).toBe(401);
    expect(
      (await post("/api/v1/behaviors/track", body, { ...json, authorization: `Bearer ${otherTenantKey}` }))
        .status,
    ).toBe(403);
  });

  it("changes edge validation within seconds of a config change through the admin API (signed push)", async () => {
    const headers = { "content-type": "application/json", authorization: `Bearer ${publishable}` };
    const long = JSON.stringify({ ...specEvent, scenario_data: { video_data: { duration: 3000 } } });
    const before = (await (await post("/api/v1/behaviors/validate", long, headers)).json()) as {
      validation_warnings: unknown[];
    };
    expect(before.validation_warnings).toEqual([]);
    const current = (await (
      await fetch(`${relay.httpUrl}/api/v1/tracking-configs/${tenant}/vlog_feed`, {
        headers: { authorization: `Bearer ${ADMIN}` },
      })
    ).json()) as { version: number };
    await adminClient(relay.httpUrl, ADMIN)(
      `/api/v1/tracking-configs/${tenant}/vlog_feed`,
      {
        version: current.version,
        required_fields: [{ field_name: "duration", field_type: "integer", min_value: 1, max_value: 600 }],
      },
      "PUT",
    );
    const started = Date.now();
    let warnings: { path: string }[] = [];
    while (Date.now() - started < 10_000 && warnings.length === 0) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      warnings = (
        (await (await post("/api/v1/behaviors/validate", long, headers)).json()) as {
          validation_warnings: { path: string }[];
        }
      ).validation_warnings;
    }
    expect(warnings.map((w) => w.path)).toEqual(["scenario_data.video_data.duration"]);
    console.log(`edge saw the config change after ${Date.now() - started} ms`);
  });

  it("acknowledges events while the relay is down (202), queues them, and delivers them all once it is back", async () => {
    const headers = { "content-type": "application/json", authorization: `Bearer ${publishable}` };
    await relay.close();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const response = await post(
        "/api/v1/behaviors/track",
        JSON.stringify({ ...specEvent, user_id: "queued_user", position: i }),
        headers,
      );
      expect(response.status).toBe(202);
      ids.push(((await response.json()) as { event_id: string }).event_id);
    }
    relay = await startTestRelay(brokers, [], { env: relayEnv });
    const deadline = Date.now() + 90_000;
    let delivered = new Set<string | undefined>();
    while (Date.now() < deadline && !ids.every((id) => delivered.has(id))) {
      await new Promise((resolve) => setTimeout(resolve, 2000));
      const records = await readTopic(brokers, topicFor(tenant), 10_000, 3000);
      delivered = new Set(records.map((r) => r.headers.get("event_id")));
    }
    expect(ids.filter((id) => !delivered.has(id))).toEqual([]);
  }, 180_000);

  it("stores a wrongly typed scenario value as sent (a warning, 200, not queued) and quarantines what it refuses", async () => {
    const click = { ...specEvent, action_type: "click", item_id: "typed_click" };
    const typed = { ...specEvent, item_id: "typed_abc", scenario_data: { video_data: { duration: "abc" } } };
    const invalid = { ...specEvent, item_id: "typed_refused", action_type: "swipe" };
    const response = await post(
      "/api/v1/behaviors/track/batch",
      JSON.stringify({ events: [click, typed, invalid] }),
      {
        "content-type": "application/json",
        authorization: `Bearer ${publishable}`,
      },
    );
    expect(response.status).toBe(200);
    const body = (await response.json()) as {
      queued: boolean;
      results: { success: boolean; event_id?: string; validation_warnings?: { path: string }[] }[];
    };
    expect(body.queued).toBe(false);
    expect(body.results.map((r) => r.success)).toEqual([true, true, false]);
    expect(body.results[1]?.validation_warnings?.map((w) => w.path)).toContain(
      "scenario_data.video_data.duration",
    );
    const stored = await readTopic(brokers, topicFor(tenant), 2, 20_000, (r) => r.value.includes('"typed_'));
    expect(stored.map((r) => JSON.parse(r.value).event_id).sort()).toEqual(
      [body.results[0]?.event_id, body.results[1]?.event_id].sort(),
    );
    expect(stored.map((r) => JSON.parse(r.value).scenario_data)).toContainEqual({
      video_data: { duration: "abc" },
    });
    const kept = await readTopic(brokers, quarantineTopicFor(tenant), 1, 20_000, (r) =>
      r.value.includes("typed_refused"),
    );
    expect(JSON.parse(kept[0]?.value ?? "{}")).toMatchObject({
      reason: "invalid_event",
      errors: [{ path: "action_type" }],
    });
    const metrics = await (await mf.dispatchFetch("http://edge.test/metrics")).text();
    expect(metrics).toMatch(/edge_events_refused_total\{reason="invalid_event"\} [1-9]/);
  });
});
