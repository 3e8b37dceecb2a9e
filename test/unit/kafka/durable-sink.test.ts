import { pino } from "pino";
import { Registry } from "prom-client";
import { describe, expect, it, vi } from "vitest";
import type { DeadLetters } from "../../../src/kafka/dead-letters.ts";
import { DurableSink } from "../../../src/kafka/durable-sink.ts";
import type { WritePathSettings } from "../../../src/kafka/lane-context.ts";
import { MemoryProducer, memorySpoolStore } from "../../../src/kafka/memory.ts";
import { kafkaWriterMetrics } from "../../../src/kafka/metrics.ts";
import {
  type EventRecord,
  KafkaWriteError,
  recordBytes,
  TopicsUnwrittenError,
} from "../../../src/kafka/records.ts";
import { ManualClock } from "../../support/manual-clock.ts";
import { TEST_WRITE_PATH } from "../../support/write-path.ts";

const SETTINGS = TEST_WRITE_PATH;

const A = "user-behaviors-a";
const B = "user-behaviors-b";

const record = (topic: string, id: string, bytes = 40): EventRecord => ({
  topic,
  key: "u1",
  value: JSON.stringify({
    event_id: id,
    tenant_id: topic.slice(15),
    pad: "x".repeat(Math.max(0, bytes - 40)),
  }),
  eventId: id,
});
const records = (topic: string, from: number, n: number, bytes?: number) =>
  Array.from({ length: n }, (_, i) => record(topic, `${topic.slice(15)}_${from + i}`, bytes));

const waitFor = async (check: () => boolean, ms = 5000) => {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 5)); // the poll's pace
  }
};

const setup = async (
  settings: Partial<WritePathSettings> = {},
  shared?: { producer: MemoryProducer; spools: ReturnType<typeof memorySpoolStore> },
  log = pino({ level: "silent" }),
  clock?: ManualClock,
) => {
  const producer = shared?.producer ?? new MemoryProducer();
  const spools = shared?.spools ?? memorySpoolStore();
  const registry = new Registry();
  const metrics = kafkaWriterMetrics(registry, "test");
  const deadLetters: { record: EventRecord; reason: string }[] = [];
  const deadLetterFile: DeadLetters = { append: async (entries) => void deadLetters.push(...entries) };
  const sink = await DurableSink.open(
    producer,
    spools,
    { ...SETTINGS, ...settings },
    metrics,
    log,
    deadLetterFile,
    clock,
  );
  const count = async (name: string) =>
    (await registry.getSingleMetric(`test_${name}`)?.get())?.values.reduce((n, v) => n + v.value, 0) ?? 0;
  const values = async (name: string) =>
    (await registry.getSingleMetric(`test_${name}`)?.get())?.values.map(({ labels, value }) => ({
      labels,
      value,
    }));
  return { sink, producer, spools, deadLetters, count, values };
};

