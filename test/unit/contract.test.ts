import { createHash } from "node:crypto";
import { create, toJson } from "@bufbuild/protobuf";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { EXAMPLE_EVENTS, eventFromProto, eventToProto } from "../../src/core/index.ts";
import { createEdgeApp } from "../../src/edge/http/app.ts";
import type { EdgePorts } from "../../src/edge/ports.ts";
import {
  TrackEventsRequestSchema,
  TrackEventsResponseSchema,
} from "../../src/gen/recommender/v1/behavior_pb.js";
import type { EventRecord, RecordSink } from "../../src/kafka/records.ts";
import { EnvKeyStore } from "../../src/relay/auth.ts";
import { InMemoryConfigSource } from "../../src/relay/config-source.ts";
import { EdgeCallVerifier } from "../../src/relay/edge-calls.ts";
import { createHttpApp } from "../../src/relay/http/app.ts";
import { IngestService } from "../../src/relay/ingest.ts";
import { createMetrics } from "../../src/relay/metrics.ts";
import { requestRecorder } from "../../src/relay/request-log.ts";
import { behaviorHandlers } from "../../src/relay/rpc/service.ts";
import { configFor, fixedEnvironment } from "../support/core.ts";

// The same tenant, config and key on both sides (publishable at the edge, the only kind it takes); the
// relay writes to memory, the edge forwards to a relay that stores everything: what differs in their
// answers is then theirs.
const KEY = "pk_contract_mymx_0123456789";
const config = configFor("video_data", { tenant_id: "mymx", scenario_id: "vlog_feed" });

const relayIngest = () => {
  const configs = new InMemoryConfigSource();
  configs.put(config);
  const sink: RecordSink = {
    kafkaAvailable: true,
    accepting: true,
    write: async (_records: readonly EventRecord[]) => {},
    close: async () => {},
  };
  const metrics = createMetrics();
  const log = pino({ level: "silent" });
  const ingest = new IngestService({
    configs,
    keys: new EnvKeyStore([`${KEY}=mymx`]),
    sink,
    metrics,
    log,
    env: fixedEnvironment(),
  });
  return { ingest, metrics, log };
};
const relayApp = () => {
  const deps = relayIngest();
  return createHttpApp({
    ...deps,
    bodyBudgetBytes: 32 * 1024 * 1024,
    record: requestRecorder(deps.metrics, deps.log, 20),
  });
};

const edgeApp = () => {
  const hash = createHash("sha256").update(KEY).digest("hex");
  const ports: EdgePorts = {
    directory: {
      tenant: async (tenant) => (tenant === "mymx" ? { configs: [config], keys: [] } : undefined),
      key: async (h) =>
        h === hash
          ? { hash, kind: "publishable", tenant_id: "mymx", allowed_origins: [], revoked_at: null }
          : undefined,
    },
    forwarder: {
      forward: async (events) => events.map(() => ({ status: "stored" as const })),
      quarantine: async () => {},
    },
    queue: { enqueue: async () => {} },
    clientInfo: () => ({ ip: "203.0.113.7" }),
    limiter: { take: () => 0 },
    env: fixedEnvironment(),
  };
  return createEdgeApp(ports);
};

const { event_id: _id, timestamp: _ts, ...valid } = { ...EXAMPLE_EVENTS.video_data, tenant_id: "mymx" };
const INPUTS: Record<string, unknown> = {
  "a valid event": valid,
  "an event with a warning": { ...valid, scenario_data: { video_data: { duration: "abc" } } },
  "an invalid event": { ...valid, user_id: undefined, action_type: "teleport" },
  "another tenant's event": { ...valid, tenant_id: "other" },
  "a value that is not an event": 42,
};

/** Status and body with the values that differ by nature (generated ids) replaced. */
const answerOf = async (response: Response) => ({
  status: response.status,
  body: JSON.parse(
    JSON.stringify(await response.json(), (key, value) =>
      key === "event_id" || key === "request_id" ? `<${key}>` : value,
    ),
  ),
});

