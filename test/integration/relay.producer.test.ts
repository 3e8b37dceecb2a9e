import { Admin, ProduceAcks, Producer, stringSerializers } from "@platformatic/kafka";
import { afterAll, describe, expect, inject, it } from "vitest";
import { BatchingProducer } from "../../src/relay/kafka/producer.ts";
import type { EventRecord } from "../../src/relay/kafka/records.ts";
import { TopicProvisioner } from "../../src/relay/kafka/topics.ts";
import { createMetrics } from "../../src/relay/metrics.ts";
import { readTopic } from "../support/kafka.ts";
import { uniqueName } from "../support/random.ts";

const brokers = inject("kafkaBrokers");

const setup = (settings: { lingerMs: number; maxBatchEvents: number }) => {
  const metrics = createMetrics();
  const admin = new Admin({ clientId: "producer-test", bootstrapBrokers: brokers });
  const producer = new Producer({
    clientId: "producer-test",
    bootstrapBrokers: brokers,
    serializers: stringSerializers,
    idempotent: true,
    acks: ProduceAcks.ALL,
  });
  const topics = new TopicProvisioner(admin, { partitions: 3, replicationFactor: 1, retentionMs: 3_600_000 });
  const batching = new BatchingProducer(
    producer,
    topics,
    { ...settings, flushAtEvents: settings.maxBatchEvents, ackTimeoutMs: 10_000 },
    metrics,
  );
  const batchSizes = async () =>
    (await metrics.kafkaBatchEvents.get()).values.find(
      (v) => v.metricName === "relay_kafka_batch_events_count",
    )?.value ?? 0;
  return { batching, batchSizes, close: async () => Promise.all([producer.close(), admin.close()]) };
};

const records = (topic: string, n: number): EventRecord[] =>
  Array.from({ length: n }, (_, i) => ({
    topic,
    key: `u${i % 4}`,
    value: JSON.stringify({ i }),
    eventId: `evt_${i}`,
  }));

describe("batching producer", () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    await Promise.all(cleanups.map((c) => c()));
  });

  it("flushes when the batch is full, without waiting for the linger time", async () => {
    const { batching, batchSizes, close } = setup({ lingerMs: 60_000, maxBatchEvents: 10 });
    cleanups.push(close);
    const topic = `user-behaviors-${uniqueName("full")}`;
    const started = performance.now();
    await Promise.all(records(topic, 10).map((r) => batching.send([r])));
    expect(performance.now() - started).toBeLessThan(30_000);
    expect(await batchSizes()).toBe(1);
    expect(await readTopic(brokers, topic, 10)).toHaveLength(10);
  });

  it("flushes on the timer when the batch is not full", async () => {
    const { batching, batchSizes, close } = setup({ lingerMs: 50, maxBatchEvents: 1000 });
    cleanups.push(close);
    const topic = `user-behaviors-${uniqueName("timer")}`;
    await Promise.all(records(topic, 3).map((r) => batching.send([r])));
    expect(await batchSizes()).toBe(1);
    expect(await readTopic(brokers, topic, 3)).toHaveLength(3);
  });

  it("delivers what is buffered when flushed at close", async () => {
    const { batching, close } = setup({ lingerMs: 60_000, maxBatchEvents: 1000 });
    cleanups.push(close);
    const topic = `user-behaviors-${uniqueName("close")}`;
    const acknowledged = Promise.all(records(topic, 5).map((r) => batching.send([r])));
    expect(batching.buffered).toBe(5);
    await batching.flush();
    await acknowledged;
    expect(batching.buffered).toBe(0);
    const delivered = await readTopic(brokers, topic, 5);
    expect(delivered.map((r) => JSON.parse(r.value).i).sort()).toEqual([0, 1, 2, 3, 4]);
  });
});
