// The quality API's answer, made from a tenant's stored cells and field tallies of a window.
import * as z from "zod";
import { OTHER } from "./bounded-labels.ts";
import {
  ANSWER_BOUNDS_MS,
  addCounts,
  emptyCounts,
  HOUR_MS,
  hourOf,
  type IssueCell,
  type IssueTally,
  type QualityCell,
  type QualityCounts,
} from "./quality.ts";
import { ScenarioId, TenantId } from "./tenant.ts";

/** The quality API's windows, in hours. */
export const QUALITY_WINDOWS = { "1h": 1, "24h": 24, "7d": 168 } as const;
export type QualityWindow = keyof typeof QUALITY_WINDOWS;

const LAST_BOUND_MS = ANSWER_BOUNDS_MS[ANSWER_BOUNDS_MS.length - 1] as number;

/** The figures a tracking team watches per tenant, and their targets. */
export const QUALITY_TARGETS = {
  reported: 0.999,
  answer_p99_ms: 100,
  kafka_writes: 0.999,
  pass_rate: 0.95,
} as const;

const Rate = z.number().min(0).max(1).nullable();
const Totals = z.object({
  received: z.int(),
  accepted: z.int(),
  warned: z.int(),
  refused: z.int(),
  failed: z.int(),
});
const Target = z.object({
  value: z.number().nullable().describe("null when nothing was counted"),
  target: z.number(),
  met: z.boolean().nullable(),
});

/** The quality API's answer. */
export const QualityReport = z
  .object({
    tenant_id: TenantId,
    window: z.enum(Object.keys(QUALITY_WINDOWS) as [QualityWindow, ...QualityWindow[]]),
    from: z.iso.datetime().describe("Start of the first hour counted"),
    to: z.iso.datetime().describe("When the answer was made"),
    events: Totals.describe("Events the edge and the relay took from clients (not the auditor's)"),
    pass_rate: Rate.describe("accepted / (accepted + refused)"),
    warning_rate: Rate.describe("warned / (accepted + refused)"),
    refusal_rate: Rate.describe("refused / (accepted + refused)"),
    refusals_by_reason: z.record(z.string(), z.int()),
    targets: z
      .object({
        reported_successfully: Target.describe(
          "accepted / (accepted + failed): events acknowledged among those not refused for what they are",
        ),
        answer_p99_ms: Target.describe("99th percentile of the relay's answer time, as a bucket bound"),
        kafka_writes_successful: Target.describe(
          "(accepted - spooled) / accepted: accepted events Kafka took at once, not through the spool",
        ),
        validation_pass_rate: Target.describe("pass_rate"),
      })
      .describe("The four figures a tracking team watches, with their targets"),
    top_fields: z
      .array(
        z.object({
          path: z.string(),
          code: z.string(),
          severity: z.enum(["warning", "error"]),
          count: z.int(),
          example: z.object({ event_id: z.string().nullable(), event: z.unknown() }),
        }),
      )
      .describe("The fields that failed most, with one example event each"),
    by_scenario: z.array(Totals.extend({ scenario_id: z.union([ScenarioId, z.literal(OTHER)]) })),
    by_source: z.record(z.string(), Totals),
    direct_writers: z
      .array(
        z.object({
          producer: z.string(),
          validated: z
            .boolean()
            .describe("Written by one of our validating writers (relay, Kafka-direct tracker)"),
          received: z.int(),
          passed: z.int(),
          warned: z.int(),
          failed: z.int(),
        }),
      )
      .describe("What the auditor read back from the tenant's topic, by producer"),
    trend: z.array(
      Totals.extend({ hour: z.iso.datetime(), pass_rate: Rate }).describe("One hour of the window"),
    ),
  })
  .describe("Data quality of a tenant's events over a window");
export type QualityReport = z.infer<typeof QualityReport>;

/** The first hour a window counts: the hours that overlap the window's span up to `now`. */
export const windowStart = (window: QualityWindow, now: number): number =>
  hourOf(now - QUALITY_WINDOWS[window] * HOUR_MS + 1);

const ratio = (part: number, whole: number): number | null =>
  whole === 0 ? null : Number((part / whole).toFixed(6));

const totalsOf = (c: QualityCounts) => ({
  received: c.received,
  accepted: c.accepted,
  warned: c.warned,
  refused: c.refused,
  failed: c.failed,
});

