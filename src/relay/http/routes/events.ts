import { createRoute } from "@hono/zod-openapi";
import type { Context } from "hono";
import * as z from "zod";
import {
  ApiError,
  BatchAnswer,
  BehaviorEventInput,
  batchAnswer,
  bearerToken,
  fieldErrorsOf,
  MAX_EVENTS_PER_BATCH,
  nothingStored,
  parseBatch,
  TrackAnswer,
  trackAnswer,
  ValidateAnswer,
  validateAnswer,
} from "../../../core/index.ts";
import type { HttpEnv } from "../../../http/middleware.ts";
import { problemResponse } from "../../../http/problem.ts";
import type { IngestService } from "../../ingest.ts";
import { jsonBody } from "../body.ts";
import { bearer, jsonContent, problemBody, type RelayApi } from "../openapi.ts";

const refusals = {
  400: problemBody,
  401: problemBody,
  403: problemBody,
  413: problemBody,
  415: problemBody,
  429: problemBody,
  503: problemBody,
};
const eventRoute = (path: string, summary: string, request: z.ZodType, answer: z.ZodType) =>
  createRoute({
    method: "post",
    path,
    summary,
    tags: ["events"],
    security: bearer,
    request: { body: jsonContent(request, "JSON; gzip with Content-Encoding: gzip") },
    responses: { 200: jsonContent(answer, "The answer"), ...refusals },
  });

const track = eventRoute("/api/v1/behaviors/track", "Track one event", BehaviorEventInput, TrackAnswer);
const trackBatch = eventRoute(
  "/api/v1/behaviors/track/batch",
  "Track up to 100 events; each is answered on its own",
  z.object({ events: z.array(BehaviorEventInput).min(1).max(MAX_EVENTS_PER_BATCH) }),
  BatchAnswer,
);
const validate = eventRoute(
  "/api/v1/behaviors/validate",
  "Check an event against its tenant's tracking config without storing it",
  BehaviorEventInput,
  ValidateAnswer,
);

/**
 * POST /track, /track/batch and /validate; answers built in src/core/answers.ts, as at the edge.
 *
 * The routes are documented but not validated by the OpenAPI layer: an event's problems are part of
 * its answer (per event in a batch, warnings beside success), which the ingest pipeline builds, and
 * the body is read under the relay's body budget first.
 */
export const registerEventRoutes = (api: RelayApi, ingest: IngestService) => {
  const principal = (c: Context<HttpEnv>) => ingest.authenticate(bearerToken(c.req.header("authorization")));
  for (const route of [track, trackBatch, validate]) api.openAPIRegistry.registerPath(route);

  api.post(track.path, async (c) => {
    const caller = await principal(c);
    const outcome = await ingest.track(await jsonBody(c), caller);
    if (!outcome.ok) return problemResponse(c, outcome.code, outcome.message, fieldErrorsOf(outcome.errors));
    return c.json(trackAnswer(outcome));
  });

  api.post(trackBatch.path, async (c) => {
    const caller = await principal(c);
    const batch = parseBatch(await jsonBody(c));
    if (!batch.ok) throw new ApiError(batch.problem.code, batch.problem.detail, batch.problem.errors);
    const outcomes = await ingest.trackBatch(batch.events, caller);
    if (nothingStored(outcomes)) {
      return problemResponse(c, "sink_unavailable", "the relay cannot store events right now; retry");
    }
    return c.json(batchAnswer(outcomes));
  });

  api.post(validate.path, async (c) => {
    const caller = await principal(c);
    return c.json(validateAnswer(await ingest.validate(await jsonBody(c), caller)));
  });
};
