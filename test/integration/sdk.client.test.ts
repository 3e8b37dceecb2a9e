import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { topicFor } from "../../src/core/index.ts";
import { BehaviorClient } from "../../src/sdk/client.ts";
import { readTopic } from "../support/kafka.ts";
import { uniqueName } from "../support/random.ts";
import { startTestRelay } from "../support/relay.ts";

const brokers = inject("kafkaBrokers");
const KEY = `svc_${uniqueName("client")}`;

describe.each(["http", "grpc"] as const)(
  "the Node client over %s against a real relay and Kafka",
  (transport) => {
    let relay: Awaited<ReturnType<typeof startTestRelay>>;
    const url = () => (transport === "grpc" ? relay.grpcUrl : relay.httpUrl);
    beforeAll(async () => {
      relay = await startTestRelay(brokers, [`${KEY}=*`]);
    });
    afterAll(() => relay?.close());

    it("tracks a video play with the typed helper and batches 150 events into Kafka", async () => {
      const tenant = uniqueName("client");
      const client = new BehaviorClient({
        transport,
        url: url(),
        apiKey: KEY,
        tenantId: tenant,
        context: { device_type: "mobile" },
      });
      const play = client.trackVideoPlay(
        {
          scenario_id: "vlog_feed",
          user_id: "u_10086",
          item_id: "video_8848",
          context: { location: "上海" },
        },
        { duration: 185, watch_duration: 160, completion_rate: 0.86 },
      );
      const clicks = Array.from({ length: 150 }, (_, i) =>
        client.trackClick({
          scenario_id: "vlog_feed",
          user_id: `u_${i % 5}`,
          item_id: `video_${i}`,
          position: i,
        }),
      );
      const outcomes = await Promise.all([play, ...clicks]);
      await client.close();
      expect(outcomes.filter((o) => !o.success)).toEqual([]);
      const records = await readTopic(brokers, topicFor(tenant), 151);
      const ids = new Set(records.map((r) => r.headers.get("event_id")));
      expect(ids).toEqual(new Set(outcomes.map((o) => (o.success ? o.event_id : ""))));
      const video = records.map((r) => JSON.parse(r.value)).find((e) => e.action_type === "play_end");
      expect(video).toMatchObject({
        tenant_id: tenant,
        context: { device_type: "mobile", location: "上海" },
        scenario_data: { video_data: { duration: 185, watch_duration: 160, completion_rate: 0.86 } },
      });
    });

    it("answers an invalid event at once with its field, and a wrong key without retrying", async () => {
      const client = new BehaviorClient({ transport, url: url(), apiKey: "svc_wrong", tenantId: "mymx" });
      const invalid = await client.trackClick({ scenario_id: "vlog_feed", user_id: "", item_id: "v1" });
      expect(invalid).toMatchObject({
        success: false,
        error_code: "invalid_event",
        retryable: false,
        errors: expect.arrayContaining([expect.objectContaining({ path: "context.device_type" })]),
      });
      const started = Date.now();
      const refused = await client.trackClick({
        scenario_id: "vlog_feed",
        user_id: "u1",
        item_id: "v1",
        context: { device_type: "pc" },
      });
      expect(refused).toMatchObject({ success: false, retryable: false });
      expect(refused.success ? "" : refused.error_code).toMatch(/^(unauthenticated|Unauthenticated)$/);
      expect(Date.now() - started).toBeLessThan(2000);
    });
  },
);
