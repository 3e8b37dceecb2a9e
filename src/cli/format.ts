import { type Issue, type TrackingConfig, validateEvent } from "../core/index.ts";
import type { TailRecord } from "../kafka/tail.ts";

interface Shown {
  tenant_id?: string;
  scenario_id?: string;
  user_id?: string;
  item_id?: string;
  action_type?: string;
}

const issues = (list: readonly Issue[] | undefined) =>
  (list ?? []).map((i) => `${i.path || "(event)"}: ${i.message}`).join("; ");

/**
 * One record as `tail` shows it: a line for people (time it landed, user, item, action, scenario, and
 * the warnings it has against its config today, or why it was refused), or one JSON object per line
 * for scripts. Undefined when `scenario` filters it out.
 */
export const formatRecord = (
  record: TailRecord,
  options: { configs: TrackingConfig[] | undefined; scenario: string | undefined; json: boolean },
): string | undefined => {
  let parsed: { reason?: string; errors?: Issue[]; event?: unknown } & Shown;
  try {
    parsed = JSON.parse(record.value);
  } catch {
    parsed = {};
  }
  const rejected = record.topic.endsWith("-rejected");
  const event = (rejected ? parsed.event : parsed) as Shown | undefined;
  if (options.scenario !== undefined && event?.scenario_id !== options.scenario) return undefined;
  const config = options.configs?.find((c) => c.scenario_id === event?.scenario_id);
  const warnings =
    !rejected && options.configs ? validateEvent(structuredClone(event), config).warnings : undefined;
  const landed = new Date(record.timestamp);
  if (options.json) {
    return JSON.stringify({
      topic: record.topic,
      partition: record.partition,
      offset: String(record.offset),
      landed_at: landed.toISOString(),
      ...(rejected ? { reason: parsed.reason, errors: parsed.errors } : {}),
      ...(warnings ? { warnings } : {}),
      event: event ?? record.value,
    });
  }
  const what = [event?.user_id, event?.item_id, event?.action_type, event?.scenario_id]
    .map((v) => (typeof v === "string" ? v : "?"))
    .join("  ");
  const time = landed.toISOString().slice(11, 23);
  if (rejected) return `${time}  REJECTED ${parsed.reason ?? "?"}  ${what}  ${issues(parsed.errors)}`;
  const warned = warnings && warnings.length > 0 ? `  ⚠ ${issues(warnings)}` : "";
  return `${time}  ${what}${warned}`;
};
