import type { Context, Hono } from "hono";
import type { EdgeKey } from "../../../core/index.ts";
import {
  ApiError,
  batchAnswer,
  fieldErrorsOf,
  nothingStored,
  parseBatch,
  trackAnswer,
  validateAnswer,
} from "../../../core/index.ts";
import { problemResponse } from "../../../http/problem.ts";
import { readJsonBody } from "../../body.ts";
import { answered, type EdgeIngest, type Outcome, type Sender } from "../../ingest.ts";
import type { EdgeEnv, KeyAuthentication } from "../middleware/auth.ts";

const batchOf = (body: unknown): unknown[] => {
  const batch = parseBatch(body);
  if (!batch.ok) throw new ApiError(batch.problem.code, batch.problem.detail, batch.problem.errors);
  return batch.events;
};

/**
 * POST /track, /track/batch, /collect and /validate; answers built in src/core/answers.ts, as at the
 * relay. A body is read (under the isolate's body budget) before its key is checked.
 */
export const registerEventRoutes = (
  app: Hono<EdgeEnv>,
  deps: { ingest: EdgeIngest; authenticate: KeyAuthentication; bodyTimeoutMs: number },
) => {
  const { ingest, authenticate } = deps;
  const bodyOf = (c: Context<EdgeEnv>) =>
    readJsonBody(c.req.raw, { timeoutMs: deps.bodyTimeoutMs, tab: c.get("bodyTab") });
  const senderOf = (c: Context<EdgeEnv>, key: EdgeKey): Sender => ({
    key,
    request: c.req.raw,
    omitIp: c.req.query("ip") === "omit" || c.req.header("x-ip") === "omit",
  });

  const track = async (c: Context<EdgeEnv>, inputs: unknown[], single: boolean) => {
    const key = await authenticate(c);
    const { outcomes, queued } = await ingest.track(inputs, senderOf(c, key));
    const status = queued ? 202 : 200;
    // As at the relay: a batch of which not one event could be stored, for that reason only, is a 503.
    if (!single && nothingStored(outcomes.map(answered))) {
      return problemResponse(c, "sink_unavailable", "the edge cannot store events right now; retry");
    }
    if (single) {
      const [outcome] = outcomes as [Outcome];
      if (!outcome.ok)
        return problemResponse(c, outcome.code, outcome.message, fieldErrorsOf(outcome.errors));
      return c.json(
        trackAnswer({ ok: true, eventId: outcome.event.event_id, warnings: outcome.warnings }, queued),
        status,
      );
    }
    return c.json({ ...batchAnswer(outcomes.map(answered)), queued }, status);
  };

  app.post("/api/v1/behaviors/track", async (c) => track(c, [await bodyOf(c)], true));
  app.post("/api/v1/behaviors/track/batch", async (c) => track(c, batchOf(await bodyOf(c)), false));
  /** Beacons: one event or `{events}`, usually `text/plain` with `?key=`. */
  app.post("/api/v1/behaviors/collect", async (c) => {
    const body = await bodyOf(c);
    const isBatch = typeof body === "object" && body !== null && "events" in body;
    return track(c, isBatch ? batchOf(body) : [body], !isBatch);
  });
  app.post("/api/v1/behaviors/validate", async (c) => {
    const key = await authenticate(c);
    const [outcome] = (await ingest.check([await bodyOf(c)], senderOf(c, key))) as [Outcome];
    // Another tenant's event is the key's problem, not the event's: 403, as /track answers it.
    if (!outcome.ok && outcome.code === "forbidden") {
      throw new ApiError("forbidden", outcome.message, fieldErrorsOf(outcome.errors));
    }
    return c.json(validateAnswer({ errors: [], ...outcome }));
  });
};
