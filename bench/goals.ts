// The per-core goals, each a ratio of two figures measured in the same run (or a memory bound), and
// whether this run met it.
import type { CpuPhase } from "./efficiency.ts";
import type { SteppedResult } from "./load.ts";

export interface Efficiency {
  /** The CPUs the relay, the edge and the floors were pinned to (`taskset -c`), or none. */
  cpu_list: string | null;
  /** The rate of the single-call phases. */
  single_calls_per_second: number;
  /** Fixed-load phases of each path and each floor, by name. */
  phases: Record<string, CpuPhase>;
  /** The raw @platformatic/kafka producer writing the same records with the relay's settings. */
  producer_floor?: { records_per_second: number; us_per_event: number };
  /** The same, one record per request at the single-call rate: Kafka's share of a single call. */
  producer_floor_single?: { records_per_second: number; us_per_event: number };
}

/** The latency and throughput targets per path (the report's table of them and the charts' target lines). */
export const TARGETS: Record<string, { path: string; p50: number; p99: number; p999: number; eps: number }> =
  {
    edge_http_single: { path: "HTTP API", p50: 50, p99: 100, p999: 200, eps: 5000 },
    edge_http_batched: { path: "HTTP API", p50: 50, p99: 100, p999: 200, eps: 5000 },
    relay_rest_single: { path: "HTTP API", p50: 50, p99: 100, p999: 200, eps: 5000 },
    relay_rest_batched: { path: "HTTP API", p50: 50, p99: 100, p999: 200, eps: 5000 },
    relay_grpc_single: { path: "gRPC", p50: 20, p99: 50, p999: 100, eps: 10_000 },
    relay_grpc_batched: { path: "gRPC", p50: 20, p99: 50, p999: 100, eps: 10_000 },
    kafka_direct: { path: "Kafka direct", p50: 5, p99: 15, p999: 30, eps: 50_000 },
  };

export interface Goal {
  goal: string;
  ours: string;
  against: string;
  ratio: number | undefined;
  limit: number;
  met: boolean | undefined;
}

const us = (phase: CpuPhase | undefined, process: string) => phase?.us_per_event[process];

const goal = (
  name: string,
  ours: [string, number | undefined],
  against: [string, number | undefined],
  limit: number,
): Goal => {
  const [a, b] = [ours[1], against[1]];
  const ratio = a === undefined || b === undefined || b === 0 ? undefined : +(a / b).toFixed(2);
  return {
    goal: `${name} ≤ ${limit}×`,
    ours: `${ours[0]} ${a ?? "–"}`,
    against: `${against[0]} ${b ?? "–"}`,
    ratio,
    limit,
    met: ratio === undefined ? undefined : ratio <= limit,
  };
};

/** The goals of this run, from its efficiency phases, stepped paths, ceilings and memory. */
export const goalsOf = (r: {
  efficiency?: Efficiency;
  paths: Record<string, SteppedResult>;
  ceilings: Record<string, unknown>;
  memory: Record<string, { idle_mb: number; peak_mb: number }>;
}): Goal[] => {
  const p = r.efficiency?.phases ?? {};
  const producer = r.efficiency?.producer_floor?.us_per_event;
  const pp = (r.ceilings.kafka_producer_performance as { records_per_second?: number } | undefined)
    ?.records_per_second;
  const latencyFloor = (r.ceilings.kafka_latency_at_relay_half_load as { p99_ms?: number } | undefined)
    ?.p99_ms;
  const sustained = (name: string) => r.paths[name]?.sustained?.achieved_events_per_second;
  const goals = [
    goal(
      "gRPC single: relay CPU per call",
      ["relay µs", us(p.relay_grpc_single, "relay")],
      ["bare grpc-js µs", us(p.floor_grpc_js_single, "floor")],
      1.5,
    ),
    goal(
      "REST single: relay CPU per call",
      ["relay µs", us(p.relay_rest_single, "relay")],
      ["bare Hono on node-server µs", us(p.floor_hono_node_single, "floor")],
      2,
    ),
    goal(
      "gRPC batched: relay CPU per event",
      ["relay µs", us(p.relay_grpc_batched, "relay")],
      ["raw producer µs", producer],
      1.5,
    ),
    goal(
      "REST batched: relay CPU per event",
      ["relay µs", us(p.relay_rest_batched, "relay")],
      ["raw producer µs", producer],
      1.5,
    ),
    goal(
      "edge single in workerd: edge CPU per call",
      ["edge µs", us(p.edge_single, "edge")],
      ["bare Hono in workerd µs", us(p.floor_hono_workerd_single, "floor")],
      2,
    ),
    goal(
      "relay gRPC single p99 at half its sustained load",
      ["relay ms", r.paths.relay_grpc_single?.at_half?.p99_ms],
      ["Kafka producer p99 at that rate ms", latencyFloor],
      2,
    ),
  ];
  // Throughput goals are "at least": stated as the ceiling over ours.
  for (const name of ["relay_grpc_batched", "relay_rest_batched"]) {
    const ours = sustained(name);
    const ratio = ours === undefined || pp === undefined || pp === 0 ? undefined : +(ours / pp).toFixed(2);
    goals.push({
      goal: `${name} sustained ≥ 0.6× ProducerPerformance`,
      ours: `${ours ?? "–"} ev/s`,
      against: `ProducerPerformance ${pp ?? "–"} rec/s`,
      ratio,
      limit: 0.6,
      met: ratio === undefined ? undefined : ratio >= 0.6,
    });
  }
  const relay = r.memory.relay;
  if (relay !== undefined) {
    goals.push(
      {
        goal: "relay idle RSS ≤ 150 MB",
        ours: `${relay.idle_mb} MB`,
        against: "150 MB",
        ratio: +(relay.idle_mb / 150).toFixed(2),
        limit: 1,
        met: relay.idle_mb <= 150,
      },
      {
        goal: "relay peak RSS ≤ 400 MB",
        ours: `${relay.peak_mb} MB`,
        against: "400 MB",
        ratio: +(relay.peak_mb / 400).toFixed(2),
        limit: 1,
        met: relay.peak_mb <= 400,
      },
    );
  }
  return goals;
};

