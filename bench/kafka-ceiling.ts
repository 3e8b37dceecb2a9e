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

export async function producerPerformance(
  brokers: string[],
  topic: string,
  recordBytes: number,
  records = 300_000,
) {
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
      "-1",
      "--producer-props",
      `bootstrap.servers=${brokers.join(",")}`,
      "acks=all",
      "compression.type=gzip",
      "linger.ms=5",
    ],
    { timeout: 300_000 },
  );
  const line = stdout.trim().split("\n").at(-1) ?? "";
  return { records_per_second: Number(/([\d.]+) records\/sec/.exec(line)?.[1] ?? 0), summary: line };
}
