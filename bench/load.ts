// Load generation shared by the benchmarks: an open loop at a fixed offered rate (latency counts from
// when each call was due, so a stall is not hidden by coordinated omission), and a stepped series of
// open loops that raises the offered load until the path breaks.
import { monitorEventLoopDelay } from "node:perf_hooks";
import { cpuMeter } from "./cpu.ts";

export const STEP_SECONDS = Number(process.env.BENCH_STEP_SECONDS ?? 3);
/** How long the half-load latency phase runs (`BENCH_HALF_SECONDS`). */
export const HALF_SECONDS = Number(process.env.BENCH_HALF_SECONDS ?? 15);

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;

export const latencySummary = (ms: number[]) => {
  const sorted = [...ms].sort((a, b) => a - b);
  return {
    p50_ms: +percentile(sorted, 0.5).toFixed(2),
    p99_ms: +percentile(sorted, 0.99).toFixed(2),
    p999_ms: +percentile(sorted, 0.999).toFixed(2),
  };
};

export interface Step {
  offered_events_per_second: number;
  achieved_events_per_second: number;
  error_rate: number;
  p50_ms: number;
  p99_ms: number;
  /** Not reported by the external generators (ghz, vegeta), which give p99 at most. */
  p999_ms?: number;
  /**
   * How late this process's event loop ran during a phase it generated (p99 and max, ms): a stall here
   * delays calls and their answers, so it shows in the path's latency without being the path's.
   */
  generator_delay_p99_ms?: number;
  generator_delay_max_ms?: number;
  /**
   * CPU microseconds per acknowledged event of each measured process (the system under test) and of
   * the generator; `generator_bound` when the generator used more CPU than all of them:
   * such a phase measures the generator, not the path.
   */
  cpu?: { us_per_event: Record<string, number>; generator_us_per_event: number; generator_bound: boolean };
}

/** Processes whose CPU a phase measures, by name, as pids (undefined: not running). */
export type MeasuredProcesses = () => Record<string, number | undefined>;

/**
 * `callsPerSecond` calls for `seconds`, each carrying `eventsPerCall` events. The achieved rate counts
 * events acknowledged until the last answer; calls still unanswered 10 s after the phase count as errors.
 */
export async function openLoop(
  call: () => Promise<unknown>,
  callsPerSecond: number,
  eventsPerCall = 1,
  seconds = STEP_SECONDS,
  measured?: MeasuredProcesses,
): Promise<Step> {
  const latencies: number[] = [];
  const meter = measured && cpuMeter(measured);
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const started = performance.now();
  const total = Math.max(1, Math.round(callsPerSecond * seconds));
  const pending: Promise<void>[] = [];
  let errors = 0;
  let lastAnswer = started;
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / callsPerSecond;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error("no answer")), seconds * 1000 + 10_000);
    });
    pending.push(
      Promise.race([call(), timeout])
        .then(
          () => {
            lastAnswer = performance.now();
            latencies.push(lastAnswer - due);
          },
          () => {
            errors++;
          },
        )
        .finally(() => clearTimeout(timer)),
    );
  }
  await Promise.all(pending);
  delay.disable();
  const elapsed = Math.max(seconds * 1000, lastAnswer - started) / 1000;
  const events = Math.max(1, latencies.length * eventsPerCall);
  const used = meter?.stop();
  const perEvent = (cpuSeconds: number) => +((cpuSeconds * 1e6) / events).toFixed(1);
  const cpu = used && {
    us_per_event: Object.fromEntries(Object.entries(used.processes).map(([name, s]) => [name, perEvent(s)])),
    generator_us_per_event: perEvent(used.generator),
    generator_bound: used.generator > Object.values(used.processes).reduce((a, b) => a + b, 0),
  };
  return {
    offered_events_per_second: Math.round(callsPerSecond * eventsPerCall),
    achieved_events_per_second: Math.round((latencies.length * eventsPerCall) / elapsed),
    error_rate: +(errors / total).toFixed(4),
    ...latencySummary(latencies),
    generator_delay_p99_ms: +(delay.percentile(99) / 1e6).toFixed(2),
    generator_delay_max_ms: +(delay.max / 1e6).toFixed(2),
    ...(cpu ? { cpu } : {}),
  };
}

/** A step is broken when errors pass 1 %, p99 passes 2 s, or less than 85 % of the offered load got through. */
export const broken = (step: Step) =>
  step.error_rate > 0.01 ||
  step.p99_ms > 2000 ||
  step.achieved_events_per_second < 0.85 * step.offered_events_per_second;

export interface SteppedResult {
  steps: Step[];
  /** The last step that held: its offered load was carried within the limits. */
  sustained: Step | undefined;
  /**
   * A longer phase at half the sustained load, after the steps: the latency a path shows with headroom.
   * Longer than a step because a p99 over one 3 s step of a few hundred calls is its handful of worst
   * calls, which one GC or JVM pause decides.
   */
  at_half: Step | undefined;
}

/**
 * Offers `startEventsPerSecond`, then 1.6× more each step, until a step breaks or `maxSteps` ran, then
 * half the sustained load for `halfSeconds`. A short pause between phases lets queues drain, so each
 * starts from an idle path.
 */
export async function steppedLoad(
  call: () => Promise<unknown>,
  options: {
    startEventsPerSecond: number;
    eventsPerCall?: number;
    maxSteps?: number;
    stepSeconds?: number;
    halfSeconds?: number;
    onSample?: () => void;
    /** Processes whose CPU per event each phase records. */
    measured?: MeasuredProcesses;
  },
): Promise<SteppedResult> {
  const eventsPerCall = options.eventsPerCall ?? 1;
  const steps: Step[] = [];
  const sampler = setInterval(() => options.onSample?.(), 250);
  let rate = options.startEventsPerSecond;
  let sustained: Step | undefined;
  let at_half: Step | undefined;
  const pause = () => new Promise((resolve) => setTimeout(resolve, 500));
  try {
    for (let i = 0; i < (options.maxSteps ?? 10); i++) {
      const step = await openLoop(
        call,
        rate / eventsPerCall,
        eventsPerCall,
        options.stepSeconds,
        options.measured,
      );
      steps.push(step);
      if (broken(step)) break;
      sustained = step;
      rate = Math.round(rate * 1.6);
      await pause();
    }
    if (sustained !== undefined) {
      await pause();
      const half = sustained.offered_events_per_second / 2;
      at_half = await openLoop(
        call,
        half / eventsPerCall,
        eventsPerCall,
        options.halfSeconds ?? HALF_SECONDS,
        options.measured,
      );
    }
  } finally {
    clearInterval(sampler);
  }
  return { steps, sustained, at_half };
}

/** Polls `url` until it answers 2xx. */
export const waitForHttp = async (url: string, timeoutMs = 30_000) => {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${url} did not answer`);
};
