// The report's three charts, from one run's results: throughput against offered load with the targets
// and Kafka's own ceiling, latency at half load with the p99 targets, resident memory with its goals.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { barChart, fmt, type ReferenceLine, renderSvg, throughputChart } from "./charts.ts";
import { TARGETS } from "./goals.ts";
import type { SteppedResult } from "./load.ts";

/** Targets from the report's table, one line per distinct value, each naming the kinds of path it is for. */
const distinct = (
  pick: (target: (typeof TARGETS)[string]) => number,
  what: string,
  unit: string,
  colour: string,
): ReferenceLine[] =>
  [...new Set(Object.values(TARGETS).map(pick))].map((value) => ({
    value,
    colour,
    label: `${what} ${fmt(value)}${unit} (${[
      ...new Set(
        Object.values(TARGETS)
          .filter((t) => pick(t) === value)
          .map((t) => t.path),
      ),
    ].join(", ")})`,
  }));

/** Writes <stamp>-throughput.svg, <stamp>-latency.svg and <stamp>-memory.svg into `dir`. */
export const writeCharts = async (
  r: {
    paths: Record<string, SteppedResult>;
    memory: Record<string, { idle_mb: number; peak_mb: number }>;
    /** Kafka's ProducerPerformance in this run, records/s. */
    kafkaCeiling: number | undefined;
  },
  dir: string,
  stamp: string,
) => {
  const throughput = throughputChart(
    Object.entries(r.paths).map(([name, result]) => ({
      name,
      points: result.steps.map((s) => ({
        offered: s.offered_events_per_second,
        achieved: s.achieved_events_per_second,
      })),
    })),
    [
      ...distinct((t) => t.eps, "target", " ev/s", "#2ca02c"),
      ...(r.kafkaCeiling === undefined
        ? []
        : [
            { value: r.kafkaCeiling, label: `Kafka ceiling ${fmt(r.kafkaCeiling)} rec/s`, colour: "#d62728" },
          ]),
    ],
  );
  const latency = barChart(
    "Latency at half the sustained load",
    { x: "path", y: "milliseconds", scale: "log" },
    Object.entries(r.paths).flatMap(([label, p]) =>
      p.at_half === undefined
        ? []
        : [
            {
              label,
              values: [
                ["p50", p.at_half.p50_ms],
                ["p99", p.at_half.p99_ms],
                ...(p.at_half.p999_ms === undefined ? [] : [["p999", p.at_half.p999_ms]]),
              ] as [string, number][],
            },
          ],
    ),
    distinct((t) => t.p99, "p99 target", " ms", "#d62728"),
  );
  const memory = barChart(
    "Resident memory (RSS)",
    { x: "process", y: "MB", scale: "linear" },
    Object.entries(r.memory).map(([label, m]) => ({
      label,
      values: [
        ["idle", m.idle_mb],
        ["peak", m.peak_mb],
      ] as [string, number][],
    })),
    [
      { value: 150, label: "relay idle goal 150 MB", colour: "#1f77b4" },
      { value: 400, label: "relay peak goal 400 MB", colour: "#ff7f0e" },
    ],
  );
  for (const [name, spec] of Object.entries({ throughput, latency, memory })) {
    writeFileSync(join(dir, `${stamp}-${name}.svg`), await renderSvg(spec));
  }
};
