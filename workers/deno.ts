// Deno entry point: the same edge on Deno.serve, with Deno KV as the cache and a Deno KV queue as the
// durable fallback. Run: deno run --unstable-kv --allow-net --allow-env --allow-read workers/deno.ts
// Settings: src/edge/settings.ts (RELAY_URL, EDGE_SECRET, …), plus PORT (8787), HOST (127.0.0.1) and
// KV_PATH (optional, a file), parsed once at start (DenoEdgeSettings).
import { parseSettings } from "../src/core/index.ts";
import { buildEdge } from "../src/edge/build.ts";
import type { QueuedMessage } from "../src/edge/queue.ts";
import { DenoEdgeSettings } from "../src/edge/settings.ts";

declare const Deno: {
  env: { toObject(): Record<string, string> };
  openKv(path?: string): Promise<DenoKv>;
  serve(
    options: { port: number; hostname: string; onListen?: (addr: { port: number }) => void },
    handler: (request: Request, info: { remoteAddr: { hostname: string } }) => Response | Promise<Response>,
  ): unknown;
};
type KvKey = (string | number)[];
interface DenoKv {
  get(key: KvKey): Promise<{ value: unknown }>;
  set(key: KvKey, value: unknown, options?: { expireIn?: number }): Promise<unknown>;
  delete(key: KvKey): Promise<void>;
  list(selector: { prefix: KvKey }): AsyncIterable<{ key: KvKey; value: unknown }>;
  enqueue(
    value: unknown,
    options?: { delay?: number; backoffSchedule?: number[]; keysIfUndelivered?: KvKey[] },
  ): Promise<unknown>;
  listenQueue(handler: (value: unknown) => Promise<void>): Promise<void>;
}

/** A queued message and which retry of it this is (Deno KV does not count them for us). */
interface Envelope {
  message: QueuedMessage;
  retry: number;
  dead_letter: boolean;
}

/** Where Deno KV keeps a message whose handler failed through its whole backoff schedule. */
const UNDELIVERED = "edge-undelivered";

const settings = parseSettings(DenoEdgeSettings, Deno.env.toObject(), "edge (Deno)");
const kv = await Deno.openKv(settings.KV_PATH);

/**
 * Puts work in the queue. The schedule lives in the handler (which re-enqueues with a delay), so
 * Deno's own backoffSchedule (at most 5 entries) only covers a handler that throws, e.g. when KV itself
 * fails; a message still undelivered after it is kept under `edge-undelivered` and re-driven below.
 */
const enqueue = (envelope: Envelope, delaySeconds = 0) =>
  kv.enqueue(envelope, {
    delay: delaySeconds * 1000,
    backoffSchedule: [1_000, 5_000, 30_000, 120_000, 600_000],
    keysIfUndelivered: [[UNDELIVERED, crypto.randomUUID()]],
  });

const remoteAddress = new WeakMap<Request, string>();

const edge = buildEdge(settings, {
  kv: {
    get: async (key) => ((await kv.get(["edge", key])).value as string | null) ?? null,
    put: async (key, value, options) => {
      await kv.set(
        ["edge", key],
        value,
        options?.expirationTtl ? { expireIn: options.expirationTtl * 1000 } : {},
      );
    },
  },
  queue: {
    enqueue: async (work) => {
      await enqueue({ message: { ...work, queued_at: Date.now() }, retry: 0, dead_letter: false });
    },
  },
  clientInfo: (request) => {
    const ip = remoteAddress.get(request);
    return ip === undefined ? {} : { ip };
  },
});

kv.listenQueue(async (value) => {
  const { message, retry, dead_letter } = value as Envelope;
  const step = dead_letter
    ? await edge.deadLetter(message, retry + 1)
    : await edge.deliverQueued(message, retry + 1);
  if (step.action === "retry") {
    await enqueue({ message: step.message, retry: retry + 1, dead_letter }, step.delaySeconds);
  } else if (step.action === "dead-letter") {
    await enqueue({ message: step.message, retry: 0, dead_letter: true });
  }
});

/** Puts messages Deno KV gave up on back in the queue (at start and every minute). */
const redrive = async () => {
  for await (const entry of kv.list({ prefix: [UNDELIVERED] })) {
    await enqueue(entry.value as Envelope);
    await kv.delete(entry.key);
  }
};
await redrive();
setInterval(
  () => void redrive().catch((error) => console.error("re-driving undelivered messages failed", error)),
  60_000,
);

Deno.serve(
  {
    port: settings.PORT,
    hostname: settings.HOST,
    onListen: ({ port }) => console.log(`edge (Deno) listening on ${port}`),
  },
  (request, info) => {
    remoteAddress.set(request, info.remoteAddr.hostname);
    return edge.app.fetch(request);
  },
);
