import type { Refusal } from "../core/index.ts";
import type { EdgeMetrics } from "./metrics.ts";
import type { Forwarder, QueuedWork } from "./ports.ts";

/** A message of the durable queue: the work and when it was first queued (the schedule runs from then). */
export type QueuedMessage = QueuedWork & { queued_at: number };

/**
 * How long queued work keeps being retried. Delays double from `baseSeconds` up to `maxDelaySeconds`;
 * after `giveUpAfterSeconds` from the first queueing, accepted events go to the dead-letter path (the
 * relay's quarantine, reason `undeliverable`). Refusals are retried at the longest delay for ever.
 * The settings (src/edge/settings.ts) default to a day of retries, within Cloudflare's 100.
 */
export interface RetrySchedule {
  baseSeconds: number;
  maxDelaySeconds: number;
  giveUpAfterSeconds: number;
}

/** The delay before the given retry (1 for the first). */
export const retryDelaySeconds = (retry: number, schedule: RetrySchedule): number =>
  Math.min(schedule.maxDelaySeconds, schedule.baseSeconds * 2 ** Math.min(Math.max(retry - 1, 0), 20));

/** Undeliverable events as refusals for the relay's quarantine. */
export const undeliverable = (message: QueuedMessage): QueuedMessage =>
  "refusals" in message
    ? message
    : {
        refusals: message.events.map(
          (event): Refusal => ({
            reason: "undeliverable",
            errors: [
              { path: "", message: "the relay could not be reached within the edge queue's retry schedule" },
            ],
            event,
          }),
        ),
        queued_at: message.queued_at,
      };

/** What to do with a queue message after one try. */
export type QueueStep =
  | { action: "done" }
  /** Try this (what is left of the message) again after `delaySeconds`. */
  | { action: "retry"; message: QueuedMessage; delaySeconds: number }
  /** Out of schedule: hand this (as refusals, reason `undeliverable`) to the dead-letter path. */
  | { action: "dead-letter"; message: QueuedMessage };

/**
 * One try at a queue message: accepted events are forwarded (the relay quarantines those it refuses
 * itself), refusals are quarantined. Any failure, whatever its kind, means "later": queued work was
 * acknowledged to a client and is never dropped here. `retry` is the number of this retry (1 after
 * the first failure).
 */
export const tryQueued = async (
  message: QueuedMessage,
  retry: number,
  forwarder: Forwarder,
  metrics: EdgeMetrics,
  schedule: RetrySchedule,
  now: number,
): Promise<QueueStep> => {
  let left: QueuedMessage | undefined;
  try {
    if ("events" in message) {
      const deliveries = await forwarder.forward(message.events);
      const events = message.events.filter((_, i) => deliveries[i]?.status === "retry");
      metrics.add("edge_events_forwarded_total", deliveries.filter((d) => d.status === "stored").length);
      left = events.length > 0 ? { events, queued_at: message.queued_at } : undefined;
    } else {
      await forwarder.quarantine(message.refusals);
      for (const refusal of message.refusals)
        metrics.add("edge_events_quarantined_total", 1, { reason: refusal.reason });
    }
  } catch (error) {
    // Every kind of failure is retried: see above. Counted below as a retry; the relay logs its side.
    console.warn("queued work could not be handed to the relay; retrying later", error);
    left = message;
  }
  if (left === undefined) return { action: "done" };
  if ("events" in left && now - left.queued_at > schedule.giveUpAfterSeconds * 1000) {
    metrics.add("edge_events_dead_lettered_total", left.events.length);
    return { action: "dead-letter", message: undeliverable(left) };
  }
  metrics.add("edge_queue_retries_total");
  return { action: "retry", message: left, delaySeconds: retryDelaySeconds(retry, schedule) };
};
