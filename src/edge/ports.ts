import {
  type ApiKeyKind,
  type BehaviorEvent,
  type Environment,
  parseTenantLimits,
  type RateLimits,
  type TrackingConfig,
} from "../core/index.ts";

/**
 * What the edge app needs from the world, handed in by an entry point (workers/cloudflare.ts,
 * workers/deno.ts) or a test. Nothing in src/edge calls a runtime API directly: only Web standards
 * (Request, Response, crypto.subtle, DecompressionStream) that Workers, Deno and Node all provide.
 */

/** A key as the edge knows it: from the relay's feed, by hash only. */
export interface EdgeKey {
  hash: string;
  kind: ApiKeyKind;
  tenant_id: string | null;
  allowed_origins: string[];
  revoked_at: number | null;
}

/** A tenant's active configs and keys (the relay's `/api/v1/edge/tenants/{tenant}` document). */
export interface TenantRecords {
  configs: TrackingConfig[];
  keys: EdgeKey[];
}

/** Configs and keys: KV and an in-isolate cache, pulled through from the relay's feed on a miss. */
export interface Directory {
  /** A tenant's active configs and keys, or undefined for an unknown tenant. */
  tenant(tenantId: string): Promise<TenantRecords | undefined>;
  /** A key by the SHA-256 hex of its text, revoked or not. */
  key(hash: string): Promise<EdgeKey | undefined>;
}

/** Sends accepted events to the relay; throws when the relay cannot take them. */
export interface Forwarder {
  forward(events: readonly BehaviorEvent[]): Promise<void>;
}

/** The durable fallback (Cloudflare Queue, Deno KV queue): events here are delivered to the relay later. */
export interface DurableQueue {
  enqueue(events: readonly BehaviorEvent[]): Promise<void>;
}

/** What the runtime knows about the caller: the connecting address and its geo data. */
export interface ClientInfo {
  ip?: string;
  location?: string;
}

/** Per-key and per-tenant event rates (src/core's RateLimiter): seconds to wait, or 0 when admitted. */
export interface Limiter {
  take(keyId: string, events: number, eventsByTenant: ReadonlyMap<string, number>): number;
}

export interface EdgePorts {
  directory: Directory;
  forwarder: Forwarder;
  queue: DurableQueue;
  clientInfo: (request: Request) => ClientInfo;
  limiter: Limiter;
  /** A request body must arrive within this time, else 408 (default 10 s; var BODY_TIMEOUT_MS). */
  bodyTimeoutMs?: number;
  /**
   * Request-body bytes (raw and inflated) an isolate holds at once; beyond it 429 `overloaded`, so a
   * flood of large bodies cannot exhaust its 128 MB (default 8 MiB; var BODY_BUDGET_BYTES).
   */
  bodyBudgetBytes?: number;
  env?: Environment;
}

/** The edge's rate limits from its variables (the relay's names and defaults); in-isolate counting. */
export const rateLimitsFrom = (vars: {
  RATE_LIMIT_KEY_EVENTS_PER_SECOND?: string;
  RATE_LIMIT_TENANT_EVENTS_PER_SECOND?: string;
  RATE_LIMIT_TENANT_OVERRIDES?: string;
}): RateLimits => ({
  perKey: Math.max(100, Number(vars.RATE_LIMIT_KEY_EVENTS_PER_SECOND ?? 5000) || 5000),
  perTenant: Math.max(100, Number(vars.RATE_LIMIT_TENANT_EVENTS_PER_SECOND ?? 20_000) || 20_000),
  tenantOverrides: parseTenantLimits(vars.RATE_LIMIT_TENANT_OVERRIDES ?? ""),
});
