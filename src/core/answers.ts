import * as z from "zod";
import { ERRORS, type ErrorCode, type FieldError } from "./errors.ts";
import type { Issue } from "./field-spec.ts";

/**
 * What became of one event of a call, on the edge and the relay alike. A refusal carries our error
 * code, a message, the field problems (each with its code) and whatever warnings validation found.
 */
export type EventOutcome =
  | { ok: true; eventId: string; warnings: Issue[] }
  | { ok: false; code: ErrorCode; message: string; errors: Issue[]; warnings: Issue[] };

export type EventRefusal = EventOutcome & { ok: false };

/** The refusal of an event that failed validation. */
export const invalidEvent = (errors: Issue[], warnings: Issue[]): EventRefusal => ({
  ok: false,
  code: "invalid_event",
  message: `${errors.length} ${errors.length === 1 ? "problem" : "problems"} with the event`,
  errors,
  warnings,
});

/** The refusal of an event whose tenant the key may not write. */
export const forbiddenEvent = (): EventRefusal => ({
  ok: false,
  code: "forbidden",
  message: "this key may not write events of that tenant",
  errors: [{ path: "tenant_id", code: "invalid_value", message: "tenant_id is not the tenant of this key" }],
  warnings: [],
});

/** Field problems as problem+json `errors` entries: path, code and message. */
export const fieldErrorsOf = (issues: readonly Issue[]): FieldError[] =>
  issues.map(({ path, code, message }) => ({ path, code, message }));

/** One event's entry in a batch answer (REST; gRPC maps the same fields to its message). */
export const batchResult = (outcome: EventOutcome, index: number) =>
  outcome.ok
    ? { index, success: true as const, event_id: outcome.eventId, validation_warnings: outcome.warnings }
    : {
        index,
        success: false as const,
        error_code: outcome.code,
        message: outcome.message,
        errors: fieldErrorsOf(outcome.errors),
        validation_warnings: outcome.warnings,
        retryable: ERRORS[outcome.code].retryable,
      };

/**
 * When not one event of a batch could be stored and only for that reason, the whole call is refused
 * (503, retryable), so generic retry logic sees it; otherwise the answer lists each event.
 */
export const nothingStored = (outcomes: readonly EventOutcome[]): boolean =>
  outcomes.length > 0 && outcomes.every((o) => !o.ok && o.code === "sink_unavailable");

/** The answer to a batch call. */
export const batchAnswer = (outcomes: readonly EventOutcome[]) => {
  const succeeded = outcomes.filter((o) => o.ok).length;
  return {
    success: succeeded === outcomes.length,
    total: outcomes.length,
    succeeded,
    failed: outcomes.length - succeeded,
    results: outcomes.map(batchResult),
  };
};

/** The answer to a single call whose event was accepted. */
export const trackAnswer = (outcome: EventOutcome & { ok: true }, queued = false) => ({
  success: true as const,
  event_id: outcome.eventId,
  message: queued ? "Event accepted and queued for delivery" : "Event tracked successfully",
  ...(outcome.warnings.length > 0 ? { validation_warnings: outcome.warnings } : {}),
});

/** The answer to a validate call: what /track would say, without storing anything. */
export const validateAnswer = (outcome: { ok: boolean; errors: Issue[]; warnings: Issue[] }) => ({
  success: outcome.ok,
  errors: fieldErrorsOf(outcome.errors),
  validation_warnings: outcome.warnings,
});

// The answers' shapes, for the API's OpenAPI document; the builders above produce them.
const IssueShape = z.object({ path: z.string(), code: z.string(), message: z.string() });
const FieldErrorShape = z.object({ path: z.string(), code: z.string().optional(), message: z.string() });

export const TrackAnswer = z.object({
  success: z.literal(true),
  event_id: z.string(),
  message: z.string(),
  validation_warnings: z.array(IssueShape).optional(),
});

export const BatchAnswer = z.object({
  success: z.boolean().describe("Every event was accepted"),
  total: z.int(),
  succeeded: z.int(),
  failed: z.int(),
  queued: z.boolean().optional().describe("Edge only: some events wait in its durable queue (202)"),
  results: z.array(
    z.object({
      index: z.int(),
      success: z.boolean(),
      event_id: z.string().optional(),
      error_code: z.string().optional(),
      message: z.string().optional(),
      errors: z.array(FieldErrorShape).optional(),
      validation_warnings: z.array(IssueShape),
      retryable: z.boolean().optional().describe("Sending this event again may succeed"),
    }),
  ),
});

export const ValidateAnswer = z.object({
  success: z.boolean(),
  errors: z.array(FieldErrorShape),
  validation_warnings: z.array(IssueShape),
});

/** What a health answer is computed from: counters of one process (relay) or isolate (edge). */
export interface HealthCounts {
  /** Whether events reach Kafka now (at the edge: whether the last hand-over to the relay worked). */
  kafkaAvailable: boolean;
  received: number;
  accepted: number;
  stored: number;
  failed: number;
  refused: number;
  warned: number;
}

/** The health answer, on the edge and the relay alike. */
export const healthAnswer = (c: HealthCounts) => ({
  status: c.kafkaAvailable ? ("healthy" as const) : ("degraded" as const),
  kafka_available: c.kafkaAvailable,
  stats: {
    total_events: c.received,
    kafka_success: c.stored,
    kafka_failed: c.failed,
    rejected: c.refused,
    validation_warnings: c.warned,
    success_rate: c.received === 0 ? 1 : Number((c.accepted / c.received).toFixed(4)),
  },
});

export const HealthAnswer = z.object({
  status: z.enum(["healthy", "degraded"]).describe("degraded while events cannot reach Kafka now"),
  kafka_available: z.boolean(),
  stats: z.object({
    total_events: z.int().describe("Events received"),
    kafka_success: z.int().describe("Events written to Kafka (at the edge: handed to the relay)"),
    kafka_failed: z
      .int()
      .describe("Failed writes (at the edge: events queued because the relay did not answer)"),
    rejected: z.int().describe("Events refused"),
    validation_warnings: z.int().describe("Events accepted with warnings"),
    success_rate: z.number().describe("Accepted over received"),
  }),
  directory: z
    .object({
      loaded: z.boolean().describe("Every tenant's keys and configs are in memory"),
      age_seconds: z
        .number()
        .nullable()
        .describe("Since the relay last read the store's changes: how stale keys and configs may be"),
      store_latency_ms: z.number().nullable().describe("How long the last read of the store's changes took"),
    })
    .optional()
    .describe("The relay's tenant directory (absent at the edge)"),
});
