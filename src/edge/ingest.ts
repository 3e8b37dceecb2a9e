import type { EdgeKey } from "../core/index.ts";
import {
  ApiError,
  authorizeEvents,
  type BehaviorEvent,
  boundedRefusal,
  CONTENT_REFUSALS,
  checkEvents,
  type EventOutcome,
  type EventRefusal,
  fieldErrorsOf,
  type Issue,
  type Refusal,
} from "../core/index.ts";
import { type DeviceFacts, deviceOf, enrich } from "./enrich.ts";
import type { EdgeMetrics } from "./metrics.ts";
import { type Delivery, type EdgePorts, RelayUnavailableError } from "./ports.ts";

/** An event checked at the edge: accepted with the event to forward, or refused with what was sent. */
export type Outcome =
  | { ok: true; event: BehaviorEvent; warnings: Issue[] }
  | (EventRefusal & { input: unknown });

/** The outcome as the answers in src/core/answers.ts take it. */
export const answered = (o: Outcome): EventOutcome =>
  o.ok ? { ok: true, eventId: o.event.event_id, warnings: o.warnings } : o;

/** Who sent a request's events: its authenticated key, the request, and whether to leave out its address. */
export interface Sender {
  key: EdgeKey;
  request: Request;
  omitIp: boolean;
}

/**
 * The edge's half of the pipeline, behind its routes: it admits, enriches and checks events against the
 * tenant's config, and forwards the accepted ones to the relay — or, when the relay cannot take them, to
 * the durable queue.
 */
export const edgeIngest = (ports: EdgePorts, metrics: EdgeMetrics) => {
  /** Whether the last hand-over of events to the relay reached it. */
  let relayReachable = true;

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
  const check = async (inputs: unknown[], sender: Sender): Promise<Outcome[]> => {
    const { request } = sender;
    const enriched = inputs.map((input) =>
      enrich(input, ports.clientInfo(request), deviceOfRequest(request), sender.omitIp),
    );
    // Encoded here too, not only at the relay: an event acknowledged here must be one the relay will take.
    const checked = await checkEvents(enriched, sender.key.tenant_id, configFor, ports.env);
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
  const admit = (inputs: unknown[], { key, request }: Sender) => {
    const { byTenant, forbidden } = authorizeEvents(inputs, key.tenant_id);
    const address = ports.clientInfo(request).ip ?? "unknown";
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

  /**
   * Admits, checks and hands on a request's events: the outcome of each, and whether some were queued
   * (the answer is then 202).
   */
  const track = async (inputs: unknown[], sender: Sender) => {
    admit(inputs, sender);
    const checked = await check(inputs, sender);
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
    return { outcomes, queued };
  };

  return { track, check, relayReachable: () => relayReachable };
};
export type EdgeIngest = ReturnType<typeof edgeIngest>;
