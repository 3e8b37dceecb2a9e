import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  EXAMPLE_EVENTS,
  eventToProto,
  quarantineTopicFor,
  topicFor,
  validateEvent,
} from "../../src/core/index.ts";
import { BehaviorEventSchema, BehaviorService } from "../../src/gen/recommender/v1/behavior_pb.js";
import { InMemoryConfigSource } from "../../src/relay/config-source.ts";
import { configFor } from "../support/core.ts";
import { readTopic } from "../support/kafka.ts";
import { uniqueName } from "../support/random.ts";
import { startTestRelay } from "../support/relay.ts";

const brokers = inject("kafkaBrokers");
const tenantA = uniqueName("ta");
const tenantB = uniqueName("tb");
const keys = { a: `sk_${uniqueName("a")}`, b: `sk_${uniqueName("b")}`, service: `svc_${uniqueName("s")}` };

const video = (tenant: string, overrides: Record<string, unknown> = {}) => ({
  ...EXAMPLE_EVENTS.video_data,
  tenant_id: tenant,
  ...overrides,
});

describe("relay ingest into Kafka", () => {
  let relay: Awaited<ReturnType<typeof startTestRelay>>;
  const configs = new InMemoryConfigSource();
  configs.put(configFor("video_data", { tenant_id: tenantA, scenario_id: "vlog_feed" }));

  const post = (path: string, body: unknown, key?: string) =>
    fetch(`${relay.httpUrl}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
      body: JSON.stringify(body),
    });

  beforeAll(async () => {
    relay = await startTestRelay(
      brokers,
      [`${keys.a}=${tenantA}`, `${keys.b}=${tenantB}`, `${keys.service}=*`],
      {
        configs,
      },
    );
  });
  afterAll(async () => {
    await relay?.close();
  });

  it("tracks one event over REST into user-behaviors-{tenant}, keyed by user, Chinese text byte-exact", async () => {
    const response = await post("/api/v1/behaviors/track", video(tenantA, { user_id: "用户_1" }), keys.a);
    expect(response.status).toBe(200);
    const body = (await response.json()) as { success: boolean; event_id: string; message: string };
    expect(body).toMatchObject({ success: true, message: "Event tracked successfully" });
    expect(body.event_id).toMatch(/^evt_[0-9a-f]{16}$/);

    const [record] = await readTopic(brokers, topicFor(tenantA), 1);
    expect(record?.key).toBe("用户_1");
    expect(record?.headers.get("event_id")).toBe(body.event_id);
    const stored = JSON.parse(record?.value ?? "{}");
    expect(stored).toMatchObject({
      event_id: body.event_id,
      tenant_id: tenantA,
      context: { location: "上海" },
    });
    const expected = validateEvent({ ...video(tenantA, { user_id: "用户_1" }), event_id: body.event_id });
    // Checked against tenant A's config (version 1): the record says so.
    expect(JSON.parse(record?.value ?? "")).toEqual({
      ...expected.event,
      received_at: expect.any(Number),
      config_version: 1,
    });
    expect(record?.value).toContain('"location":"上海"');
  });

  it("accepts the valid events of a batch, reports the invalid ones by index and quarantines them", async () => {
    const events = [
      video(tenantA, { user_id: "batch_user", position: 0 }),
      video(tenantA, { user_id: "", position: 1 }),
      video(tenantA, {
        user_id: "batch_user",
        position: 2,
        scenario_data: { video_data: { duration: 30, video_quality: "8K" } },
      }),
    ];
    const response = await post("/api/v1/behaviors/track/batch", { events }, keys.a);
    expect(response.status).toBe(200);
    const body = (await response.json()) as {
      success: boolean;
      total: number;
      succeeded: number;
      failed: number;
      results: {
        index: number;
        success: boolean;
        errors?: { path: string }[];
        validation_warnings: { path: string }[];
      }[];
    };
    expect(body).toMatchObject({ success: false, total: 3, succeeded: 2, failed: 1 });
    expect(body.results[1]).toMatchObject({ index: 1, success: false, errors: [{ path: "user_id" }] });
    expect(body.results[2]?.validation_warnings.map((w) => w.path)).toEqual([
      "scenario_data.video_data.video_quality",
    ]);

    const rejected = await readTopic(brokers, quarantineTopicFor(tenantA), 1);
    expect(JSON.parse(rejected[0]?.value ?? "{}")).toMatchObject({
      reason: "invalid_event",
      event: { position: 1 },
    });
  });

  it("keeps one user's events in order on one partition", async () => {
    const user = uniqueName("ordered");
    for (let round = 0; round < 3; round++) {
      const events = Array.from({ length: 10 }, (_, i) =>
        video(tenantB, { user_id: user, position: round * 10 + i }),
      );
      expect((await post("/api/v1/behaviors/track/batch", { events }, keys.b)).status).toBe(200);
    }
    const records = (await readTopic(brokers, topicFor(tenantB), 30)).filter((r) => r.key === user);
    expect(records).toHaveLength(30);
    expect(new Set(records.map((r) => r.partition)).size).toBe(1);
    expect(records.map((r) => JSON.parse(r.value).position)).toEqual(Array.from({ length: 30 }, (_, i) => i));
  });

  it("refuses a missing key (401) and another tenant's key (403), and writes nothing for them", async () => {
    const marker = uniqueName("intruder");
    expect((await post("/api/v1/behaviors/track", video(tenantB, { user_id: marker }))).status).toBe(401);
    const forbidden = await post("/api/v1/behaviors/track", video(tenantB, { user_id: marker }), keys.a);
    expect(forbidden.status).toBe(403);
    expect(forbidden.headers.get("content-type")).toBe("application/problem+json");
    expect(await forbidden.json()).toMatchObject({ code: "forbidden", errors: [{ path: "tenant_id" }] });
    const recordsOfB = await readTopic(brokers, topicFor(tenantB), 1000, 3000);
    expect(recordsOfB.some((r) => r.key === marker)).toBe(false);
  });

  it("answers bad bodies with problem+json: malformed JSON, wrong content type, invalid event", async () => {
    const malformed = await fetch(`${relay.httpUrl}/api/v1/behaviors/track`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${keys.a}` },
      body: '{"tenant_id": ',
    });
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ code: "malformed_body" });
    const text = await fetch(`${relay.httpUrl}/api/v1/behaviors/track`, {
      method: "POST",
      headers: { "content-type": "text/csv", authorization: `Bearer ${keys.a}` },
      body: "a,b",
    });
    expect(text.status).toBe(415);
    const invalid = await post(
      "/api/v1/behaviors/track",
      video(tenantA, { context: { device_type: "tv" } }),
      keys.a,
    );
    expect(invalid.status).toBe(400);
    expect(await invalid.json()).toMatchObject({
      code: "invalid_event",
      errors: [{ path: "context.device_type" }],
    });
  });

  it("serves TrackEvent, TrackEvents and Health over gRPC with the same rules", async () => {
    const transport = createGrpcTransport({ baseUrl: relay.grpcUrl });
    const client = createClient(BehaviorService, transport);
    const auth = { headers: { authorization: `Bearer ${keys.service}` } };
    const accepted = validateEvent(video(tenantA, { user_id: "grpc_user" }));
    if (!accepted.ok) throw new Error("fixture");
    const { event_id: _id, ...withoutId } = accepted.event;
    const response = await client.trackEvent(
      { event: eventToProto({ ...withoutId, event_id: "" } as never) },
      auth,
    );
    expect(response.success).toBe(true);
    expect(response.eventId).toMatch(/^evt_/);

    await expect(
      client.trackEvent({ event: create(BehaviorEventSchema, { tenantId: tenantA }) }, auth),
    ).rejects.toSatisfy(
      (e: unknown) =>
        e instanceof ConnectError &&
        e.code === Code.InvalidArgument &&
        e.message.includes("user_id is required"),
    );
    await expect(client.trackEvent({ event: eventToProto(accepted.event) }, {})).rejects.toSatisfy(
      (e: unknown) => e instanceof ConnectError && e.code === Code.Unauthenticated,
    );
    await expect(
      client.trackEvent(
        { event: eventToProto({ ...accepted.event, tenant_id: tenantB }) },
        { headers: { authorization: `Bearer ${keys.a}` } },
      ),
    ).rejects.toSatisfy((e: unknown) => e instanceof ConnectError && e.code === Code.PermissionDenied);

    const batch = await client.trackEvents(
      { events: [eventToProto(accepted.event), create(BehaviorEventSchema, {})] },
      auth,
    );
    expect([batch.total, batch.succeeded, batch.failed]).toEqual([2, 1, 1]);
    expect(batch.results[1]?.errorCode).toBe("invalid_event");

    const huge = eventToProto({ ...accepted.event, extra_data: { blob: "x".repeat(1_200_000) } });
    await expect(client.trackEvent({ event: huge }, auth)).rejects.toSatisfy(
      (e: unknown) => e instanceof ConnectError && e.code === Code.ResourceExhausted,
    );

    const health = await client.health({});
    expect(health.status).toBe("healthy");
    expect(health.kafkaAvailable).toBe(true);
  });

  it("reports health in the SPEC §6 shape", async () => {
    const body = (await (await fetch(`${relay.httpUrl}/api/v1/behaviors/health`)).json()) as {
      stats: { total_events: number };
    };
    expect(body).toEqual({
      status: "healthy",
      kafka_available: true,
      stats: {
        total_events: expect.any(Number),
        kafka_success: expect.any(Number),
        kafka_failed: 0,
        rejected: expect.any(Number),
        validation_warnings: expect.any(Number),
        success_rate: expect.any(Number),
      },
      // Topics whose records cannot be written now (one tenant's trouble, not the relay's).
      failing_topics: 0,
      // The tenant directory: loaded, how far behind the store it may be, and the store's latency.
      directory: { loaded: true, age_seconds: expect.any(Number), store_latency_ms: expect.any(Number) },
    });
    expect(body.stats.total_events).toBeGreaterThan(0);
    // A call of each protocol, then every one is in the request-duration histogram.
    const connect = createClient(
      BehaviorService,
      createConnectTransport({ baseUrl: relay.httpUrl, httpVersion: "1.1" }),
    );
    await connect.health({});
    const metrics = await (await fetch(`${relay.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/relay_events_rejected_total\{reason="invalid_event"\} \d+/);
    for (const labels of [
      'route="/api/v1/behaviors/health",method="GET",status="200"',
      'route="TrackEvent",method="grpc",status="ok"',
      'route="BehaviorService/Health",method="connect",status="200"',
    ]) {
      expect(metrics).toMatch(new RegExp(`^relay_request_duration_seconds_count\\{${labels}\\} [1-9]`, "m"));
    }
  });
});
