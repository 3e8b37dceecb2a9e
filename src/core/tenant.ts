import * as z from "zod";

/**
 * Tenant ids select a Kafka topic, so they are held to what keeps topics apart (docs/tenant-ids.md):
 * - Kafka allows [a-zA-Z0-9._-] up to 249 characters; we allow less.
 * - Lowercase only: topic names become directory names, and case-insensitive file systems would
 *   fold `Acme` and `acme` into one.
 * - No `.`: Kafka's metric names treat `.` and `_` alike, and `.`/`..` are path tricks.
 * - No `-`: our topic names use `-` as the separator (`user-behaviors-{tenant}-rejected`), so a tenant
 *   called `acme-rejected` would otherwise write into tenant `acme`'s quarantine topic.
 * - ASCII only, which also rules out Unicode look-alikes.
 */
export const TENANT_ID_PATTERN = /^[a-z0-9][a-z0-9_]{0,63}$/;

export const TenantId = z
  .string()
  .regex(
    TENANT_ID_PATTERN,
    "must be 1–64 characters of lowercase letters, digits and _, starting with a letter or digit",
  )
  .describe("Tenant (SaaS customer); selects the Kafka topic user-behaviors-{tenant_id}");

export const ScenarioId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, "must be 1–64 characters of letters, digits, _ and -")
  .describe("Scenario of the tenant, e.g. vlog_feed");

export const TOPIC_PREFIX = "user-behaviors-";

/** The topic a tenant's accepted events go to. The tenant id must already have passed {@link TenantId}. */
export const topicFor = (tenantId: string): string => `${TOPIC_PREFIX}${tenantId}`;

/** The topic where a tenant's rejected events are kept with the reason, so nothing vanishes silently. */
export const quarantineTopicFor = (tenantId: string): string => `${TOPIC_PREFIX}${tenantId}-rejected`;

export const isValidTenantId = (value: unknown): value is string =>
  typeof value === "string" && TENANT_ID_PATTERN.test(value);

/** The tenant whose event topic this is ({@link topicFor}); undefined for any other topic, quarantine topics included. */
export const tenantOfTopic = (topic: string): string | undefined => {
  const tenantId = topic.slice(TOPIC_PREFIX.length);
  return topic.startsWith(TOPIC_PREFIX) && isValidTenantId(tenantId) ? tenantId : undefined;
};
