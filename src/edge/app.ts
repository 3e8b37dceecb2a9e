import { type Context, Hono } from "hono";
import { requestId } from "hono/request-id";
import {
  ApiError,
  authorizeEvents,
  type BehaviorEvent,
  BodyBudget,
  type BodyTab,
  batchAnswer,
  bearerToken,
  boundedRefusal,
  CONTENT_REFUSALS,
  checkEvents,
  ERRORS,
  type ErrorCode,
  type EventOutcome,
  type EventRefusal,
  type FieldError,
  fieldErrorsOf,
  healthAnswer,
  type Issue,
  nothingStored,
  PROBLEM_CONTENT_TYPE,
  parseBatch,
  problem,
  type Refusal,
  trackAnswer,
  validateAnswer,
} from "../core/index.ts";
import { readJsonBody } from "./body.ts";
import { sha256Hex } from "./digest.ts";
import { type DeviceFacts, deviceOf, enrich } from "./enrich.ts";
import { EdgeMetrics } from "./metrics.ts";
import { type Delivery, type EdgeKey, type EdgePorts, RelayUnavailableError } from "./ports.ts";

/** An event checked at the edge: accepted with the event to forward, or refused with what was sent. */
type Outcome = { ok: true; event: BehaviorEvent; warnings: Issue[] } | (EventRefusal & { input: unknown });

/** The outcome as the answers in src/core/answers.ts take it. */
const answered = (o: Outcome): EventOutcome =>
  o.ok ? { ok: true, eventId: o.event.event_id, warnings: o.warnings } : o;

/** The key of a request: `Authorization: Bearer`, `X-Api-Key`, or `?key=` for beacons that cannot set headers. */
/** Each request's share of the isolate's body budget, set by the middleware for the behaviour routes. */
export type EdgeEnv = { Variables: { bodyTab: BodyTab; requestId: string } };

const presentedKey = (c: Context): string | undefined =>
  bearerToken(c.req.header("authorization")) ?? c.req.header("x-api-key") ?? c.req.query("key");

/**
 * A refusal as problem+json. It is readable from any origin: a page whose key or origin is refused
 * learns why and stops (a browser hides an answer without a CORS grant, and the tracker would retry
 * it for ever), and a refusal grants nothing.
 */
const problemResponse = (c: Context, code: ErrorCode, detail: string, errors?: FieldError[]) => {
  const origin = c.req.header("origin");
  if (origin !== undefined) {
    c.header("access-control-allow-origin", origin);
    c.header("vary", "Origin");
  }
  return c.body(
    JSON.stringify(problem(code, detail, { errors, requestId: c.get("requestId") })),
    ERRORS[code].status,
    { "content-type": PROBLEM_CONTENT_TYPE },
  );
};

/**
 * The edge: where browsers and apps send events. It authenticates the key, checks the
 * origin, decodes beacon bodies, enriches, validates against the tenant's config, and forwards the
 * accepted events to the relay — or, when the relay cannot take them, to the durable queue, answering
 * 202. The same module runs on Cloudflare Workers and Deno; ports are handed in.
 */
