import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { requestId } from "hono/request-id";
import type { Logger } from "pino";
import { MAX_REQUEST_BYTES } from "../../core/index.ts";
import { bodyBudget, type HttpEnv, requestTiming } from "../../http/middleware.ts";
import { answerErrors, noRoute, problemResponse } from "../../http/problem.ts";
import type { IngestService } from "../ingest.ts";
import type { RelayMetrics } from "../metrics.ts";
import type { RequestRecorder } from "../request-log.ts";
import { registerAdminRoutes } from "./admin.ts";
import type { AdminDeps } from "./admin-deps.ts";
import { createRelayApi } from "./openapi.ts";
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
  app.use(
    requestTiming((c, route, seconds) =>
      deps.record({
        route,
        method: c.req.method,
        status: String(c.res.status),
        seconds,
        requestId: c.get("requestId"),
        tenant: c.req.param("tenant_id"),
      }),
    ),
  );
  const tooLarge = (c: Context<HttpEnv>) =>
    problemResponse(c, "payload_too_large", `the body may be at most ${MAX_REQUEST_BYTES} bytes`);
  // Hono's bodyLimit reads `request.body`, which makes @hono/node-server build a Web Request and a
  // ReadableStream for every call (a fifth of the CPU of a single REST call). A declared length is
  // checked from the header instead; only a body without one (chunked) is counted as it is read.
  const limitStreamed = bodyLimit({
    maxSize: MAX_REQUEST_BYTES,
    onError: (c) => tooLarge(c as Context<HttpEnv>),
  });
  app.use("/api/*", (c, next) => {
    const declared = c.req.header("content-length");
    if (declared === undefined) return limitStreamed(c, next);
    return Number(declared) > MAX_REQUEST_BYTES ? Promise.resolve(tooLarge(c)) : next();
  });
  app.use("/api/v1/behaviors/*", bodyBudget(deps.bodyBudgetBytes));
  registerEventRoutes(app, deps.ingest);
  registerOperationRoutes(app, deps);
  if (deps.admin !== undefined) registerAdminRoutes(app, deps.admin);
  registerDocRoutes(app);
  app.notFound(noRoute);
  app.onError(
    answerErrors({
      refused: (error, c) => {
        if (error.code === "store_unavailable") {
          deps.log.warn(
            { err: error.cause, requestId: c.get("requestId") },
            "the configuration store did not answer",
          );
        }
      },
      unexpected: (error, c) => {
        if ((error as { code?: string }).code === "ECONNRESET") {
          // The client went away mid-body: nobody reads this answer, and it is not our failure.
          deps.log.debug({ requestId: c.get("requestId") }, "the client aborted its request");
          return problemResponse(c, "malformed_body", "the request was aborted before its body arrived");
        }
        deps.log.error({ err: error, requestId: c.get("requestId") }, "unhandled error");
        return problemResponse(c, "internal", "something went wrong on our side; retry");
      },
    }),
  );
  return app;
};
