import type { Logger } from "pino";
import {
  ApiError,
  authorizeEvents,
  BoundedLabels,
  checkEvent,
  checkEvents,
  type Environment,
  type EventOutcome,
  fieldErrorsOf,
  healthAnswer,
  type Issue,
  isAuthorizedEvent,
  quarantineRecord,
  quarantineTenantOf,
  type RateLimiter,
  type Refusal,
  refuseUnwritten,
  settle,
} from "../core/index.ts";
import { type EventRecord, type RecordSink, TopicsUnwrittenError } from "../kafka/records.ts";
import { hashKey, type KeyStore, type Principal, writerTenantOf } from "./auth.ts";
import type { ConfigSource } from "./config-source.ts";
import type { RelayMetrics } from "./metrics.ts";
import type { QualityRecorder } from "./quality.ts";

/** The health answer, and whether events can be acknowledged now (readiness; not in the answer). */
export type HealthReport = ReturnType<typeof healthAnswer> & { accepting: boolean; failingTopics?: number };

interface IngestDeps {
  configs: ConfigSource;
  keys: KeyStore;
  sink: RecordSink;
  metrics: RelayMetrics;
  log: Logger;
  env?: Environment;
  /** Per-key and per-tenant rate limits; none in unit tests that do not test them. */
  limiter?: RateLimiter;
  /** Counts each call's verdicts by tenant and scenario for the quality API; none in some unit tests. */
  quality?: QualityRecorder;
  /**
   * Events being handled at once, all transports together; beyond it calls are refused with a
   * retryable `overloaded` (RELAY_MAX_INFLIGHT_EVENTS). Unbounded when absent.
   */
  maxInflightEvents?: number;
  /**
   * A tenant's share of `maxInflightEvents`: a tenant whose events wait long (its topic missing, its
   * partitions slow) would otherwise hold them all and get every other tenant refused `overloaded`
   * (RELAY_MAX_INFLIGHT_EVENTS_PER_TENANT). Unbounded when absent.
   */
  maxInflightEventsPerTenant?: number;
}

/** Calls refused for topics that could not be stored are logged at most this often. */
const UNSTORED_LOG_INTERVAL_MS = 10_000;

/**
 * The relay's ingest logic, shared by REST and gRPC: authorise, validate against the tenant's
 * tracking config, write accepted events durably to the tenant's topic, and quarantine refused ones
 * (with the reason) in the tenant's -rejected topic. Every outcome is counted.
 */
export class IngestService {
  readonly deps: IngestDeps;
  /** Events of calls under way: each holds its request, its outcome and its caller until answered. */
  #inflight = 0;
  /** When calls refused for topics that could not be stored were last logged, and how many since. */
  #unstored = { loggedAt: Number.NEGATIVE_INFINITY, calls: 0 };
  /** The same, per tenant the caller may write them for; a tenant is listed while it has any. */
  readonly #inflightByTenant = new Map<string, number>();
  /** The keys' tenants as metric labels: the first 100 seen, the rest `other`. */
  readonly #keyTenants = new BoundedLabels(100);

  constructor(deps: IngestDeps) {
    this.deps = deps;
  }

  /** The caller behind a bearer key, or an unauthenticated error. */
  async authenticate(key: string | undefined): Promise<Principal> {
    const principal = key === undefined ? undefined : await this.deps.keys.principalFor(key);
    if (principal === undefined) {
      throw new ApiError("unauthenticated", "send a secret or service key as Authorization: Bearer <key>");
    }
    return principal.keyId === undefined ? { ...principal, keyId: hashKey(key as string) } : principal;
  }

