// The alert rules and the Grafana dashboard name only metrics the relay, the auditor and the edge
// export: a renamed metric would otherwise leave an alert that can never fire.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { auditorMetrics } from "../../../src/auditor/metrics.ts";
import { EdgeMetrics } from "../../../src/edge/metrics.ts";
import { createMetrics } from "../../../src/relay/metrics.ts";
import { QualityRecorder } from "../../../src/relay/quality.ts";

const root = join(import.meta.dirname, "..", "..", "..");
const read = (path: string) => readFileSync(join(root, path), "utf8");

/** Every metric name the system exports. */
const exported = async (): Promise<Set<string>> => {
  const { registry } = createMetrics();
  new QualityRecorder({ registry, log: pino({ level: "silent" }) });
  auditorMetrics(registry);
  const names = (await registry.getMetricsAsJSON()).map((m) => m.name);
  const edge = [...new EdgeMetrics().render().matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1] as string);
  return new Set([...names, ...edge]);
};

/** The metric names a PromQL text uses (ours all start with one of these prefixes). */
const used = (promql: string) =>
  new Set(
    [...promql.matchAll(/\b(?:relay|edge|quality|auditor)_[a-z0-9_]+/g)].map((m) =>
      m[0].replace(/_(bucket|sum|count)$/, ""),
    ),
  );

describe("monitoring", () => {
  it("alerts only on metrics that exist", async () => {
    const names = await exported();
    const rules = read("deploy/prometheus/alerts.yml");
    expect(used(rules).size).toBeGreaterThanOrEqual(8);
    const missing = [...used(rules)].filter((name) => !names.has(name));
    expect(missing).toEqual([]);
    // The four targets, the spool, dead letters and the auditor (behind, stalled, reading records that
    // are no event) each have an alert.
    for (const alert of [
      "EventsReportedBelowTarget",
      "AnswerP99AboveTarget",
      "KafkaWritesBelowTarget",
      "ValidationPassRateBelowTarget",
      "SpoolGrowing",
      "DeadLetters",
      "DeadLettersDropped",
      "AuditorLagging",
      "AuditorStalled",
      "AuditorUnreadableRecords",
    ]) {
      expect(rules).toContain(`alert: ${alert}`);
    }
  });

  it("draws only metrics that exist in the Grafana dashboard", async () => {
    const names = await exported();
    const dashboard = JSON.parse(read("deploy/grafana/quality-dashboard.json")) as {
      panels: { title: string; targets: { expr: string }[] }[];
    };
    const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr));
    expect(exprs.length).toBeGreaterThanOrEqual(10);
    const missing = exprs.flatMap((expr) => [...used(expr)].filter((name) => !names.has(name)));
    expect(missing).toEqual([]);
  });
});
