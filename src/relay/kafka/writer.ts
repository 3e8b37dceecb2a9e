import {
  Admin,
  type ConnectionOptions,
  compatibilityPartitioner,
  ProduceAcks,
  Producer,
  stringSerializers,
} from "@platformatic/kafka";
import type { Logger } from "pino";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { DurableSink } from "./durable-sink.ts";
import { BatchingProducer } from "./producer.ts";
import { Spool } from "./spool.ts";
import { TopicProvisioner, type TopicSettings } from "./topics.ts";

/** Metrics of the Kafka write path, named `{prefix}_…`: the relay's and the Kafka-direct tracker's. */
export const kafkaWriterMetrics = (registry: Registry, prefix: string) => {
  const metric = { registers: [registry] };
  return {
    kafkaSuccess: new Counter({
      name: `${prefix}_kafka_events_total`,
      help: "Events acknowledged by Kafka",
      ...metric,
    }),
    kafkaFailures: new Counter({
      name: `${prefix}_kafka_failed_events_total`,
      help: "Events whose Kafka write failed (spooled instead)",
      ...metric,
    }),
    kafkaProduceSeconds: new Histogram({
      name: `${prefix}_kafka_produce_seconds`,
      help: "Time for Kafka to acknowledge a produce request",
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      ...metric,
    }),
    kafkaBatchEvents: new Histogram({
      name: `${prefix}_kafka_batch_events`,
      help: "Events per produce request",
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
      ...metric,
    }),
    spooledEvents: new Counter({
      name: `${prefix}_spooled_events_total`,
      help: "Events written to the spool",
      ...metric,
    }),
    replayedEvents: new Counter({
      name: `${prefix}_replayed_events_total`,
      help: "Spooled events delivered to Kafka",
      ...metric,
    }),
    spoolEvents: new Gauge({
      name: `${prefix}_spool_events`,
      help: "Events waiting in the spool",
      ...metric,
    }),
    spoolBytes: new Gauge({ name: `${prefix}_spool_bytes`, help: "Bytes in the spool", ...metric }),
  };
};
export type KafkaWriterMetrics = ReturnType<typeof kafkaWriterMetrics>;

export interface KafkaWriterSettings {
  clientId: string;
  brokers: string[];
  /** TLS and SASL, when the cluster asks for them. */
  connection?: Pick<ConnectionOptions, "tls" | "sasl">;
  compression: "none" | "gzip" | "snappy" | "lz4" | "zstd";
  /** A produce request goes when this many events wait… */
  flushAtEvents: number;
  /** …or when the oldest has waited this long. */
  lingerMs: number;
  /** At most this many events per produce request. */
  maxBatchEvents: number;
  ackTimeoutMs: number;
  /** Events waiting for Kafka beyond which new ones go to the spool. */
  bufferMaxEvents: number;
  spoolDir: string;
  spoolMaxBytes: number;
  topics: TopicSettings;
}

export interface KafkaWriter {
  sink: DurableSink;
  close(): Promise<void>;
}

/**
 * The write path shared by the relay and the Kafka-direct tracker: an idempotent acks=all producer
 * with the Java-compatible partitioner, batching, topic provisioning, and the fsync'd spool behind it.
 */
export const openKafkaWriter = async (
  settings: KafkaWriterSettings,
  metrics: KafkaWriterMetrics,
  log: Logger,
): Promise<KafkaWriter> => {
  const kafka = { clientId: settings.clientId, bootstrapBrokers: settings.brokers, ...settings.connection };
  const admin = new Admin(kafka);
  const producer = new Producer({
    ...kafka,
    serializers: stringSerializers,
    idempotent: true,
    acks: ProduceAcks.ALL,
    compression: settings.compression,
    partitioner: compatibilityPartitioner,
    // Fail fast: an unanswered write is spooled (DurableSink), not retried for minutes.
    retries: 2,
    retryDelay: 200,
  });
  const batcher = new BatchingProducer(
    producer,
    new TopicProvisioner(admin, settings.topics),
    {
      lingerMs: settings.lingerMs,
      flushAtEvents: settings.flushAtEvents,
      maxBatchEvents: settings.maxBatchEvents,
      ackTimeoutMs: settings.ackTimeoutMs,
    },
    metrics,
  );
  const spool = await Spool.open(settings.spoolDir, settings.spoolMaxBytes);
  const sink = new DurableSink(batcher, spool, settings.bufferMaxEvents, metrics, log);
  return {
    sink,
    close: async () => {
      await sink.close();
      await producer.close();
      await admin.close();
    },
  };
};
