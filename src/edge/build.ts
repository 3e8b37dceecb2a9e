import { RateLimiter } from "../core/index.ts";
import { CachedDirectory, type KeyValueStore, relayFeed } from "./directory.ts";
import { relayForwarder } from "./forwarder.ts";
import { createEdgeApp } from "./http/app.ts";
import { registerPush } from "./http/routes/push.ts";
import { EdgeMetrics } from "./metrics.ts";
import type { ClientInfo, DurableQueue } from "./ports.ts";
import { type QueuedMessage, tryQueued, undeliverable } from "./queue.ts";
import { deadLetterScheduleOf, type EdgeSettings, retryScheduleOf } from "./settings.ts";

/** What an entry point hands in from its runtime. */
export interface EdgeRuntime {
  /** Workers KV or Deno KV, for configs and keys. */
  kv: KeyValueStore;
  /** Cloudflare Queue or Deno KV queue. */
  queue: DurableQueue;
  clientInfo: (request: Request) => ClientInfo;
}

/**
 * The edge from its settings (parsed by the entry point, once) and its runtime: the app, and the two
 * steps its queue consumers take (`deliverQueued` for the queue, `deadLetter` for the dead-letter path),
 * sharing one set of counters. Used by workers/cloudflare.ts and workers/deno.ts alike.
 */
export const buildEdge = (settings: EdgeSettings, runtime: EdgeRuntime) => {
  const secrets = settings.EDGE_SECRET;
  const metrics = new EdgeMetrics();
  const forwarder = relayForwarder(settings.RELAY_URL, secrets, { timeoutMs: settings.FORWARD_TIMEOUT_MS });
  const directory = new CachedDirectory(runtime.kv, relayFeed(settings.RELAY_URL, secrets));
  const app = createEdgeApp({
    directory,
    forwarder,
    queue: runtime.queue,
    clientInfo: runtime.clientInfo,
    limiter: new RateLimiter(
      {
        perKey: settings.RATE_LIMIT_KEY_EVENTS_PER_SECOND,
        perTenant: settings.RATE_LIMIT_TENANT_EVENTS_PER_SECOND,
        tenantOverrides: settings.RATE_LIMIT_TENANT_OVERRIDES,
      },
      () => Date.now(),
      // An isolate has 128 MB and sees a share of the traffic: 50,000 buckets are about 7.5 MB, where
      // the relay's 200,000 could be 30 MB of source addresses alone.
      50_000,
    ),
    bodyTimeoutMs: settings.BODY_TIMEOUT_MS,
    bodyBudgetBytes: settings.BODY_BUDGET_BYTES,
    metrics,
  });
  registerPush(app, secrets, directory);
  const schedule = retryScheduleOf(settings);
  const deadLetterSchedule = deadLetterScheduleOf(settings);
  return {
    app,
    metrics,
    /** One try at a queue message; `retry` counts from 1 after the first failure. */
    deliverQueued: (message: QueuedMessage, retry: number) =>
      tryQueued(message, retry, forwarder, metrics, schedule, Date.now()),
    /** One try at a dead letter: its events are handed to the relay's quarantine as `undeliverable`. */
    deadLetter: (message: QueuedMessage, retry: number) =>
      tryQueued(undeliverable(message), retry, forwarder, metrics, deadLetterSchedule, Date.now()),
  };
};
export type Edge = ReturnType<typeof buildEdge>;
