import type { Hono } from "hono";
import { healthAnswer } from "../../../core/index.ts";
import type { EdgeIngest } from "../../ingest.ts";
import type { EdgeMetrics } from "../../metrics.ts";
import type { EdgeEnv } from "../middleware/auth.ts";

/** Health and Prometheus metrics, from this isolate's counters. */
export const registerOperationRoutes = (
  app: Hono<EdgeEnv>,
  deps: { ingest: EdgeIngest; metrics: EdgeMetrics },
) => {
  const { metrics } = deps;
  /**
   * The relay's health shape: "Kafka" is the relay behind the edge, so `kafka_success` counts events the
   * relay stored and `kafka_failed` those queued because it could not; degraded while the last
   * hand-over to the relay failed.
   */
  app.get("/api/v1/behaviors/health", (c) => {
    const accepted = metrics.total("edge_events_accepted_total");
    const total = accepted + metrics.total("edge_events_refused_total");
    return c.json(
      healthAnswer({
        kafkaAvailable: deps.ingest.relayReachable(),
        received: total,
        accepted,
        stored: metrics.total("edge_events_forwarded_total"),
        failed: metrics.total("edge_events_queued_total"),
        refused: metrics.total("edge_events_refused_total"),
        warned: metrics.total("edge_events_warned_total"),
      }),
    );
  });
  app.get("/metrics", (c) => c.text(metrics.render(), 200, { "content-type": "text/plain; version=0.0.4" }));
};
