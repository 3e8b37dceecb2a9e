import type { Issue } from "../core/index.ts";
import type { LiveEvent } from "../kafka/tail.ts";

const issues = (list: readonly Issue[] | undefined) =>
  (list ?? []).map((i) => `${i.path || "(event)"}: ${i.message}`).join("; ");

/**
 * One live event as `tail` prints it for people: the time it landed (UTC), user, item, action,
 * scenario, and its warnings, or why it was refused.
 */
export const formatLiveEvent = (live: LiveEvent): string => {
  const event = (live.event ?? {}) as Record<string, unknown>;
  const what = [event.user_id, event.item_id, event.action_type, event.scenario_id]
    .map((v) => (typeof v === "string" ? v : "?"))
    .join("  ");
  const time = live.landed_at.slice(11, 23);
  if (live.kind === "rejected") return `${time}  REJECTED ${live.reason}  ${what}  ${issues(live.errors)}`;
  const warned = live.warnings && live.warnings.length > 0 ? `  ⚠ ${issues(live.warnings)}` : "";
  return `${time}  ${what}${warned}`;
};
