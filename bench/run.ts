// `npm run bench`: every benchmark in one run on this machine: each path's CPU per event beside its
// framework's floor, its sustained load under a stepped open loop driven by ghz or vegeta, and its
// ceiling and peer. Writes bench/results/<date>.json and the report <date>.md with SVG charts.
// `npm run bench -- --only relay,floors` runs some parts (core, browser, relay, auditor, edge, floors,
// kafka-direct, ceilings). Methodology: docs/performance.md. The parts' code is in bench/scenarios/ (the
// core benchmark's in bench/core.ts); this file runs them in order and writes what they measured.
import { existsSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { join } from "node:path";
import { measureValidation } from "./core.ts";
import type { Efficiency } from "./goals.ts";
import { HALF_SECONDS, STEP_SECONDS, type SteppedResult } from "./load.ts";
import { type BenchResult, writeReport } from "./report.ts";
import { auditorScenario } from "./scenarios/auditor.ts";
import { browserTrackerScenario } from "./scenarios/browser.ts";
import { ceilingsScenario } from "./scenarios/ceilings.ts";
import { cpuList, RECORD_BYTES, SINGLE_RATE, say, started } from "./scenarios/context.ts";
import { edgeScenario } from "./scenarios/edge.ts";
import { floorsScenario } from "./scenarios/floors.ts";
import { kafkaDirectScenario } from "./scenarios/kafka-direct.ts";
import { watchKafkaMemory } from "./scenarios/kafka-memory.ts";
import { kafkajsPeer } from "./scenarios/peers.ts";
import { relayScenario, withBenchRelay } from "./scenarios/relay.ts";

const only = process.argv.includes("--only")
  ? (process.argv[process.argv.indexOf("--only") + 1] ?? "").split(",")
  : undefined;
const wanted = (part: string) => only === undefined || only.includes(part);

// Filled in the order of the parts, which is the order of the report's tables.
const efficiency: Efficiency = { cpu_list: cpuList, single_calls_per_second: SINGLE_RATE, phases: {} };
const paths: Record<string, SteppedResult> = {};
const ceilings: Record<string, unknown> = {};
const peers: Record<string, unknown> = {};
const memory: BenchResult["memory"] = {};
const extras: Pick<BenchResult, "core_validation" | "browser_tracker" | "auditor"> = {};
const stopKafkaMemory = watchKafkaMemory();

if (wanted("core")) {
  say("core validation");
  extras.core_validation = measureValidation();
}
if (wanted("browser")) extras.browser_tracker = await browserTrackerScenario();
if (wanted("relay") || wanted("edge") || wanted("auditor")) {
  await withBenchRelay(async (relay) => {
    if (wanted("relay")) {
      const measured = await relayScenario(relay);
      Object.assign(efficiency.phases, measured.phases);
      Object.assign(paths, measured.paths);
      memory.relay = measured.memory;
    }
    if (wanted("auditor")) {
      extras.auditor = await auditorScenario(
        relay,
        paths.relay_rest_batched?.sustained?.achieved_events_per_second,
      );
    }
    if (wanted("edge")) {
      const measured = await edgeScenario(relay);
      efficiency.phases.edge_single = measured.phase;
      Object.assign(paths, measured.paths);
      memory.edge_workerd = measured.memory;
    }
  });
}
if (wanted("floors")) {
  const { phases, ...producer } = await floorsScenario();
  Object.assign(efficiency.phases, phases);
  Object.assign(efficiency, producer);
}
if (wanted("kafka-direct")) paths.kafka_direct = await kafkaDirectScenario();
if (wanted("ceilings")) {
  Object.assign(
    ceilings,
    await ceilingsScenario(paths.relay_grpc_single?.at_half?.offered_events_per_second),
  );
  peers.kafkajs_producer = await kafkajsPeer();
}

const date = new Date().toISOString();
const kafkaMemory = stopKafkaMemory();
if (kafkaMemory !== undefined) memory.kafka_jvm = kafkaMemory;
const result: BenchResult = {
  date,
  machine: {
    cpu: `${cpus().length} × ${cpus()[0]?.model ?? "unknown"}`,
    memory_gb: Math.round(totalmem() / 1024 ** 3),
    node: process.versions.node,
    load_average_1m_at_end: loadavg()[0],
  },
  method: {
    step_seconds: STEP_SECONDS,
    half_seconds: HALF_SECONDS,
    record_bytes: RECORD_BYTES,
    note: "open loop, offered load ×1.6 per step until errors > 1 %, p99 > 2 s or < 85 % carried",
  },
  duration_seconds: Math.round((Date.now() - started) / 1000),
  efficiency,
  paths,
  ceilings,
  peers,
  memory,
  ...extras,
};
const dir = join(import.meta.dirname, "results");
// One report in the repository: the last run's (git keeps the earlier ones).
if (only === undefined) {
  for (const name of readdirSync(dir)) rmSync(join(dir, name));
}
const stamp = date.slice(0, 19).replace(/:/g, "-");
writeFileSync(join(dir, `${stamp}.json`), `${JSON.stringify(result, null, 2)}\n`);
await writeReport(result, dir, stamp);
say(`done: bench/results/${stamp}.md`);
process.exit(existsSync(join(dir, `${stamp}.md`)) ? 0 : 1);
