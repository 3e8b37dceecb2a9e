import type { Context, Hono } from "hono";
import { ApiError, bearerToken, type Issue, parseBatch } from "../../core/index.ts";
import type { EventOutcome, IngestService } from "../ingest.ts";
import { jsonBody, problemResponse, type RelayEnv } from "./respond.ts";

const fieldErrors = (issues: Issue[]) => issues.map(({ path, message }) => ({ path, message }));

const resultOf = (outcome: EventOutcome, index: number) =>
  outcome.ok
    ? { index, success: true, event_id: outcome.eventId, validation_warnings: outcome.warnings }
    : {
        index,
        success: false,
        error_code: outcome.code,
        message: outcome.message,
        errors: fieldErrors(outcome.errors),
        validation_warnings: outcome.warnings,
      };

/** SPEC §6: POST /track, /track/batch, /validate under /api/v1/behaviors. */
export const registerBehaviors = (app: Hono<RelayEnv>, ingest: IngestService) => {
  const principal = (c: Context<RelayEnv>) => ingest.authenticate(bearerToken(c.req.header("authorization")));

  app.post("/api/v1/behaviors/track", async (c) => {
    const caller = await principal(c);
    const outcome = await ingest.track(await jsonBody(c), caller);
    if (!outcome.ok) return problemResponse(c, outcome.code, outcome.message, fieldErrors(outcome.errors));
    return c.json({
      success: true,
      event_id: outcome.eventId,
      message: "Event tracked successfully",
      ...(outcome.warnings.length > 0 ? { validation_warnings: outcome.warnings } : {}),
    });
  });

  app.post("/api/v1/behaviors/track/batch", async (c) => {
    const caller = await principal(c);
    const batch = parseBatch(await jsonBody(c));
    if (!batch.ok) throw new ApiError(batch.problem.code, batch.problem.detail, batch.problem.errors);
    const outcomes = await ingest.trackBatch(batch.events, caller);
    const succeeded = outcomes.filter((o) => o.ok).length;
    // When nothing could be stored, the whole call is retryable, so generic retry logic sees a 503.
    if (succeeded === 0 && outcomes.every((o) => !o.ok && o.code === "sink_unavailable")) {
      return problemResponse(c, "sink_unavailable", "the relay cannot store events right now; retry");
    }
    return c.json({
      success: succeeded === outcomes.length,
      total: outcomes.length,
      succeeded,
      failed: outcomes.length - succeeded,
      results: outcomes.map(resultOf),
    });
  });

  app.post("/api/v1/behaviors/validate", async (c) => {
    const caller = await principal(c);
    const result = await ingest.validate(await jsonBody(c), caller);
    return c.json({ success: result.ok, errors: result.errors, validation_warnings: result.warnings });
  });
};
