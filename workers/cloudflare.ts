// Cloudflare Workers entry point (wrangler.toml `main`): wires the edge app to KV, the Queue, the relay.
import { type BehaviorEvent, edgeSecrets, RateLimiter } from "../src/core/index.ts";
import { createEdgeApp } from "../src/edge/app.ts";
import { CachedDirectory, relayFeed } from "../src/edge/directory.ts";
import { relayForwarder } from "../src/edge/forwarder.ts";
import { rateLimitsFrom } from "../src/edge/ports.ts";
import { registerPush } from "../src/edge/push.ts";

interface Env {
  /** Configs and key records by tenant and by key hash. */
  CONFIGS: KVNamespace;
  /** Events the relay could not take, delivered later by `queue` below (dead letters after retries). */
  EVENTS: Queue<BehaviorEvent[]>;
  RELAY_URL: string;
  /**
   * Secret: the relay's EDGE_SECRET, which signs every call between them (forwarded batches, feed
   * reads, pushes); `new,old` while rotating.
   */
  EDGE_SECRET: string;
  /** Events/s per key and per tenant, counted per isolate (docs/security.md); tenant overrides `a=100,b=5000`. */
  RATE_LIMIT_KEY_EVENTS_PER_SECOND?: string;
  RATE_LIMIT_TENANT_EVENTS_PER_SECOND?: string;
  RATE_LIMIT_TENANT_OVERRIDES?: string;
  /** A request body must arrive within this many ms, else 408 (default 10000). */
  BODY_TIMEOUT_MS?: string;
  /** Request-body bytes an isolate holds at once, else 503 (default 8 MiB). */
  BODY_BUDGET_BYTES?: string;
}

/** One app per isolate: its directory's memory cache lives as long as the isolate. */
let built: { env: Env; app: ReturnType<typeof createEdgeApp> } | undefined;

const appFor = (env: Env) => {
  if (built?.env !== env) {
    const secrets = edgeSecrets(env.EDGE_SECRET);
    const directory = new CachedDirectory(env.CONFIGS, relayFeed(env.RELAY_URL, secrets));
    const app = createEdgeApp({
      directory,
      forwarder: relayForwarder(env.RELAY_URL, secrets),
      queue: {
        enqueue: async (events) => {
          await env.EVENTS.send([...events]);
        },
      },
      clientInfo: (request) => {
        const cf = (request as Request & { cf?: { city?: string; country?: string } }).cf;
        const location = cf?.city ?? cf?.country;
        const ip = request.headers.get("cf-connecting-ip") ?? undefined;
        return { ...(ip ? { ip } : {}), ...(location ? { location } : {}) };
      },
      limiter: new RateLimiter(rateLimitsFrom(env), () => Date.now()),
      bodyTimeoutMs: Number(env.BODY_TIMEOUT_MS) || undefined,
      bodyBudgetBytes: Number(env.BODY_BUDGET_BYTES) || undefined,
    });
    registerPush(app, secrets, directory);
    built = { env, app };
  }
  return built.app;
};

export default {
  fetch: (request, env, ctx) => appFor(env).fetch(request, env, ctx),

  /** Delivers queued events to the relay; a failed batch is retried, and after the retries dead-lettered. */
  async queue(batch, env) {
    const forwarder = relayForwarder(env.RELAY_URL, edgeSecrets(env.EDGE_SECRET));
    try {
      await forwarder.forward(batch.messages.flatMap((m) => m.body));
      batch.ackAll();
    } catch {
      batch.retryAll({ delaySeconds: 10 });
    }
  },
} satisfies ExportedHandler<Env, BehaviorEvent[]>;
