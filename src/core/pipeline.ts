import { type EventRefusal, forbiddenEvent, invalidEvent } from "./answers.ts";
import { claimedTenantId, mayWriteTenant } from "./credentials.ts";
import type { BehaviorEvent } from "./event.ts";
import type { Issue } from "./field-spec.ts";
import type { Environment } from "./ids.ts";
import { isValidTenantId } from "./tenant.ts";
import type { TrackingConfig } from "./tracking-config.ts";
import { encodeEvent, validateEvent } from "./validate.ts";

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
 * The ingest check of one event, the same on the edge, the relay and the Kafka-direct tracker:
 * the writer may write the event's tenant (`writerTenant` null: any tenant) → the event validates
 * against its tenant's config for its scenario → it encodes within the size limit. Never throws.
 */
export const checkEvent = async (
  input: unknown,
  writerTenant: string | null,
  configFor: ConfigLookup,
  env?: Environment,
): Promise<CheckedEvent | EventRefusal> => {
  const tenant = claimedTenantId(input);
  if (tenant !== undefined && !mayWriteTenant(writerTenant, tenant)) return forbiddenEvent();
  const scenario = (input as { scenario_id?: unknown } | null)?.scenario_id;
  const config =
    tenant !== undefined && isValidTenantId(tenant) && typeof scenario === "string"
      ? await configFor(tenant, scenario)
      : undefined;
  const result = validateEvent(input, config, env);
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
