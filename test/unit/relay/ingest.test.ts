import { gzipSync } from "node:zlib";
import { type Logger, pino } from "pino";
import { describe, expect, it, vi } from "vitest";
import {
  type batchAnswer,
  EXAMPLE_EVENTS,
  quarantineTopicFor,
  RateLimiter,
  topicFor,
} from "../../../src/core/index.ts";
import {
  type EventRecord,
  type RecordSink,
  SinkUnavailableError,
  TopicsUnwrittenError,
} from "../../../src/kafka/records.ts";
import { EnvKeyStore } from "../../../src/relay/auth.ts";
import { InMemoryConfigSource } from "../../../src/relay/config-source.ts";
import { createHttpApp } from "../../../src/relay/http/app.ts";
import { IngestService } from "../../../src/relay/ingest.ts";
import { createMetrics } from "../../../src/relay/metrics.ts";
import { QualityRecorder } from "../../../src/relay/quality.ts";
import { requestRecorder } from "../../../src/relay/request-log.ts";
import { fixedEnvironment } from "../../support/core.ts";
import { deepJsonText } from "../../support/hostile.ts";

/** Records what would go to Kafka; can be made to refuse like a full spool. */
class MemorySink implements RecordSink {
  records: EventRecord[] = [];
  full = false;
  /** Topics whose records cannot be made durable (a tenant's share of the spool is full). */
  unwritable = new Set<string>();
  /** When set, writes wait for it: a slow Kafka. */
  gate: Promise<void> | undefined;
  /** When not empty, only writes to these topics wait for `gate`: one tenant's slow topic. */
  gated = new Set<string>();
  /** Writes that have reached the sink (waiting at the gate or done). */
  writes = 0;
  kafkaAvailable = true;
  get accepting() {
    return !this.full;
  }
  async write(records: readonly EventRecord[]) {
    if (this.full) throw new SinkUnavailableError("full");
    this.writes++;
    if (this.gated.size === 0 || records.some((r) => this.gated.has(r.topic))) await this.gate;
    this.records.push(...records.filter((r) => !this.unwritable.has(r.topic)));
    const unwritten = new Set(records.filter((r) => this.unwritable.has(r.topic)).map((r) => r.topic));
    if (unwritten.size > 0) throw new TopicsUnwrittenError(unwritten, { cause: new Error("share full") });
  }
  async close() {}
}

