import type { Hono } from "hono";
import type { IngestService } from "../ingest.ts";
import type { RelayMetrics } from "../metrics.ts";
import type { RelayEnv } from "./respond.ts";

/** Health (SPEC §6 shape), liveness, readiness and Prometheus metrics. */
export const registerOperations = (
  app: Hono<RelayEnv>,
  deps: { ingest: IngestService; metrics: RelayMetrics },
) => {
  app.get("/api/v1/behaviors/health", async (c) => c.json(await deps.ingest.health()));
  // Alive as long as the process answers.
  app.get("/livez", (c) => c.json({ status: "alive" }));
  // Ready while events can be acknowledged: Kafka answers, or the spool takes them.
  app.get("/readyz", async (c) => {
    const health = await deps.ingest.health();
    return c.json({ status: "ready", kafka_available: health.kafka_available });
  });
  app.get("/metrics", async (c) =>
    c.body(await deps.metrics.registry.metrics(), 200, { "content-type": deps.metrics.registry.contentType }),
  );
};
