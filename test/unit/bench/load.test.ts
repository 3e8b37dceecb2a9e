import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { broken, openLoop, steppedLoad } from "../../../bench/load.ts";
import { writeReport } from "../../../bench/report.ts";

/**
 * Runs `work` on a virtual clock (timers and `performance.now`), moving it on in 5 ms ticks until
 * `work` settles: the generator's timing is then exact, whatever else the machine is doing.
 */
const onVirtualClock = async <T>(work: () => Promise<T>): Promise<T> => {
  let settled = false;
  const running = work().finally(() => {
    settled = true;
  });
  while (!settled) await vi.advanceTimersByTimeAsync(5);
  return running;
};

describe("the benchmark's load generator", () => {
  beforeEach(() => {
    vi.useFakeTimers({
      toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "performance"],
    });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("counts latency from when a call was due, so a stalled server shows (no coordinated omission)", async () => {
    let stalled = false;
    // The first call stalls the "server" for 700 ms; calls due meanwhile wait behind it.
    const call = async () => {
      if (!stalled) {
        stalled = true;
        await new Promise((resolve) => setTimeout(resolve, 700));
      }
    };
    let queue = Promise.resolve();
    const serial = () => {
      queue = queue.then(call);
      return queue;
    };
    const step = await onVirtualClock(() => openLoop(serial, 100, 1, 1));
    expect(step.p50_ms).toBeGreaterThan(50); // half the calls were due during the stall
    expect(step.error_rate).toBe(0);
  });

  it("raises the offered load until a step breaks, and reports the last step that held", async () => {
    let inFlight = 0;
    // A path that can carry 800 calls/s (5 ms each, 4 at a time): beyond, it fails.
    const call = async () => {
      inFlight++;
      try {
        if (inFlight > 4) throw new Error("overloaded");
        await new Promise((resolve) => setTimeout(resolve, 5));
      } finally {
        inFlight--;
      }
    };
    const result = await onVirtualClock(() =>
      steppedLoad(call, { startEventsPerSecond: 50, maxSteps: 12, stepSeconds: 1, halfSeconds: 1 }),
    );
    // 50, 80, 128, 205, 328, 525 calls/s hold; 840 does not.
    expect(result.steps.map((s) => s.offered_events_per_second)).toEqual([50, 80, 128, 205, 328, 525, 840]);
    const last = result.steps.at(-1);
    expect(last && broken(last)).toBe(true);
    expect(result.sustained).toBeDefined();
    expect(broken(result.sustained as NonNullable<typeof result.sustained>)).toBe(false);
    // The latency phase runs at half the sustained load, and holds.
    expect(result.at_half?.offered_events_per_second).toBe(
      Math.round((result.sustained?.offered_events_per_second ?? 0) / 2),
    );
    expect(broken(result.at_half as NonNullable<typeof result.at_half>)).toBe(false);
  });

  it("writes a Markdown report with three SVG charts", async () => {
    const step = {
      offered_events_per_second: 100,
      achieved_events_per_second: 99,
      error_rate: 0,
      p50_ms: 1,
      p99_ms: 5,
      p999_ms: 9,
      generator_delay_p99_ms: 11,
      generator_delay_max_ms: 12,
    };
    const dir = mkdtempSync(join(tmpdir(), "report-"));
    await writeReport(
      {
        date: "2026-11-26T00:00:00Z",
        machine: { cpu: "test" },
        method: { step_seconds: 1, record_bytes: 500, note: "test" },
        duration_seconds: 60,
        paths: { relay_grpc_batched: { steps: [step], sustained: step, at_half: step } },
        ceilings: { kafka_producer_performance: { records_per_second: 200 } },
        peers: {},
        memory: { relay: { idle_mb: 100, peak_mb: 200 } },
      },
      dir,
      "run",
    );
    const report = readFileSync(join(dir, "run.md"), "utf8");
    expect(report).toContain("| relay_grpc_batched | gRPC | 10000 | 99 | 0.01 | 20 / 50 / 100 | 1 / 5 / 9 |");
    expect(report).toContain(
      "| relay gRPC batched 99 ev/s | Kafka ProducerPerformance 200 rec/s (ceiling) | 0.49 |",
    );
    expect(report).toContain(
      "| relay_grpc_batched sustained ≥ 0.6× ProducerPerformance | 99 ev/s | ProducerPerformance 200 rec/s | 0.49 | ❌ |",
    );
    for (const chart of ["throughput", "latency", "memory"]) {
      expect(readFileSync(join(dir, `run-${chart}.svg`), "utf8")).toMatch(/^<svg [^>]*>[\s\S]*<\/svg>\n$/);
    }
  });
});