/**
 * Where a path's CPU goes beyond Kafka: its CPU per event less the raw producer's for the same kind of
 * write (one record per request for single calls, requests of 1,000 for batched ones), beside the
 * framework floor that does the same call without writing anything. An estimate: the relay batches
 * what arrives within its linger time, so for single calls it pays less than one request per event.
 */
export const beyondKafkaOf = (efficiency: Efficiency | undefined) => {
  const p = efficiency?.phases ?? {};
  const single = efficiency?.producer_floor_single?.us_per_event;
  const bulk = efficiency?.producer_floor?.us_per_event;
  // [path, its phase, the producer figure it is compared with, the floor, the floor's phase]
  const rows = [
    ["gRPC single", "relay_grpc_single", single, "bare grpc-js", "floor_grpc_js_single"],
    ["REST single", "relay_rest_single", single, "bare Hono on node-server", "floor_hono_node_single"],
    ["gRPC batched", "relay_grpc_batched", bulk, "bare grpc-js", "floor_grpc_js_batched"],
    ["REST batched", "relay_rest_batched", bulk, "bare Hono on node-server", "floor_hono_node_batched"],
  ] as const;
  return rows.flatMap(([path, phase, kafka, floorName, floorPhase]) => {
    const relay = us(p[phase], "relay");
    const floor = us(p[floorPhase], "floor");
    if (relay === undefined || kafka === undefined || floor === undefined) return [];
    const beyond = +(relay - kafka).toFixed(1);
    return [{ path, relay, kafka, beyond, floorName, floor, ratio: +(beyond / floor).toFixed(2) }];
  });
};

/**
 * The least a validating relay could spend per batched event in this run: the raw producer, plus the
 * bare framework receiving the same batches (HTTP or gRPC, decoding the body, answering), plus the
 * in-process check of an accepted event (validation and its JSON for Kafka, from the core benchmark).
 * Each part is work the relay cannot skip; its ratio to the producer bounds the batched CPU goal.
 */
export const batchedLeastOf = (efficiency: Efficiency | undefined, checkUs: number | undefined) => {
  const p = efficiency?.phases ?? {};
  const producer = efficiency?.producer_floor?.us_per_event;
  const rows = [
    ["gRPC batched", "relay_grpc_batched", "bare grpc-js", "floor_grpc_js_batched"],
    ["REST batched", "relay_rest_batched", "bare Hono on node-server", "floor_hono_node_batched"],
  ] as const;
  return rows.flatMap(([path, phase, floorName, floorPhase]) => {
    const relay = us(p[phase], "relay");
    const floor = us(p[floorPhase], "floor");
    if (relay === undefined || floor === undefined || producer === undefined || checkUs === undefined)
      return [];
    const least = +(producer + floor + checkUs).toFixed(1);
    return [
      {
        path,
        producer,
        floorName,
        floor,
        check: checkUs,
        least,
        leastRatio: +(least / producer).toFixed(2),
        relay,
        rest: +(relay - least).toFixed(1),
      },
    ];
  });
};
