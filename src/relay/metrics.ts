import { Counter, Gauge, Histogram, Registry } from "prom-client";

/** The relay's Prometheus metrics; every dropped or refused event is counted by reason. */
export const createMetrics = () => {
  const registry = new Registry();
  const metric = { registers: [registry] };
  return {
    registry,
    received: new Counter({ name: "relay_events_received_total", help: "Events received", ...metric }),
    accepted: new Counter({
      name: "relay_events_accepted_total",
      help: "Events acknowledged as durable",
      ...metric,
    }),
    rejected: new Counter({
      name: "relay_events_rejected_total",
      help: "Events refused, by error code",
      labelNames: ["reason"] as const,
      ...metric,
    }),
    warnings: new Counter({
      name: "relay_events_with_warnings_total",
      help: "Events accepted with warnings",
      ...metric,
    }),
    quarantined: new Counter({
      name: "relay_events_quarantined_total",
      help: "Refused events written to the tenant's -rejected topic",
      ...metric,
    }),
    quarantineFailures: new Counter({
      name: "relay_quarantine_failures_total",
      help: "Refused events that could not be written to the -rejected topic",
      ...metric,
    }),
    kafkaSuccess: new Counter({
      name: "relay_kafka_events_total",
      help: "Events acknowledged by Kafka",
      ...metric,
    }),
    kafkaFailures: new Counter({
      name: "relay_kafka_failed_events_total",
      help: "Events whose Kafka write failed (spooled instead)",
      ...metric,
    }),
    kafkaProduceSeconds: new Histogram({
      name: "relay_kafka_produce_seconds",
      help: "Time for Kafka to acknowledge a produce request",
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      ...metric,
    }),
    kafkaBatchEvents: new Histogram({
      name: "relay_kafka_batch_events",
      help: "Events per produce request",
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
      ...metric,
    }),
    spooledEvents: new Counter({
      name: "relay_spooled_events_total",
      help: "Events written to the spool",
      ...metric,
    }),
    replayedEvents: new Counter({
      name: "relay_replayed_events_total",
      help: "Spooled events delivered to Kafka",
      ...metric,
    }),
    spoolEvents: new Gauge({ name: "relay_spool_events", help: "Events waiting in the spool", ...metric }),
    spoolBytes: new Gauge({ name: "relay_spool_bytes", help: "Bytes in the spool", ...metric }),
  };
};
export type RelayMetrics = ReturnType<typeof createMetrics>;
