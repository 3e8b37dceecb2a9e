import type { Message } from "@platformatic/kafka";
import type { Logger } from "pino";
import {
  type Issue,
  issue,
  quarantineRecord,
  readStoredEvent,
  tenantOfTopic,
  validateEvent,
} from "../core/index.ts";
import { type EventRecord, VALIDATED_BY_HEADER } from "../kafka/records.ts";
import type { QualityRecorder } from "../relay/quality.ts";
import type { AuditedConfigs } from "./configs.ts";
import type { AuditorMetrics } from "./metrics.ts";

/** The header a direct writer may set to be named in the audit; without it, it is `unknown`. */
const PRODUCER_HEADER = "producer";

/** What auditing a record needs, wherever the auditor runs. */
export interface AuditingOptions {
  /** Tracking configs: the current one of a scenario, and the version an event names. */
  configs: AuditedConfigs;
  quality: QualityRecorder;
  /**
   * Keeps records that are no event (a tombstone, not JSON, nested too deep, not an object) in their
   * tenants' `-rejected` topics, reason `unreadable`: the relay's write path, or a producer of its own.
   */
  quarantine(records: EventRecord[]): Promise<void>;
  log: Logger;
}

/** One event's verdict: re-checked against the config version it names (or the current one). */
const auditEvent = async (
  tenantId: string,
  event: Record<string, unknown>,
  configs: AuditedConfigs,
): Promise<{ ok: boolean; errors: Issue[]; warnings: Issue[] }> => {
  const scenario = typeof event.scenario_id === "string" ? event.scenario_id : undefined;
  const version = event.config_version;
  const config =
    scenario === undefined
      ? undefined
      : typeof version === "number" && Number.isInteger(version) && version > 0
        ? ((await configs.version(tenantId, scenario, version)) ??
          (await configs.current(tenantId, scenario)))
        : await configs.current(tenantId, scenario);
  const result = validateEvent(event, config);
  const errors = [...result.errors];
  if (event.tenant_id !== tenantId) {
    errors.push(issue("tenant_id", "invalid_value", `is not ${tenantId}, the tenant of the topic`));
  }
  return { ok: errors.length === 0, errors, warnings: result.warnings };
};

/**
 * Audits one record of a tenant's topic: its verdict counted in the quality figures by producer and in
 * the auditor's metrics; a record that is no event is set aside, counted as a failure of its producer.
 */
export const recordAuditor = (options: AuditingOptions, metrics: AuditorMetrics) => {
  const { log, quality } = options;

  /**
   * A record that is no event: counted by tenant and reason, copied to the tenant's `-rejected` topic
   * with why, and passed over like any other, so the reader goes on to the records behind it.
   */
  const setAside = async (
    tenantId: string,
    message: Message<string, string, string, string>,
    unreadable: { unreadable: string; message: string },
  ) => {
    metrics.unreadable.inc({ tenant: tenantId, reason: unreadable.unreadable });
    const where = `partition ${message.partition}, offset ${message.offset}`;
    const errors = [{ path: "", code: unreadable.unreadable, message: `${unreadable.message} (${where})` }];
    const record = quarantineRecord(
      tenantId,
      { reason: "unreadable", errors, event: message.value ?? null },
      Date.now(),
    );
    try {
      await options.quarantine([{ ...record, eventId: "" }]);
    } catch (error) {
      // Not kept twice is no loss: the record itself stays in its topic, and the count says it is there.
      metrics.quarantineFailures.inc();
      log.warn(
        { err: error, topic: message.topic, where },
        "auditor: could not quarantine an unreadable record",
      );
    }
  };

  return async (message: Message<string, string, string, string>) => {
    // Only tenants' event topics are read.
    const tenantId = tenantOfTopic(message.topic) as string;
    const by = message.headers.get(VALIDATED_BY_HEADER);
    const producer =
      by === undefined
        ? { name: message.headers.get(PRODUCER_HEADER) ?? "unknown", validated: false }
        : { name: by, validated: true };
    // The client leaves a tombstone's value undefined, whatever its type says.
    const read = readStoredEvent(message.value as string | undefined);
    if (read.ok) {
      const verdict = await auditEvent(tenantId, read.event, options.configs);
      quality.audited(tenantId, read.event, verdict, producer);
      metrics.records.inc({ verdict: verdict.ok ? "passed" : "failed" });
    } else {
      await setAside(tenantId, message, read);
      // In the tenant's figures as a record of its producer that fails the check.
      const verdict = { ok: false, errors: [issue("", "invalid_type", read.message)], warnings: [] };
      quality.audited(tenantId, { tenant_id: tenantId }, verdict, producer);
      metrics.records.inc({ verdict: "unreadable" });
    }
  };
};
