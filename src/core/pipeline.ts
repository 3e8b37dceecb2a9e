import {
  type EventOutcome,
  type EventRefusal,
  fieldErrorsOf,
  forbiddenEvent,
  invalidEvent,
} from "./answers.ts";
import { claimedTenantId, mayWriteTenant } from "./credentials.ts";
import { encodeEvent } from "./encode.ts";
import type { BehaviorEvent } from "./event.ts";
import type { Issue } from "./field-spec.ts";
import type { Environment } from "./ids.ts";
import { CONTENT_REFUSALS, type Refusal } from "./quarantine.ts";
import { isValidTenantId, topicFor } from "./tenant.ts";
import type { TrackingConfig } from "./tracking-config.ts";
import { type ValidateOptions, validateEvent } from "./validate.ts";

/** An event that passed every check: normalised, with the JSON written to Kafka. */
export interface CheckedEvent {
  ok: true;
  event: BehaviorEvent;
  json: string;
  warnings: Issue[];
}

/** The tracking config of a tenant's scenario, from wherever the caller keeps configs. */
export type ConfigLookup = (
  tenantId: string,
  scenarioId: string,
) => TrackingConfig | undefined | Promise<TrackingConfig | undefined>;

/**
 * The authorize step of a request, before anything is charged: how many of its events claim each
 * tenant the writer may write (what each tenant's quota is charged), and how many claim a tenant it
 * may not (`forbidden`: charged to the caller alone, never to the tenant they name). Events of no or
 * an invalid tenant id name nobody to charge; they cost the caller and fail validation.
 */
export const authorizeEvents = (
  inputs: readonly unknown[],
  writerTenant: string | null,
): { byTenant: Map<string, number>; forbidden: number } => {
  const byTenant = new Map<string, number>();
  let forbidden = 0;
  for (const input of inputs) {
    const tenant = claimedTenantId(input);
    if (tenant === undefined) continue;
    if (!mayWriteTenant(writerTenant, tenant)) forbidden++;
    else if (isValidTenantId(tenant)) byTenant.set(tenant, (byTenant.get(tenant) ?? 0) + 1);
  }
  return { byTenant, forbidden };
};

/** Whether an event is one its writer may write (or names no tenant, and fails validation instead). */
export const isAuthorizedEvent = (input: unknown, writerTenant: string | null): boolean => {
  const tenant = claimedTenantId(input);
  return tenant === undefined || mayWriteTenant(writerTenant, tenant);
};

/** The tenant and scenario whose config an event is checked against, when it names ones the writer may write. */
const configRefOf = (input: unknown, writerTenant: string | null): [string, string] | undefined => {
  const tenant = claimedTenantId(input);
  if (tenant === undefined || !isValidTenantId(tenant) || !mayWriteTenant(writerTenant, tenant)) return;
  const scenario = (input as { scenario_id?: unknown }).scenario_id;
  return typeof scenario === "string" ? [tenant, scenario] : undefined;
};

/**
 * The ingest check of one event, the same on the edge, the relay and the Kafka-direct tracker:
 * the writer may write the event's tenant (`writerTenant` null: any tenant) → the event validates
 * against `config`, its tenant's config for its scenario → it encodes within the size limit. Never
 * throws.
 */
export const checkEventWith = (
  input: unknown,
  writerTenant: string | null,
  config: TrackingConfig | undefined,
  env?: Environment,
  options?: ValidateOptions,
): CheckedEvent | EventRefusal => {
  const tenant = claimedTenantId(input);
  if (tenant !== undefined && !mayWriteTenant(writerTenant, tenant)) return forbiddenEvent();
  const result = validateEvent(input, config, env, options);
  if (!result.ok) return invalidEvent(result.errors, result.warnings);
  const encoded = encodeEvent(result.event);
  if (!encoded.ok) {
    return {
      ok: false,
      code: encoded.code,
      message: encoded.error.message,
      errors: [encoded.error],
      warnings: result.warnings,
    };
  }
  return { ok: true, event: result.event, json: encoded.json, warnings: result.warnings };
};