const setup = (
  bodyBudgetBytes = 32 * 1024 * 1024,
  maxInflightEvents?: number,
  extra: {
    limiter?: RateLimiter;
    quality?: QualityRecorder;
    maxInflightEventsPerTenant?: number;
    log?: Logger;
  } = {},
) => {
  const sink = new MemorySink();
  const metrics = createMetrics();
  const log = extra.log ?? pino({ level: "silent" });
  const quality = new QualityRecorder({ registry: metrics.registry, log });
  const ingest = new IngestService({
    configs: new InMemoryConfigSource(),
    keys: new EnvKeyStore(["sk_a=tenant_a", "sk_b=tenant_b", "svc=*"]),
    sink,
    metrics,
    log,
    env: fixedEnvironment(),
    maxInflightEvents,
    quality,
    ...extra,
  });
  const app = createHttpApp({
    ingest,
    metrics,
    log,
    bodyBudgetBytes,
    record: requestRecorder(metrics, log, 20),
  });
  const post = (path: string, body: unknown, key = "sk_a") =>
    app.request(path, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
      // Text as it is: a body nested thousands deep is more than JSON.stringify can write.
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
  return { sink, metrics, ingest, app, post, quality };
};

const event = (tenant = "tenant_a", extra: Record<string, unknown> = {}) => ({
  ...EXAMPLE_EVENTS.video_data,
  tenant_id: tenant,
  ...extra,
});

describe("relay ingest (in-memory sink)", () => {
  it("writes an accepted event to its tenant's topic, keyed by user, with its id", async () => {
    const { sink, post } = setup();
    const response = await post("/api/v1/behaviors/track", event());
    expect(response.status).toBe(200);
    expect(sink.records).toEqual([
      expect.objectContaining({
        topic: topicFor("tenant_a"),
        key: "u_10086",
        eventId: "evt_0001020304050607",
      }),
    ]);
  });

  it("quarantines an invalid event of the caller's tenant with the reason, and counts it", async () => {
    const { sink, post, metrics } = setup();
    const response = await post("/api/v1/behaviors/track", event("tenant_a", { action_type: "swipe" }));
    expect(response.status).toBe(400);
    await vi.waitFor(() =>
      expect(sink.records.map((r) => r.topic)).toEqual([quarantineTopicFor("tenant_a")]),
    );
    expect(JSON.parse(sink.records[0]?.value ?? "{}")).toMatchObject({
      reason: "invalid_event",
      errors: [{ path: "action_type" }],
    });
    expect((await metrics.rejected.get()).values).toContainEqual(
      expect.objectContaining({ labels: { reason: "invalid_event" }, value: 1 }),
    );
  });

  it("never quarantines into a tenant the key may not write", async () => {
    const { sink, post } = setup();
    expect((await post("/api/v1/behaviors/track", event("tenant_b", { action_type: "swipe" }))).status).toBe(
      403,
    );
    // A quarantine write would start before the answer's next turn of the event loop (as in the case
    // above); nothing can be waited for when nothing should happen.
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(sink.records).toEqual([]);
  });

  it("lets an internal service key write any tenant", async () => {
    const { sink, post } = setup();
    expect((await post("/api/v1/behaviors/track", event("tenant_b"), "svc")).status).toBe(200);
    expect(sink.records[0]?.topic).toBe(topicFor("tenant_b"));
  });

  it("answers a retryable 503 when nothing can store events, and is not ready", async () => {
    const { sink, post, app } = setup();
    sink.full = true;
    const response = await post("/api/v1/behaviors/track", event());
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ code: "sink_unavailable", retryable: true });
    const batch = await post("/api/v1/behaviors/track/batch", { events: [event(), event()] });
    expect(batch.status).toBe(503);
    expect((await app.request("/readyz")).status).toBe(503);
    expect((await app.request("/livez")).status).toBe(200);
  });

  it("refuses retryably only the events of a topic that could not be stored; the others of the batch are answered written", async () => {
    const { sink, post } = setup();
    sink.unwritable.add(topicFor("tenant_b"));
    const events = [
      event("tenant_a", { event_id: "evt_a1" }),
      event("tenant_b", { event_id: "evt_b1" }),
      event("tenant_a", { event_id: "evt_a2" }),
    ];
    const response = await post("/api/v1/behaviors/track/batch", { events }, "svc");
    const answer = (await response.json()) as {
      results: { success: boolean; error_code?: string }[];
    };
    expect(answer.results.map((r) => [r.success, r.error_code ?? null])).toEqual([
      [true, null],
      [false, "sink_unavailable"],
      [true, null],
    ]);
    expect(sink.records.map((r) => r.eventId)).toEqual(["evt_a1", "evt_a2"]);
  });

  it("logs calls refused for a topic that cannot be stored once, with the count, not once per call", async () => {
    const lines: { level: number; msg: string; topics?: string[]; calls?: number }[] = [];
    const log = pino({ level: "warn" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const { sink, post } = setup(undefined, undefined, { log });
    sink.unwritable.add(topicFor("tenant_b"));
    for (let i = 0; i < 5; i++)
      expect((await post("/api/v1/behaviors/track", event("tenant_b"), "sk_b")).status).toBe(503);
    expect(lines).toEqual([expect.objectContaining({ level: 40, topics: [topicFor("tenant_b")], calls: 1 })]);
  });

  it("answers a batch with one event nested 5,000 levels deep per event: the others written, that one refused by its path", async () => {
    // With the quality recorder as the relay runs it: its example of the refused event once threw after
    // the write, and the whole call was answered with a retryable 500.
    const { post, sink } = setup();
    const valid = Array.from({ length: 10 }, (_, i) =>
      JSON.stringify(event("tenant_a", { event_id: `ok_${i}` })),
    );
    const deep = JSON.stringify(event("tenant_a", { event_id: "deep" })).replace(
      /}$/,
      `,"extra_data":${deepJsonText(5000)}}`,
    );
    const response = await post(
      "/api/v1/behaviors/track/batch",
      `{"events":[${[...valid, deep].join(",")}]}`,
    );
    expect(response.status).toBe(200);
    const answer = (await response.json()) as ReturnType<typeof batchAnswer>;
    expect(answer).toMatchObject({ total: 11, succeeded: 10, failed: 1 });
    expect(answer.results[10]).toMatchObject({
      success: false,
      error_code: "invalid_event",
      retryable: false,
      errors: [{ path: "extra_data", code: "too_big" }],
    });
    const written = sink.records.filter((r) => r.topic === topicFor("tenant_a")).map((r) => r.eventId);
    expect(written).toEqual(valid.map((_, i) => `ok_${i}`));
  });

  it("answers what was written even when counting the call fails afterwards", async () => {
    class BrokenRecorder extends QualityRecorder {
      override call(): void {
        throw new Error("a bug in counting");
      }
    }
    const quality = new BrokenRecorder({
      registry: createMetrics().registry,
      log: pino({ level: "silent" }),
    });
    const { post, sink } = setup(undefined, undefined, { quality });
    const response = await post("/api/v1/behaviors/track/batch", { events: [event(), event()] });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ succeeded: 2 });
    expect(sink.records).toHaveLength(2);
  });

  it("refuses more than 100 events in a batch with 413, and an oversized body with 413", async () => {
    const { post } = setup();
    const many = await post("/api/v1/behaviors/track/batch", {
      events: Array.from({ length: 101 }, () => event()),
    });
    expect(many.status).toBe(413);
    const huge = await post(
      "/api/v1/behaviors/track",
      event("tenant_a", { extra_data: { blob: "x".repeat(1_100_000) } }),
    );
    expect(huge.status).toBe(413);
    expect(huge.headers.get("content-type")).toBe("application/problem+json");
  });

  it("refuses an event over 32 KiB with 413 naming the limit", async () => {
    const { post } = setup();
    const response = await post(
      "/api/v1/behaviors/track",
      event("tenant_a", { extra_data: { blob: "中".repeat(12_000) } }),
    );
    expect(response.status).toBe(413);
    expect(((await response.json()) as { detail: string }).detail).toMatch(/at most 32768/);
  });

  it("refuses a body its body budget has no room for with 429 and Retry-After, and gives the budget back after each request", async () => {
    const { post, sink } = setup(4000);
    for (let i = 0; i < 5; i++) expect((await post("/api/v1/behaviors/track", event())).status).toBe(200);
    expect(sink.records).toHaveLength(5);
    const big = await post(
      "/api/v1/behaviors/track",
      event("tenant_a", { extra_data: { pad: "x".repeat(5000) } }),
    );
    expect(big.status).toBe(429);
    expect(big.headers.get("retry-after")).toBe("1");
    expect(await big.json()).toMatchObject({ code: "overloaded", retryable: true });
    expect(sink.records).toHaveLength(5);
    expect((await post("/api/v1/behaviors/track", event())).status).toBe(200);
  });

  it("answers unknown routes with a problem, not a stack trace", async () => {
    const { app } = setup();
    const response = await app.request("/nope");
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ code: "not_found" });
  });

  it("refuses calls beyond the events it may handle at once with a retryable 429 overloaded, and takes them again after", async () => {
    const { sink, post } = setup(32 * 1024 * 1024, 150);
    let open = () => undefined as unknown;
    sink.gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const batch = { events: Array.from({ length: 100 }, () => event("tenant_a", { event_id: undefined })) };
    const first = post("/api/v1/behaviors/track/batch", batch, "svc");
    await vi.waitFor(() => expect(sink.writes).toBe(1)); // the first call's events are at the sink
    const second = await post("/api/v1/behaviors/track/batch", batch, "svc");
    expect(second.status).toBe(429);
    expect(second.headers.get("retry-after")).toBe("1");
    expect(await second.json()).toMatchObject({ code: "overloaded", retryable: true });
    open();
    expect((await first).status).toBe(200);
    expect((await post("/api/v1/behaviors/track/batch", batch, "svc")).status).toBe(200);
  });

  it("holds a tenant whose events wait to its share of the events under way: it gets 429 overloaded, another tenant is still taken", async () => {
    const { sink, post, metrics } = setup(32 * 1024 * 1024, 1000, { maxInflightEventsPerTenant: 250 });
    let open = () => undefined as unknown;
    sink.gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    sink.gated.add(topicFor("tenant_a"));
    const batchOf = (tenant: string) => ({
      events: Array.from({ length: 100 }, () => event(tenant, { event_id: undefined })),
    });
    // Two calls of tenant_a wait at its slow topic: 200 of its 250.
    const waiting = [post("/api/v1/behaviors/track/batch", batchOf("tenant_a"), "sk_a")];
    await vi.waitFor(() => expect(sink.writes).toBe(1));
    waiting.push(post("/api/v1/behaviors/track/batch", batchOf("tenant_a"), "svc"));
    await vi.waitFor(() => expect(sink.writes).toBe(2));
    const third = await post("/api/v1/behaviors/track/batch", batchOf("tenant_a"), "sk_a");
    expect(third.status).toBe(429);
    expect(await third.json()).toMatchObject({
      code: "overloaded",
      retryable: true,
      detail: expect.stringMatching(/tenant_a/),
    });
    // Far below the relay's 1,000: tenant_b's calls are taken while tenant_a's wait.
    for (let i = 0; i < 5; i++)
      expect((await post("/api/v1/behaviors/track/batch", batchOf("tenant_b"), "sk_b")).status).toBe(200);
    expect(await metrics.registry.getSingleMetricAsString("relay_tenant_overloaded_events_total")).toMatch(
      /relay_tenant_overloaded_events_total\{tenant="tenant_a"\} 100/,
    );
    open();
    expect((await Promise.all(waiting)).map((r) => r.status)).toEqual([200, 200]);
    // Its share is given back once its calls are answered.
    expect((await post("/api/v1/behaviors/track/batch", batchOf("tenant_a"), "sk_a")).status).toBe(200);
  });
});

