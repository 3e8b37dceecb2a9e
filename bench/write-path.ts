// The relay's write path alone (durable sink, combined produce requests, topic creation, spools), in this
// process: no HTTP, no checks, no quality. The load of bench/tenants.ts (40 writes a second of 100 records,
// each write's records over the next 100 of N topics in turn) against N new topics, which the write path
// creates as the relay does. A first round writes one record to every topic (Kafka's cold start), then
// `PHASES` steps of `SECONDS` each measure writes answered, p50/p99 and this process's CPU per record,
// with the events still spooled and the topics failing after each: how fast the write path recovers
// from the cold start, and what it costs once it has.
//   npm run bench:write-path         (TOPICS=10000 PHASES=4 SECONDS=15 by default)
// Writes bench/results/<date>-write-path.json; docs/tenant-directory.md quotes it.
import { join } from "node:path";
import { PerformanceObserver } from "node:perf_hooks";
import pino from "pino";
import { Registry } from "prom-client";
import { EXAMPLE_EVENTS } from "../src/core/index.ts";
import { kafkaWriterMetrics } from "../src/kafka/metrics.ts";
import type { EventRecord } from "../src/kafka/records.ts";
import { openKafkaWriter, WRITE_PATH_DEFAULTS } from "../src/kafka/writer.ts";
import { resultsOf } from "./record-results.ts";

const TOPICS = Number(process.env.TOPICS ?? 10_000);
const PHASES = Number(process.env.PHASES ?? 4);
const SECONDS = Number(process.env.SECONDS ?? 15);
const WRITES_PER_SECOND = 40;
const RECORDS_PER_WRITE = 100;
const brokers = (process.env.KAFKA_BROKERS ?? "127.0.0.1:9092").split(",");
const run = Date.now().toString(36);
const topicOf = (i: number) => `bench-write-path-${run}-${i % TOPICS}`;

const writer = await openKafkaWriter(
  {
    // The relay's defaults (src/relay/settings/write-path.ts).
    clientId: "bench-write-path",
    brokers,
    compression: WRITE_PATH_DEFAULTS.compression,
    compressionSmall: WRITE_PATH_DEFAULTS.compressionSmall,
    lingerMs: 5,
    flushAtEvents: 1000,
    maxBatchEvents: 1000,
    maxBatchBytes: 900_000,
    hotKeyEventsPerSecond: 1000,
    ackTimeoutMs: 5000,
    requestTimeoutMs: 60_000,
    bufferMaxEvents: 20_000,
    bufferTopicMaxEvents: 5000,
    spoolDir: join("/tmp", `bench-write-path-${run}`),
    spoolMaxBytes: 1024 ** 3,
    spoolTopicMaxBytes: 100 * 1024 ** 2,
    deadLetters: { maxBytes: 100 * 1024 ** 2, tenantMaxBytes: 10 * 1024 ** 2 },
    topics: { partitions: 1, retentionMs: 3_600_000, autoCreate: true },
  },
  kafkaWriterMetrics(new Registry(), "bench"),
  pino({ level: "warn" }),
);

const value = JSON.stringify(EXAMPLE_EVENTS.video_data);
let sequence = 0;
/** Records `from`…`from + count` over the topics in turn. */
const recordsFrom = (from: number, count: number): EventRecord[] =>
  Array.from({ length: count }, (_, j) => ({
    topic: topicOf(from + j),
    key: `u_${j}`,
    value,
    eventId: `e${sequence++}`,
  }));

let gcMs = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) gcMs += entry.duration;
}).observe({ entryTypes: ["gc"] });

const started = performance.now();
for (let i = 0; i < TOPICS; i += 8 * RECORDS_PER_WRITE)
  await Promise.all(
    Array.from({ length: 8 }, (_, k) => i + k * RECORDS_PER_WRITE)
      .filter((from) => from < TOPICS)
      .map((from) => writer.sink.write(recordsFrom(from, Math.min(RECORDS_PER_WRITE, TOPICS - from)))),
  );
const cold_start = {
  first_round_ms: Math.round(performance.now() - started),
  spooled: writer.sink.spooled,
  failing_topics: writer.sink.failingTopics,
};
console.log(JSON.stringify({ topics: TOPICS, cold_start }));

/** `SECONDS` of the load: writes answered, latency, CPU per record. */
const phase = async (index: number) => {
  const latencies: number[] = [];
  let failed = 0;
  let writes = 0;
  gcMs = 0;
  const cpu = process.cpuUsage();
  const begun = performance.now();
  const pending: Promise<void>[] = [];
  while (performance.now() - begun < SECONDS * 1000) {
    const wait = begun + (writes * 1000) / WRITES_PER_SECOND - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const sent = performance.now();
    pending.push(
      writer.sink.write(recordsFrom(writes++ * RECORDS_PER_WRITE, RECORDS_PER_WRITE)).then(
        () => {
          latencies.push(performance.now() - sent);
        },
        () => {
          failed++;
        },
      ),
    );
  }
  await Promise.all(pending);
  const wall = performance.now() - begun;
  const used = process.cpuUsage(cpu);
  latencies.sort((a, b) => a - b);
  const at = (q: number) => +(latencies[Math.floor(latencies.length * q)] ?? Number.NaN).toFixed(1);
  return {
    phase: index,
    writes,
    failed,
    p50_ms: at(0.5),
    p99_ms: at(0.99),
    cpu_us_per_record: +((used.user + used.system) / (writes * RECORDS_PER_WRITE)).toFixed(1),
    gc_share: +(gcMs / wall).toFixed(3),
    heap_used_mb: Math.round(process.memoryUsage().heapUsed / 1024 ** 2),
    spooled_after: writer.sink.spooled,
    failing_topics_after: writer.sink.failingTopics,
  };
};

const phases = [];
for (let i = 0; i < PHASES; i++) {
  phases.push(await phase(i));
  console.log(JSON.stringify(phases.at(-1)));
}
await writer.close();
resultsOf("write-path")({
  topics: TOPICS,
  writes_per_second: WRITES_PER_SECOND,
  records_per_write: RECORDS_PER_WRITE,
  seconds: SECONDS,
  cold_start,
  phases,
});
