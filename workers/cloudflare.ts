// Cloudflare Workers entry point (wrangler.toml `main`): wires the edge to KV, the queues and the relay.
import { parseSettings } from "../src/core/index.ts";
import { buildEdge, type Edge } from "../src/edge/build.ts";
import type { QueuedMessage, QueueStep } from "../src/edge/queue.ts";
import { EdgeSettings } from "../src/edge/settings.ts";

interface Env {
  /** Configs and key records by tenant and by key hash. */
  CONFIGS: KVNamespace;
  /** Work the relay could not take right now, delivered later by `queue` below. */
  EVENTS: Queue<QueuedMessage>;
  /** Work out of the retry schedule; `queue` below hands it to the relay's quarantine. */
  DEAD_LETTERS: Queue<QueuedMessage>;
  /** The name of the dead-letter queue (wrangler.toml), to tell its batches from the main queue's. */
  DEAD_LETTER_QUEUE_NAME?: string;
  /** Every other variable and the EDGE_SECRET secret: src/edge/settings.ts. */
  [setting: string]: unknown;
}

/** One edge per isolate: its caches and counters live as long as the isolate. */
let built: { env: Env; edge: Edge } | undefined;

const edgeFor = (env: Env): Edge => {
  if (built?.env !== env) {
    const edge = buildEdge(parseSettings(EdgeSettings, env, "edge"), {
      kv: env.CONFIGS,
      queue: {
        enqueue: async (work) => {
          await env.EVENTS.send({ ...work, queued_at: Date.now() });
        },
      },
      clientInfo: (request) => {
        const cf = (request as Request & { cf?: { city?: string; country?: string } }).cf;
        const location = cf?.city ?? cf?.country;
        const ip = request.headers.get("cf-connecting-ip") ?? undefined;
        return { ...(ip ? { ip } : {}), ...(location ? { location } : {}) };
      },
    });
    built = { env, edge };
  }
  return built.edge;
};

/**
 * Applies one step to its message: acknowledged; retried, whole or (when the relay stored part of it)
 * what is left, re-sent to the same queue; or dead-lettered.
 */
const apply = async (
  env: Env,
  queue: Queue<QueuedMessage>,
  message: Message<QueuedMessage>,
  step: QueueStep,
) => {
  if (step.action === "retry") {
    const whole =
      "events" in step.message && "events" in message.body
        ? step.message.events.length === message.body.events.length
        : true;
    if (whole) {
      message.retry({ delaySeconds: step.delaySeconds });
      return;
    }
    await queue.send(step.message, { delaySeconds: step.delaySeconds });
  } else if (step.action === "dead-letter") {
    await env.DEAD_LETTERS.send(step.message);
  }
  message.ack();
};

export default {
  fetch: (request, env, ctx) => edgeFor(env).app.fetch(request, env, ctx),

  /**
   * Both queues, one message at a time (a message that fails never takes its batch down). The main
   * queue delivers to the relay on a growing delay until the schedule gives up; the dead-letter queue
   * (which also receives what Cloudflare moves there after max_retries) hands events to the relay's
   * quarantine as `undeliverable`, retrying at a long steady delay.
   */
  async queue(batch, env) {
    const edge = edgeFor(env);
    const deadLetters = batch.queue === (env.DEAD_LETTER_QUEUE_NAME ?? "behavior-edge-events-dlq");
    for (const message of batch.messages) {
      const step = deadLetters
        ? await edge.deadLetter(message.body, message.attempts)
        : await edge.deliverQueued(message.body, message.attempts);
      await apply(env, deadLetters ? env.DEAD_LETTERS : env.EVENTS, message, step);
    }
  },
} satisfies ExportedHandler<Env, QueuedMessage>;
