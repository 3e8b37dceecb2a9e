import { ApiError, type RateLimiter } from "../core/index.ts";
import type { Principal } from "./auth.ts";
import type { RelayMetrics } from "./metrics.ts";

/** What bounds the calls a relay takes at once, and how fast; each is unbounded when absent. */
export interface AdmissionLimits {
  /** Per-key and per-tenant rate limits; none in unit tests that do not test them. */
  limiter?: RateLimiter;
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

/**
 * Admits calls: within the events the relay may have under way, each tenant's share of them, and the
 * rate limits. A CPU-bound relay takes calls faster than it answers them; without a bound their memory
 * grows until the heap gives out. Refused calls cost almost nothing and the client retries them.
 */
export class Admission {
  readonly #limits: AdmissionLimits;
  readonly #metrics: RelayMetrics;
  /** Events of calls under way: each holds its request, its outcome and its caller until answered. */
  #inflight = 0;
  /** The same, per tenant the caller may write them for; a tenant is listed while it has any. */
  readonly #inflightByTenant = new Map<string, number>();

  constructor(limits: AdmissionLimits, metrics: RelayMetrics) {
    this.#limits = limits;
    this.#metrics = metrics;
  }

  /**
   * Admits a call of `events` (`byTenant`: those the caller may write, by tenant) or throws its refusal,
   * `overloaded` or `rate_limited`, counted. An admitted call holds its events until the returned
   * release is called, once it is answered.
   */
  enter(events: number, principal: Principal, byTenant: ReadonlyMap<string, number>): () => void {
    const crowded = this.#overloaded(events, byTenant);
    if (crowded !== undefined) {
      this.#metrics.rejected.inc({ reason: "overloaded" }, events);
      if (crowded.tenant !== undefined)
        this.#metrics.overloadedTenant.inc({ tenant: crowded.tenant }, byTenant.get(crowded.tenant));
      throw new ApiError("overloaded", crowded.detail, [], 1);
    }
    this.#charge(events, principal, byTenant);
    this.#inflight += events;
    this.#holdShares(byTenant, 1);
    return () => {
      this.#inflight -= events;
      this.#holdShares(byTenant, -1);
    };
  }

  /**
   * Why a call of `events` (by tenant) may not start now: the relay has as many events under way as it
   * may, or one of the call's tenants has its share of them (that tenant named). Undefined: it may.
   */
  #overloaded(
    events: number,
    byTenant: ReadonlyMap<string, number>,
  ): { detail: string; tenant?: string } | undefined {
    const { maxInflightEvents, maxInflightEventsPerTenant: share } = this.#limits;
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
    if (this.#limits.maxInflightEventsPerTenant === undefined) return;
    for (const [tenant, events] of byTenant) {
      const held = (this.#inflightByTenant.get(tenant) ?? 0) + sign * events;
      if (held > 0) this.#inflightByTenant.set(tenant, held);
      else this.#inflightByTenant.delete(tenant);
    }
  }

  /**
   * Refuses the whole request (429) when its key or one of its tenants is over the rate limit. The key
   * pays for every event; a tenant only for the events this caller may write for it (`byTenant`).
   */
  #charge(events: number, principal: Principal, byTenant: ReadonlyMap<string, number>): void {
    const { limiter } = this.#limits;
    if (limiter === undefined) return;
    // The edge limits each key itself; here only its tenants count, or one key would cap every edge.
    const keyId = principal.kind === "edge" ? undefined : (principal.keyId ?? principal.kind);
    const wait = limiter.take(keyId, events, byTenant);
    if (wait > 0) {
      this.#metrics.rejected.inc({ reason: "rate_limited" }, events);
      throw new ApiError(
        "rate_limited",
        `too many events for this key or tenant; retry in ${wait} s`,
        [],
        wait,
      );
    }
  }
}
