// Kafka-direct tracker benchmark: events/s and latency (track() until durable) beside Kafka's own
// ProducerPerformance with the same record size, in one run. Run with `npm run bench:kafka-direct`
// (starts the local Kafka when none answers). Writes bench/results/kafka-direct.json.
import { writeFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { EXAMPLE_EVENTS, encodeEvent, validateEvent } from "../src/core/index.ts";
import { KafkaTracker } from "../src/sdk/kafka-tracker.ts";
import { producerPerformance } from "./kafka-ceiling.ts";
import { closedLoop, openLoop, PHASE_SECONDS } from "./load.ts";

const BROKERS = (process.env.KAFKA_BROKERS ?? "127.0.0.1:9092").split(",");
const tenant = `bench_${Date.now().toString(36)}`;
const { event_id: _id, timestamp: _ts, ...event } = { ...EXAMPLE_EVENTS.video_data, tenant_id: tenant };
const sample = validateEvent(event);
const encoded = sample.ok ? encodeEvent(sample.event) : undefined;
if (!encoded?.ok) throw new Error("sample event must be valid");
const RECORD_BYTES = Buffer.byteLength(encoded.json);

const tracker = await KafkaTracker.open({
  brokers: BROKERS,
  tenantId: tenant,
  spoolDir: await mkdtemp(join(tmpdir(), "bench-tracker-spool-")),
  log: pino({ level: "warn" }),
});
const track = async () => {
  const outcome = await tracker.track(event);
  if (!outcome.ok) throw new Error("refused");
  return 1;
};
await track(); // provisions the topic
let peakRss = 0;
const sampleRss = () => {
  peakRss = Math.max(peakRss, Math.round(process.memoryUsage().rss / 1024 / 1024));
};

// Many callers each awaiting its own event, as a busy service's request handlers do.
const peak = await closedLoop(track, 2000, sampleRss);
const half = await openLoop(track, Math.max(1, Math.round(peak.events_per_second / 2)));
await tracker.close();
const ceiling = await producerPerformance(BROKERS, `${tenant}_ceiling`, RECORD_BYTES);

const result = {
  benchmark: "Kafka-direct tracker into Kafka (acks=all, gzip), everything on one machine",
  date: new Date().toISOString(),
  cpu: `${cpus().length} × ${cpus()[0]?.model ?? "unknown"}`,
  load_average_1m: loadavg()[0],
  record_bytes: RECORD_BYTES,
  phase_seconds: PHASE_SECONDS,
  kafka_producer_performance: ceiling,
  tracker_peak_2000_callers: peak,
  tracker_at_half_peak: half,
  process_rss_mb_peak: peakRss,
  ratios: { peak_over_ceiling: +(peak.events_per_second / ceiling.records_per_second).toFixed(2) },
  targets: { over_ceiling: 0.7, spec_events_per_second: 50_000 },
};
writeFileSync(
  join(import.meta.dirname, "results", "kafka-direct.json"),
  `${JSON.stringify(result, null, 2)}\n`,
);
console.log(JSON.stringify(result, null, 2));
process.exit(0);
