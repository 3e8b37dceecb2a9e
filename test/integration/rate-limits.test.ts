import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import type { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type BehaviorEvent, EXAMPLE_EVENTS, eventToProto } from "../../src/core/index.ts";
import { BehaviorService } from "../../src/gen/recommender/v1/behavior_pb.js";
import { startRelayAndEdge } from "../support/edge.ts";
import { freePort } from "../support/ports.ts";
import { uniqueName } from "../support/random.ts";

const brokers = inject("kafkaBrokers");
const KEY_A = `svc_${uniqueName("a")}`;
const KEY_B = `svc_${uniqueName("b")}`;
// Each check has keys of its own, so that none waits for a bucket another check emptied.
const KEY_GRPC = `svc_${uniqueName("g")}`;
const KEY_C = `svc_${uniqueName("c")}`;
const tenant = uniqueName("limited");
const small = uniqueName("small");
const EDGE_PORT = await freePort();
const eventOf = (t: string) => ({ ...EXAMPLE_EVENTS.video_data, tenant_id: t, event_id: undefined });
const batchOf = (t: string, n: number) =>
  JSON.stringify({ events: Array.from({ length: n }, () => eventOf(t)) });

describe("rate limits per key and per tenant", () => {
  let stack: Awaited<ReturnType<typeof startRelayAndEdge>>;
  let relay: typeof stack.relay;
  let edge: Miniflare;
  let publishable: string;

  beforeAll(async () => {
    stack = await startRelayAndEdge({
      brokers,
      tenant,
      edgePort: EDGE_PORT,
      relayKeys: [`${KEY_A}=*`, `${KEY_B}=*`, `${KEY_GRPC}=*`, `${KEY_C}=*`],
      relayEnv: {
        RATE_LIMIT_KEY_EVENTS_PER_SECOND: "100",
        RATE_LIMIT_TENANT_EVENTS_PER_SECOND: "100000",
        RATE_LIMIT_TENANT_OVERRIDES: `${small}=150`,
      },
      edgeVars: { RATE_LIMIT_KEY_EVENTS_PER_SECOND: "100" },
    });
    ({ relay, edge, publishable } = stack);
  }, 180_000);

  afterAll(() => stack?.close());

  const batch = (key: string, t: string, n: number) =>
    fetch(`${relay.httpUrl}/api/v1/behaviors/track/batch`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
      body: batchOf(t, n),
    });

  // The two requests of each check go together: sent one after the other, a slow first answer on a
  // busy machine would leave time for the bucket to refill.
  const byStatus = (responses: Response[]) => [...responses].sort((a, b) => a.status - b.status);

  it("the relay answers 429 with Retry-After past a key's limit, on REST and gRPC", async () => {
    const [accepted, refused] = byStatus(
      await Promise.all([batch(KEY_A, tenant, 100), batch(KEY_A, tenant, 100)]),
    );
    expect([accepted?.status, refused?.status]).toEqual([200, 429]);
    expect(Number(refused?.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(await refused?.json()).toMatchObject({ code: "rate_limited", retryable: true });

    const client = createClient(BehaviorService, createGrpcTransport({ baseUrl: relay.grpcUrl }));
    const proto = eventToProto({ ...EXAMPLE_EVENTS.video_data, tenant_id: tenant } as BehaviorEvent);
    const call = () =>
      client.trackEvents(
        { events: Array(100).fill(proto) },
        { headers: { authorization: `Bearer ${KEY_GRPC}` } },
      );
    const outcomes = await Promise.allSettled([call(), call()]);
    const errors = outcomes.flatMap((o) =>
      o.status === "rejected" ? [o.reason as { code: number; metadata: Headers }] : [],
    );
    expect(errors).toHaveLength(1);
    expect(errors[0]?.code).toBe(8); // RESOURCE_EXHAUSTED
    expect(Number(errors[0]?.metadata.get("retry-after"))).toBeGreaterThanOrEqual(1);

    // Refused calls take nothing from the bucket, so asking again until one is accepted shows the
    // refill, and within the time Retry-After gave.
    const deadline = Date.now() + Number(refused?.headers.get("retry-after")) * 1000 + 500;
    let status = 429;
    while (status === 429 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50)); // the poll's pace
      status = (await batch(KEY_A, tenant, 100)).status;
    }
    expect(status).toBe(200);
  });

  it("the relay shares a tenant's own limit between its keys", async () => {
    // Two keys with full buckets (100 each); the tenant holds 150.
    const statuses = byStatus(await Promise.all([batch(KEY_B, small, 100), batch(KEY_C, small, 100)]));
    expect(statuses.map((r) => r.status)).toEqual([200, 429]); // 200 of the tenant's 150: one key is refused
  });

  it("the edge answers 429 with Retry-After past a key's limit", async () => {
    const send = async () => {
      const response = await edge.dispatchFetch(
        `http://127.0.0.1:${EDGE_PORT}/api/v1/behaviors/collect?key=${publishable}`,
        {
          method: "POST",
          headers: { "content-type": "text/plain" },
          body: batchOf(tenant, 100),
        },
      );
      return new Response(await response.arrayBuffer(), {
        status: response.status,
        headers: [...response.headers],
      });
    };
    const [accepted, refused] = byStatus(await Promise.all([send(), send()]));
    expect(accepted?.status).toBeLessThan(300);
    expect(refused?.status).toBe(429);
    expect(Number(refused?.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(await refused?.json()).toMatchObject({ code: "rate_limited" });
  });
});