describe("the event API contract: the edge and the relay answer alike", () => {
  const apps = { relay: relayApp(), edge: edgeApp() };
  const post = (app: keyof typeof apps, path: string, body: unknown) =>
    apps[app].request(path, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` },
      body: JSON.stringify(body),
    });

  for (const [name, input] of Object.entries(INPUTS)) {
    for (const path of ["/api/v1/behaviors/track", "/api/v1/behaviors/validate"]) {
      it(`${path}: ${name}`, async () => {
        const relay = await answerOf(await post("relay", path, input));
        const edge = await answerOf(await post("edge", path, input));
        expect(edge).toEqual(relay);
      });
    }
  }

  it("/health answers the same shape, counting what each side saw", async () => {
    const shape = (value: unknown): unknown =>
      typeof value === "object" && value !== null
        ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shape(v)]))
        : typeof value;
    const health = async (app: keyof typeof apps) =>
      (await (await apps[app].request("/api/v1/behaviors/health")).json()) as { stats: unknown };
    const [relay, edge] = [await health("relay"), await health("edge")];
    expect(shape(edge)).toEqual(shape(relay));
    expect(edge).toMatchObject({ status: "healthy", kafka_available: true });
    // The track and validate cases above ran first: one acknowledged event each of the two, with a
    // warning for the second; refusals for the other three.
    expect(edge.stats).toMatchObject({
      total_events: 5,
      rejected: 3,
      validation_warnings: 1,
      success_rate: 0.4,
    });
  });

  it("/track/batch of all of them: per-event results with codes, messages, warnings and retryable", async () => {
    const batch = { events: Object.values(INPUTS) };
    const relay = await answerOf(await post("relay", "/api/v1/behaviors/track/batch", batch));
    const edge = await answerOf(await post("edge", "/api/v1/behaviors/track/batch", batch));
    // The edge alone can hand events to its durable queue (then 202), and says whether it did.
    expect(edge.body.queued).toBe(false);
    delete edge.body.queued;
    expect(edge).toEqual(relay);
    expect(relay.body.results[2]).toMatchObject({
      success: false,
      error_code: "invalid_event",
      message: "2 problems with the event",
      retryable: false,
      errors: [
        { path: "user_id", code: "required", message: expect.any(String) },
        { path: "action_type", code: "invalid_value", message: expect.any(String) },
      ],
    });
    expect(relay.body.results[3]).toMatchObject({ error_code: "forbidden", retryable: false });
  });

  it("gRPC TrackEvents answers a batch with the same fields as REST, in protobuf's names", async () => {
    const { ingest } = relayIngest();
    const events = [valid, { ...valid, tenant_id: "other" }, { ...valid, user_id: "" }].map((e) =>
      eventToProto(e as never),
    );
    const answer = await behaviorHandlers(ingest, new EdgeCallVerifier([])).behavior.trackEvents(
      create(TrackEventsRequestSchema, { events }),
      { requestHeader: new Headers({ authorization: `Bearer ${KEY}` }) },
    );
    const grpc = toJson(TrackEventsResponseSchema, create(TrackEventsResponseSchema, answer), {
      useProtoFieldName: true,
      alwaysEmitImplicit: true,
    });
    const rest = await answerOf(
      await apps.relay.request("/api/v1/behaviors/track/batch", {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` },
        body: JSON.stringify({ events: events.map(eventFromProto) }),
      }),
    );
    // Protobuf has no absent scalars: a success carries an empty error_code, message and false retryable.
    const expected = rest.body.results.map((r: Record<string, unknown>) => ({
      error_code: "",
      message: "",
      retryable: false,
      errors: [],
      event_id: "<event_id>",
      ...r,
    }));
    const results = (grpc as { results: Record<string, unknown>[] }).results.map((r) => ({
      ...r,
      event_id: "<event_id>",
      errors: (r.errors as Record<string, unknown>[]).map((e) =>
        e.code === "" ? { ...e, code: undefined } : e,
      ),
    }));
    expect(results).toEqual(expected);
    expect(grpc).toMatchObject({ success: false, total: 3, succeeded: 1, failed: 2 });
    expect(results[1]).toMatchObject({
      error_code: "forbidden",
      retryable: false,
      message: expect.any(String),
    });
  });
});
