import * as z from "zod";
import { claimedTenantId } from "./credentials.ts";
import { ERRORS, type ErrorCode, type FieldError } from "./errors.ts";
import { jsonOfAnything } from "./json.ts";
import { MAX_EVENTS_PER_BATCH } from "./limits.ts";
import { isValidTenantId, quarantineTopicFor } from "./tenant.ts";

/**
 * Why an event is kept in its tenant's `-rejected` topic: the error code it was refused with;
 * `undeliverable` for an event the edge acknowledged but could not hand to the relay within its queue's
 * whole retry schedule; `kafka_refused` for an acknowledged event Kafka itself refuses (too large for
 * the topic, a broker policy), with Kafka's error in `errors`.
 */
export type QuarantineReason = ErrorCode | "undeliverable" | "kafka_refused";

/** An event kept aside with the reason, so that nothing refused or undeliverable vanishes unseen. */
export interface Refusal {
  reason: QuarantineReason;
  errors: FieldError[];
  /** The event as received: any JSON. */
  event: unknown;
}

/** The codes an event is refused for because of what it is (not who sent it, nor when). */
export const CONTENT_REFUSALS: ReadonlySet<QuarantineReason> = new Set<QuarantineReason>([
  "invalid_event",
  "payload_too_large",
]);

/**
 * Beyond this, a quarantined event is kept as a truncated copy of its JSON: a refused event may be up to
 * a request's size, and its quarantine record must still fit a Kafka batch with room to spare.
 */
export const MAX_QUARANTINED_EVENT_BYTES = 64 * 1024;

const Reason = z.union([
  z.enum(Object.keys(ERRORS) as [ErrorCode, ...ErrorCode[]]),
  z.literal("undeliverable"),
]);

/** The body of the edge's signed quarantine call: `{"refusals": [...]}`. */
export const RefusalBatch = z.object({
  refusals: z
    .array(
      z.object({
        reason: Reason,
        errors: z.array(z.object({ path: z.string(), code: z.string().optional(), message: z.string() })),
        event: z.unknown(),
      }),
    )
    .min(1)
    .max(MAX_EVENTS_PER_BATCH),
});

/** The tenant an event claims, when it is a valid one: only then does it have a topic to be kept in. */
export const quarantineTenantOf = (event: unknown): string | undefined => {
  const tenant = claimedTenantId(event);
  return isValidTenantId(tenant) ? tenant : undefined;
};

/**
 * A refusal small enough to travel and to be kept: an event whose JSON is over
 * {@link MAX_QUARANTINED_EVENT_BYTES} is replaced by its tenant, user and id and the start of its JSON.
 */
export const boundedRefusal = (refusal: Refusal): Refusal => {
  const json = jsonOfAnything(refusal.event ?? null);
  // A UTF-16 unit is at most 3 UTF-8 bytes.
  const limit = MAX_QUARANTINED_EVENT_BYTES / 3;
  const errors = refusal.errors.slice(0, 50);
  if (json !== undefined && json.length <= limit) return { ...refusal, errors };
  const { tenant_id, user_id, event_id } = (refusal.event ?? {}) as Record<string, unknown>;
  return {
    reason: refusal.reason,
    errors,
    event: {
      tenant_id,
      user_id,
      event_id,
      truncated: true,
      json_length: json?.length ?? null,
      json_start: json?.slice(0, limit - 1024) ?? null,
    },
  };
};

/** Kafka record of a refusal: keyed by the event's user (when it has one), value the reason and the event. */
export const quarantineRecord = (
  tenant: string,
  refusal: Refusal,
  receivedAt: number,
): { topic: string; key: string; value: string } => {
  const { reason, errors, event } = boundedRefusal(refusal);
  const userId = (event as { user_id?: unknown } | null)?.user_id;
  return {
    topic: quarantineTopicFor(tenant),
    key: typeof userId === "string" ? userId : "",
    value: JSON.stringify({ reason, errors, received_at: receivedAt, event }),
  };
};
