// The benchmark report: Markdown with SVG charts, from one run's results only.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { AuditorResult } from "./auditor.ts";
import type { CpuPhase } from "./efficiency.ts";
import { batchedLeastOf, beyondKafkaOf, type Efficiency, goalsOf } from "./goals.ts";
import type { Step, SteppedResult } from "./load.ts";

export interface BenchResult {
  date: string;
  machine: Record<string, unknown>;
  method: { step_seconds: number; half_seconds?: number; record_bytes: number; note: string };
  duration_seconds: number;
  efficiency?: Efficiency;
  paths: Record<string, SteppedResult>;
  ceilings: Record<string, unknown>;
  peers: Record<string, unknown>;
  memory: Record<string, { idle_mb: number; peak_mb: number }>;
  core_validation?: unknown;
  browser_tracker?: unknown;
  auditor?: AuditorResult;
}

const COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"];
const W = 760;
const H = 420;
const M = { left: 72, right: 240, top: 48, bottom: 78 };
const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");
const fmt = (n: number) => (n >= 1000 ? `${+(n / 1000).toFixed(1)}k` : `${+n.toFixed(1)}`);

/** The edge beside a floor that makes its hop too: bare Hono in workerd handing each call on with one fetch. */
const edgeHopLines = (efficiency: Efficiency | undefined): string[] => {
  const p = efficiency?.phases ?? {};
  const edge = p.edge_single?.us_per_event.edge;
  const bare = p.floor_hono_workerd_single?.us_per_event.floor;
  const hop = p.floor_hono_workerd_fetch_single?.us_per_event.floor;
  if (edge === undefined || bare === undefined || hop === undefined) return [];
  return [
    `The edge's hop: every edge call is handed on to the relay. Bare Hono in workerd doing the same with one \`fetch\` to a server that answers at once costs ${hop} µs per call (${+(hop / bare).toFixed(2)}× bare Hono in workerd, ${bare} µs); the edge costs ${edge} µs, ${+(edge / hop).toFixed(2)}× that floor.`,
    "",
  ];
};

/** A horizontal line across the plot for a target or a ceiling, labelled just above its right end. */
export interface ReferenceLine {
  value: number;
  label: string;
  colour: string;
}

/** Powers of ten covering [lo, hi], for log axes. */
const decades = (lo: number, hi: number) => {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) out.push(10 ** e);
  return out;
};

/** Round steps from 0 to at least `hi`, at most about eight, for linear axes. */
const linearTicks = (hi: number) => {
  const step =
    [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000].find((s) => hi / s <= 8) ?? 10_000;
  return Array.from({ length: Math.ceil(hi / step) + 1 }, (_, i) => i * step);
};

/** A scale from values to the plot's y pixels: log (decades) or linear (from 0). */
const yScale = (values: number[], scale: "log" | "linear") => {
  const positive = values.filter((v) => v > 0);
  const ticks =
    scale === "log"
      ? decades(Math.max(0.1, Math.min(...positive)), Math.max(...positive))
      : linearTicks(Math.max(...values));
  const [t0, t1] = [ticks[0] as number, ticks.at(-1) as number];
  const at =
    scale === "log"
      ? (v: number) => (Math.log10(Math.max(v, t0)) - Math.log10(t0)) / (Math.log10(t1) - Math.log10(t0))
      : (v: number) => (v - t0) / (t1 - t0);
  return { ticks, y: (v: number) => H - M.bottom - at(v) * (H - M.top - M.bottom) };
};

const svg = (body: string, title: string) =>
  `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">
<title>${esc(title)}</title><rect width="${W}" height="${H}" fill="white"/>
<text x="${M.left}" y="26" font-size="15" font-weight="bold">${esc(title)}</text>
${body}
</svg>
`;

const axisTitles = (x: string, y: string) =>
  `<text x="${(M.left + W - M.right) / 2}" y="${H - 10}" text-anchor="middle">${esc(x)}</text>` +
  `<text transform="rotate(-90)" x="${-(H - M.bottom + M.top) / 2}" y="16" text-anchor="middle">${esc(y)}</text>`;

