import { pino } from "pino";
import { describe, expect, it, vi } from "vitest";
import { EXAMPLE_EVENTS, quarantineTopicFor, topicFor } from "../../../src/core/index.ts";
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
import { requestRecorder } from "../../../src/relay/request-log.ts";
import { fixedEnvironment } from "../../support/core.ts";

/** Records what would go to Kafka; can be made to refuse like a full spool. */
class MemorySink implements RecordSink {
  records: EventRecord[] = [];
  full = false;
  /** Topics whose records cannot be made durable (a tenant's share of the spool is full). */
  unwritable = new Set<string>();
  /** When set, writes wait for it: a slow Kafka. */
  gate: Promise<void> | undefined;
  /** Writes that have reached the sink (waiting at the gate or done). */
  writes = 0;
  kafkaAvailable = true;
  get accepting() {
    return !this.full;
  }
  async write(records: readonly EventRecord[]) {
    if (this.full) throw new SinkUnavailableError("full");
    this.writes++;
    await this.gate;
    this.records.push(...records.filter((r) => !this.unwritable.has(r.topic)));
    const unwritten = new Set(records.filter((r) => this.unwritable.has(r.topic)).map((r) => r.topic));
    if (unwritten.size > 0) throw new TopicsUnwrittenError(unwritten, { cause: new Error("share full") });
  }
  async close() {}
}

const setup = (bodyBudgetBytes = 32 * 1024 * 1024, maxInflightEvents?: number) => {
  const sink = new MemorySink();
  const metrics = createMetrics();
  const log = pino({ level: "silent" });
  const ingest = new IngestService({
    configs: new InMemoryConfigSource(),
    keys: new EnvKeyStore(["sk_a=tenant_a", "svc=*"]),
    sink,
    metrics,
    log,
    env: fixedEnvironment(),
    maxInflightEvents,
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
      body: JSON.stringify(body),
    });
  return { sink, metrics, ingest, app, post };
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
