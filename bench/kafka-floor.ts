// The floor under the relay's many-tenant figures: our producer alone (no relay), 40 produce requests a
// second of 100 records each, every request over 100 distinct topics taken in turn from N topics of one
// partition each. What Kafka takes here is the most a relay writing those topics can take.
//   sh scripts/with-node.sh sh scripts/with-services.sh node bench/kafka-floor.ts   (TOPICS=100,10000)
// Writes bench/results/<date>-kafka-floor.json; docs/tenant-directory.md quotes it.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Admin } from "@platformatic/kafka";
import { platformaticProducer } from "../src/kafka/producer.ts";

const TOPICS = (process.env.TOPICS ?? "100,10000").split(",").map(Number);
const SECONDS = Number(process.env.SECONDS ?? 10);
const brokers = (process.env.KAFKA_BROKERS ?? "127.0.0.1:9092").split(",");
const run = Date.now().toString(36);
const admin = new Admin({ clientId: "bench-kafka-floor", bootstrapBrokers: brokers });

/** One round of the load over `topics`: answered requests, and latency percentiles of each. */
const measure = async (topics: readonly string[]) => {
  const producer = platformaticProducer({
    clientId: "bench-kafka-floor",
    brokers,
    compression: "none",
    requestTimeoutMs: 120_000,
    retryForMs: 5000,
  });
  const latencies: number[] = [];
  let failed = 0;
  const sends: Promise<void>[] = [];
  const started = performance.now();
  const cpu = process.cpuUsage();
  for (let i = 0; i < SECONDS * 40; i++) {
    const records = Array.from({ length: 100 }, (_, j) => ({
      topic: topics[(i * 100 + j) % topics.length] as string,
      key: `u_${j}`,
      value: JSON.stringify({ i, j, pad: "x".repeat(400) }),
      eventId: `e_${i}_${j}`,
    }));
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
  await producer.close();
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
    // The first round writes every topic for the first time; the second is the steady state.
    phases.push({ topics: n, create_ms, first: await measure(topics), second: await measure(topics) });
    console.log(JSON.stringify(phases.at(-1)));
    for (let i = 0; i < n; i += 500) await admin.deleteTopics({ topics: topics.slice(i, i + 500) });
  }
} finally {
  await admin.close();
  const file = join(
    import.meta.dirname,
    "results",
    `${new Date().toISOString().slice(0, 19).replaceAll(":", "-")}-kafka-floor.json`,
  );
  mkdirSync(join(import.meta.dirname, "results"), { recursive: true });
  writeFileSync(
    file,
    `${JSON.stringify({ requests_per_second: 40, records_per_request: 100, seconds: SECONDS, phases }, null, 2)}\n`,
  );
}
