import { Counter, Registry } from "prom-client";
import { kafkaWriterMetrics } from "../kafka/writer.ts";

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
      help: "Refused or undeliverable events written to the tenant's -rejected topic, by reason",
      labelNames: ["reason"] as const,
      ...metric,
    }),
    quarantineFailures: new Counter({
      name: "relay_quarantine_failures_total",
      help: "Refused events that could not be written to the -rejected topic",
      ...metric,
    }),
    ...kafkaWriterMetrics(registry, "relay"),
  };
};
export type RelayMetrics = ReturnType<typeof createMetrics>;
