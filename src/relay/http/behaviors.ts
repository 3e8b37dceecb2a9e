import type { Context, Hono } from "hono";
import {
  ApiError,
  batchAnswer,
  bearerToken,
  fieldErrorsOf,
  nothingStored,
  parseBatch,
  trackAnswer,
  validateAnswer,
} from "../../core/index.ts";
import type { IngestService } from "../ingest.ts";
import { jsonBody, problemResponse, type RelayEnv } from "./respond.ts";

/** POST /track, /track/batch, /validate under /api/v1/behaviors; answers built in src/core/answers.ts. */
export const registerBehaviors = (app: Hono<RelayEnv>, ingest: IngestService) => {
  const principal = (c: Context<RelayEnv>) => ingest.authenticate(bearerToken(c.req.header("authorization")));

  app.post("/api/v1/behaviors/track", async (c) => {
    const caller = await principal(c);
    const outcome = await ingest.track(await jsonBody(c), caller);
    if (!outcome.ok) return problemResponse(c, outcome.code, outcome.message, fieldErrorsOf(outcome.errors));
    return c.json(trackAnswer(outcome));
  });

  app.post("/api/v1/behaviors/track/batch", async (c) => {
    const caller = await principal(c);
    const batch = parseBatch(await jsonBody(c));
    if (!batch.ok) throw new ApiError(batch.problem.code, batch.problem.detail, batch.problem.errors);
    const outcomes = await ingest.trackBatch(batch.events, caller);
    if (nothingStored(outcomes)) {
      return problemResponse(c, "sink_unavailable", "the relay cannot store events right now; retry");
    }
    return c.json(batchAnswer(outcomes));
  });

  app.post("/api/v1/behaviors/validate", async (c) => {
    const caller = await principal(c);
    return c.json(validateAnswer(await ingest.validate(await jsonBody(c), caller)));
  });
};