/** The reference lines across the plot; their labels are in the legend, where they cannot collide. */
const referenceLines = (lines: ReferenceLine[], y: (v: number) => number) =>
  lines
    .map(
      (l) =>
        `<line x1="${M.left}" y1="${y(l.value)}" x2="${W - M.right}" y2="${y(l.value)}" stroke="${l.colour}" stroke-width="1.5" stroke-dasharray="6 3"><title>${esc(l.label)}</title></line>`,
    )
    .join("\n");

/** The series, one swatch each, then the reference lines, one dashed sample each. */
const legend = (names: string[], lines: ReferenceLine[] = []) => {
  const x = W - M.right + 12;
  const row = (i: number) => M.top + i * 18;
  return [
    ...names.map(
      (name, i) =>
        `<rect x="${x}" y="${row(i)}" width="10" height="10" fill="${COLOURS[i % COLOURS.length]}"/><text x="${x + 16}" y="${row(i) + 9}">${esc(name)}</text>`,
    ),
    ...lines.map((l, i) => {
      const r = row(names.length + 1 + i);
      return `<line x1="${x}" y1="${r + 5}" x2="${x + 12}" y2="${r + 5}" stroke="${l.colour}" stroke-width="1.5" stroke-dasharray="4 2"/><text x="${x + 16}" y="${r + 9}" font-size="10">${esc(l.label)}</text>`;
    }),
  ].join("");
};

/**
 * Achieved vs offered events/s per path, log–log, with the y = x line (everything offered was carried)
 * and the reference lines (targets, Kafka's own ceiling).
 */
const throughputChart = (paths: Record<string, SteppedResult>, lines: ReferenceLine[]) => {
  const series = Object.entries(paths);
  const all = [
    ...series.flatMap(([, r]) =>
      r.steps.flatMap((s) => [s.offered_events_per_second, s.achieved_events_per_second]),
    ),
    ...lines.map((l) => l.value),
  ];
  const { ticks, y } = yScale(all, "log");
  const [t0, t1] = [ticks[0] as number, ticks.at(-1) as number];
  const x = (v: number) =>
    M.left +
    ((Math.log10(Math.max(v, t0)) - Math.log10(t0)) / (Math.log10(t1) - Math.log10(t0))) *
      (W - M.left - M.right);
  let body = ticks
    .map(
      (t) =>
        `<line x1="${x(t)}" y1="${M.top}" x2="${x(t)}" y2="${H - M.bottom}" stroke="#eee"/><text x="${x(t)}" y="${H - M.bottom + 14}" text-anchor="middle">${fmt(t)}</text>` +
        `<line x1="${M.left}" y1="${y(t)}" x2="${W - M.right}" y2="${y(t)}" stroke="#eee"/><text x="${M.left - 6}" y="${y(t) + 4}" text-anchor="end">${fmt(t)}</text>`,
    )
    .join("\n");
  body += `<line x1="${x(t0)}" y1="${y(t0)}" x2="${x(t1)}" y2="${y(t1)}" stroke="#bbb" stroke-dasharray="4 4"/>`;
  body += axisTitles("offered load, events/s (open loop, log scale)", "achieved events/s (log scale)");
  body += referenceLines(lines, y);
  series.forEach(([, r], i) => {
    const colour = COLOURS[i % COLOURS.length];
    const points = r.steps
      .map((s) => `${x(s.offered_events_per_second)},${y(s.achieved_events_per_second)}`)
      .join(" ");
    body += `<polyline points="${points}" fill="none" stroke="${colour}" stroke-width="2"/>`;
    body += r.steps
      .map(
        (s) =>
          `<circle cx="${x(s.offered_events_per_second)}" cy="${y(s.achieved_events_per_second)}" r="3" fill="${colour}"><title>${esc(`${fmt(s.achieved_events_per_second)} of ${fmt(s.offered_events_per_second)} ev/s`)}</title></circle>`,
      )
      .join("");
  });
  body += legend(
    series.map(([name]) => name),
    lines,
  );
  return svg(body, "Throughput against offered load");
};

