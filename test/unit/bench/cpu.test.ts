import { describe, expect, it } from "vitest";
import { cpuSeconds, cpuSecondsOfStat } from "../../../bench/cpu.ts";
import { openLoop } from "../../../bench/load.ts";

describe("CPU per event", () => {
  it("reads utime + stime from /proc/<pid>/stat, also when the command name holds spaces and parentheses", () => {
    const stat = "4242 (node (worker) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 11 0";
    // 250 + 50 ticks at CLK_TCK (100 on Linux) is 3 s.
    expect(cpuSecondsOfStat(stat)).toBeCloseTo(3, 5);
  });

  it("charges a phase's CPU to the measured process and to the generator, per acknowledged event", async () => {
    const burn = (ms: number) => {
      const until = performance.now() + ms;
      while (performance.now() < until) Math.sqrt(Math.random());
    };
    const step = await openLoop(
      async () => burn(2),
      100,
      1,
      1,
      () => ({ self: process.pid }),
    );
    expect(cpuSeconds(process.pid)).toBeGreaterThan(0);
    // About 2 ms of CPU per call, in the measured process (this one) and the generator (also this one:
    // which of the two readings is larger is the clock tick's, so generator_bound says nothing here).
    expect(step.cpu?.us_per_event.self).toBeGreaterThan(1500);
    expect(step.cpu?.generator_us_per_event).toBeGreaterThan(1500);
  });
});
