// The benchmark report: Markdown with SVG charts, from one run's results only.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { AuditorResult } from "./auditor.ts";
import type { CpuPhase } from "./efficiency.ts";
import { batchedLeastOf, beyondKafkaOf, type Efficiency, goalsOf, TARGETS } from "./goals.ts";
import type { Step, SteppedResult } from "./load.ts";
import { writeCharts } from "./report-charts.ts";

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

export const writeReport = async (r: BenchResult, dir: string, stamp: string) => {
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
  await writeCharts({ paths: r.paths, memory: r.memory, kafkaCeiling: pp }, dir, stamp);
};
