import { Counter, collectDefaultMetrics, Histogram, Registry } from "prom-client";
import { kafkaWriterMetrics } from "../kafka/metrics.ts";

/** The relay's Prometheus metrics; every dropped or refused event is counted by reason. */
export const createMetrics = () => {
  const registry = new Registry();
  // process_* and nodejs_*: CPU, memory, event-loop lag, GC, handles.
  collectDefaultMetrics({ register: registry });
  const metric = { registers: [registry] };
  return {
    registry,
    requestDuration: new Histogram({
      name: "relay_request_duration_seconds",
      help: "Time to answer a request, by route (REST path pattern or gRPC method), method and status",
      labelNames: ["route", "method", "status"] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      ...metric,
    }),
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
    forbidden: new Counter({
      name: "relay_events_forbidden_total",
      help:
        "Events refused because the key may not write the tenant they name, by the key's own tenant " +
        "(never the tenant named: a forger's attempts are counted and charged under its own key)",
      labelNames: ["key_tenant"] as const,
      ...metric,
    }),
    overloadedTenant: new Counter({
      name: "relay_tenant_overloaded_events_total",
      help:
        "Events refused (429 overloaded) because their tenant already had its share of the events under way " +
        "(RELAY_MAX_INFLIGHT_EVENTS_PER_TENANT), by tenant; only tenants that reached it are listed",
      labelNames: ["tenant"] as const,
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