  /** The answer /track would give, without storing: an event that cannot be written is not valid. */
  async validate(
    input: unknown,
    principal: Principal,
  ): Promise<{ ok: boolean; errors: Issue[]; warnings: Issue[] }> {
    const checked = await checkEvent(input, writerTenantOf(principal), this.#configFor, this.deps.env);
    if (!checked.ok && checked.code === "forbidden") {
      throw new ApiError("forbidden", checked.message, fieldErrorsOf(checked.errors));
    }
    return checked.ok ? { ok: true, errors: [], warnings: checked.warnings } : checked;
  }

  async track(input: unknown, principal: Principal): Promise<EventOutcome> {
    const [outcome] = await this.trackBatch([input], principal);
    return outcome as EventOutcome;
  }

  /**
   * Authorizes, charges, then validates each event on its own; the accepted ones are written together,
   * as one durable batch. Events the caller may not write are charged to the caller's key and counted
   * under it: never to the tenant they name, whose quota and quality figures stay its own.
   */
  async trackBatch(inputs: readonly unknown[], principal: Principal): Promise<EventOutcome[]> {
    const { metrics, quality } = this.deps;
    const started = performance.now();
    const source = principal.kind === "edge" ? "edge" : "relay";
    metrics.received.inc(inputs.length);
    const writer = writerTenantOf(principal);
    const authorization = authorizeEvents(inputs, writer);
    /** What a refusal of the whole call counts in the quality figures: only the caller's own tenants' events. */
    const authorized =
      authorization.forbidden === 0 ? inputs : inputs.filter((input) => isAuthorizedEvent(input, writer));
    // A CPU-bound relay takes calls faster than it answers them; without a bound their memory grows
    // until the heap gives out. Refused calls cost almost nothing and the client retries them.
    const crowded = this.#overloaded(inputs.length, authorization.byTenant);
    if (crowded !== undefined) {
      metrics.rejected.inc({ reason: "overloaded" }, inputs.length);
      if (crowded.tenant !== undefined)
        metrics.overloadedTenant.inc({ tenant: crowded.tenant }, authorization.byTenant.get(crowded.tenant));
      quality?.refusedCall(source, authorized, "overloaded", performance.now() - started);
      throw new ApiError("overloaded", crowded.detail, [], 1);
    }
    this.#inflight += inputs.length;
    this.#holdShares(authorization.byTenant, 1);
    try {
      this.#admit(inputs.length, principal, authorization.byTenant);
      if (authorization.forbidden > 0 && principal.kind === "tenant") {
        metrics.forbidden.inc(
          { key_tenant: this.#keyTenants.label("", principal.tenantId) },
          authorization.forbidden,
        );
      }
      const outcomes = await this.#trackBatch(inputs, principal);
      // Events may be written by now: a failure to count them must never become the call's answer.
      try {
        quality?.call(source, inputs, outcomes, performance.now() - started);
      } catch (error) {
        this.deps.log.error({ err: error }, "the quality counts of a call were lost");
      }
      return outcomes;
    } catch (error) {
      if (error instanceof ApiError && error.code === "rate_limited")
        quality?.refusedCall(source, authorized, error.code, performance.now() - started);
      throw error;
    } finally {
      this.#inflight -= inputs.length;
      this.#holdShares(authorization.byTenant, -1);
    }
  }

  /**
   * Logs events that could not be stored. A tenant whose topic is missing has each call refused so for
   * as long as it lasts, which logged an error with a stack per call: those are logged once per 10 s
   * with the calls refused since (the metrics and the TenantTopicSpooling alert name the topic); any
   * other failure each time.
   */
  #logUnstored(error: unknown, unwritten: ReadonlySet<string> | undefined): void {
    if (unwritten === undefined) {
      this.deps.log.error({ err: error }, "events could not be stored");
      return;
    }
    this.#unstored.calls++;
    const now = performance.now();
    if (now - this.#unstored.loggedAt < UNSTORED_LOG_INTERVAL_MS) return;
    this.deps.log.warn(
      { topics: [...unwritten], calls: this.#unstored.calls, reason: (error as Error).message },
      "calls refused retryably: their topics' events could not be stored (calls since the last such message)",
    );
    this.#unstored = { loggedAt: now, calls: 0 };
  }

  /**
   * Why a call of `events` (by tenant) may not start now: the relay has as many events under way as it
   * may, or one of the call's tenants has its share of them (that tenant named). Undefined: it may.
   */
  #overloaded(
    events: number,
    byTenant: ReadonlyMap<string, number>,
  ): { detail: string; tenant?: string } | undefined {
    const { maxInflightEvents, maxInflightEventsPerTenant: share } = this.deps;
    if (maxInflightEvents !== undefined && this.#inflight + events > maxInflightEvents)
      return { detail: "the relay is handling too many events right now; retry in a second" };
    if (share === undefined) return undefined;
    for (const [tenant, held] of byTenant)
      if ((this.#inflightByTenant.get(tenant) ?? 0) + held > share)
        return {
          detail: `tenant ${tenant} has too many events under way at this relay; retry in a second`,
          tenant,
        };
    return undefined;
  }

  /** Takes (sign 1) or gives back (sign -1) each tenant's events of a call under way. */
  #holdShares(byTenant: ReadonlyMap<string, number>, sign: 1 | -1): void {
    if (this.deps.maxInflightEventsPerTenant === undefined) return;
    for (const [tenant, events] of byTenant) {
      const held = (this.#inflightByTenant.get(tenant) ?? 0) + sign * events;
      if (held > 0) this.#inflightByTenant.set(tenant, held);
      else this.#inflightByTenant.delete(tenant);
    }
  }

  async #trackBatch(inputs: readonly unknown[], principal: Principal): Promise<EventOutcome[]> {
    const { metrics } = this.deps;
    // The edge stamped received_at when it received the events; anyone else's is their own clock.
    const receivedBy = principal.kind === "edge" ? "server" : "client";
    const checked = await checkEvents(inputs, writerTenantOf(principal), this.#configFor, this.deps.env, {
      receivedBy,
    });
    const settlement = settle(inputs, checked);
    let { outcomes } = settlement;
    // Not awaited: the caller's answer does not depend on it; a failure is counted and logged.
    if (settlement.refusals.length > 0)
      void this.quarantine(settlement.refusals).catch(() => "counted and logged by quarantine");
    if (settlement.records.length > 0) {
      try {
        await this.deps.sink.write(settlement.records);
      } catch (error) {
        const unwritten = error instanceof TopicsUnwrittenError ? error.topics : undefined;
        this.#logUnstored(error, unwritten);
        outcomes = refuseUnwritten(settlement, unwritten, "the relay cannot store events right now; retry");
      }
    }
    let accepted = 0;
    let warned = 0;
    for (const outcome of outcomes) {
      if (!outcome.ok) metrics.rejected.inc({ reason: outcome.code });
      else {
        accepted++;
        if (outcome.warnings.length > 0) warned++;
      }
    }
    metrics.accepted.inc(accepted);
    metrics.warnings.inc(warned);
    return outcomes;
  }

  /**
   * Refuses the whole request (429) when its key or one of its tenants is over the rate limit. The key
   * pays for every event; a tenant only for the events this caller may write for it (`byTenant`).
   */
  #admit(events: number, principal: Principal, byTenant: ReadonlyMap<string, number>): void {
    const { limiter } = this.deps;
    if (limiter === undefined) return;
    // The edge limits each key itself; here only its tenants count, or one key would cap every edge.
    const keyId = principal.kind === "edge" ? undefined : (principal.keyId ?? principal.kind);
    const wait = limiter.take(keyId, events, byTenant);
    if (wait > 0) {
      this.deps.metrics.rejected.inc({ reason: "rate_limited" }, events);
      throw new ApiError(
        "rate_limited",
        `too many events for this key or tenant; retry in ${wait} s`,
        [],
        wait,
      );
    }
  }

  readonly #configFor = (tenantId: string, scenarioId: string) => this.deps.configs.get(tenantId, scenarioId);

  /**
   * Keeps refused events, with the reason, in their tenants' -rejected topics; resolves once they are
   * durable (in Kafka or the spool) with how many were kept. Only events of a valid tenant are kept:
   * callers refuse a forged tenant id (forbidden) before, and it must not reach anyone's topic.
   */
  async quarantine(refusals: readonly Refusal[], refusedBy?: "edge"): Promise<number> {
    // The edge's refusals reach the relay only here: its quality counts them as the edge's verdicts.
    if (refusedBy !== undefined) {
      const verdicts = refusals.map((r) => ({ ok: false, code: r.reason, errors: r.errors, warnings: [] }));
      this.deps.quality?.call(
        refusedBy,
        refusals.map((r) => r.event),
        verdicts,
        0,
      );
    }
    const now = this.deps.env ? this.deps.env.now() : Date.now();
    const records: EventRecord[] = [];
    const reasons: string[] = [];
    for (const refusal of refusals) {
      const tenant = quarantineTenantOf(refusal.event);
      if (tenant === undefined) continue;
      records.push({ ...quarantineRecord(tenant, refusal, now), eventId: "" });
      reasons.push(refusal.reason);
    }
    if (records.length === 0) return 0;
    try {
      await this.deps.sink.write(records);
    } catch (error) {
      this.deps.metrics.quarantineFailures.inc(records.length);
      this.deps.log.warn({ err: error }, "refused events could not be quarantined");
      throw new ApiError("sink_unavailable", "the relay cannot store events right now; retry");
    }
    for (const reason of reasons) this.deps.metrics.quarantined.inc({ reason });
    return records.length;
  }

  async health(): Promise<HealthReport> {
    const { metrics, sink } = this.deps;
    const value = async (metric: { get(): Promise<{ values: { value: number }[] }> }) =>
      (await metric.get()).values.reduce((sum, v) => sum + v.value, 0);
    const [total, accepted, kafkaSuccess, kafkaFailed, rejected, warnings] = await Promise.all([
      value(metrics.received),
      value(metrics.accepted),
      value(metrics.kafkaSuccess),
      value(metrics.kafkaFailures),
      value(metrics.rejected),
      value(metrics.warnings),
    ]);
    return {
      ...healthAnswer({
        kafkaAvailable: sink.kafkaAvailable,
        received: total,
        accepted,
        stored: kafkaSuccess,
        failed: kafkaFailed,
        refused: rejected,
        warned: warnings,
      }),
      accepting: sink.accepting,
      failingTopics: sink.failingTopics,
    };
  }
}
