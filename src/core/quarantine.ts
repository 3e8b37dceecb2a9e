import * as z from "zod";
import { claimedTenantId } from "./credentials.ts";
import { utf8ByteLength } from "./encode.ts";
import { ERRORS, type ErrorCode, type FieldError } from "./errors.ts";
import { jsonOfAnything } from "./json.ts";
import { MAX_EVENTS_PER_BATCH } from "./limits.ts";
import { sha256OfText } from "./sha256.ts";
import { isValidTenantId, quarantineTopicFor } from "./tenant.ts";

/**
 * Why an event is kept in its tenant's `-rejected` topic: the error code it was refused with;
 * `undeliverable` for an event the edge acknowledged but could not hand to the relay within its queue's
 * whole retry schedule; `kafka_refused` for an acknowledged event Kafka itself refuses (too large for
 * the topic, a broker policy), with Kafka's error in `errors`; `unreadable` for a record the auditor
 * found in a tenant's topic that is no event at all (no value, not JSON, nested too deep, not an
 * object), with why in `errors` (the record itself stays in the topic).
 */
export const QuarantineReason = z.union([
  z.enum(Object.keys(ERRORS) as [ErrorCode, ...ErrorCode[]]),
  z.enum(["undeliverable", "kafka_refused", "unreadable"]),
]);
export type QuarantineReason = z.infer<typeof QuarantineReason>;

/**
 * Reasons whose event was acknowledged to its sender before it was quarantined: the quarantine record
 * is the event's only copy, so it is never dropped for want of room (refusals, never acknowledged, may be).
 */
export const ACKNOWLEDGED_REASONS: ReadonlySet<QuarantineReason> = new Set<QuarantineReason>([
  "undeliverable",
  "kafka_refused",
]);

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

/** What the edge may hand over: its refusals, and what its queue could not deliver. */
const EdgeReason = z.union([
  z.enum(Object.keys(ERRORS) as [ErrorCode, ...ErrorCode[]]),
  z.literal("undeliverable"),
]);

/** The body of the edge's signed quarantine call: `{"refusals": [...]}`. */
export const RefusalBatch = z.object({
  refusals: z
    .array(
      z.object({
        reason: EdgeReason,
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

/** Each field error's path and message are cut to this: a 900 KB member name must not make the record. */
const MAX_ERROR_TEXT = 256;
/** Ids kept beside a truncated event: longer ones are not ids anyone looks up. */
const MAX_ID_TEXT = 256;

const cut = (text: string, max: number) => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);
const shortString = (value: unknown) =>
  typeof value === "string" && value.length <= MAX_ID_TEXT ? value : undefined;

/**
 * A refusal small enough to travel and to be kept, whatever was refused: at most 50 field errors, each
 * path and message cut to {@link MAX_ERROR_TEXT} characters, and an event whose JSON is over
 * {@link MAX_QUARANTINED_EVENT_BYTES} replaced by its (short) tenant, user and id, the start of its
 * JSON, its size in UTF-8 bytes and its SHA-256 (to match it with a copy kept elsewhere). So the record
 * stays far below Kafka's 1 MiB and its quarantine topic takes it.
 */
export const boundedRefusal = (refusal: Refusal): Refusal => {
  const json = jsonOfAnything(refusal.event ?? null);
  const errors = refusal.errors.slice(0, 50).map((e) => ({
    ...e,
    path: cut(e.path, MAX_ERROR_TEXT),
    message: cut(e.message, MAX_ERROR_TEXT),
    ...(e.code === undefined ? {} : { code: cut(e.code, 64) }),
  }));
  // A UTF-16 unit is at most 3 UTF-8 bytes.
  const limit = MAX_QUARANTINED_EVENT_BYTES / 3;
  if (json !== undefined && json.length <= limit) return { ...refusal, errors };
  const { tenant_id, user_id, event_id } = (refusal.event ?? {}) as Record<string, unknown>;
  return {
    reason: refusal.reason,
    errors,
    event: {
      tenant_id: shortString(tenant_id),
      user_id: shortString(user_id),
      event_id: shortString(event_id),
      truncated: true,
      json_bytes: json === undefined ? null : utf8ByteLength(json),
      json_sha256: json === undefined ? null : sha256OfText(json),
      json_start: json?.slice(0, limit - 2048) ?? null,
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