/**
 * Grouped bars, one group per label and one bar per series, each value written upright above its bar
 * (or inside it, near the top) so that neighbours never overlap; reference lines across.
 */
const barChart = (
  title: string,
  axes: { x: string; y: string; scale: "log" | "linear" },
  groups: { label: string; values: [string, number][] }[],
  lines: ReferenceLine[] = [],
) => {
  const values = [...groups.flatMap((g) => g.values.map(([, v]) => v)), ...lines.map((l) => l.value)];
  const { ticks, y } = yScale(values, axes.scale);
  const groupWidth = (W - M.left - M.right) / Math.max(1, groups.length);
  const names = [...new Set(groups.flatMap((g) => g.values.map(([n]) => n)))];
  const barWidth = (groupWidth * 0.8) / Math.max(1, names.length);
  let body = ticks
    .map(
      (t) =>
        `<line x1="${M.left}" y1="${y(t)}" x2="${W - M.right}" y2="${y(t)}" stroke="#eee"/><text x="${M.left - 6}" y="${y(t) + 4}" text-anchor="end">${fmt(t)}</text>`,
    )
    .join("\n");
  body += axisTitles(axes.x, `${axes.y}${axes.scale === "log" ? " (log scale)" : ""}`);
  groups.forEach((g, gi) => {
    const gx = M.left + gi * groupWidth + groupWidth * 0.1;
    g.values.forEach(([name, v]) => {
      const ni = names.indexOf(name);
      const bx = gx + ni * barWidth;
      const cx = bx + (barWidth - 2) / 2;
      const top = y(v);
      body += `<rect x="${bx}" y="${top}" width="${barWidth - 2}" height="${H - M.bottom - top}" fill="${COLOURS[ni % COLOURS.length]}"><title>${esc(`${g.label} ${name}: ${v}`)}</title></rect>`;
      const inside = top - 34 < M.top;
      body += `<text transform="rotate(-90 ${cx + 3} ${inside ? top + 4 : top - 3})" x="${cx + 3}" y="${inside ? top + 4 : top - 3}" text-anchor="${inside ? "end" : "start"}" font-size="9" fill="${inside ? "white" : "#333"}">${fmt(v)}</text>`;
    });
    const lx = gx + groupWidth * 0.4;
    const ly = H - M.bottom + 12;
    body += `<text x="${lx}" y="${ly}" transform="rotate(-20 ${lx} ${ly})" text-anchor="end" font-size="10">${esc(g.label)}</text>`;
  });
  body += referenceLines(lines, y);
  body += legend(names, lines);
  return svg(body, title);
};

/** The latency and throughput targets per path. */
const TARGETS: Record<string, { path: string; p50: number; p99: number; p999: number; eps: number }> = {
  edge_http_single: { path: "HTTP API", p50: 50, p99: 100, p999: 200, eps: 5000 },
  edge_http_batched: { path: "HTTP API", p50: 50, p99: 100, p999: 200, eps: 5000 },
  relay_rest_single: { path: "HTTP API", p50: 50, p99: 100, p999: 200, eps: 5000 },
  relay_rest_batched: { path: "HTTP API", p50: 50, p99: 100, p999: 200, eps: 5000 },
  relay_grpc_single: { path: "gRPC", p50: 20, p99: 50, p999: 100, eps: 10_000 },
  relay_grpc_batched: { path: "gRPC", p50: 20, p99: 50, p999: 100, eps: 10_000 },
  kafka_direct: { path: "Kafka direct", p50: 5, p99: 15, p999: 30, eps: 50_000 },
};

const ratio = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined || b === 0 ? "–" : (a / b).toFixed(2);
const lat = (s: Step | undefined) =>
  s === undefined ? "–" : `${s.p50_ms} / ${s.p99_ms} / ${s.p999_ms ?? "–"}`;
const mark = (met: boolean | undefined) => (met === undefined ? "–" : met ? "✅" : "❌");