describe("the durable sink (Kafka and spool in memory)", () => {
  it("flushes when flushAtEvents wait, without waiting for the linger time", async () => {
    const { sink, producer } = await setup({ lingerMs: 60_000, flushAtEvents: 10 });
    await Promise.all(records(A, 0, 10).map((r) => sink.write([r])));
    expect(producer.requests.map((r) => r.length)).toEqual([10]);
  });

  it("bounds produce requests in bytes, so legal events never make a request Kafka refuses", async () => {
    const { sink, producer } = await setup({ lingerMs: 50, flushAtEvents: 1000 });
    // The burst that stalled every tenant: 20 × 30 events of ~22 KB arriving together.
    await Promise.all(Array.from({ length: 20 }, (_, i) => sink.write(records(A, i * 30, 30, 22_000))));
    expect(producer.ids(A)).toHaveLength(600);
    for (const request of producer.requests) {
      expect(request.reduce((n, r) => n + recordBytes(r), 0)).toBeLessThanOrEqual(SETTINGS.maxBatchBytes);
    }
  });

  it("quarantines a record Kafka refuses for good, with Kafka's reason, and delivers the rest in order", async () => {
    const { sink, producer, count } = await setup();
    producer.behaviour = (sent) =>
      sent.some((r) => r.eventId === "a_3") && sent[0]?.topic === A
        ? new KafkaWriteError("record", "POLICY_VIOLATION", "refused by policy")
        : undefined;
    await sink.write(records(A, 0, 8));
    expect(producer.ids(A)).toEqual(["a_0", "a_1", "a_2", "a_4", "a_5", "a_6", "a_7"]);
    const kept = producer.delivered.get(`${A}-rejected`) ?? [];
    expect(kept.map((r) => JSON.parse(r.value))).toEqual([
      expect.objectContaining({
        reason: "kafka_refused",
        errors: [{ path: "", message: "Kafka refused the record: POLICY_VIOLATION" }],
        event: expect.objectContaining({ event_id: "a_3" }),
      }),
    ]);
    expect(await count("kafka_refused_records_total")).toBe(1);
  });

  it("keeps a record refused by its quarantine topic too in the dead-letter file", async () => {
    const { sink, producer, deadLetters } = await setup();
    producer.behaviour = (sent) =>
      sent.some((r) => r.value.includes("a_1"))
        ? new KafkaWriteError("record", "MESSAGE_TOO_LARGE", "too large")
        : undefined;
    await sink.write(records(A, 0, 3));
    expect(producer.ids(A)).toEqual(["a_0", "a_2"]);
    expect(deadLetters.map((d) => [d.record.topic, d.reason])).toEqual([
      [`${A}-rejected`, "MESSAGE_TOO_LARGE"],
    ]);
  });

  it("lets other topics flow while one topic cannot be written, and replays that one in order when it can", async () => {
    const { sink, producer, count } = await setup();
    let refuseA = true;
    producer.behaviour = (sent) =>
      refuseA && sent[0]?.topic === A
        ? new KafkaWriteError("topic", "TOPIC_AUTHORIZATION_FAILED", "not authorised")
        : undefined;
    for (let i = 0; i < 5; i++)
      await Promise.all([sink.write(records(A, i * 2, 2)), sink.write(records(B, i, 1))]);
    expect(producer.ids(B)).toEqual(["b_0", "b_1", "b_2", "b_3", "b_4"]);
    expect(producer.ids(A)).toEqual([]);
    // The cluster works (B's records land): A's trouble is A's, and shows as one failing topic.
    expect([sink.kafkaAvailable, sink.failingTopics]).toEqual([true, 1]);
    expect(await count("spool_events")).toBeGreaterThan(0);
    refuseA = false;
    await waitFor(() => producer.ids(A).length === 10);
    expect(producer.ids(A)).toEqual(records(A, 0, 10).map((r) => r.eventId));
    await waitFor(() => sink.failingTopics === 0);
    expect(await count("spool_events")).toBe(0);
    // The first batch failed with a topic error: the broker answered, so it was not written.
    expect(await count("spooled_events_total")).toBe(10);
  });

  it("answers a late batch from the spool and, when the late request lands after all, does not send it again", async () => {
    const { sink, producer, count } = await setup();
    let resume: () => void = () => {};
    const paused = new Promise<void>((resolve) => {
      resume = resolve;
    });
    producer.behaviour = () => paused;
    const started = performance.now();
    await sink.write(records(A, 0, 3));
    expect(performance.now() - started).toBeLessThan(1000);
    producer.behaviour = () => undefined;
    // Written while the first request is still unanswered: spooled behind it.
    await sink.write(records(A, 3, 2));
    expect(producer.ids(A)).toEqual([]);
    resume();
    await waitFor(() => producer.ids(A).length === 5);
    // Closing waits for every request in flight: a late batch sent again would show here.
    await sink.close();
    expect(producer.ids(A)).toEqual(["a_0", "a_1", "a_2", "a_3", "a_4"]);
    expect(await count("duplicate_risk_events_total")).toBe(0);
  });

  it("replays a late batch whose request failed in the end, and counts it as a duplicate risk", async () => {
    const { sink, producer, count } = await setup();
    let fail: (error: Error) => void = () => {};
    producer.behaviour = () =>
      new Promise<void>((_, reject) => {
        fail = reject;
      });
    await sink.write(records(A, 0, 2));
    producer.behaviour = () => undefined;
    fail(new Error("the connection was reset"));
    await waitFor(() => producer.ids(A).length === 2);
    expect(producer.ids(A)).toEqual(["a_0", "a_1"]);
    expect(await count("duplicate_risk_events_total")).toBe(2);
  });

  it("spools instead of buffering beyond its bound, and keeps the order", async () => {
    const { sink, producer, count } = await setup({ bufferMaxEvents: 5, lingerMs: 20, flushAtEvents: 1000 });
    await Promise.all(Array.from({ length: 10 }, (_, i) => sink.write(records(A, i, 1))));
    await waitFor(() => producer.ids(A).length === 10);
    expect(producer.ids(A)).toEqual(records(A, 0, 10).map((r) => r.eventId));
    expect(await count("spooled_events_total")).toBeGreaterThan(0);
  });

  it("holds a topic to its share of the buffer: its burst goes to its own spool, another topic's events are sent", async () => {
    const { sink, producer, count, values } = await setup({
      bufferTopicMaxEvents: 5,
      lingerMs: 20,
      flushAtEvents: 1000,
    });
    const burst = Promise.all(Array.from({ length: 10 }, (_, i) => sink.write(records(A, i, 1))));
    const bystander = Promise.all(Array.from({ length: 5 }, (_, i) => sink.write(records(B, i, 1))));
    await Promise.all([burst, bystander]);
    await waitFor(() => producer.ids(A).length === 10);
    expect(producer.ids(A)).toEqual(records(A, 0, 10).map((r) => r.eventId));
    expect(producer.ids(B)).toEqual(records(B, 0, 5).map((r) => r.eventId));
    const overflow = await values("buffer_overflow_events_total");
    // The sixth write went over the share: everything then waiting (the whole burst) went to the spool.
    expect(overflow).toEqual([{ labels: { topic: A }, value: 10 }]);
    expect(await count("spooled_events_total")).toBe(10);
  });

  it("says once a second, not once per topic, that a late cluster sent thousands of topics to their spools", async () => {
    const lines: { msg: string }[] = [];
    const log = pino({ level: "warn" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const producer = new MemoryProducer();
    let resume: () => void = () => {};
    const paused = new Promise<void>((resolve) => {
      resume = resolve;
    });
    producer.behaviour = () => paused;
    const { sink } = await setup({}, { producer, spools: memorySpoolStore() }, log);
    const topics = Array.from({ length: 1000 }, (_, i) => `user-behaviors-t${i}`);
    await Promise.all(topics.map((topic) => sink.write(records(topic, 0, 1))));
    expect(sink.failingTopics).toBe(1000);
    const spooling = lines.filter((line) => line.msg.startsWith("kafka did not take records in time"));
    expect(spooling).toHaveLength(1);
    resume();
    await waitFor(() => sink.failingTopics === 0);
  });

  it("resumes what an earlier sink left in its spools, before new records of the topic", async () => {
    const producer = new MemoryProducer();
    const spools = memorySpoolStore();
    producer.behaviour = () => new KafkaWriteError("retriable", "UNAVAILABLE", "broker down");
    const first = await setup({}, { producer, spools });
    await first.sink.write(records(A, 0, 3));
    await waitFor(() => spools.spools.get(A)?.events === 3);
    producer.behaviour = () => undefined;
    // A new process on the same spools (the first one crashed: it is not closed).
    const second = await setup({}, { producer, spools });
    await second.sink.write(records(A, 3, 1));
    await waitFor(() => producer.ids(A).length >= 4);
    expect(producer.ids(A).slice(0, 4)).toEqual(["a_0", "a_1", "a_2", "a_3"]);
  });

  it("refuses writes when the spool is full rather than acknowledging what it cannot keep", async () => {
    const { sink, producer } = await setup(
      {},
      { producer: new MemoryProducer(), spools: memorySpoolStore(200) },
    );
    producer.behaviour = () => new KafkaWriteError("retriable", "UNAVAILABLE", "broker down");
    await expect(sink.write(records(A, 0, 10, 100))).rejects.toThrow(/spool is full/);
  });

  it("holds a topic that cannot be written to its share of the spool; the rest of a write is durable and still taken", async () => {
    // A's topic is refused (say, missing); its share is 1,000 bytes of a 64 MiB spool.
    const { sink, producer, count } = await setup(
      {},
      { producer: new MemoryProducer(), spools: memorySpoolStore(64 * 1024 * 1024, 1_000) },
    );
    producer.behaviour = (sent) =>
      sent.some((r) => r.topic === A)
        ? new KafkaWriteError("topic", "UNKNOWN_TOPIC_OR_PARTITION", "no such topic")
        : undefined;
    await sink.write(records(A, 0, 5, 100));
    const mixed = sink.write([...records(A, 5, 10, 100), ...records(B, 0, 3)]);
    await expect(mixed).rejects.toBeInstanceOf(TopicsUnwrittenError);
    await expect(mixed).rejects.toMatchObject({
      topics: new Set([A]),
      message: /topic's share of the spool is full/,
    });
    expect(producer.ids(B)).toEqual(["b_0", "b_1", "b_2"]);
    // A's trouble is A's: the sink still takes events, and the gauge names A's topic.
    expect(sink.accepting).toBe(true);
    await sink.write(records(B, 3, 2));
    expect(producer.ids(B)).toHaveLength(5);
    expect(await count("spool_topic_bytes")).toBeGreaterThan(500);
  });

  it("spreads a hot user's excess over partitions (no key, counted), and keeps everyone else's key", async () => {
    const { sink, producer, count } = await setup({ hotKeyEventsPerSecond: 5 });
    const hot = Array.from({ length: 20 }, (_, i) => ({ ...record(A, `hot_${i}`), key: "bot" }));
    const calm = Array.from({ length: 3 }, (_, i) => ({ ...record(A, `calm_${i}`), key: `u_${i}` }));
    await sink.write([...hot, ...calm]);
    const sent = producer.delivered.get(A) ?? [];
    expect(sent.filter((r) => r.key === "bot" && !r.overflow)).toHaveLength(5);
    expect(sent.filter((r) => r.overflow).map((r) => r.eventId)).toEqual(hot.slice(5).map((r) => r.eventId));
    expect(sent.filter((r) => r.key.startsWith("u_") && !r.overflow)).toHaveLength(3);
    expect(await count("hot_key_events_total")).toBe(15);
  });

  it("opens a topic's spool once, however many writes turn to it while it is being opened", async () => {
    const spools = memorySpoolStore();
    let opened = 0;
    let finishOpening = () => {};
    const opening = new Promise<void>((resolve) => {
      finishOpening = resolve;
    });
    const slow = {
      ...spools,
      open: async (topic: string) => {
        opened++;
        await opening;
        return spools.open(topic);
      },
    };
    const producer = new MemoryProducer();
    producer.behaviour = () => new KafkaWriteError("retriable", "UNAVAILABLE", "broker down");
    const { sink } = await setup({ flushAtEvents: 1 }, { producer, spools: slow as typeof spools });
    const first = sink.write(records(A, 0, 1));
    await waitFor(() => opened === 1);
    const more = Array.from({ length: 10 }, (_, i) => sink.write(records(A, i + 1, 1)));
    finishOpening();
    await Promise.all([first, ...more]);
    expect(opened).toBe(1);
    expect(spools.spools.get(A)?.events).toBe(11);
  });
});

describe("the durable sink's timing (a manual clock)", () => {
  it("sends on the linger timer: nothing a moment before lingerMs, the batch at it", async () => {
    const clock = new ManualClock();
    const { sink, producer } = await setup(
      { lingerMs: 1000, flushAtEvents: 100 },
      undefined,
      undefined,
      clock,
    );
    const written = Promise.all(records(A, 0, 3).map((r) => sink.write([r])));
    await clock.advance(999);
    expect(producer.requests).toEqual([]);
    await clock.advance(1);
    await written;
    expect(producer.requests.map((r) => r.length)).toEqual([3]);
  });

  it("answers from the spool at the ack timeout, not before, and sends a late request's records once", async () => {
    const clock = new ManualClock();
    const { sink, producer, count } = await setup({ ackTimeoutMs: 5000 }, undefined, undefined, clock);
    let resume: () => void = () => {};
    const paused = new Promise<void>((resolve) => {
      resume = resolve;
    });
    producer.behaviour = () => paused;
    let answered = false;
    const written = sink.write(records(A, 0, 3)).then(() => {
      answered = true;
    });
    await clock.advance(TEST_WRITE_PATH.lingerMs + 4999);
    expect(answered).toBe(false);
    await clock.advance(1);
    await written;
    expect(await count("spooled_events_total")).toBe(3);
    producer.behaviour = () => undefined;
    resume();
    await vi.waitFor(() => expect(sink.spooled).toBe(0));
    expect(producer.ids(A)).toEqual(["a_0", "a_1", "a_2"]);
    expect(producer.requests).toHaveLength(1);
  });

  it("backs off replaying a topic Kafka does not take: 200 ms, doubling, at most 5 s apart", async () => {
    const clock = new ManualClock();
    const { sink, producer } = await setup({}, undefined, undefined, clock);
    const tried: number[] = [];
    producer.behaviour = () => {
      tried.push(clock.now());
      return new KafkaWriteError("retriable", "UNAVAILABLE", "the cluster is away");
    };
    const written = sink.write(records(A, 0, 2));
    await clock.advance(TEST_WRITE_PATH.lingerMs);
    await written;
    await clock.advance(16_200);
    const gaps = tried.slice(1).map((at, i) => at - (tried[i] as number));
    // The direct send, then the replay at once, then its retries.
    expect(gaps).toEqual([0, 200, 400, 800, 1600, 3200, 5000, 5000]);
    producer.behaviour = () => undefined;
    await clock.advance(5000);
    await vi.waitFor(() => expect(producer.ids(A)).toEqual(["a_0", "a_1"]));
    expect(sink.spooled).toBe(0);
  });
});
