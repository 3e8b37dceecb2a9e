// The edge's durable queue in the real runtimes (workerd's Cloudflare Queues, Deno KV queues) with the
// relay down: for less than the retry schedule (events are delivered once it is back) and for longer
// than the whole schedule (events are handed to the relay's quarantine as "undeliverable"). Time is
// compressed with the schedule's settings, not with sleeps of hours.
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { EXAMPLE_EVENTS, quarantineTopicFor, topicFor } from "../../src/core/index.ts";
import { adminClient, edgeTenant, newEdgeSecret, startDenoEdge, startWorkerdEdge } from "../support/edge.ts";
import { readTopic } from "../support/kafka.ts";
import { freePort } from "../support/ports.ts";
import { uniqueName } from "../support/random.ts";
import { relayProcess } from "../support/relay.ts";

const brokers = inject("kafkaBrokers");
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One second between tries, giving up 30 s after the first queueing. */
const COMPRESSED_SCHEDULE = {
  QUEUE_RETRY_BASE_SECONDS: "1",
  QUEUE_RETRY_MAX_SECONDS: "1",
  // Room for the relay's restart on a busy machine (in full runs it took over 10 s) before in-time work gives up.
  QUEUE_GIVE_UP_SECONDS: "30",
  QUEUE_DEAD_LETTER_DELAY_SECONDS: "1",
  FORWARD_TIMEOUT_MS: "500",
};

const runtimes = [
  {
    name: "workerd",
    relayPorts: { RELAY_HTTP_PORT: String(await freePort()), RELAY_GRPC_PORT: String(await freePort()) },
    edgePort: await freePort(),
    start: async (relayUrl: string, edgeSecret: string, port: number) => {
      const mf = await startWorkerdEdge({ relayUrl, edgeSecret, port, vars: COMPRESSED_SCHEDULE });
      return { close: () => mf.dispose() };
    },
  },
  {
    name: "Deno",
    relayPorts: { RELAY_HTTP_PORT: String(await freePort()), RELAY_GRPC_PORT: String(await freePort()) },
    edgePort: await freePort(),
    start: (relayUrl: string, edgeSecret: string, port: number) =>
      startDenoEdge({ relayUrl, edgeSecret, port, vars: COMPRESSED_SCHEDULE }),
  },
];

describe.each(runtimes)("the edge's durable queue in $name with the relay down", (runtime) => {
  const tenant = uniqueName(`queue_${runtime.name.toLowerCase()}`);
  const admin = `admin_${uniqueName("t")}`;
  const edgeSecret = newEdgeSecret();
  let relay: ReturnType<typeof relayProcess>;
  let edge: { close(): Promise<unknown> };
  let key: string;

  beforeAll(async () => {
    relay = relayProcess({
      ...runtime.relayPorts,
      KAFKA_BROKERS: brokers.join(","),
      SPOOL_DIR: await mkdtemp(join(tmpdir(), "queue-spool-")),
      MONGODB_URI: inject("mongodbUri"),
      MONGODB_DB: uniqueName("queue"),
      ADMIN_TOKEN: admin,
      EDGE_SECRET: edgeSecret,
    });
    await relay.ready();
    key = (await edgeTenant(adminClient(relay.url, admin), tenant, [])).publishable;
    edge = await runtime.start(relay.url, edgeSecret, runtime.edgePort);
  }, 180_000);

  afterAll(async () => {
    await edge?.close();
    await relay?.close();
  });

  const send = async (itemId: string) => {
    const response = await fetch(`http://127.0.0.1:${runtime.edgePort}/api/v1/behaviors/track/batch`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
      body: JSON.stringify({
        events: [
          { ...EXAMPLE_EVENTS.video_data, tenant_id: tenant, item_id: itemId, event_id: undefined },
          // A wrongly typed scenario value: accepted with a warning, and it must survive the queue.
          {
            ...EXAMPLE_EVENTS.video_data,
            tenant_id: tenant,
            item_id: itemId,
            event_id: undefined,
            scenario_data: { video_data: { duration: "abc" } },
          },
        ],
      }),
    });
    const body = (await response.json()) as { queued: boolean; results: { event_id: string }[] };
    return { status: response.status, queued: body.queued, ids: body.results.map((r) => r.event_id) };
  };

  it("delivers what it queued once the relay is back within the schedule, and quarantines as undeliverable what outlived it", async () => {
    // Warm the edge's config and key cache, as any edge in service has it.
    expect((await send("warm")).status).toBe(200);
    await relay.close();

    const outlived = await send("outlived");
    expect([outlived.status, outlived.queued]).toEqual([202, true]);
    // Longer than the whole schedule (give up after 30 s), with tries every second all along. A fixed
    // wait: the runtimes' queues keep their own clock, which a test cannot advance, and the edge shows
    // nothing outside (the relay is down) until the schedule has run out.
    await sleep(33_000);
    const inTime = await send("in_time");
    expect([inTime.status, inTime.queued]).toEqual([202, true]);
    await relay.restart();

    // Each in-time event once: a forward sent again (at least once) may repeat any event, the warm ones too.
    const seen = new Set<string>();
    const delivered = await readTopic(brokers, topicFor(tenant), 2, 30_000, (r) => {
      const id = (JSON.parse(r.value) as { event_id: string }).event_id;
      if (!/"item_id":"in_time"/.test(r.value) || seen.has(id)) return false;
      seen.add(id);
      return true;
    });
    const deliveredIds = delivered.map((r) => JSON.parse(r.value).event_id as string);
    expect(deliveredIds).toEqual(expect.arrayContaining(inTime.ids));
    const typed = delivered
      .map((r) => JSON.parse(r.value))
      .filter((e) => e.item_id === "in_time")
      .map((e) => e.scenario_data);
    expect(typed).toContainEqual({ video_data: { duration: "abc" } });

    const quarantined = await readTopic(brokers, quarantineTopicFor(tenant), 2, 30_000, (r) =>
      r.value.includes('"outlived"'),
    );
    expect(quarantined.map((r) => JSON.parse(r.value))).toEqual(
      outlived.ids.map((id) =>
        expect.objectContaining({
          reason: "undeliverable",
          event: expect.objectContaining({ event_id: id }),
        }),
      ),
    );
    // Nothing that outlived the schedule went to the main topic as well.
    const main = await readTopic(brokers, topicFor(tenant), 100, 3_000, (r) =>
      r.value.includes('"outlived"'),
    );
    expect(main).toEqual([]);
  }, 150_000);
});
