import type { Context } from "hono";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { requestId } from "hono/request-id";
import type { Logger } from "pino";
import { ApiError, BodyBudget, MAX_REQUEST_BYTES } from "../../core/index.ts";
import type { IngestService } from "../ingest.ts";
import type { RelayMetrics } from "../metrics.ts";
import { type AdminDeps, createAdminApi } from "./admin.ts";
import { registerBehaviors } from "./behaviors.ts";
import { registerOperations } from "./operations.ts";
import { problemResponse, type RelayEnv } from "./respond.ts";

/** The relay's HTTP API on :8080 (REST beside Connect), sharing the ingest service with gRPC. */
export const createHttpApp = (deps: {
  ingest: IngestService;
  metrics: RelayMetrics;
  log: Logger;
  admin?: AdminDeps;
  /** Request-body bytes the relay holds at once (RELAY_BODY_BUDGET_BYTES). */
  bodyBudgetBytes: number;
}) => {
  const app = new Hono<RelayEnv>({ strict: false });
  app.use(requestId());
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
  registerBehaviors(app, deps.ingest);
  registerOperations(app, deps);
  if (deps.admin !== undefined) app.route("/", createAdminApi(deps.admin));
  app.notFound((c) => problemResponse(c, "not_found", `no route for ${c.req.method} ${c.req.path}`));
  app.onError((error, c) => {
    if (error instanceof ApiError) {
      if (error.retryAfterSeconds !== undefined) c.header("retry-after", String(error.retryAfterSeconds));
      return problemResponse(c, error.code, error.message, error.errors);
    }
    if (error.name.startsWith("Mongo")) {
      deps.log.warn({ err: error }, "the configuration store did not answer");
      return problemResponse(c, "store_unavailable", "the configuration store is not reachable; retry");
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
