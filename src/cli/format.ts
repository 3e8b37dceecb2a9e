import type { Issue, QualityReport } from "../core/index.ts";
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

const percent = (rate: number | null) => (rate === null ? "–" : `${+(rate * 100).toFixed(2)} %`);
const mark = (met: boolean | null) => (met === null ? " " : met ? "✓" : "✗");

/** A quality report as `quality` prints it for people. */
export const formatQuality = (r: QualityReport): string => {
  const e = r.events;
  const t = r.targets;
  const lines = [
    `${r.tenant_id}, ${r.window} (from ${r.from.slice(0, 16).replace("T", " ")} UTC)`,
    `events    ${e.received} received, ${e.accepted} accepted (${e.warned} with warnings), ${e.refused} refused, ${e.failed} not taken (retried)`,
    `rates     pass ${percent(r.pass_rate)}, warnings ${percent(r.warning_rate)}, refused ${percent(r.refusal_rate)}`,
    "targets",
    `  ${mark(t.reported_successfully.met)} reported successfully  ${percent(t.reported_successfully.value)} (≥ ${percent(t.reported_successfully.target)})`,
    `  ${mark(t.answer_p99_ms.met)} answer p99             ${t.answer_p99_ms.value === null ? "–" : `≤ ${t.answer_p99_ms.value} ms`} (≤ ${t.answer_p99_ms.target} ms)`,
    `  ${mark(t.kafka_writes_successful.met)} Kafka writes           ${percent(t.kafka_writes_successful.value)} (≥ ${percent(t.kafka_writes_successful.target)})`,
    `  ${mark(t.validation_pass_rate.met)} validation pass rate   ${percent(t.validation_pass_rate.value)} (≥ ${percent(t.validation_pass_rate.target)})`,
  ];
  if (r.top_fields.length > 0) {
    lines.push("fields that fail most");
    for (const f of r.top_fields) {
      lines.push(
        `  ${String(f.count).padStart(7)}  ${f.severity.padEnd(7)}  ${f.path || "(event)"}  ${f.code}  e.g. ${f.example.event_id ?? "(no event_id)"}`,
      );
    }
  }
  if (r.direct_writers.length > 0) {
    lines.push("in the topic, by producer (auditor)");
    for (const w of r.direct_writers) {
      lines.push(
        `  ${w.producer}${w.validated ? "" : " (not validated by us)"}: ${w.received} read, ${w.passed} passed, ${w.warned} with warnings, ${w.failed} failed`,
      );
    }
  }
  return lines.join("\n");
};
