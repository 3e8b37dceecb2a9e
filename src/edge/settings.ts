import * as z from "zod";
import { EdgeSecretSetting, intSetting as int, rateLimitSettings } from "../core/index.ts";
import type { RetrySchedule } from "./queue.ts";

/** Cloudflare Queues delay a message by at most 12 hours. */
const MAX_QUEUE_DELAY_SECONDS = 12 * 60 * 60;
/** Cloudflare retries a message 100 times at most; the schedule keeps to fewer, with room to spare. */
const MAX_SCHEDULED_RETRIES = 90;

/**
 * Every setting of the edge, from Workers vars and secrets or Deno's environment, parsed once when an
 * isolate or process starts; a bad value stops it with a message naming the variable. Rate limits share
 * the relay's names and defaults.
 */
export const EdgeSettings = z
  .object({
    /** The relay's base URL (REST and Connect, :8080). */
    RELAY_URL: z.url(),
    /** The relay's EDGE_SECRET, which signs every call between them; `new,old` while rotating. */
    EDGE_SECRET: EdgeSecretSetting.pipe(
      z.array(z.string()).min(1, "is required: set the relay's EDGE_SECRET"),
    ),
    ...rateLimitSettings,
    /** A request body must arrive within this many ms, else 408. */
    BODY_TIMEOUT_MS: int(10_000, 100),
    /** Request-body bytes an isolate holds at once (raw and inflated); beyond it 429 `overloaded`. */
    BODY_BUDGET_BYTES: int(8 * 1024 * 1024, 1024 * 1024),
    /**
     * How long one call to the relay may take before it counts as unreachable (and events are queued).
     * Longer than the relay's own deadline for Kafka (KAFKA_ACK_TIMEOUT_MS, 5 s, after which it answers
     * from its spool): an edge that gives up first queues events the relay then writes, and sends them
     * again from its queue, twice in the topic.
     */
    FORWARD_TIMEOUT_MS: int(8000, 100),
    /** Queue retry schedule: the first delay, doubling up to the longest… */
    QUEUE_RETRY_BASE_SECONDS: int(10, 1).pipe(z.number().max(MAX_QUEUE_DELAY_SECONDS)),
    QUEUE_RETRY_MAX_SECONDS: int(1200, 1).pipe(z.number().max(MAX_QUEUE_DELAY_SECONDS)),
    /** …until this long after the first queueing; then accepted events are quarantined as `undeliverable`. */
    QUEUE_GIVE_UP_SECONDS: int(24 * 60 * 60, 0),
    /** Delay between tries of the dead-letter path (the relay's quarantine). */
    QUEUE_DEAD_LETTER_DELAY_SECONDS: int(3600, 1).pipe(z.number().max(MAX_QUEUE_DELAY_SECONDS)),
  })
  .superRefine((s, ctx) => {
    // Cloudflare retries a message 100 times at most (max_retries); the schedule must give up before.
    if (s.QUEUE_GIVE_UP_SECONDS / s.QUEUE_RETRY_MAX_SECONDS > MAX_SCHEDULED_RETRIES) {
      ctx.addIssue({
        code: "custom",
        path: ["QUEUE_GIVE_UP_SECONDS"],
        message: `needs more than ${MAX_SCHEDULED_RETRIES} retries at QUEUE_RETRY_MAX_SECONDS; raise that or lower this`,
      });
    }
  });
export type EdgeSettings = z.infer<typeof EdgeSettings>;

/** The settings of the edge on Deno (workers/deno.ts): the edge's, plus where it listens and its KV file. */
export const DenoEdgeSettings = EdgeSettings.and(
  z.object({
    PORT: int(8787, 1),
    HOST: z.string().default("127.0.0.1"),
    /** Deno KV's file; unset, Deno's default place. */
    KV_PATH: z.string().optional(),
  }),
);

/** The queue's retry schedule. */
export const retryScheduleOf = (settings: EdgeSettings): RetrySchedule => ({
  baseSeconds: settings.QUEUE_RETRY_BASE_SECONDS,
  maxDelaySeconds: settings.QUEUE_RETRY_MAX_SECONDS,
  giveUpAfterSeconds: settings.QUEUE_GIVE_UP_SECONDS,
});

/** The dead-letter path retries at one long, steady delay, for ever: what it holds was acknowledged. */
export const deadLetterScheduleOf = (settings: EdgeSettings): RetrySchedule => ({
  baseSeconds: settings.QUEUE_DEAD_LETTER_DELAY_SECONDS,
  maxDelaySeconds: settings.QUEUE_DEAD_LETTER_DELAY_SECONDS,
  giveUpAfterSeconds: Number.POSITIVE_INFINITY,
});
