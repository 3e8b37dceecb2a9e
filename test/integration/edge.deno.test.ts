import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { EXAMPLE_EVENTS, topicFor } from "../../src/core/index.ts";
import { adminClient, edgeTenant, newEdgeSecret, startDenoEdge } from "../support/edge.ts";
import { readTopic } from "../support/kafka.ts";
import { freePort } from "../support/ports.ts";
import { uniqueName } from "../support/random.ts";
import { startTestRelay } from "../support/relay.ts";

const brokers = inject("kafkaBrokers");
const ADMIN = `admin_${uniqueName("t")}`;
const EDGE_SECRET = newEdgeSecret();
const PORT = await freePort();
const tenant = uniqueName("deno");
const {
  event_id: _i,
  timestamp: _t,
  ...specEvent
} = { ...EXAMPLE_EVENTS.video_data, tenant_id: tenant, event_id: "", timestamp: 0 };

describe("the edge in real Deno, forwarding to a real relay and Kafka", () => {
  let relay: Awaited<ReturnType<typeof startTestRelay>>;
  let deno: Awaited<ReturnType<typeof startDenoEdge>>;
  let key: string;

  beforeAll(async () => {
    relay = await startTestRelay(brokers, [], { env: { ADMIN_TOKEN: ADMIN, EDGE_SECRET } });
    const keys = await edgeTenant(adminClient(relay.httpUrl, ADMIN), tenant, []);
    key = keys.publishable;
    deno = await startDenoEdge({ relayUrl: relay.httpUrl, edgeSecret: EDGE_SECRET, port: PORT });
  }, 180_000);

  afterAll(async () => {
    await deno?.close();
    await relay?.close();
  });

  it("lands the SPEC §6 example in user-behaviors-{tenant}, with the connecting address", async () => {
    const response = await fetch(`http://127.0.0.1:${PORT}/api/v1/behaviors/track`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
      body: JSON.stringify(specEvent),
    });
    expect(response.status).toBe(200);
    const { event_id } = (await response.json()) as { event_id: string };
    const records = await readTopic(brokers, topicFor(tenant), 1);
    expect(JSON.parse(records[0]?.value ?? "{}")).toMatchObject({ event_id, context: { ip: "127.0.0.1" } });
  });

  it("refuses a wrong key with 401", async () => {
    const response = await fetch(`http://127.0.0.1:${PORT}/api/v1/behaviors/track?key=pk_wrong`, {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: JSON.stringify(specEvent),
    });
    expect(response.status).toBe(401);
  });

  it("answers a gzip text/plain batch of 100 with some bad events per event", async () => {
    const events = Array.from({ length: 100 }, (_, i) =>
      i % 20 === 0 ? { ...specEvent, action_type: "swipe" } : specEvent,
    );
    const response = await fetch(`http://127.0.0.1:${PORT}/api/v1/behaviors/collect?key=${key}`, {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: gzipSync(JSON.stringify({ events })),
    });
    const body = (await response.json()) as { succeeded: number; failed: number };
    expect([response.status, body.succeeded, body.failed]).toEqual([200, 95, 5]);
  });

  it("refuses another tenant's events with 403", async () => {
    const response = await fetch(`http://127.0.0.1:${PORT}/api/v1/behaviors/track`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
      body: JSON.stringify({ ...specEvent, tenant_id: "someone_else" }),
    });
    expect(response.status).toBe(403);
  });
});
