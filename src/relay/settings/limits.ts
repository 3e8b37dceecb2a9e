import * as z from "zod";
import { intSetting as int, rateLimitSettings } from "../../core/index.ts";

/**
 * What the relay takes at once and how fast, in all and per tenant: request bodies held, events under
 * way, and the rate limits (shared with the edge).
 */
export const LimitSettings = z.object({
  /**
   * REST request-body bytes held at once; beyond it 429 `overloaded` (Retry-After 1), so a flood of large
   * bodies costs refusals, not memory. At least one full request (1 MiB).
   */
  RELAY_BODY_BUDGET_BYTES: int(32 * 1024 * 1024, 1024 * 1024),
  /**
   * Events being handled at once over every transport (REST, Connect, gRPC, the edge's calls); beyond
   * it calls get 429 / RESOURCE_EXHAUSTED `overloaded` (retry in a second), so an overloaded relay
   * refuses work instead of running out of memory. At least one full batch.
   */
  RELAY_MAX_INFLIGHT_EVENTS: int(5000, 100),
  /**
   * A tenant's share of RELAY_MAX_INFLIGHT_EVENTS: a tenant whose events wait (its topic missing, its
   * partitions slow) holds at most this many, and others still have room. At least one full batch.
   */
  RELAY_MAX_INFLIGHT_EVENTS_PER_TENANT: int(2500, 100),
  ...rateLimitSettings,
});
