import { Hono } from "hono";
import { requestId } from "hono/request-id";
import { bodyBudget, requestTiming } from "../../http/middleware.ts";
import { answerErrors, noRoute, problemResponse } from "../../http/problem.ts";
import { edgeIngest } from "../ingest.ts";
import { EdgeMetrics } from "../metrics.ts";
import type { EdgePorts } from "../ports.ts";
import { type EdgeEnv, keyAuthentication } from "./middleware/auth.ts";
import { grantOrigins, preflight } from "./middleware/cors.ts";
import { registerEventRoutes } from "./routes/events.ts";
import { registerOperationRoutes } from "./routes/operations.ts";

/**
 * The edge: where browsers and apps send events. It authenticates the key, checks the
 * origin, decodes beacon bodies, enriches, validates against the tenant's config, and forwards the
 * accepted events to the relay — or, when the relay cannot take them, to the durable queue, answering
 * 202. The same module runs on Cloudflare Workers and Deno; ports are handed in. Laid out as the
 * relay's: middleware under middleware/ (and src/http, shared with it), one file per route group under routes/.
 */
export const createEdgeApp = (ports: EdgePorts) => {
  const app = new Hono<EdgeEnv>({ strict: false });
  const metrics = ports.metrics ?? new EdgeMetrics();
  app.use(requestId());
  app.use(grantOrigins);
  app.use(
    requestTiming((c, route, seconds) =>
      metrics.observeRequest({ route, method: c.req.method, status: c.res.status }, seconds),
    ),
  );
  app.use("/api/v1/behaviors/*", bodyBudget(ports.bodyBudgetBytes ?? 8 * 1024 * 1024));
  const ingest = edgeIngest(ports, metrics);
  registerEventRoutes(app, {
    ingest,
    authenticate: keyAuthentication(ports.directory),
    bodyTimeoutMs: ports.bodyTimeoutMs ?? 10_000,
  });
  registerOperationRoutes(app, { ingest, metrics });
  app.options("/api/v1/behaviors/*", preflight(ports.directory));
  app.notFound(noRoute);
  app.onError(
    answerErrors({
      unexpected: (error, c) => {
        // The runtime's log (wrangler tail, Deno's stderr) is where an operator finds what broke.
        console.error("unhandled error", { requestId: c.get("requestId") }, error);
        return problemResponse(c, "internal", "something went wrong at the edge; retry");
      },
    }),
  );
  return app;
};
