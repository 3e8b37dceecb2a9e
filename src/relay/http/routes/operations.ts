import { createRoute } from "@hono/zod-openapi";
import * as z from "zod";
import { HealthAnswer } from "../../../core/index.ts";
import type { IngestService } from "../../ingest.ts";
import type { RelayMetrics } from "../../metrics.ts";
import { jsonContent, type RelayApi } from "../openapi.ts";

const Readiness = z.object({ status: z.enum(["ready", "full"]), kafka_available: z.boolean() });

/** Health and counters, liveness, readiness and Prometheus metrics. */
export const registerOperationRoutes = (
  api: RelayApi,
  deps: { ingest: IngestService; metrics: RelayMetrics },
) => {
  api.openapi(
    createRoute({
      method: "get",
      path: "/api/v1/behaviors/health",
      summary: "Health and counters",
      tags: ["events"],
      responses: { 200: jsonContent(HealthAnswer, "Status, Kafka availability and counters") },
    }),
    async (c) => {
      const { accepting: _, ...health } = await deps.ingest.health();
      return c.json(health, 200);
    },
  );
  api.openapi(
    createRoute({
      method: "get",
      path: "/livez",
      summary: "Alive as long as the process answers",
      tags: ["operations"],
      responses: { 200: jsonContent(z.object({ status: z.literal("alive") }), "Alive") },
    }),
    (c) => c.json({ status: "alive" as const }, 200),
  );
  api.openapi(
    createRoute({
      method: "get",
      path: "/readyz",
      summary: "Ready while events can be acknowledged: Kafka answers, or the spool takes them",
      tags: ["operations"],
      responses: {
        200: jsonContent(Readiness, "Ready"),
        503: jsonContent(Readiness, "Neither Kafka nor the spool takes events"),
      },
    }),
    async (c) => {
      const { accepting, kafka_available } = await deps.ingest.health();
      return accepting
        ? c.json({ status: "ready" as const, kafka_available }, 200)
        : c.json({ status: "full" as const, kafka_available }, 503);
    },
  );
  api.openapi(
    createRoute({
      method: "get",
      path: "/metrics",
      summary: "Prometheus metrics",
      tags: ["operations"],
      responses: {
        200: { description: "Prometheus text format", content: { "text/plain": { schema: z.string() } } },
      },
    }),
    async (c) =>
      c.text(await deps.metrics.registry.metrics(), 200, {
        "content-type": deps.metrics.registry.contentType,
      }),
  );
};
