import { createRoute } from "@hono/zod-openapi";
import * as z from "zod";
import { HealthAnswer } from "../../../core/index.ts";
import type { TenantDirectory } from "../../directory.ts";
import type { IngestService } from "../../ingest.ts";
import type { RelayMetrics } from "../../metrics.ts";
import { jsonContent, type RelayApi } from "../openapi.ts";

const Readiness = z.object({
  status: z.enum(["ready", "full", "loading"]),
  kafka_available: z.boolean(),
  directory_loaded: z.boolean(),
});

/** What the operation routes show of the tenant directory. */
export type DirectoryStatus = Pick<TenantDirectory, "loaded" | "ageSeconds" | "storeLatencyMs">;

/** Health and counters, liveness, readiness and Prometheus metrics. */
export const registerOperationRoutes = (
  api: RelayApi,
  deps: { ingest: IngestService; metrics: RelayMetrics; directory?: DirectoryStatus },
) => {
  const { directory } = deps;
  api.openapi(
    createRoute({
      method: "get",
      path: "/api/v1/behaviors/health",
      summary: "Health and counters",
      tags: ["events"],
      responses: { 200: jsonContent(HealthAnswer, "Status, Kafka availability and counters") },
    }),
    async (c) => {
      const { accepting: _, failingTopics, ...report } = await deps.ingest.health();
      // One tenant's topic in trouble shows here (and in relay_spool_topic_bytes), not as a relay not ready.
      const health = failingTopics === undefined ? report : { ...report, failing_topics: failingTopics };
      if (directory === undefined) return c.json(health, 200);
      const age = directory.ageSeconds();
      return c.json(
        {
          ...health,
          directory: {
            loaded: directory.loaded,
            age_seconds: Number.isFinite(age) ? age : null,
            store_latency_ms: directory.storeLatencyMs ?? null,
          },
        },
        200,
      );
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
      summary:
        "Ready while events can be acknowledged (Kafka answers, or the spool takes them) and every tenant's keys and configs are in memory",
      tags: ["operations"],
      responses: {
        200: jsonContent(Readiness, "Ready"),
        503: jsonContent(
          Readiness,
          "Neither Kafka nor the spool takes events (full), or the tenant directory has not loaded yet (loading: the store did not answer since the start, so calls with stored keys cannot be checked)",
        ),
      },
    }),
    async (c) => {
      const { accepting, kafka_available } = await deps.ingest.health();
      const directory_loaded = directory?.loaded ?? true;
      if (!accepting) return c.json({ status: "full" as const, kafka_available, directory_loaded }, 503);
      if (!directory_loaded)
        return c.json({ status: "loading" as const, kafka_available, directory_loaded }, 503);
      return c.json({ status: "ready" as const, kafka_available, directory_loaded }, 200);
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
