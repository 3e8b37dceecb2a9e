// The ceiling every Kafka write path is compared with: Kafka's own Java producer (ProducerPerformance)
// with the same record size, acks=all and gzip, on the same broker, in the same run.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { Kafka, logLevel } from "kafkajs";

const root = join(import.meta.dirname, "..");

/** A topic created like the relay creates tenant topics (12 partitions). */
export async function createTopic(brokers: string[], topic: string) {
  const admin = new Kafka({ clientId: "bench-admin", brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 12, replicationFactor: 1 }] });
  await admin.disconnect();
}

/** Kafka's own producer (acks=all, gzip, linger.ms=5, the relay's settings) with `--throughput`; its summary line. */
const runProducerPerformance = async (
  brokers: string[],
  topic: string,
  recordBytes: number,
  records: number,
  throughput: number,
) => {
  await createTopic(brokers, topic);
  const { stdout } = await promisify(execFile)(
    "bash",
    [
      join(root, "scripts", "kafka.sh"),
      "tool",
      "org.apache.kafka.tools.ProducerPerformance",
      "--topic",
      topic,
      "--num-records",
      String(records),
      "--record-size",
      String(recordBytes),
      "--throughput",
      String(throughput),
      "--producer-props",
      `bootstrap.servers=${brokers.join(",")}`,
      "acks=all",
      "compression.type=gzip",
      "linger.ms=5",
    ],
    { timeout: 300_000 },
  );
  return stdout.trim().split("\n").at(-1) ?? "";
};

/** The throughput ceiling: ProducerPerformance as fast as it goes. */
export async function producerPerformance(
  brokers: string[],
  topic: string,
  recordBytes: number,
  records = 300_000,
) {
  const line = await runProducerPerformance(brokers, topic, recordBytes, records, -1);
  return { records_per_second: Number(/([\d.]+) records\/sec/.exec(line)?.[1] ?? 0), summary: line };
}

/**
 * The latency floor: Kafka's own producer sending `rate` records/s for `seconds`, alone on the machine.
 * What an acknowledged single event cannot beat here, however thin the relay in front of it.
 */
export async function producerLatencyAt(
  brokers: string[],
  topic: string,
  recordBytes: number,
  rate: number,
  seconds = 20,
) {
  const line = await runProducerPerformance(
    brokers,
    topic,
    recordBytes,
    Math.round(rate * seconds),
    Math.round(rate),
  );
  const ms = (label: string) => Number(new RegExp(`(\\d+) ms ${label}`).exec(line)?.[1] ?? Number.NaN);
  return { rate, p50_ms: ms("50th"), p99_ms: ms("99th"), p999_ms: ms("99.9th"), summary: line };
}