/** {@link checkEventWith} with the event's config looked up by `configFor`. */
export const checkEvent = async (
  input: unknown,
  writerTenant: string | null,
  configFor: ConfigLookup,
  env?: Environment,
  options?: ValidateOptions,
): Promise<CheckedEvent | EventRefusal> => {
  const ref = configRefOf(input, writerTenant);
  return checkEventWith(input, writerTenant, ref && (await configFor(...ref)), env, options);
};

/**
 * {@link checkEvent} for each event of a batch, in order. Each distinct config is looked up once and
 * the events are then checked without waiting: per-event promises were a tenth of a batch's cost.
 */
export const checkEvents = async (
  inputs: readonly unknown[],
  writerTenant: string | null,
  configFor: ConfigLookup,
  env?: Environment,
  options?: ValidateOptions,
): Promise<(CheckedEvent | EventRefusal)[]> => {
  const refs = inputs.map((input) => configRefOf(input, writerTenant));
  // A tenant id holds no "/", so the first one separates it from the scenario.
  const ids = refs.map((ref) => ref?.join("/"));
  const configs = new Map<string | undefined, TrackingConfig | undefined>();
  for (const [i, ref] of refs.entries()) {
    if (ref !== undefined && !configs.has(ids[i])) configs.set(ids[i], await configFor(...ref));
  }
  return inputs.map((input, i) => checkEventWith(input, writerTenant, configs.get(ids[i]), env, options));
};

/** What an accepted event is written as: a record of its tenant's topic, keyed by its user. */
export interface EventRecordOf {
  topic: string;
  key: string;
  value: string;
  eventId: string;
}

/**
 * The settle stage of a checked batch, the same on the relay and the Kafka-direct tracker: each event's
 * outcome, the records of the accepted ones, and the refusals to keep in their tenant's `-rejected`
 * topic (those refused for what they are; not for who sent them, nor when).
 */
export interface Settlement {
  outcomes: EventOutcome[];
  records: EventRecordOf[];
  /** The index in `outcomes` of each record. */
  recordOutcome: number[];
  refusals: Refusal[];
}

export const settle = (
  inputs: readonly unknown[],
  checked: readonly (CheckedEvent | EventRefusal)[],
): Settlement => {
  const settlement: Settlement = { outcomes: [], records: [], recordOutcome: [], refusals: [] };
  for (const [i, check] of checked.entries()) {
    if (!check.ok) {
      settlement.outcomes.push(check);
      if (CONTENT_REFUSALS.has(check.code))
        settlement.refusals.push({
          reason: check.code,
          errors: fieldErrorsOf(check.errors),
          event: inputs[i],
        });
      continue;
    }
    const { event } = check;
    settlement.recordOutcome.push(settlement.outcomes.length);
    settlement.records.push({
      topic: topicFor(event.tenant_id),
      key: event.user_id,
      value: check.json,
      eventId: event.event_id,
    });
    settlement.outcomes.push({ ok: true, eventId: event.event_id, warnings: check.warnings });
  }
  return settlement;
};

/**
 * The outcomes after a write of the settlement's records that failed for the topics in `unwritten`
 * (undefined: for all): those topics' events are refused, retryably (`sink_unavailable`); the others
 * are durable and stay accepted, since a retry of them would write them twice.
 */
export const refuseUnwritten = (
  { outcomes, records, recordOutcome }: Settlement,
  unwritten: ReadonlySet<string> | undefined,
  message: string,
): EventOutcome[] => {
  const settled = [...outcomes];
  for (const [n, i] of recordOutcome.entries()) {
    if (unwritten !== undefined && !unwritten.has((records[n] as EventRecordOf).topic)) continue;
    const { warnings } = settled[i] as EventOutcome;
    settled[i] = { ok: false, code: "sink_unavailable", message, errors: [], warnings };
  }
  return settled;
};
