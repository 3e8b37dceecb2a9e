// The floor under the relay's many-tenant figures: our producer alone (no relay), 40 produce requests a
// second of 100 records each, every request over 100 distinct topics taken in turn from N topics of one
// partition each. What Kafka takes here is the most a relay writing those topics can take.
// Kafka answers a topic creation when its controller has recorded it, but the broker makes the
// partitions' logs afterwards (about 75 a second on two shared cores): until then a topic is unknown to
// producers. So each phase first writes one record to every topic until all have taken one (`ready_ms`,
// Kafka's cold start), then measures the load with that same producer (its metadata already known, as a
// running relay's is).
//   sh scripts/with-node.sh sh scripts/with-services.sh node bench/kafka-floor.ts   (TOPICS=100,10000)
// Writes bench/results/<date>-kafka-floor.json; docs/tenant-directory.md quotes it.
import { Admin } from "@platformatic/kafka";
import { platformaticProducer } from "../src/kafka/producer.ts";
import type { RecordProducer } from "../src/kafka/records.ts";
import { resultsOf } from "./record-results.ts";

const TOPICS = (process.env.TOPICS ?? "100,10000").split(",").map(Number);
const SECONDS = Number(process.env.SECONDS ?? 10);
const brokers = (process.env.KAFKA_BROKERS ?? "127.0.0.1:9092").split(",");
const run = Date.now().toString(36);
const admin = new Admin({ clientId: "bench-kafka-floor", bootstrapBrokers: brokers });

/** Request `i` over `topics`: 100 records, each of the next topic in turn. */
const recordsOf = (topics: readonly string[], i: number) =>
  Array.from({ length: 100 }, (_, j) => ({
    topic: topics[(i * 100 + j) % topics.length] as string,
    key: `u_${j}`,
    value: JSON.stringify({ i, j, pad: "x".repeat(400) }),
    eventId: `e_${i}_${j}`,
  }));

/** Writes one record to every topic, 8 requests at a time, again until each has taken one; how long. */
const ready = async (producer: RecordProducer, topics: readonly string[]) => {
  const started = performance.now();
  let waiting = Array.from({ length: Math.ceil(topics.length / 100) }, (_, i) => i);
  let rounds = 0;
  for (; waiting.length > 0 && performance.now() - started < 600_000; rounds++) {
    const failed: number[] = [];
    for (let k = 0; k < waiting.length; k += 8)
      await Promise.all(
        waiting
          .slice(k, k + 8)
          .map((i) => producer.send(recordsOf(topics, i)).catch(() => void failed.push(i))),
      );
    waiting = failed;
    if (failed.length > 0) await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  if (waiting.length > 0) throw new Error(`${waiting.length * 100} topics still unknown after 10 minutes`);
  return { ready_ms: Math.round(performance.now() - started), rounds };
};

/** One round of the load over `topics`: answered requests, and latency percentiles of each. */
const measure = async (producer: RecordProducer, topics: readonly string[]) => {
  const latencies: number[] = [];
  let failed = 0;
  const sends: Promise<void>[] = [];
  const started = performance.now();
  const cpu = process.cpuUsage();
  for (let i = 0; i < SECONDS * 40; i++) {
    const records = recordsOf(topics, i);
    const sent = performance.now();
    sends.push(
      producer.send(records).then(
        () => void latencies.push(performance.now() - sent),
        () => void failed++,
      ),
    );
    // The open loop's pace: the next request is due 25 ms after this one, whatever Kafka answered.
    await new Promise((resolve) =>
      setTimeout(resolve, Math.max(0, started + (i + 1) * 25 - performance.now())),
    );
  }
  await Promise.all(sends);
  const used = process.cpuUsage(cpu);
  latencies.sort((a, b) => a - b);
  const at = (q: number) => Math.round((latencies[Math.floor(latencies.length * q)] ?? Number.NaN) * 10) / 10;
  return {
    requests: SECONDS * 40,
    answered: latencies.length,
    failed,
    p50_ms: at(0.5),
    p99_ms: at(0.99),
    producer_cpu_us_per_record: Math.round(((used.user + used.system) / (latencies.length * 100)) * 10) / 10,
  };
};

const phases: Record<string, unknown>[] = [];
try {
  for (const n of TOPICS) {
    const topics = Array.from({ length: n }, (_, i) => `bench-floor-${run}-${n}-${i}`);
    // Made 500 to a request: one request per topic takes Kafka's controller minutes at 10,000.
    const made = performance.now();
    for (let i = 0; i < n; i += 500)
      await admin.createTopics({ topics: topics.slice(i, i + 500), partitions: 1, replicas: 1 });
    const create_ms = Math.round(performance.now() - made);
    const producer = platformaticProducer({
      clientId: "bench-kafka-floor",
      brokers,
      compression: "none",
      compressionSmall: "none",
      requestTimeoutMs: 120_000,
      retryForMs: 5000,
    });
    try {
      const cold = await ready(producer, topics);
      phases.push({ topics: n, create_ms, ...cold, steady: await measure(producer, topics) });
    } finally {
      await producer.close();
    }
    console.log(JSON.stringify(phases.at(-1)));
    for (let i = 0; i < n; i += 500) await admin.deleteTopics({ topics: topics.slice(i, i + 500) });
  }
} finally {
  await admin.close();
  resultsOf("kafka-floor")({ requests_per_second: 40, records_per_request: 100, seconds: SECONDS, phases });
}
