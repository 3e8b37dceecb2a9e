import { spawn } from "node:child_process";
import { once } from "node:events";
import { describe, expect, it } from "vitest";
import { cpuSecondsOfChildren } from "../../../bench/cpu.ts";
import { cpuPhase } from "../../../bench/efficiency.ts";
import { vegeta } from "../../../bench/generators.ts";
import { batchedLeastOf, beyondKafkaOf, goalsOf } from "../../../bench/goals.ts";

/** A fixed-load phase whose one process used `us` µs per event. */
const phase = (process: string, us: number) => ({
  events: 1,
  events_per_second: 1,
  errors: 0,
  p50_ms: 1,
  p99_ms: 1,
  us_per_event: { [process]: us },
  generator_us_per_event: 1,
  generator_bound: false,
});

describe("CPU per event against floors", () => {
  it("reads the CPU of a process's waited-for children (cutime + cstime) from its stat line", () => {
    const stat = "77 (sh) S 1 77 77 0 -1 4194560 100 0 0 0 1 1 300 100 20 0 1 0";
    expect(cpuSecondsOfChildren(stat)).toBeCloseTo(4, 5);
  });

  it("charges a server's CPU to the events an external generator carried, and measures the generator", async () => {
    // A server that burns about 1 ms of CPU per request, in its own process.
    const server = spawn(process.execPath, [
      "-e",
      `require("node:http").createServer((q, s) => { const t = performance.now() + 1; while (performance.now() < t); q.resume(); q.on("end", () => s.end("{}")); }).listen(0, "127.0.0.1", function () { console.log(this.address().port); })`,
    ]);
    try {
      const [line] = (await once(server.stdout, "data")) as [Buffer];
      const url = `http://127.0.0.1:${line.toString().trim()}/`;
      const phase = await cpuPhase({ server: server.pid }, 1, () =>
        vegeta({ url, body: "{}", headers: {}, rps: 100, seconds: 2, workers: 4 }),
      );
      // 100/s for 2 s; on a busy machine vegeta's pacer may not get the last call or two out in time.
      expect(phase.events).toBeGreaterThanOrEqual(195);
      expect(phase.events).toBeLessThanOrEqual(200);
      expect(phase.errors).toBe(0);
      expect(phase.us_per_event.server).toBeGreaterThan(800);
      // vegeta's own CPU (a Go process, children included) is real and counted.
      expect(phase.generator_us_per_event).toBeGreaterThan(0);
      expect(phase.events_per_second).toBeGreaterThan(80);
      expect(phase.events_per_second).toBeLessThan(120);
    } finally {
      server.kill();
    }
  }, 120_000);

  it("states each goal as a ratio of two figures of the run and marks it met or not", () => {
    const step = (eps: number, p99 = 1) => ({
      offered_events_per_second: eps,
      achieved_events_per_second: eps,
      error_rate: 0,
      p50_ms: 1,
      p99_ms: p99,
    });
    const goals = goalsOf({
      efficiency: {
        cpu_list: "1",
        single_calls_per_second: 300,
        phases: {
          relay_grpc_single: phase("relay", 600),
          floor_grpc_js_single: phase("floor", 500),
          relay_rest_single: phase("relay", 400),
          floor_hono_node_single: phase("floor", 100),
        },
        producer_floor: { records_per_second: 90_000, us_per_event: 10 },
      },
      paths: {
        relay_grpc_batched: { steps: [], sustained: step(30_000), at_half: undefined },
        relay_grpc_single: { steps: [], sustained: step(2000), at_half: step(1000, 30) },
      },
      ceilings: {
        kafka_producer_performance: { records_per_second: 45_000 },
        kafka_latency_at_relay_half_load: { p99_ms: 10 },
      },
      memory: { relay: { idle_mb: 120, peak_mb: 410 } },
    });
    const byName = (start: string) => goals.find((g) => g.goal.startsWith(start));
    expect(byName("gRPC single")).toMatchObject({ ratio: 1.2, met: true });
    expect(byName("REST single")).toMatchObject({ ratio: 4, met: false });
    expect(byName("gRPC batched")).toMatchObject({ ratio: undefined, met: undefined });
    expect(byName("relay gRPC single p99")).toMatchObject({ ratio: 3, met: false });
    expect(byName("relay_grpc_batched sustained")).toMatchObject({ ratio: 0.67, met: true });
    expect(byName("relay idle RSS")?.met).toBe(true);
    expect(byName("relay peak RSS")?.met).toBe(false);
  });

  it("estimates a path's CPU beyond Kafka against the floor that writes nothing", () => {
    const rows = beyondKafkaOf({
      cpu_list: null,
      single_calls_per_second: 300,
      phases: {
        relay_rest_single: phase("relay", 600),
        floor_hono_node_single: phase("floor", 200),
        relay_rest_batched: phase("relay", 30),
      },
      producer_floor: { records_per_second: 1, us_per_event: 10 },
      producer_floor_single: { records_per_second: 1, us_per_event: 450 },
    });
    // Batched REST has no floor in this run: no row rather than a made-up one.
    expect(rows).toEqual([
      {
        path: "REST single",
        relay: 600,
        kafka: 450,
        beyond: 150,
        floorName: "bare Hono on node-server",
        floor: 200,
        ratio: 0.75,
      },
    ]);
  });

  it("bounds the batched goal by the sum of the parts a validating relay cannot skip", () => {
    const efficiency = {
      cpu_list: "1",
      single_calls_per_second: 300,
      phases: {
        relay_rest_batched: phase("relay", 30),
        floor_hono_node_batched: phase("floor", 2.5),
        relay_grpc_batched: phase("relay", 40),
      },
      producer_floor: { records_per_second: 1, us_per_event: 10 },
    };
    // gRPC batched has no floor in this run, and without the core benchmark there is no bound at all.
    expect(batchedLeastOf(efficiency, undefined)).toEqual([]);
    expect(batchedLeastOf(efficiency, 5.5)).toEqual([
      {
        path: "REST batched",
        producer: 10,
        floorName: "bare Hono on node-server",
        floor: 2.5,
        check: 5.5,
        least: 18,
        leastRatio: 1.8,
        relay: 30,
        rest: 12,
      },
    ]);
  });
});
