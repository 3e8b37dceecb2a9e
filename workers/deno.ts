// Deno entry point: the same edge app on Deno.serve, with Deno KV as the cache and Deno KV queues as
// the durable fallback. Run: deno run --unstable-kv --allow-net --allow-env --allow-read workers/deno.ts
// Environment: RELAY_URL, EDGE_SECRET (the relay's, which signs every call between them), PORT (8787),
// KV_PATH (optional, a file), RATE_LIMIT_KEY_EVENTS_PER_SECOND, RATE_LIMIT_TENANT_EVENTS_PER_SECOND,
// RATE_LIMIT_TENANT_OVERRIDES, BODY_TIMEOUT_MS, BODY_BUDGET_BYTES (optional).
import { type BehaviorEvent, edgeSecrets, RateLimiter } from "../src/core/index.ts";
import { createEdgeApp } from "../src/edge/app.ts";
import { CachedDirectory, relayFeed } from "../src/edge/directory.ts";
import { relayForwarder } from "../src/edge/forwarder.ts";
import { rateLimitsFrom } from "../src/edge/ports.ts";
import { registerPush } from "../src/edge/push.ts";

declare const Deno: {
  env: { get(name: string): string | undefined };
  openKv(path?: string): Promise<DenoKv>;
  serve(
    options: { port: number; hostname: string; onListen?: (addr: { port: number }) => void },
    handler: (request: Request, info: { remoteAddr: { hostname: string } }) => Response | Promise<Response>,
  ): unknown;
};
interface DenoKv {
  get(key: string[]): Promise<{ value: unknown }>;
  set(key: string[], value: unknown, options?: { expireIn?: number }): Promise<unknown>;
  enqueue(value: unknown, options?: { backoffSchedule?: number[] }): Promise<unknown>;
  listenQueue(handler: (value: unknown) => Promise<void>): Promise<void>;
}

const required = (name: string): string => {
  const value = Deno.env.get(name);
  if (value === undefined || value === "") throw new Error(`${name} must be set`);
  return value;
};

const relayUrl = required("RELAY_URL");
const secrets = edgeSecrets(required("EDGE_SECRET"));
const forwarder = relayForwarder(relayUrl, secrets);
const kv = await Deno.openKv(Deno.env.get("KV_PATH"));
const directory = new CachedDirectory(
  {
    get: async (key) => ((await kv.get(["edge", key])).value as string | null) ?? null,
    put: async (key, value, options) => {
      await kv.set(
        ["edge", key],
        value,
        options?.expirationTtl ? { expireIn: options.expirationTtl * 1000 } : {},
      );
    },
  },
  relayFeed(relayUrl, secrets),
);

// Deno KV queues retry a failed delivery on this schedule; a throw here means "retry later".
kv.listenQueue(async (value) => {
  await forwarder.forward(value as BehaviorEvent[]);
});

/** The connecting address, passed from Deno.serve's handler to the app through a per-request map. */
const remoteAddress = new WeakMap<Request, string>();

const app = createEdgeApp({
  directory,
  forwarder,
  queue: {
    enqueue: async (events) => {
      await kv.enqueue([...events], {
        backoffSchedule: [1_000, 5_000, 10_000, 30_000, 60_000, 120_000, 300_000],
      });
    },
  },
  clientInfo: (request) => {
    const ip = remoteAddress.get(request);
    return ip === undefined ? {} : { ip };
  },
  limiter: new RateLimiter(
    rateLimitsFrom({
      RATE_LIMIT_KEY_EVENTS_PER_SECOND: Deno.env.get("RATE_LIMIT_KEY_EVENTS_PER_SECOND"),
      RATE_LIMIT_TENANT_EVENTS_PER_SECOND: Deno.env.get("RATE_LIMIT_TENANT_EVENTS_PER_SECOND"),
      RATE_LIMIT_TENANT_OVERRIDES: Deno.env.get("RATE_LIMIT_TENANT_OVERRIDES"),
    }),
    () => Date.now(),
  ),
  bodyTimeoutMs: Number(Deno.env.get("BODY_TIMEOUT_MS")) || undefined,
  bodyBudgetBytes: Number(Deno.env.get("BODY_BUDGET_BYTES")) || undefined,
});

registerPush(app, secrets, directory);

Deno.serve(
  {
    port: Number(Deno.env.get("PORT") ?? 8787),
    hostname: Deno.env.get("HOST") ?? "127.0.0.1",
    onListen: ({ port }) => console.log(`edge (Deno) listening on ${port}`),
  },
  (request, info) => {
    remoteAddress.set(request, info.remoteAddr.hostname);
    return app.fetch(request);
  },
);
