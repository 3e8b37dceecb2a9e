import type { Hono } from "hono";
import type { IngestService } from "../ingest.ts";
import type { RelayMetrics } from "../metrics.ts";
import type { RelayEnv } from "./respond.ts";

/** Health (SPEC §6 shape), liveness, readiness and Prometheus metrics. */
export const registerOperations = (
  app: Hono<RelayEnv>,
  deps: { ingest: IngestService; metrics: RelayMetrics },
) => {
  app.get("/api/v1/behaviors/health", async (c) => {
    const { accepting: _, ...health } = await deps.ingest.health();
    return c.json(health);
  });
  // Alive as long as the process answers.
  app.get("/livez", (c) => c.json({ status: "alive" }));
  // Ready while events can be acknowledged: Kafka answers, or the spool takes them.
  app.get("/readyz", async (c) => {
    const { accepting, kafka_available } = await deps.ingest.health();
    return c.json({ status: accepting ? "ready" : "full", kafka_available }, accepting ? 200 : 503);
  });
  app.get("/metrics", async (c) =>
    c.body(await deps.metrics.registry.metrics(), 200, { "content-type": deps.metrics.registry.contentType }),
  );
};