export const createEdgeApp = (ports: EdgePorts) => {
  const app = new Hono<EdgeEnv>({ strict: false });
  app.use(requestId());
  const metrics = ports.metrics ?? new EdgeMetrics();
  app.use(async (c, next) => {
    const started = performance.now();
    await next();
    metrics.observeRequest(
      {
        route: c.req.routePath === "/*" ? "unmatched" : c.req.routePath,
        method: c.req.method,
        status: c.res.status,
      },
      (performance.now() - started) / 1000,
    );
  });
  const bodyTimeoutMs = ports.bodyTimeoutMs ?? 10_000;
  const budget = new BodyBudget(ports.bodyBudgetBytes ?? 8 * 1024 * 1024);
  app.use("/api/v1/behaviors/*", (c, next) =>
    budget.during((tab) => {
      c.set("bodyTab", tab);
      return next();
    }),
  );
  /** Whether the last hand-over of events to the relay reached it. */
  let relayReachable = true;
  const bodyOf = (c: Context<EdgeEnv>) =>
    readJsonBody(c.req.raw, { timeoutMs: bodyTimeoutMs, tab: c.get("bodyTab") });

  /**
   * The key behind the request; 401 when missing, unknown or revoked, 403 for a key that is not
   * publishable: what browsers and apps hold is public, and a secret or service key sent here would be
   * too, with no origin to check it against.
   */
  const authenticate = async (c: Context): Promise<EdgeKey> => {
    const text = presentedKey(c);
    const key = text === undefined ? undefined : await ports.directory.key(await sha256Hex(text));
    if (key === undefined || key.revoked_at !== null) {
      throw new ApiError(
        "unauthenticated",
        "send a publishable key as Authorization: Bearer, X-Api-Key or ?key=",
      );
    }
    if (key.kind !== "publishable") {
      throw new ApiError(
        "forbidden",
        `the edge takes publishable keys (pk_…) only; a ${key.kind} key belongs on a server, which sends to the relay: revoke this one if it was ever in a page or an app`,
      );
    }
    const origin = c.req.header("origin");
    if (origin !== undefined && key.kind === "publishable") {
      if (!key.allowed_origins.includes(origin)) {
        throw new ApiError("forbidden", `origin ${origin} is not allowed for this key`);
      }
      c.header("access-control-allow-origin", origin);
      c.header("vary", "Origin");
    }
    return key;
  };

  const configFor = async (tenantId: string, scenarioId: string) =>
    (await ports.directory.tenant(tenantId))?.configs.find((config) => config.scenario_id === scenarioId);

  /** The request's device facts, parsed once for all the events of a batch. */
  const devices = new WeakMap<Request, DeviceFacts>();
  const deviceOfRequest = (request: Request) => {
    let device = devices.get(request);
    if (device === undefined) {
      device = deviceOf(request.headers);
      devices.set(request, device);
    }
    return device;
  };

  /** The request's events, enriched with its device and address, as the ingest check sees them. */
  const check = async (inputs: unknown[], key: EdgeKey, c: Context): Promise<Outcome[]> => {
    const omitIp = c.req.query("ip") === "omit" || c.req.header("x-ip") === "omit";
    const enriched = inputs.map((input) =>
      enrich(input, ports.clientInfo(c.req.raw), deviceOfRequest(c.req.raw), omitIp),
    );
    // Encoded here too, not only at the relay: an event acknowledged here must be one the relay will take.
    const checked = await checkEvents(enriched, key.tenant_id, configFor, ports.env);
    return checked.map((o, i) =>
      o.ok ? { ok: true, event: o.event, warnings: o.warnings } : { ...o, input: enriched[i] },
    );
  };

  /**
   * Hands accepted events to the relay. Only "could not reach" is queued: events the relay could not
   * store right now, or all of them when it was unreachable, timed out, answered 5xx or "not now". Events
   * it refused are refused to the client. Any other failure is ours: 500, nothing queued in silence.
   * When the queue fails too, only the events that are nowhere are refused (retryable): those the relay
   * stored stay acknowledged, so a client's retry resends exactly what was not stored.
   */
  const deliver = async (events: BehaviorEvent[]): Promise<{ deliveries: Delivery[]; queued: boolean }> => {
    if (events.length === 0) return { deliveries: [], queued: false };
    let deliveries: Delivery[];
    try {
      deliveries = await ports.forwarder.forward(events);
      relayReachable = true;
    } catch (error) {
      if (error instanceof RelayUnavailableError) relayReachable = false;
      else {
        console.error("the relay refused a forwarded batch", error);
        throw new ApiError("internal", "the edge could not hand the events to the relay; retry");
      }
      deliveries = events.map(() => ({ status: "retry" }));
    }
    const later = events.filter((_, i) => deliveries[i]?.status === "retry");
    metrics.add("edge_events_forwarded_total", deliveries.filter((d) => d.status === "stored").length);
    if (later.length === 0) return { deliveries, queued: false };
    try {
      await ports.queue.enqueue({ events: later });
    } catch (error) {
      console.error("the durable queue refused events", error);
      const nowhere: Delivery = {
        status: "refused",
        code: "sink_unavailable",
        message: "the edge cannot store events right now; retry",
        errors: [],
      };
      return { deliveries: deliveries.map((d) => (d.status === "retry" ? nowhere : d)), queued: false };
    }
    metrics.add("edge_events_queued_total", later.length);
    return { deliveries, queued: true };
  };

  /**
   * Keeps events refused for their content in their tenant's -rejected topic, through the relay's
   * quarantine, or the durable queue when the relay cannot be reached. Refusals are not acknowledged
   * events, so a failure of both is counted and logged, not answered.
   */
  const keep = async (received: Refusal[]) => {
    if (received.length === 0) return;
    // Bounded first: a refused event may be JSON nested too deep to serialise again (JSON.stringify and
    // the queue's structured clone overflow the stack), or up to a request's size.
    const refusals = received.map(boundedRefusal);
    try {
      await ports.forwarder.quarantine(refusals);
      for (const r of refusals) metrics.add("edge_events_quarantined_total", 1, { reason: r.reason });
      return;
    } catch (error) {
      console.warn("the relay's quarantine could not be reached; queueing refusals", error);
    }
    try {
      await ports.queue.enqueue({ refusals });
      metrics.add("edge_quarantine_queued_total", refusals.length);
    } catch (error) {
      console.error("refused events could be neither quarantined nor queued", error);
      metrics.add("edge_events_lost_total", refusals.length, { reason: "refusal_not_kept" });
    }
  };

  /**
   * Charges the request before its events are checked, refusing all of it (429) when over a limit:
   * every event to the key, each event the key may write to its tenant, and those it may not to the
   * source address as well, never to the tenant they name.
   */
  const admit = (c: Context, key: EdgeKey, inputs: unknown[]) => {
    const { byTenant, forbidden } = authorizeEvents(inputs, key.tenant_id);
    const address = ports.clientInfo(c.req.raw).ip ?? "unknown";
    const wait = ports.limiter.take(key.hash, inputs.length, byTenant, { address, events: forbidden });
    if (wait > 0) {
      throw new ApiError(
        "rate_limited",
        `too many events for this key or tenant; retry in ${wait} s`,
        [],
        wait,
      );
    }
    if (forbidden > 0 && key.tenant_id !== null)
      metrics.add("edge_events_forbidden_total", forbidden, { key_tenant: key.tenant_id });
  };

  const track = async (c: Context, inputs: unknown[], single: boolean) => {
    const key = await authenticate(c);
    admit(c, key, inputs);
    const checked = await check(inputs, key, c);
    const accepted = checked.flatMap((o) => (o.ok ? [o.event] : []));
    const refusals = checked.flatMap((o): Refusal[] =>
      !o.ok && CONTENT_REFUSALS.has(o.code)
        ? [{ reason: o.code, errors: fieldErrorsOf(o.errors), event: o.input }]
        : [],
    );
    const [{ deliveries, queued }] = await Promise.all([deliver(accepted), keep(refusals)]);
    // The relay's refusals replace the acceptances of the events it refused.
    let next = 0;
    const outcomes = checked.map((o): Outcome => {
      if (!o.ok) return o;
      const delivery = deliveries[next++];
      return delivery?.status === "refused"
        ? { ok: false, ...delivery, warnings: o.warnings, input: o.event }
        : o;
    });
    for (const o of outcomes) {
      if (!o.ok) metrics.add("edge_events_refused_total", 1, { reason: o.code });
      else {
        metrics.add("edge_events_accepted_total");
        if (o.warnings.length > 0) metrics.add("edge_events_warned_total");
      }
    }
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

  const batchOf = (body: unknown): unknown[] => {
    const batch = parseBatch(body);
    if (!batch.ok) throw new ApiError(batch.problem.code, batch.problem.detail, batch.problem.errors);
    return batch.events;
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
    const [outcome] = (await check([await bodyOf(c)], key, c)) as [Outcome];
    // Another tenant's event is the key's problem, not the event's: 403, as /track answers it.
    if (!outcome.ok && outcome.code === "forbidden") {
      throw new ApiError("forbidden", outcome.message, fieldErrorsOf(outcome.errors));
    }
    return c.json(validateAnswer({ errors: [], ...outcome }));
  });
  /**
   * The relay's health shape, from this isolate's counters: "Kafka" is the relay behind the edge, so
   * `kafka_success` counts events the relay stored and `kafka_failed` those queued because it could
   * not; degraded while the last hand-over to the relay failed.
   */
  app.get("/api/v1/behaviors/health", (c) => {
    const accepted = metrics.total("edge_events_accepted_total");
    const total = accepted + metrics.total("edge_events_refused_total");
    return c.json(
      healthAnswer({
        kafkaAvailable: relayReachable,
        received: total,
        accepted,
        stored: metrics.total("edge_events_forwarded_total"),
        failed: metrics.total("edge_events_queued_total"),
        refused: metrics.total("edge_events_refused_total"),
        warned: metrics.total("edge_events_warned_total"),
      }),
    );
  });
  app.get("/metrics", (c) => c.text(metrics.render(), 200, { "content-type": "text/plain; version=0.0.4" }));

  /** CORS preflight: granted only to an origin the key in `?key=` allows. */
  app.options("/api/v1/behaviors/*", async (c) => {
    const origin = c.req.header("origin");
    const text = c.req.query("key");
    const key = text === undefined ? undefined : await ports.directory.key(await sha256Hex(text));
    if (
      origin !== undefined &&
      key !== undefined &&
      key.revoked_at === null &&
      key.allowed_origins.includes(origin)
    ) {
      c.header("access-control-allow-origin", origin);
      c.header("access-control-allow-methods", "POST");
      c.header("access-control-allow-headers", "content-type, content-encoding, authorization, x-api-key");
      c.header("access-control-max-age", "600");
      c.header("vary", "Origin");
    }
    return c.body(null, 204);
  });

  app.notFound((c) => problemResponse(c, "not_found", `no route for ${c.req.method} ${c.req.path}`));
  app.onError((error, c) => {
    if (!(error instanceof ApiError))
      return problemResponse(c, "internal", "something went wrong at the edge; retry");
    if (error.retryAfterSeconds !== undefined) c.header("retry-after", String(error.retryAfterSeconds));
    return problemResponse(c, error.code, error.message, error.errors);
  });
  return app;
};
