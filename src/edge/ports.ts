import type {
  BehaviorEvent,
  EdgeKey,
  EdgeTenant,
  Environment,
  ErrorCode,
  Issue,
  Refusal,
} from "../core/index.ts";
import type { EdgeMetrics } from "./metrics.ts";

/**
 * What the edge app needs from the world, handed in by an entry point (workers/cloudflare.ts,
 * workers/deno.ts) or a test. Nothing in src/edge calls a runtime API directly: only Web standards
 * (Request, Response, crypto.subtle, DecompressionStream) that Workers, Deno and Node all provide.
 */

/** Configs and keys: KV and an in-isolate cache, pulled through from the relay's feed on a miss. */
export interface Directory {
  /** A tenant's active configs and keys, or undefined for an unknown tenant. */
  tenant(tenantId: string): Promise<EdgeTenant | undefined>;
  /** A key by the SHA-256 hex of its text, revoked or not. */
  key(hash: string): Promise<EdgeKey | undefined>;
}

/** What became of one forwarded event at the relay. */
export type Delivery =
  | { status: "stored" }
  /** Refused for good (e.g. invalid against a config newer than the edge's copy): the client must hear it. */
  | { status: "refused"; code: ErrorCode; message: string; errors: Issue[] }
  /** Not stored, and worth sending again later (the relay could not store it right now). */
  | { status: "retry" };

/**
 * The relay could not be asked or answered "not now" for the whole call (unreachable, a connection
 * closed before any answer, timeout, 5xx, rate limited): the events belong in the durable queue. Any
 * other failure (a refused signature, a malformed call) is a fault of ours, answered 5xx and never
 * queued silently.
 */
export class RelayUnavailableError extends Error {}

/** The edge's calls to the relay. */
export interface Forwarder {
  /**
   * Sends accepted events; one delivery per event, in order. Throws {@link RelayUnavailableError} or
   * another error only while nothing was stored; after that, events it could not send are `retry`.
   */
  forward(events: readonly BehaviorEvent[]): Promise<Delivery[]>;
  /** Hands refused or undeliverable events to the relay's quarantine; resolves once they are durable there. */
  quarantine(refusals: readonly Refusal[]): Promise<void>;
}

/** What the durable queue holds: accepted events to deliver, or refusals to quarantine. */
export type QueuedWork = { events: BehaviorEvent[] } | { refusals: Refusal[] };

/** The durable fallback (Cloudflare Queue, Deno KV queue): work here is handed to the relay later. */
export interface DurableQueue {
  enqueue(work: QueuedWork): Promise<void>;
}

/** What the runtime knows about the caller: the connecting address and its geo data. */
export interface ClientInfo {
  ip?: string;
  location?: string;
}

/**
 * Per-key, per-tenant and, for events the key may not write, per-address event rates (src/core's
 * RateLimiter): seconds to wait, or 0 when admitted.
 */
export interface Limiter {
  take(
    keyId: string,
    events: number,
    eventsByTenant: ReadonlyMap<string, number>,
    refused?: { address: string; events: number },
  ): number;
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
  /** The isolate's counters, shared with the queue consumer of the same isolate (a fresh set when absent). */
  metrics?: EdgeMetrics;
}