/** The bucket bound under which 99 % of the calls were answered (beyond the last bound: that bound). */
const p99Of = (answers: readonly number[]): number | null => {
  const calls = answers.reduce((sum, n) => sum + n, 0);
  if (calls === 0) return null;
  let seen = 0;
  for (const [i, n] of answers.entries()) {
    seen += n;
    if (seen >= calls * 0.99) return ANSWER_BOUNDS_MS[i] ?? LAST_BOUND_MS;
  }
  return null;
};

const target = (value: number | null, goal: number, atLeast: boolean) => ({
  value,
  target: goal,
  met: value === null ? null : atLeast ? value >= goal : value <= goal,
});

/** How many field problems the report lists. */
export const TOP_FIELDS = 10;

/** The quality report of a tenant from its stored cells and field tallies of the window. */
export const qualityReportOf = (input: {
  tenantId: string;
  window: QualityWindow;
  now: number;
  cells: readonly QualityCell[];
  issues: readonly IssueCell[];
}): QualityReport => {
  const from = windowStart(input.window, input.now);
  const cells = input.cells.filter((cell) => cell.hour >= from);
  const clients = cells.filter((cell) => cell.source !== "audit");
  const all = clients.reduce((sum, cell) => addCounts(sum, cell.counts), emptyCounts());
  const grouped = <K>(list: readonly QualityCell[], key: (cell: QualityCell) => K) => {
    const groups = new Map<K, QualityCounts>();
    for (const cell of list) {
      const k = key(cell);
      groups.set(k, addCounts(groups.get(k) ?? emptyCounts(), cell.counts));
    }
    return groups;
  };
  const checked = all.accepted + all.refused;
  const fields = new Map<string, IssueTally>();
  for (const issue of input.issues) {
    if (issue.hour < from || issue.source === "audit") continue;
    const key = `${issue.severity} ${issue.code} ${issue.path}`;
    const seen = fields.get(key);
    if (seen === undefined) fields.set(key, { ...issue });
    else seen.count += issue.count;
  }
  const hours = [...grouped(clients, (cell) => cell.hour)].sort(([a], [b]) => a - b);
  return {
    tenant_id: input.tenantId,
    window: input.window,
    from: new Date(from).toISOString(),
    to: new Date(input.now).toISOString(),
    events: totalsOf(all),
    pass_rate: ratio(all.accepted, checked),
    warning_rate: ratio(all.warned, checked),
    refusal_rate: ratio(all.refused, checked),
    refusals_by_reason: all.reasons,
    targets: {
      reported_successfully: target(
        ratio(all.accepted, all.accepted + all.failed),
        QUALITY_TARGETS.reported,
        true,
      ),
      answer_p99_ms: target(p99Of(all.answers), QUALITY_TARGETS.answer_p99_ms, false),
      kafka_writes_successful: target(
        ratio(Math.max(0, all.accepted - all.spooled), all.accepted),
        QUALITY_TARGETS.kafka_writes,
        true,
      ),
      validation_pass_rate: target(ratio(all.accepted, checked), QUALITY_TARGETS.pass_rate, true),
    },
    top_fields: [...fields.values()]
      .sort((a, b) => b.count - a.count || a.path.localeCompare(b.path))
      .slice(0, TOP_FIELDS)
      .map(({ path, code, severity, count, example }) => ({ path, code, severity, count, example })),
    by_scenario: [...grouped(clients, (cell) => cell.scenario)]
      .filter(([, counts]) => counts.received > 0)
      .sort(([, a], [, b]) => b.received - a.received)
      .map(([scenario, counts]) => ({ scenario_id: scenario, ...totalsOf(counts) })),
    by_source: Object.fromEntries(
      [...grouped(clients, (cell) => cell.source)].map(([source, counts]) => [source, totalsOf(counts)]),
    ),
    direct_writers: [
      ...grouped(
        cells.filter((cell) => cell.source === "audit"),
        (cell) => `${cell.validated ? "1" : "0"}${cell.producer}`,
      ),
    ]
      .sort(([, a], [, b]) => b.received - a.received)
      .map(([key, c]) => ({
        producer: key.slice(1),
        validated: key.startsWith("1"),
        received: c.received,
        passed: c.accepted,
        warned: c.warned,
        failed: c.refused,
      })),
    trend: hours.map(([hour, counts]) => ({
      hour: new Date(hour).toISOString(),
      ...totalsOf(counts),
      pass_rate: ratio(counts.accepted, counts.accepted + counts.refused),
    })),
  };
};