/** One row of the CPU table: a phase's figures for each process it measured. */
const cpuRow = (name: string, phase: CpuPhase) =>
  `| ${name} | ${Object.entries(phase.us_per_event)
    .map(([process, us]) => `${process} ${us} (${Math.round(1e6 / Math.max(us, 0.1))} ev/s per core)`)
    .join(
      ", ",
    )} | ${phase.events_per_second} | ${phase.p99_ms} | ${phase.generator_us_per_event} | ${phase.generator_bound ? "⚠ generator-bound" : ""} |`;
const num = (v: unknown, key: string) => (v as Record<string, number> | undefined)?.[key];

export const writeReport = (r: BenchResult, dir: string, stamp: string) => {
  const sustained = (name: string) => r.paths[name]?.sustained?.achieved_events_per_second;
  const pp = num(r.ceilings.kafka_producer_performance, "records_per_second");
  const floor = r.ceilings.kafka_latency_at_relay_half_load as { rate: number; p99_ms: number } | undefined;
  const lines: string[] = [
    `# Benchmark report, ${r.date}`,
    "",
    `Every number below comes from this one run of \`npm run bench\` (${Math.round(r.duration_seconds / 60)} min) on one machine that runs Kafka, the relay, the edge (workerd), the load generators and the peers together: ${Object.entries(
      r.machine,
    )
      .map(([k, v]) => `${k} ${v}`)
      .join(
        ", ",
      )}. Load: ${r.method.note}; ${r.method.step_seconds} s per step; ${r.method.record_bytes}-byte events. Methodology and what limits each path: \`docs/performance.md\`.`,
    "",
    "## Goals",
    "",
    `Each a ratio of two figures from this run. CPU figures are CPU time from /proc over a phase divided by the events acknowledged in it; ${r.efficiency?.cpu_list ? `the relay, the edge (workerd) and each floor were pinned to CPU ${r.efficiency.cpu_list} with \`taskset\`, while Kafka and the generators used the other cores` : "nothing was pinned (taskset was not usable here)"}.`,
    "",
    "| goal | ours | against | ratio | |",
    "|---|---|---|---|---|",
    ...goalsOf(r).map((g) => `| ${g.goal} | ${g.ours} | ${g.against} | ${g.ratio ?? "–"} | ${mark(g.met)} |`),
    "",
    "Where the CPU goes beyond Kafka: each path's CPU per event less the raw producer's for the same kind of write (one record per request for single calls, requests of 1,000 for batched ones), beside the floor that makes the same call and writes nothing. An estimate: the relay batches single calls that arrive within its linger time, so it pays less than one produce request per event. The rest of the batched figure is ours (validation, encoding, the write path) and is broken down in docs/performance.md.",
    "",
    "| path | relay µs | raw producer µs | relay beyond Kafka µs | floor µs | × floor |",
    "|---|---|---|---|---|---|",
    ...beyondKafkaOf(r.efficiency).map(
      (b) => `| ${b.path} | ${b.relay} | ${b.kafka} | ${b.beyond} | ${b.floorName} ${b.floor} | ${b.ratio} |`,
    ),
    "",
    "The least a validating relay could spend per batched event, from parts measured in this run: the raw producer, the bare framework receiving the same batches, and the in-process check of one accepted event (validation against its tracking config and the JSON written to Kafka, from the core benchmark, one event at a time with nothing else running). Every part is work the relay cannot skip, so their sum over the producer is the best ratio the batched CPU goal could show; what the relay spends beyond the sum is the write path, the answers and the garbage collection of many batches in flight (docs/performance.md has a profile).",
    "",
    "| path | raw producer µs | framework floor µs | check µs | least µs | least × producer | relay µs | relay beyond the least µs |",
    "|---|---|---|---|---|---|---|---|",
    ...batchedLeastOf(
      r.efficiency,
      (r.core_validation as { check_us_per_event?: number } | undefined)?.check_us_per_event,
    ).map(
      (b) =>
        `| ${b.path} | ${b.producer} | ${b.floorName} ${b.floor} | ${b.check} | ${b.least} | ${b.leastRatio} | ${b.relay} | ${b.rest} |`,
    ),
    "",
    ...edgeHopLines(r.efficiency),
    "## CPU per event against the floors",
    "",
    `Single calls at a fixed ${r.efficiency?.single_calls_per_second ?? "–"} calls/s (ghz for gRPC, vegeta for HTTP, both open loops with up to 50 calls under way), batched calls of 100 events in a closed loop; each phase once unmeasured first (JIT warm-up). Floors: the same generator against bare \`@grpc/grpc-js\` and bare connect-node answering a constant (protobuf-es codecs), bare Hono parsing the JSON body on \`@hono/node-server\` and in workerd. Raw producer: \`@platformatic/kafka\` writing the same records with the relay's settings (acks=all, idempotent, gzip) in requests of 1,000: ${r.efficiency?.producer_floor?.records_per_second ?? "–"} records/s, ${r.efficiency?.producer_floor?.us_per_event ?? "–"} µs per record; one record per request at the single-call rate (Kafka's share of a single call when nothing batches them): ${r.efficiency?.producer_floor_single?.us_per_event ?? "–"} µs per record. ⚠ marks a phase whose generator used more CPU than the system under test.`,
    "",
    "| phase | µs per event, by process | events/s | p99 ms | generator µs per event | |",
    "|---|---|---|---|---|---|",
    ...Object.entries(r.efficiency?.phases ?? {}).map(([name, phase]) => cpuRow(name, phase)),
    "",
    "## Against the targets",
    "",
    `Sustained: the highest offered load that was carried (≥ 85 %, errors ≤ 1 %, p99 ≤ 2 s), driven by ghz (gRPC) or vegeta (HTTP) at a fixed rate. Latency (ms, p50 / p99 / p999) in a phase of ${r.method.half_seconds ?? "–"} s at half of it, after the steps (the external generators report no p999).`,
    "",
    "| path | kind | target events/s | sustained events/s | × target | target p50 / p99 / p999 | ours at half load |",
    "|---|---|---|---|---|---|---|",
  ];
  for (const [name, spec] of Object.entries(TARGETS)) {
    const result = r.paths[name];
    if (result === undefined) continue;
    lines.push(
      `| ${name} | ${spec.path} | ${spec.eps} | ${sustained(name) ?? "–"} | ${ratio(sustained(name), spec.eps)} | ${spec.p50} / ${spec.p99} / ${spec.p999} | ${lat(result.at_half)} |`,
    );
  }
  lines.push(
    "",
    "## Ratios in this run",
    "",
    "| ours | against | ratio |",
    "|---|---|---|",
    `| relay gRPC batched ${sustained("relay_grpc_batched") ?? "–"} ev/s | Kafka ProducerPerformance ${pp ?? "–"} rec/s (ceiling) | ${ratio(sustained("relay_grpc_batched"), pp)} |`,
    `| relay REST batched ${sustained("relay_rest_batched") ?? "–"} ev/s | Kafka ProducerPerformance (ceiling) | ${ratio(sustained("relay_rest_batched"), pp)} |`,
    `| Kafka-direct tracker ${sustained("kafka_direct") ?? "–"} ev/s | Kafka ProducerPerformance (ceiling) | ${ratio(sustained("kafka_direct"), pp)} |`,
    `| relay gRPC single p99 ${r.paths.relay_grpc_single?.at_half?.p99_ms ?? "–"} ms at half load | Kafka ProducerPerformance p99 ${floor?.p99_ms ?? "–"} ms at the same ${floor?.rate ?? "–"} records/s, alone (floor) | ${ratio(r.paths.relay_grpc_single?.at_half?.p99_ms, floor?.p99_ms)} |`,
    `| relay gRPC batched | kafkajs producer doing the relay's job ${num(r.peers.kafkajs_producer, "events_per_second") ?? "–"} ev/s (peer) | ${ratio(sustained("relay_grpc_batched"), num(r.peers.kafkajs_producer, "events_per_second"))} |`,
    "",
    "## Throughput vs offered load",
    "",
    `![throughput](${stamp}-throughput.svg)`,
    "",
    "## Latency at half the sustained load",
    "",
    `![latency](${stamp}-latency.svg)`,
    "",
    "## CPU per event in the stepped phases",
    "",
    "As above, at the last step that held and at half that load; events per second per core is 1,000,000 / µs. ⚠ marks a phase whose load generator used more CPU than the system under test: it measures the generator more than the path.",
    "",
    "| path | phase | µs per event, by process | generator µs per event | |",
    "|---|---|---|---|---|",
    ...Object.entries(r.paths).flatMap(([name, result]) =>
      (
        [
          ["sustained", result.sustained],
          ["half load", result.at_half],
        ] as const
      ).flatMap(([phase, step]) =>
        step?.cpu === undefined
          ? []
          : [
              `| ${name} | ${phase} | ${Object.entries(step.cpu.us_per_event)
                .map(
                  ([process, us]) =>
                    `${process} ${us} (${Math.round(1e6 / Math.max(us, 0.1))} ev/s per core)`,
                )
                .join(
                  ", ",
                )} | ${step.cpu.generator_us_per_event} | ${step.cpu.generator_bound ? "⚠ generator-bound" : ""} |`,
            ],
      ),
    ),
    "",
    ...(r.auditor === undefined
      ? []
      : [
          "## Auditor",
          "",
          `The auditor re-checking what the relay wrote to a tenant's topic (in the bench's process, one consumer). A backlog of ${r.auditor.backlog_records} records was re-checked at ${r.auditor.catch_up_records_per_second} records/s, ${r.auditor.us_per_record} µs of CPU per record. Then the relay wrote ${r.auditor.steady_write_events_per_second} ev/s (half its sustained REST batched rate) for 15 s: the auditor read ${r.auditor.steady_read_records_per_second} records/s, its lag at most ${r.auditor.lag_max_records} records (sampled each second) and ${r.auditor.lag_end_records} two seconds after the writes ended.`,
          "",
        ]),
    "## Resident memory",
    "",
    `![memory](${stamp}-memory.svg)`,
    "",
    "| component | idle MB | peak MB |",
    "|---|---|---|",
    ...Object.entries(r.memory).map(([name, m]) => `| ${name} | ${m.idle_mb} | ${m.peak_mb} |`),
    "",
    "## Steps",
    "",
  );
  for (const [name, result] of Object.entries(r.paths)) {
    lines.push(
      `### ${name}`,
      "",
      "| offered ev/s | achieved ev/s | errors | p50 ms | p99 ms | p999 ms |",
      "|---|---|---|---|---|---|",
    );
    for (const s of result.steps) {
      lines.push(
        `| ${s.offered_events_per_second} | ${s.achieved_events_per_second} | ${(s.error_rate * 100).toFixed(1)} % | ${s.p50_ms} | ${s.p99_ms} | ${s.p999_ms ?? "–"} |`,
      );
    }
    lines.push("");
  }
  lines.push(
    "## Other measurements",
    "",
    "```json",
    JSON.stringify(
      {
        core_validation: r.core_validation,
        browser_tracker: r.browser_tracker,
        ceilings: r.ceilings,
        peers: r.peers,
      },
      null,
      2,
    ),
    "```",
    "",
  );
  writeFileSync(join(dir, `${stamp}.md`), lines.join("\n"));
  // Targets from the table above, one line per distinct value; Kafka's own ceiling from this run.
  const distinct = (
    pick: (target: (typeof TARGETS)[string]) => number,
    what: string,
    unit: string,
    colour: string,
  ) =>
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
  writeFileSync(
    join(dir, `${stamp}-throughput.svg`),
    throughputChart(r.paths, [
      ...distinct((t) => t.eps, "target", " ev/s", "#2ca02c"),
      ...(pp === undefined
        ? []
        : [{ value: pp, label: `Kafka ceiling ${fmt(pp)} rec/s`, colour: "#d62728" }]),
    ]),
  );
  writeFileSync(
    join(dir, `${stamp}-latency.svg`),
    barChart(
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
    ),
  );
  writeFileSync(
    join(dir, `${stamp}-memory.svg`),
    barChart(
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
    ),
  );
};
