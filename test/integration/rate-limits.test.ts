import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import type { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  type BehaviorEvent,
  EXAMPLE_EVENTS,
  eventToProto,
  type QualityReport,
} from "../../src/core/index.ts";
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

describe("a key that forges another tenant's events costs that tenant nothing", () => {
  const victim = uniqueName("victim");
  const forger = uniqueName("forger");
  const VICTIM_KEY = `sk_${uniqueName("v")}`;
  const FORGER_KEY = `sk_${uniqueName("f")}`;
  /** The victim's own limit, at the relay and at the edge; the forger sends twice that to each. */
  const LIMIT = 500;
  let stack: Awaited<ReturnType<typeof startRelayAndEdge>>;
  let forgerPublishable: string;

  beforeAll(async () => {
    stack = await startRelayAndEdge({
      brokers,
      tenant: victim,
      edgePort: await freePort(),
      relayKeys: [`${VICTIM_KEY}=${victim}`, `${FORGER_KEY}=${forger}`],
      relayEnv: { RATE_LIMIT_TENANT_OVERRIDES: `${victim}=${LIMIT}`, QUALITY_FLUSH_MS: "200" },
      edgeVars: { RATE_LIMIT_TENANT_OVERRIDES: `${victim}=${LIMIT}` },
    });
    forgerPublishable = (
      await stack.admin("/api/v1/api-keys", { kind: "publishable", tenant_id: forger, allowed_origins: [] })
    ).key;
  }, 180_000);

  afterAll(() => stack?.close());

  /** A batch of the victim's events through the relay's REST API or the edge, and its answer. */
  const relayBatch = (key: string, n: number) =>
    fetch(`${stack.relay.httpUrl}/api/v1/behaviors/track/batch`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
      body: batchOf(victim, n),
    });
  const edgeBatch = async (key: string, n: number) => {
    const response = await stack.edge.dispatchFetch("http://edge.test/api/v1/behaviors/track/batch", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
      body: batchOf(victim, n),
    });
    return new Response(await response.arrayBuffer(), { status: response.status });
  };
  /** How many events of a batch were accepted (none of one refused whole). */
  const accepted = async (answer: Promise<Response>) => {
    const response = await answer;
    const body = (await response.json()) as { succeeded?: number };
    return response.ok ? (body.succeeded ?? 0) : 0;
  };
  /** How many events of a forged batch were answered one by one (each refused as forbidden). */
  const answeredForbidden = async (answer: Promise<Response>) => {
    const response = await answer;
    const body = (await response.json()) as { succeeded?: number; results?: { error_code?: string }[] };
    if (!response.ok) return 0;
    expect(body.succeeded).toBe(0);
    return (body.results ?? []).filter((r) => r.error_code === "forbidden").length;
  };

  /** Calls `send` every `everyMs` for `forMs` on a fixed schedule: the load's pace, not a wait. */
  const paced = async (everyMs: number, forMs: number, send: () => Promise<number>) => {
    const started = performance.now();
    const calls: Promise<number>[] = [];
    for (let i = 0; i * everyMs < forMs; i++) {
      const due = started + i * everyMs;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - performance.now())));
      calls.push(send());
    }
    return (await Promise.all(calls)).reduce((a, b) => a + b, 0);
  };

  it("the victim keeps ≥ 99 % acceptance and its quality report counts only its own events", async () => {
    const SECONDS = 6;
    // The forger: 1000 events/s claiming the victim, with its secret key at the relay and its
    // publishable key at the edge (each twice the victim's limit). The victim: 300 events/s of its
    // own, 200 straight to the relay and 100 through the edge (which the relay counts again).
    const [forgedAtRelay, forgedAtEdge, ownAtRelay, ownAtEdge] = await Promise.all([
      paced(100, SECONDS * 1000, () => answeredForbidden(relayBatch(FORGER_KEY, 100))),
      paced(100, SECONDS * 1000, () => answeredForbidden(edgeBatch(forgerPublishable, 100))),
      paced(100, SECONDS * 1000, () => accepted(relayBatch(VICTIM_KEY, 20))),
      paced(100, SECONDS * 1000, () => accepted(edgeBatch(stack.publishable, 10))),
    ]);
    // The forger was answered (403 per event), not slowed by the victim's limit.
    expect(forgedAtRelay).toBeGreaterThan(0);
    expect(forgedAtEdge).toBeGreaterThan(0);
    const sent = SECONDS * 10 * (20 + 10);
    expect((ownAtRelay + ownAtEdge) / sent).toBeGreaterThanOrEqual(0.99);

    // The victim's quality figures: its own events and nothing of the forger's (which would add
    // 12,000 events refused as forbidden or rate limited).
    const report = async () => {
      const response = await fetch(`${stack.relay.httpUrl}/api/v1/tenants/${victim}/quality?window=1h`, {
        headers: { authorization: `Bearer ${stack.adminToken}` },
      });
      return (await response.json()) as QualityReport;
    };
    await expect
      .poll(async () => (await report()).events.received, { timeout: 30_000 })
      .toBeGreaterThanOrEqual(ownAtRelay + ownAtEdge);
    const figures = await report();
    // At most the victim's own (a forward the edge sent again after a lost answer counts twice, a few
    // tens on a busy machine); the forger's 12,000 would be far over.
    expect(figures.events.received).toBeLessThan(sent * 1.1);
    expect(figures.refusals_by_reason.forbidden).toBeUndefined();
    expect(figures.pass_rate).toBeGreaterThanOrEqual(0.99);
    // The forger's attempts are counted under its own key's tenant.
    const metrics = await (await fetch(`${stack.relay.httpUrl}/metrics`)).text();
    expect(metrics).toContain(`relay_events_forbidden_total{key_tenant="${forger}"} ${forgedAtRelay}`);
  }, 120_000);
});