describe("relay ingest: authenticate, authorize, charge, then validate", () => {
  const batchOf = (tenant: string, n: number, extra: Record<string, unknown> = {}) => ({
    events: Array.from({ length: n }, () => event(tenant, { event_id: undefined, ...extra })),
  });
  /** A limiter whose clock stands still: nothing refills during the test. */
  const frozen = (limits: { perKey: number; perTenant: number; tenantOverrides?: Record<string, number> }) =>
    new RateLimiter({ tenantOverrides: {}, ...limits }, () => 1_000_000);
  const sum = async (
    counter: { get(): Promise<{ values: { labels: object; value: number }[] }> },
    labels: object,
  ) =>
    (await counter.get()).values
      .filter((v) => Object.entries(labels).every(([k, x]) => (v.labels as Record<string, unknown>)[k] === x))
      .reduce((n, v) => n + v.value, 0);

  it("charges events claiming a tenant the key may not write to the key alone, never to that tenant", async () => {
    const { post, sink, metrics, quality } = setup(undefined, undefined, {
      limiter: frozen({ perKey: 1000, perTenant: 1000, tenantOverrides: { tenant_b: 100 } }),
    });
    // Tenant A's key forges 300 of tenant B's events, three times B's whole second: each one 403…
    for (let i = 0; i < 3; i++) {
      const forged = await post("/api/v1/behaviors/track/batch", batchOf("tenant_b", 100), "sk_a");
      expect(forged.status).toBe(200);
      const answer = (await forged.json()) as { failed: number; results: { error_code: string }[] };
      expect(answer.failed).toBe(100);
      expect(new Set(answer.results.map((r) => r.error_code))).toEqual(new Set(["forbidden"]));
    }
    // …and B's own key still has all of B's second.
    const own = await post("/api/v1/behaviors/track/batch", batchOf("tenant_b", 100), "sk_b");
    expect(await own.json()).toMatchObject({ succeeded: 100 });
    expect(sink.records.filter((r) => r.topic === topicFor("tenant_b"))).toHaveLength(100);
    // The forger's key paid: 300 of its 1000, so 800 more events are too many.
    for (let i = 0; i < 7; i++)
      expect((await post("/api/v1/behaviors/track/batch", batchOf("tenant_a", 100), "sk_a")).status).toBe(
        200,
      );
    const refused = await post("/api/v1/behaviors/track/batch", batchOf("tenant_a", 100), "sk_a");
    expect(refused.status).toBe(429);
    // Counted under the forging key's tenant; B's quality counts only B's own events.
    expect(await sum(metrics.forbidden, { key_tenant: "tenant_a" })).toBe(300);
    expect(await sum(metrics.forbidden, { key_tenant: "tenant_b" })).toBe(0);
    expect(await sum(quality.received, { tenant: "tenant_b" })).toBe(100);
    expect(await sum(quality.refused, { tenant: "tenant_b" })).toBe(0);
    expect(await sum(quality.refused, { tenant: "tenant_a", reason: "rate_limited" })).toBe(100);
  });

  it("refuses a call over its tenant's limit without counting the forged events in its quality", async () => {
    const { post, quality } = setup(undefined, undefined, {
      limiter: frozen({ perKey: 1000, perTenant: 1000, tenantOverrides: { tenant_a: 100 } }),
    });
    expect((await post("/api/v1/behaviors/track/batch", batchOf("tenant_a", 100), "sk_a")).status).toBe(200);
    // Over tenant A's limit: the whole call is 429, half of it forged events of tenant B.
    const mixed = {
      events: [...batchOf("tenant_a", 50).events, ...batchOf("tenant_b", 50).events],
    };
    expect((await post("/api/v1/behaviors/track/batch", mixed, "sk_a")).status).toBe(429);
    expect(await sum(quality.refused, { tenant: "tenant_a", reason: "rate_limited" })).toBe(50);
    expect(await sum(quality.received, { tenant: "tenant_b" })).toBe(0);
  });

  it("charges before it validates: invalid events cost the key their share too", async () => {
    const { post } = setup(undefined, undefined, { limiter: frozen({ perKey: 100, perTenant: 1000 }) });
    const invalid = await post(
      "/api/v1/behaviors/track/batch",
      batchOf("tenant_a", 100, { action_type: "x" }),
      "sk_a",
    );
    expect(await invalid.json()).toMatchObject({ failed: 100 });
    expect((await post("/api/v1/behaviors/track", event(), "sk_a")).status).toBe(429);
  });

  it("keeps a client's received_at as client_received_at and stamps its own", async () => {
    const { post, sink } = setup();
    expect((await post("/api/v1/behaviors/track", event("tenant_a", { received_at: 42 }))).status).toBe(200);
    const stored = JSON.parse(sink.records[0]?.value ?? "{}");
    expect(stored.client_received_at).toBe(42);
    expect(stored.received_at).toBe(fixedEnvironment().now());
  });

  it("keeps the received_at of events the edge forwards: the edge's clock stamped them", async () => {
    const { ingest, sink } = setup();
    await ingest.trackBatch([event("tenant_a", { received_at: 1_764_000_000_123 })], { kind: "edge" });
    expect(JSON.parse(sink.records[0]?.value ?? "{}")).toMatchObject({ received_at: 1_764_000_000_123 });
    expect(JSON.parse(sink.records[0]?.value ?? "{}").client_received_at).toBeUndefined();
  });

  it("takes gzip bodies and refuses another Content-Encoding with 415", async () => {
    const { app } = setup();
    const send = (body: string | Uint8Array, encoding: string) =>
      app.request("/api/v1/behaviors/track", {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "content-encoding": encoding,
          authorization: "Bearer sk_a",
        },
        body,
      });
    expect((await send(gzipSync(JSON.stringify(event())), "gzip")).status).toBe(200);
    const br = await send(JSON.stringify(event()), "br");
    expect(br.status).toBe(415);
    expect(br.headers.get("content-type")).toBe("application/problem+json");
    expect(await br.json()).toMatchObject({
      code: "unsupported_media_type",
      detail: expect.stringContaining("br"),
    });
    const bomb = await send(gzipSync(Buffer.alloc(8 * 1024 * 1024)), "gzip");
    expect(bomb.status).toBe(413);
    expect((await send(Uint8Array.from([0x1f, 0x8b, 8, 0, 1, 2]), "gzip")).status).toBe(400);
  });
});

describe("the relay's /metrics", () => {
  it("serves process and Node.js metrics, and request durations by route pattern", async () => {
    const { app, post } = setup();
    await post("/api/v1/behaviors/validate", { not: "an event" }); // answered 200, success false
    const text = await (await app.request("/metrics")).text();
    expect(text).toMatch(/^process_cpu_user_seconds_total /m);
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds /m);
    expect(text).toMatch(
      /^relay_request_duration_seconds_count\{route="\/api\/v1\/behaviors\/validate",method="POST",status="200"\} 1$/m,
    );
  });
});
