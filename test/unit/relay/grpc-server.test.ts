import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXAMPLE_EVENTS, eventToProto, RateLimiter, validateEvent } from "../../../src/core/index.ts";
import { BehaviorService } from "../../../src/gen/recommender/v1/behavior_pb.js";
import type { EventRecord } from "../../../src/kafka/records.ts";
import { EnvKeyStore } from "../../../src/relay/auth.ts";
import { InMemoryConfigSource } from "../../../src/relay/config-source.ts";
import { EdgeCallVerifier } from "../../../src/relay/edge-calls.ts";
import { IngestService } from "../../../src/relay/ingest.ts";
import { createMetrics } from "../../../src/relay/metrics.ts";
import { requestRecorder } from "../../../src/relay/request-log.ts";
import { createGrpcServer, grpcJsService } from "../../../src/relay/rpc/grpc-server.ts";
import { rawBehaviorMethods } from "../../../src/relay/rpc/raw-requests.ts";
import { behaviorHandlers } from "../../../src/relay/rpc/service.ts";

// The relay's handlers on grpc-js, as :50051 serves them, called by a gRPC client over a real socket.
const written: EventRecord[] = [];
const log = pino({ level: "silent" });
const ingest = new IngestService({
  configs: new InMemoryConfigSource(),
  keys: new EnvKeyStore(["svc_test=*", "sk_mymx=mymx"]),
  sink: {
    kafkaAvailable: true,
    accepting: true,
    write: async (records) => {
      written.push(...records);
    },
    close: async () => {},
  },
  metrics: createMetrics(),
  log,
  // 200 events per key and a clock that stands still: the second batch of 100 is over the limit.
  limiter: new RateLimiter({ perKey: 200, perTenant: 1_000_000, tenantOverrides: {} }, () => 0),
});
const handlers = behaviorHandlers(ingest, new EdgeCallVerifier([]));
const server = createGrpcServer(
  [
    grpcJsService(
      BehaviorService,
      handlers.behavior,
      log,
      requestRecorder(createMetrics(), log, 20),
      rawBehaviorMethods,
    ),
  ],
  {
    maxConcurrentStreams: 16,
    maxMessageBytes: 1024 * 1024,
  },
);
let client: ReturnType<typeof createClient<typeof BehaviorService>>;

beforeAll(async () => {
  const port = await server.listen("127.0.0.1", 0);
  client = createClient(BehaviorService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` }));
});
afterAll(() => server.close());

const { event_id: _id, ...event } = { ...EXAMPLE_EVENTS.video_data, tenant_id: "mymx" };
const checked = validateEvent(event);
if (!checked.ok) throw new Error("the example must be valid");
const proto = eventToProto(checked.event);
const as = (key: string) => ({ headers: { authorization: `Bearer ${key}` } });
const failureOf = (call: Promise<unknown>) =>
  call.then(
    () => undefined,
    (error: unknown) => ConnectError.from(error),
  );

describe("the relay's gRPC server (grpc-js)", () => {
  it("tracks an event through the shared handlers and answers its id", async () => {
    const answer = await client.trackEvent({ event: proto }, as("svc_test"));
    expect(answer.success).toBe(true);
    expect(written.map((r) => r.eventId)).toContain(answer.eventId);
  });

  it("answers our error code beside the gRPC status, and retry-after when it says when", async () => {
    const unknown = await failureOf(client.trackEvent({ event: proto }, as("sk_nobody")));
    expect(unknown?.code).toBe(Code.Unauthenticated);
    expect(unknown?.metadata.get("error-code")).toBe("unauthenticated");

    const other = { ...proto, tenantId: "other" };
    const forbidden = await failureOf(client.trackEvent({ event: other }, as("sk_mymx")));
    expect(forbidden?.code).toBe(Code.PermissionDenied);
    expect(forbidden?.metadata.get("error-code")).toBe("forbidden");

    const batch = { events: Array.from({ length: 100 }, () => proto) };
    await client.trackEvents(batch, as("sk_mymx"));
    const limited = await failureOf(client.trackEvents(batch, as("sk_mymx")));
    expect(limited?.code).toBe(Code.ResourceExhausted);
    expect(limited?.metadata.get("error-code")).toBe("rate_limited");
    expect(Number(limited?.metadata.get("retry-after"))).toBeGreaterThan(0);
  });

  it("refuses a message over the size limit with RESOURCE_EXHAUSTED and keeps serving", async () => {
    const huge = { ...proto, extraData: { pad: "x".repeat(2 * 1024 * 1024) } };
    const failure = await failureOf(client.trackEvent({ event: huge }, as("svc_test")));
    expect(failure?.code).toBe(Code.ResourceExhausted);
    expect((await client.health({})).status).toBe("healthy");
  });
});
