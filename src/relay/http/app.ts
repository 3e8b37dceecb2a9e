import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { requestId } from "hono/request-id";
import type { Logger } from "pino";
import { ApiError, BodyBudget, MAX_REQUEST_BYTES } from "../../core/index.ts";
import type { IngestService } from "../ingest.ts";
import type { RelayMetrics } from "../metrics.ts";
import type { RequestRecorder } from "../request-log.ts";
import { registerAdminRoutes } from "./admin.ts";
import type { AdminDeps } from "./admin-deps.ts";
import { createRelayApi } from "./openapi.ts";
import { problemResponse, type RelayEnv } from "./respond.ts";
import { registerDocRoutes } from "./routes/docs.ts";
import { registerEventRoutes } from "./routes/events.ts";
import { type DirectoryStatus, registerOperationRoutes } from "./routes/operations.ts";

/**
 * The relay's HTTP API on :8080 (REST beside Connect), sharing the ingest service with gRPC: one
 * file per route group under routes/, all in the OpenAPI document served at /api/v1/openapi.json.
 */
export const createHttpApp = (deps: {
  ingest: IngestService;
  metrics: RelayMetrics;
  log: Logger;
  admin?: AdminDeps;
  /** The tenant directory, for health and readiness. */
  directory?: DirectoryStatus;
  /** Request-body bytes the relay holds at once (RELAY_BODY_BUDGET_BYTES). */
  bodyBudgetBytes: number;
  /** Measures and logs each answered request. */
  record: RequestRecorder;
}) => {
  const app = createRelayApi();
  app.use(requestId());
  app.use(async (c, next) => {
    const started = performance.now();
    await next();
    deps.record({
      // The matched route's pattern, never the path itself: bounded labels, and no ids in them.
      route: c.req.routePath === "/*" ? "unmatched" : c.req.routePath,
      method: c.req.method,
      status: String(c.res.status),
      seconds: (performance.now() - started) / 1000,
      requestId: c.get("requestId"),
      tenant: c.req.param("tenant_id"),
    });
  });
  const tooLarge = (c: Context<RelayEnv>) =>
    problemResponse(c, "payload_too_large", `the body may be at most ${MAX_REQUEST_BYTES} bytes`);
  // Hono's bodyLimit reads `request.body`, which makes @hono/node-server build a Web Request and a
  // ReadableStream for every call (a fifth of the CPU of a single REST call). A declared length is
  // checked from the header instead; only a body without one (chunked) is counted as it is read.
  const limitStreamed = bodyLimit({
    maxSize: MAX_REQUEST_BYTES,
    onError: (c) => tooLarge(c as Context<RelayEnv>),
  });
  app.use("/api/*", (c, next) => {
    const declared = c.req.header("content-length");
    if (declared === undefined) return limitStreamed(c, next);
    return Number(declared) > MAX_REQUEST_BYTES ? Promise.resolve(tooLarge(c)) : next();
  });
  const budget = new BodyBudget(deps.bodyBudgetBytes);
  app.use("/api/v1/behaviors/*", (c, next) =>
    budget.during((tab) => {
      c.set("bodyTab", tab);
      return next();
    }),
  );
  registerEventRoutes(app, deps.ingest);
  registerOperationRoutes(app, deps);
  if (deps.admin !== undefined) registerAdminRoutes(app, deps.admin);
  registerDocRoutes(app);
  app.notFound((c) => problemResponse(c, "not_found", `no route for ${c.req.method} ${c.req.path}`));
  app.onError((error, c) => {
    if (error instanceof ApiError) {
      if (error.code === "store_unavailable") {
        deps.log.warn(
          { err: error.cause, requestId: c.get("requestId") },
          "the configuration store did not answer",
        );
      }
      if (error.retryAfterSeconds !== undefined) c.header("retry-after", String(error.retryAfterSeconds));
      return problemResponse(c, error.code, error.message, error.errors);
    }
    if ((error as { code?: string }).code === "ECONNRESET") {
      // The client went away mid-body: nobody reads this answer, and it is not our failure.
      deps.log.debug({ requestId: c.get("requestId") }, "the client aborted its request");
      return problemResponse(c, "malformed_body", "the request was aborted before its body arrived");
    }
    deps.log.error({ err: error, requestId: c.get("requestId") }, "unhandled error");
    return problemResponse(c, "internal", "something went wrong on our side; retry");
  });
  return app;
};
