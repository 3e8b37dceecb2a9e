import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** Metrics of the Kafka write path, named `{prefix}_…`: the relay's and the Kafka-direct tracker's. */
export const kafkaWriterMetrics = (registry: Registry, prefix: string) => {
  const metric = { registers: [registry] };
  /** Dead-letter files measured again when scraped: a redrive (another process) empties them. */
  const deadLetterFiles = new Set<{ usage(): Promise<unknown> }>();
  return {
    deadLetterFiles,
    kafkaSuccess: new Counter({
      name: `${prefix}_kafka_events_total`,
      help: "Events acknowledged by Kafka",
      ...metric,
    }),
    kafkaFailures: new Counter({
      name: `${prefix}_kafka_failed_events_total`,
      help: "Events whose Kafka write failed or was late (spooled instead)",
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
    bufferOverflowEvents: new Counter({
      name: `${prefix}_buffer_overflow_events_total`,
      help: "Events sent to their topic's spool because the buffer was full: the topic's share (KAFKA_BUFFER_TOPIC_MAX_EVENTS) or all of it (KAFKA_BUFFER_MAX_EVENTS); only topics that overflowed are listed",
      labelNames: ["topic"] as const,
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
    spoolTopicBytes: new Gauge({
      name: `${prefix}_spool_topic_bytes`,
      help: "Bytes in one topic's spool (the topic names its tenant), of its share SPOOL_TOPIC_MAX_BYTES; topics with an empty spool are not listed",
      labelNames: ["topic"] as const,
      ...metric,
    }),
    duplicateRiskEvents: new Counter({
      name: `${prefix}_duplicate_risk_events_total`,
      help: "Events sent again from the spool after a send that failed once it may have reached the broker (possible duplicates, same event_id)",
      ...metric,
    }),
    produceRequests: new Counter({
      name: `${prefix}_kafka_produce_requests_total`,
      help: "Produce requests by kind: combined (topics Kafka took before), new (topics never sent yet, one request at a time), alone (a suspect topic's send), retry (a send of a failed combined request, alone)",
      labelNames: ["kind"] as const,
      ...metric,
    }),
    topics: new Gauge({
      name: `${prefix}_kafka_topics`,
      help: "Topics by state: proven (their sends are combined) and suspect (their sends go alone until Kafka takes one)",
      labelNames: ["state"] as const,
      ...metric,
    }),
    kafkaRefusedRecords: new Counter({
      name: `${prefix}_kafka_refused_records_total`,
      help: "Records Kafka refused for good (quarantined as kafka_refused), by Kafka error",
      labelNames: ["reason"] as const,
      ...metric,
    }),
    hotKeyEvents: new Counter({
      name: `${prefix}_hot_key_events_total`,
      help: "Events of a user over HOT_KEY_EVENTS_PER_SECOND, written without their key over all partitions",
      ...metric,
    }),
    deadLetterRecords: new Counter({
      name: `${prefix}_dead_letter_records_total`,
      help: "Records refused even by their quarantine topic, kept in the spool directory's dead-letter file",
      ...metric,
    }),
    deadLetterBytes: new Gauge({
      name: `${prefix}_dead_letter_bytes`,
      help: "Bytes of one tenant's records in the dead-letter file, of its share DEAD_LETTER_TENANT_MAX_BYTES; tenants with none are not listed",
      labelNames: ["tenant"] as const,
      ...metric,
      async collect() {
        // A file that cannot be read now keeps its last figures; the scrape goes on.
        await Promise.all([...deadLetterFiles].map((file) => file.usage().catch(() => undefined)));
      },
    }),
    deadLetterDroppedRecords: new Counter({
      name: `${prefix}_dead_letter_dropped_records_total`,
      help: "Refusals (answered 4xx, never acknowledged) refused by their quarantine topic and dropped: the tenant's dead-letter share was full",
      labelNames: ["tenant"] as const,
      ...metric,
    }),
  };
};
export type KafkaWriterMetrics = ReturnType<typeof kafkaWriterMetrics>;
